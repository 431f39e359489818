/*
 * per_record: the one-call-per-message shape of per-message WASM processors, kept only as
 * a benchmark baseline for the batch ABI. For each record the host calls process(); the
 * guest asks the host for the message (the host allocates guest memory through the
 * guest's malloc and copies it in), copies it into its own output buffer, hands that back
 * with msg_set_bytes, and frees the input.
 */
typedef unsigned int u32;
typedef unsigned long long u64;

__attribute__((import_module("env"), import_name("msg_as_bytes"))) u64 msg_as_bytes(void);
__attribute__((import_module("env"), import_name("msg_set_bytes"))) void msg_set_bytes(const char *p, u32 n);

static char *heap, *out;
static u32 heap_cap, out_cap;

static char *grab(u32 n) {
	long old = (long)__builtin_wasm_memory_grow(0, (n + 65535u) / 65536u);
	return old < 0 ? 0 : (char *)((unsigned long)old * 65536u);
}

/* A one-slot allocator: the cheapest malloc/free pair possible, favouring the baseline. */
__attribute__((export_name("malloc"))) char *guest_malloc(u32 n) {
	if (n > heap_cap) {
		heap = grab(n);
		heap_cap = n;
	}
	return heap;
}

__attribute__((export_name("free"))) void guest_free(char *p) { (void)p; }

__attribute__((export_name("process"))) void process(void) {
	u64 in = msg_as_bytes();
	char *p = (char *)(unsigned long)(in >> 32);
	u32 n = (u32)in;
	if (n > out_cap) {
		out = grab(n);
		out_cap = n;
	}
	__builtin_memcpy(out, p, n);
	guest_free(p);
	msg_set_bytes(out, n);
}
