/*
 * behave: a module whose behaviour per record is chosen by the record's "_action" field,
 * used to test the host's handling of every outcome and failure:
 *   drop   no output            dup    one copy on route 1     pass   pass outcome, route 2
 *   error  error outcome        trap   executes unreachable
 *   loop   never returns        grow   grows memory until refused, then traps
 *   log    logs the record's "msg" field and adds 1 to counter "seen"
 *   clock  adds field "now" with the host clock in decimal nanoseconds
 *   serialize  one output with _payload = the "n" field, _subject = "subj", _hash_key = "k"
 * Any other record passes unchanged, plus the field "tag" when init config sets "tag".
 * Init fails when the config has "fail".
 */
#define SLSPIPE_HAS_INIT
#include "slspipe.h"

static const char *tag;
static slspipe_u32 tag_len;

int slspipe_on_init(const slspipe_config *cfg) {
	static const char refused[] = "config key fail is set";
	if (slspipe_config_get(cfg, "fail", 4)) {
		slspipe_set_error(refused, sizeof refused - 1);
		return 1;
	}
	const slspipe_field *t = slspipe_config_get(cfg, "tag", 3);
	if (t) {
		/* The config lives in the arena, which the next batch overwrites: keep a copy. */
		static char buf[64];
		tag_len = t->value_len < sizeof buf ? t->value_len : sizeof buf;
		for (slspipe_u32 i = 0; i < tag_len; i++) buf[i] = t->value[i];
		tag = buf;
	}
	return 0;
}

static int is(const slspipe_field *f, const char *s, slspipe_u32 n) { return slspipe__eq(f->value, f->value_len, s, n); }

static void copy_tagged(const slspipe_batch *in, slspipe_out *out, slspipe_u32 i) {
	slspipe_emit_copy(out, in, i);
	if (tag) slspipe_emit_field(out, "tag", 3, tag, tag_len);
}

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out) {
	for (slspipe_u32 i = 0; i < in->record_count; i++) {
		const slspipe_field *a = slspipe_find(in, i, "_action", 7);
		if (!a) {
			copy_tagged(in, out, i);
			slspipe_ok(out, i, 0);
		} else if (is(a, "pass", 4)) {
			slspipe_pass(out, i, 2);
		} else if (is(a, "drop", 4)) {
			slspipe_ok(out, i, 0);
		} else if (is(a, "dup", 3)) {
			copy_tagged(in, out, i);
			slspipe_ok(out, i, 1);
		} else if (is(a, "error", 5)) {
			static const char msg[] = "record refused by behave";
			slspipe_error(out, i, msg, sizeof msg - 1);
		} else if (is(a, "trap", 4)) {
			__builtin_trap();
		} else if (is(a, "loop", 4)) {
			for (volatile int x = 0;; x++) {
			}
		} else if (is(a, "grow", 4)) {
			for (;;)
				if ((long)__builtin_wasm_memory_grow(0, 16) < 0) __builtin_trap();
		} else if (is(a, "log", 3)) {
			const slspipe_field *m = slspipe_find(in, i, "msg", 3);
			if (m) slspipe_log(SLSPIPE_WARN, m->value, m->value_len);
			slspipe_counter_add("seen", 4, 1);
			copy_tagged(in, out, i);
			slspipe_ok(out, i, 0);
		} else if (is(a, "serialize", 9)) {
			const slspipe_field *n = slspipe_find(in, i, "n", 1);
			slspipe_emit(out, in->records[i].sec, in->records[i].nsec);
			if (n) slspipe_emit_field(out, "_payload", 8, n->value, n->value_len);
			slspipe_emit_field(out, "_subject", 8, "subj", 4);
			slspipe_emit_field(out, "_hash_key", 9, "k", 1);
			slspipe_emit_field(out, "kept", 4, "yes", 3);
			slspipe_ok(out, i, 0);
		} else if (is(a, "clock", 5)) {
			slspipe_u64 now = (slspipe_u64)slspipe_clock_now();
			char *buf = slspipe_scratch(out, 20);
			if (!buf) return -3;
			slspipe_u32 n = 0;
			char tmp[20];
			do {
				tmp[n++] = (char)('0' + now % 10);
				now /= 10;
			} while (now);
			for (slspipe_u32 j = 0; j < n; j++) buf[j] = tmp[n - 1 - j];
			copy_tagged(in, out, i);
			slspipe_emit_field(out, "now", 3, buf, n);
			slspipe_ok(out, i, 0);
		} else {
			copy_tagged(in, out, i);
			slspipe_ok(out, i, 0);
		}
	}
	return 0;
}
