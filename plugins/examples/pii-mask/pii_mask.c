/*
 * pii-mask: masks personal data in every field value of every record:
 *
 *   email  john.doe@example.com   -> j***@example.com   (first character kept)
 *   IPv4   10.0.12.34             -> 10.0.*.*           (last two octets hidden)
 *   phone  555-123-1234           -> ***-***-1234       (last four digits kept)
 *
 * A phone number is a run of 10 to 15 digits separated by spaces, '-', '.' or
 * parentheses (an optional leading '+'), whose last two digit groups have 3 and 4
 * digits: "+1 (555) 123-1234" matches, a Unix timestamp or a date does not.
 *
 * Values without personal data are forwarded without copying; masked values are built
 * in the SDK's scratch memory. Keys are never changed.
 */
#include "slspipe.h"

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_local(char c) {
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}
static int is_domain(char c) { return is_alnum(c) || c == '.' || c == '-'; }

/* match_email: s[at] == '@'. Sets *from to the local part's start and returns the end of
 * the domain, or 0 when this '@' is not inside an email address. */
static slspipe_u32 match_email(const char *s, slspipe_u32 n, slspipe_u32 at, slspipe_u32 *from) {
	slspipe_u32 l = at;
	while (l > 0 && is_local(s[l - 1])) l--;
	if (l == at) return 0;
	slspipe_u32 e = at + 1, dots = 0;
	while (e < n && is_domain(s[e])) {
		if (s[e] == '.') dots++;
		e++;
	}
	while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-')) { /* trailing punctuation */
		if (s[e - 1] == '.') dots--;
		e--;
	}
	if (dots == 0 || e == at + 1 || s[at + 1] == '.') return 0;
	*from = l;
	return e;
}

/* match_ipv4 returns the end of a dotted quad starting at i (octets <= 255), or 0.
 * *third receives the start of the third octet. */
static slspipe_u32 match_ipv4(const char *s, slspipe_u32 n, slspipe_u32 i, slspipe_u32 *third) {
	slspipe_u32 p = i;
	for (int octet = 0; octet < 4; octet++) {
		if (octet == 2) *third = p;
		slspipe_u32 v = 0, d = 0;
		while (p < n && is_digit(s[p]) && d < 4) {
			v = v * 10 + (slspipe_u32)(s[p] - '0');
			p++;
			d++;
		}
		if (d == 0 || d > 3 || v > 255) return 0;
		if (octet < 3) {
			if (p >= n || s[p] != '.') return 0;
			p++;
		}
	}
	if (p < n && (is_alnum(s[p]) || (s[p] == '.' && p + 1 < n && is_digit(s[p + 1])))) return 0;
	return p;
}

/* match_phone returns the end of a phone number starting at i, or 0; *last receives the
 * start of its last four digits. */
static slspipe_u32 match_phone(const char *s, slspipe_u32 n, slspipe_u32 i, slspipe_u32 *last) {
	slspipe_u32 p = i, digits = 0, groups = 0, end = 0;
	slspipe_u32 len = 0, start = 0;           /* the group being read */
	slspipe_u32 last_len = 0, last_start = 0; /* the last complete group */
	slspipe_u32 prev_len = 0;                 /* the one before it */
	if (s[p] == '+') p++;
	for (; p <= n; p++) {
		char c = p < n ? s[p] : 0;
		if (p < n && is_digit(c)) {
			if (len == 0) start = p;
			len++;
			digits++;
			end = p + 1;
			continue;
		}
		if (len) { /* a group ends */
			prev_len = last_len;
			last_len = len;
			last_start = start;
			groups++;
			len = 0;
		}
		if (p == n || (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')')) break;
	}
	if (end < n && is_alnum(s[end])) return 0;
	if (groups < 2 || last_len != 4 || prev_len != 3 || digits < 10 || digits > 15) return 0;
	*last = last_start;
	return end;
}

/* mask writes the masked value of s into dst (at least 2*n+8 bytes) and returns its
 * length, or -1 when s holds nothing to mask. */
static int mask(const char *s, slspipe_u32 n, char *dst) {
	slspipe_u32 o = 0, copied = 0, i = 0;
	int changed = 0;
#define EMIT_UNTIL(x)                                                                  \
	do {                                                                           \
		for (; copied < (x); copied++) dst[o++] = s[copied];                   \
	} while (0)
#define EMIT_LIT(lit)                                                                  \
	do {                                                                           \
		for (const char *q = (lit); *q; q++) dst[o++] = *q;                    \
	} while (0)
	while (i < n) {
		char c = s[i];
		slspipe_u32 end, from, mark;
		if (c == '@' && (end = match_email(s, n, i, &from)) && from >= copied) {
			EMIT_UNTIL(from + 1); /* keep the first character */
			EMIT_LIT("***");
			copied = i; /* resume at '@' */
			EMIT_UNTIL(end);
			i = end;
			changed = 1;
			continue;
		}
		int boundary = i == 0 || !(is_alnum(s[i - 1]) || s[i - 1] == '.');
		if (boundary && is_digit(c) && (end = match_ipv4(s, n, i, &mark))) {
			EMIT_UNTIL(mark);
			EMIT_LIT("*.*");
			copied = i = end;
			changed = 1;
			continue;
		}
		if (boundary && (is_digit(c) || c == '+' || c == '(') && (end = match_phone(s, n, i, &mark))) {
			EMIT_UNTIL(i);
			EMIT_LIT("***-***-");
			copied = mark;
			EMIT_UNTIL(end);
			i = end;
			changed = 1;
			continue;
		}
		/* Skip the rest of a word so that digits inside it are not taken for a number. */
		if (is_alnum(c)) {
			while (i < n && is_alnum(s[i])) i++;
			continue;
		}
		i++;
	}
	if (!changed) return -1;
	EMIT_UNTIL(n);
	return (int)o;
#undef EMIT_UNTIL
#undef EMIT_LIT
}

/* work is where values are masked before the result is copied, at its exact length, into
 * the SDK's scratch memory; it is reused by every value. */
static char *work;
static slspipe_u32 work_cap;

int slspipe_on_batch(const slspipe_batch *in, slspipe_out *out) {
	for (slspipe_u32 i = 0; i < in->record_count; i++) {
		const slspipe_record *r = &in->records[i];
		slspipe_u32 nf;
		const slspipe_field *f = slspipe_record_fields(in, i, &nf);
		slspipe_emit(out, r->sec, r->nsec);
		for (slspipe_u32 j = 0; j < nf; j++) {
			const char *v = f[j].value;
			slspipe_u32 vl = f[j].value_len;
			/* Values without '@' or digits cannot hold personal data. */
			int candidate = 0;
			for (slspipe_u32 k = 0; k < vl && !candidate; k++) candidate = v[k] == '@' || is_digit(v[k]);
			if (candidate) {
				if (!slspipe__grow((void **)&work, &work_cap, 0, 2 * vl + 8, 1)) return -3;
				int m = mask(v, vl, work);
				if (m >= 0) {
					char *dst = slspipe_scratch(out, (slspipe_u32)m);
					if (!dst) return -3;
					slspipe__copy(dst, work, (slspipe_u32)m);
					v = dst;
					vl = (slspipe_u32)m;
				}
			}
			slspipe_emit_field(out, f[j].key, f[j].key_len, v, vl);
		}
		slspipe_ok(out, i, 0);
	}
	return 0;
}
