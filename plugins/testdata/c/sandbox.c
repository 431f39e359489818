/*
 * sandbox: a WASI module that reports what the host granted it. Each output is its input
 * plus "env" (the value of GREETING, or "-" when unset) and "file" (the first line of
 * /data/greeting.txt, or "-" when it cannot be opened).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slspipe.h"

static char env_buf[64], file_buf[64];

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out) {
	const char *env = getenv("GREETING");
	strncpy(env_buf, env ? env : "-", sizeof env_buf - 1);
	FILE *f = fopen("/data/greeting.txt", "r");
	strcpy(file_buf, "-");
	if (f) {
		if (!fgets(file_buf, sizeof file_buf, f)) strcpy(file_buf, "-");
		file_buf[strcspn(file_buf, "\n")] = 0;
		fclose(f);
	}
	for (slspipe_u32 i = 0; i < in->record_count; i++) {
		slspipe_emit_copy(out, in, i);
		slspipe_emit_field(out, "env", 3, env_buf, strlen(env_buf));
		slspipe_emit_field(out, "file", 4, file_buf, strlen(file_buf));
		slspipe_ok(out, i, 0);
	}
	return 0;
}
