/*
 * slspipe.h — C SDK for slspipe guest ABI v1 (see docs/abi.md). Header-only.
 *
 * Include it in exactly one translation unit of a module. It defines the ABI exports
 * (slspipe_abi_v1, slspipe_arena, slspipe_init, slspipe_process, slspipe_last_error) and
 * calls two functions you write:
 *
 *   int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out);
 *       For every input record i, emit zero or more output records, then call
 *       slspipe_ok(out, i, route) or slspipe_error(out, i, msg, len). Return 0, or a
 *       non-zero code to fail the whole batch (set a message with slspipe_set_error).
 *
 *   int slspipe_on_init(const slspipe_config *cfg);      only if SLSPIPE_HAS_INIT is defined
 *       Return 0 to accept the configuration, non-zero to refuse it.
 *
 * Builds with wasi-libc (clang --target=wasm32-wasi -mexec-model=reactor) or without any
 * libc (clang --target=wasm32 -nostdlib -mbulk-memory -Wl,--no-entry); without libc the
 * SDK allocates with memory.grow and never frees, which is fine because its buffers are
 * reused from batch to batch.
 */
#ifndef SLSPIPE_H
#define SLSPIPE_H

#if !defined(__wasm32__)
#error "slspipe.h targets wasm32"
#endif

typedef unsigned int slspipe_u32;
typedef unsigned long long slspipe_u64;
typedef long long slspipe_i64;

#define SLSPIPE_EXPORT(name) __attribute__((export_name(name)))
#define SLSPIPE_IMPORT(name) __attribute__((import_module("slspipe"), import_name(name)))

#define SLSPIPE_INPUT_MAGIC 0x31425053u  /* "SPB1" */
#define SLSPIPE_OUTPUT_MAGIC 0x314f5053u /* "SPO1" */
#define SLSPIPE_STATUS_OK 0u
#define SLSPIPE_STATUS_ERROR 1u
#define SLSPIPE_STATUS_PASS 2u

/* Log levels accepted by slspipe_log (the slog levels). */
#define SLSPIPE_DEBUG (-4)
#define SLSPIPE_INFO 0
#define SLSPIPE_WARN 4
#define SLSPIPE_ERROR 8

/* Wire layout. On wasm32 a pointer is a 32-bit guest address, so the address fields of
 * the layout can be declared as pointers. */
typedef struct {
	const char *key;
	slspipe_u32 key_len;
	const char *value;
	slspipe_u32 value_len;
} slspipe_field;

typedef struct {
	slspipe_u32 sec, nsec;
	slspipe_u32 field_first, field_count;
	slspipe_u32 index; /* input: position in the host's whole batch; output: ignored */
	slspipe_u32 reserved;
} slspipe_record;

typedef struct {
	slspipe_u32 magic, header_size;
	slspipe_u32 record_count;
	const slspipe_record *records;
	slspipe_u32 field_count;
	const slspipe_field *fields;
	const char *topic;
	slspipe_u32 topic_len;
	const char *source;
	slspipe_u32 source_len;
	slspipe_u32 tags_first, tags_count;
	const char *blob;
	slspipe_u32 blob_len;
	slspipe_u32 flags, reserved;
} slspipe_batch;

typedef struct {
	slspipe_u32 status, first, count, route;
	const char *msg;
	slspipe_u32 msg_len;
} slspipe_outcome;

typedef struct {
	slspipe_u32 magic, header_size;
	slspipe_u32 outcome_count;
	const slspipe_outcome *outcomes;
	slspipe_u32 record_count;
	const slspipe_record *records;
	slspipe_u32 field_count;
	const slspipe_field *fields;
} slspipe_output_header;

typedef struct {
	slspipe_u32 count, reserved;
	slspipe_field entries[];
} slspipe_config;

_Static_assert(sizeof(slspipe_field) == 16, "field layout");
_Static_assert(sizeof(slspipe_record) == 24, "record layout");
_Static_assert(sizeof(slspipe_batch) == 64, "batch layout");
_Static_assert(sizeof(slspipe_outcome) == 24, "outcome layout");
_Static_assert(sizeof(slspipe_output_header) == 32, "output layout");

/* The output under construction. Use the functions below, not the members. */
typedef struct {
	slspipe_output_header hdr;
	slspipe_outcome *outcomes;
	slspipe_u32 outcome_cap;
	slspipe_record *records;
	slspipe_u32 record_len, record_cap;
	slspipe_field *fields;
	slspipe_u32 field_len, field_cap;
	slspipe_u32 mark; /* first output record not yet claimed by an outcome */
	char *scratch;
	slspipe_u32 scratch_len, scratch_cap, scratch_need;
	/* The block each batch starts with, sized from the largest need seen so far, and
	 * the overflow blocks taken when a batch needed more (freed at the next batch). */
	char *scratch_base;
	slspipe_u32 scratch_base_cap;
	void *scratch_extra;
	int failed; /* an allocation failed: the batch is reported as failed */
} slspipe_out;

/* ---- host imports -------------------------------------------------------------------- */

SLSPIPE_IMPORT("log") void slspipe_log(int level, const char *msg, slspipe_u32 len);
SLSPIPE_IMPORT("counter_add") void slspipe_counter_add(const char *name, slspipe_u32 len, slspipe_i64 delta);
SLSPIPE_IMPORT("clock_now") slspipe_i64 slspipe_clock_now(void);

/* ---- memory -------------------------------------------------------------------------- */

#if defined(__wasi__) && __STDC_HOSTED__ && !defined(SLSPIPE_NO_LIBC)
#include <stdlib.h>
#include <string.h>
static void *slspipe__alloc(slspipe_u32 n) { return malloc(n); }
static void slspipe__free(void *p) { free(p); }
#define slspipe__copy memcpy
#else
/* Without libc: take fresh pages from memory.grow; memory above the current size is
 * owned by nobody else. */
static void *slspipe__alloc(slspipe_u32 n) {
	static unsigned long top, end;
	n = (n + 7u) & ~7u;
	if (end - top < n) {
		unsigned long pages = (n + 65535u) / 65536u;
		long old = __builtin_wasm_memory_grow(0, pages);
		if (old < 0) return 0;
		if ((unsigned long)old * 65536u != end) top = (unsigned long)old * 65536u;
		end = ((unsigned long)old + pages) * 65536u;
	}
	void *p = (void *)top;
	top += n;
	return p;
}
static void slspipe__free(void *p) { (void)p; }
#define slspipe__copy __builtin_memcpy
#endif

/* slspipe__grow makes *buf hold at least need elements of size sz. */
static int slspipe__grow(void **buf, slspipe_u32 *cap, slspipe_u32 len, slspipe_u32 need, slspipe_u32 sz) {
	if (need <= *cap) return 1;
	slspipe_u32 c = *cap ? *cap * 2 : 64;
	while (c < need) c *= 2;
	void *n = slspipe__alloc(c * sz);
	if (!n) return 0;
	if (len) slspipe__copy(n, *buf, len * sz);
	slspipe__free(*buf);
	*buf = n;
	*cap = c;
	return 1;
}

/* ---- reading the input --------------------------------------------------------------- */

/* slspipe_record_fields returns record i's fields; *n receives their count. */
static inline const slspipe_field *slspipe_record_fields(const slspipe_batch *b, slspipe_u32 i, slspipe_u32 *n) {
	const slspipe_record *r = &b->records[i];
	*n = r->field_count;
	return &b->fields[r->field_first];
}

static inline int slspipe__eq(const char *a, slspipe_u32 al, const char *b, slspipe_u32 bl) {
	if (al != bl) return 0;
	for (slspipe_u32 i = 0; i < al; i++)
		if (a[i] != b[i]) return 0;
	return 1;
}

/* slspipe_find returns record i's first field named key, or 0. */
static inline const slspipe_field *slspipe_find(const slspipe_batch *b, slspipe_u32 i, const char *key, slspipe_u32 key_len) {
	slspipe_u32 n;
	const slspipe_field *f = slspipe_record_fields(b, i, &n);
	for (slspipe_u32 j = 0; j < n; j++)
		if (slspipe__eq(f[j].key, f[j].key_len, key, key_len)) return &f[j];
	return 0;
}

/* slspipe_config_get returns the value of key in the init configuration, or 0. */
static inline const slspipe_field *slspipe_config_get(const slspipe_config *c, const char *key, slspipe_u32 key_len) {
	for (slspipe_u32 j = 0; j < c->count; j++)
		if (slspipe__eq(c->entries[j].key, c->entries[j].key_len, key, key_len)) return &c->entries[j];
	return 0;
}

/* ---- writing the output -------------------------------------------------------------- */

/* slspipe_emit starts a new output record and returns its index. */
static inline slspipe_u32 slspipe_emit(slspipe_out *o, slspipe_u32 sec, slspipe_u32 nsec) {
	if (!slspipe__grow((void **)&o->records, &o->record_cap, o->record_len, o->record_len + 1, sizeof(slspipe_record))) {
		o->failed = 1;
		return o->record_len;
	}
	slspipe_record *r = &o->records[o->record_len];
	r->sec = sec;
	r->nsec = nsec;
	r->field_first = o->field_len;
	r->field_count = 0;
	r->index = 0;
	r->reserved = 0;
	return o->record_len++;
}

/* slspipe_emit_field appends a field to the record last started. The bytes are not
 * copied: they must stay valid until slspipe_process returns (input bytes, static data or
 * slspipe_scratch memory all do). */
static inline void slspipe_emit_field(slspipe_out *o, const char *k, slspipe_u32 kl, const char *v, slspipe_u32 vl) {
	if (o->record_len == 0 || !slspipe__grow((void **)&o->fields, &o->field_cap, o->field_len, o->field_len + 1, sizeof(slspipe_field))) {
		o->failed = 1;
		return;
	}
	slspipe_field *f = &o->fields[o->field_len++];
	f->key = k;
	f->key_len = kl;
	f->value = v;
	f->value_len = vl;
	o->records[o->record_len - 1].field_count++;
}

/* slspipe_emit_copy emits input record i unchanged; its fields keep pointing at the
 * input bytes, so nothing but the 16-byte field entries is copied. */
static inline void slspipe_emit_copy(slspipe_out *o, const slspipe_batch *in, slspipe_u32 i) {
	const slspipe_record *r = &in->records[i];
	slspipe_emit(o, r->sec, r->nsec);
	if (o->failed || !slspipe__grow((void **)&o->fields, &o->field_cap, o->field_len, o->field_len + r->field_count, sizeof(slspipe_field))) {
		o->failed = 1;
		return;
	}
	if (r->field_count) slspipe__copy(&o->fields[o->field_len], &in->fields[r->field_first], r->field_count * sizeof(slspipe_field));
	o->field_len += r->field_count;
	o->records[o->record_len - 1].field_count = r->field_count;
}

/* slspipe_scratch returns n bytes that stay valid until slspipe_process returns, for
 * values the module builds. Returns 0 when memory is exhausted. */
static inline char *slspipe_scratch(slspipe_out *o, slspipe_u32 n) {
	o->scratch_need += n;
	if (o->scratch_cap - o->scratch_len < n) {
		/* Earlier scratch bytes are still referenced, so take an overflow block instead
		 * of moving; the next batch starts with one block big enough for everything. */
		slspipe_u32 c = n > 4096 ? n : 4096;
		char *p = (char *)slspipe__alloc(c + 8);
		if (!p) {
			o->failed = 1;
			return 0;
		}
		*(void **)p = o->scratch_extra; /* chained, to be freed at the next batch */
		o->scratch_extra = p;
		o->scratch = p + 8;
		o->scratch_len = 0;
		o->scratch_cap = c;
	}
	char *p = o->scratch + o->scratch_len;
	o->scratch_len += n;
	return p;
}

/* slspipe_ok records the outcome of input i: success, with every record emitted since the
 * previous outcome as its outputs (none means the record is filtered out). route selects
 * the sink route; 0 is the default. */
static inline void slspipe_ok(slspipe_out *o, slspipe_u32 i, slspipe_u32 route) {
	slspipe_outcome *oc = &o->outcomes[i];
	oc->status = SLSPIPE_STATUS_OK;
	oc->first = o->mark;
	oc->count = o->record_len - o->mark;
	oc->route = route;
	oc->msg = 0;
	oc->msg_len = 0;
	o->mark = o->record_len;
}

/* slspipe_pass records that input i goes on unchanged, to route, without emitting an
 * output record: the cheapest outcome for records a filter or router keeps as they are.
 * Records emitted since the previous outcome are discarded. */
static inline void slspipe_pass(slspipe_out *o, slspipe_u32 i, slspipe_u32 route) {
	slspipe_outcome *oc = &o->outcomes[i];
	oc->status = SLSPIPE_STATUS_PASS;
	oc->first = oc->count = 0;
	oc->route = route;
	oc->msg = 0;
	oc->msg_len = 0;
	o->mark = o->record_len;
}

/* slspipe_error records that input i failed with a message (which must stay valid until
 * slspipe_process returns); records emitted since the previous outcome are discarded. */
static inline void slspipe_error(slspipe_out *o, slspipe_u32 i, const char *msg, slspipe_u32 len) {
	slspipe_outcome *oc = &o->outcomes[i];
	oc->status = SLSPIPE_STATUS_ERROR;
	oc->first = oc->count = oc->route = 0;
	oc->msg = msg;
	oc->msg_len = len;
	o->mark = o->record_len;
}

/* ---- exports ------------------------------------------------------------------------- */

static slspipe_out slspipe__out;
static char *slspipe__arena_ptr;
static slspipe_u32 slspipe__arena_cap;
static const char *slspipe__err;
static slspipe_u32 slspipe__err_len;
static const char slspipe__no_outcome[] = "module set no outcome for this record";

/* slspipe_set_error sets the message the host reads after a failed init or batch. */
static inline void slspipe_set_error(const char *msg, slspipe_u32 len) {
	slspipe__err = msg;
	slspipe__err_len = len;
}

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out);
#ifdef SLSPIPE_HAS_INIT
int slspipe_on_init(const slspipe_config *cfg);
#endif

SLSPIPE_EXPORT("slspipe_abi_v1") void slspipe_abi_v1(void) {}

SLSPIPE_EXPORT("slspipe_arena") void *slspipe_arena(slspipe_u32 n) {
	if (n > slspipe__arena_cap) {
		slspipe_u32 c = n < 65536u ? 65536u : n + n / 4;
		char *p = (char *)slspipe__alloc(c);
		if (!p) return 0;
		slspipe__free(slspipe__arena_ptr);
		slspipe__arena_ptr = p;
		slspipe__arena_cap = c;
	}
	return slspipe__arena_ptr;
}

SLSPIPE_EXPORT("slspipe_init") int slspipe_init(const slspipe_config *cfg, slspipe_u32 len) {
	(void)len;
#ifdef SLSPIPE_HAS_INIT
	return slspipe_on_init(cfg);
#else
	(void)cfg;
	return 0;
#endif
}

SLSPIPE_EXPORT("slspipe_last_error") slspipe_u64 slspipe_last_error(void) {
	return ((slspipe_u64)(unsigned long)slspipe__err << 32) | slspipe__err_len;
}

SLSPIPE_EXPORT("slspipe_process") slspipe_i64 slspipe_process(const slspipe_batch *in, slspipe_u32 len) {
	static const char bad_magic[] = "input does not start with the ABI v1 magic";
	static const char no_mem[] = "out of memory";
	slspipe_out *o = &slspipe__out;
	if (len < sizeof(slspipe_batch) || in->magic != SLSPIPE_INPUT_MAGIC) {
		slspipe_set_error(bad_magic, sizeof bad_magic - 1);
		return -2;
	}
	slspipe_u32 n = in->record_count;
	if (!slspipe__grow((void **)&o->outcomes, &o->outcome_cap, 0, n, sizeof(slspipe_outcome))) {
		slspipe_set_error(no_mem, sizeof no_mem - 1);
		return -3;
	}
	/* Every outcome starts as "no outcome set". Filled by doubling copies rather than a
	 * loop per record: with a batch deadline, each guest loop iteration costs a check. */
	if (n) {
		slspipe_outcome *oc = &o->outcomes[0];
		oc->status = SLSPIPE_STATUS_ERROR;
		oc->first = oc->count = oc->route = 0;
		oc->msg = slspipe__no_outcome;
		oc->msg_len = sizeof slspipe__no_outcome - 1;
		for (slspipe_u32 filled = 1; filled < n; filled *= 2) {
			slspipe_u32 c = filled < n - filled ? filled : n - filled;
			slspipe__copy(&o->outcomes[filled], o->outcomes, c * sizeof(slspipe_outcome));
		}
	}
	o->record_len = o->field_len = o->mark = 0;
	o->failed = 0;
	/* Nothing of the previous batch is referenced any more: release its overflow
	 * blocks and, when it needed more than the base block, replace that with one twice
	 * the need, so that overflows (which leak without libc) stop after a few batches. */
	while (o->scratch_extra) {
		void *next = *(void **)o->scratch_extra;
		slspipe__free(o->scratch_extra);
		o->scratch_extra = next;
	}
	if (o->scratch_need > o->scratch_base_cap) {
		slspipe_u32 c = o->scratch_need * 2;
		char *p = (char *)slspipe__alloc(c);
		if (p) {
			slspipe__free(o->scratch_base);
			o->scratch_base = p;
			o->scratch_base_cap = c;
		}
	}
	o->scratch = o->scratch_base;
	o->scratch_cap = o->scratch_base_cap;
	o->scratch_len = o->scratch_need = 0;

	int rc = slspipe_on_batch(in, o);
	if (rc != 0) return rc < 0 ? rc : -rc;
	if (o->failed) {
		slspipe_set_error(no_mem, sizeof no_mem - 1);
		return -3;
	}
	o->hdr.magic = SLSPIPE_OUTPUT_MAGIC;
	o->hdr.header_size = sizeof(slspipe_output_header);
	o->hdr.outcome_count = n;
	o->hdr.outcomes = o->outcomes;
	o->hdr.record_count = o->record_len;
	o->hdr.records = o->records;
	o->hdr.field_count = o->field_len;
	o->hdr.fields = o->fields;
	return (slspipe_i64)(((slspipe_u64)(unsigned long)&o->hdr << 32) | sizeof(slspipe_output_header));
}

#endif /* SLSPIPE_H */
