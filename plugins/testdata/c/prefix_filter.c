/*
 * prefix_filter: keeps the records whose field "field" (config, default f0) starts with one
 * of the characters of "first" (config, default abcdef), unchanged; drops the others. The
 * benchmark compares it with the same filter run by SLS as a query (rule-based consumption).
 */
#define SLSPIPE_HAS_INIT
#include "slspipe.h"

static char field[64] = "f0";
static slspipe_u32 field_len = 2;
static char first[64] = "abcdef";
static slspipe_u32 first_len = 6;

static void keep_copy(const slspipe_field *f, char *dst, slspipe_u32 *len) {
	/* The config lives in the arena, which the next batch overwrites: keep a copy. */
	slspipe_u32 n = f->value_len < 64 ? f->value_len : 64;
	for (slspipe_u32 i = 0; i < n; i++) dst[i] = f->value[i];
	*len = n;
}

int slspipe_on_init(const slspipe_config *cfg) {
	const slspipe_field *f = slspipe_config_get(cfg, "field", 5);
	if (f) keep_copy(f, field, &field_len);
	f = slspipe_config_get(cfg, "first", 5);
	if (f) keep_copy(f, first, &first_len);
	return 0;
}

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out) {
	for (slspipe_u32 i = 0; i < in->record_count; i++) {
		const slspipe_field *f = slspipe_find(in, i, field, field_len);
		int keep = 0;
		if (f && f->value_len > 0) {
			for (slspipe_u32 k = 0; k < first_len; k++) {
				if (f->value[0] == first[k]) {
					keep = 1;
					break;
				}
			}
		}
		if (keep) slspipe_emit_copy(out, in, i);
		slspipe_ok(out, i, 0);
	}
	return 0;
}
