package interrupt

import "fmt"

// reader decodes the binary format from buf[pos:end]. The first failure sticks: later reads
// return zero values, so decoders check err once per construct rather than after every read.
// Offsets are positions in the whole module, which is what error messages report.
type reader struct {
	buf []byte
	pos int
	end int
	err error
	fn  int // function index reported in errors; -1 outside function bodies
}

func newReader(buf []byte, pos, end int) *reader {
	return &reader{buf: buf, pos: pos, end: end, fn: -1}
}

// failf records the first error, at offset at.
func (r *reader) failf(at int, format string, args ...any) {
	if r.err == nil {
		r.err = &FormatError{Offset: at, Func: r.fn, Reason: fmt.Sprintf(format, args...)}
		r.pos = r.end // stop every loop that reads on
	}
}

func (r *reader) done() bool { return r.err != nil || r.pos >= r.end }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.pos >= r.end {
		r.failf(r.pos, "unexpected end")
		return 0
	}
	b := r.buf[r.pos]
	r.pos++
	return b
}

// bytes skips n bytes and returns them.
func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(r.end-r.pos) {
		r.failf(r.pos, "unexpected end: %d bytes needed, %d left", n, r.end-r.pos)
		return nil
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

// uleb reads an unsigned LEB128 of at most bits bits (32 or 64).
func (r *reader) uleb(bits int) uint64 {
	start := r.pos
	maxBytes := (bits + 6) / 7
	var v uint64
	for i := 0; i < maxBytes; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		if i == maxBytes-1 {
			sig := bits - 7*i // significant bits in the last byte
			if b&0x80 != 0 || b&^byte(1<<sig-1) != 0 {
				r.failf(start, "integer too large for u%d", bits)
				return 0
			}
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			break
		}
	}
	return v
}

// sleb reads a signed LEB128 of at most bits bits (32, 33 or 64).
func (r *reader) sleb(bits int) int64 {
	if r.err == nil && r.pos < r.end {
		if b := r.buf[r.pos]; b < 0x80 { // one byte: 7 bits, sign in bit 6
			r.pos++
			return int64(int8(b<<1) >> 1)
		}
	}
	start := r.pos
	maxBytes := (bits + 6) / 7
	var v int64
	for i := 0; i < maxBytes; i++ {
		b := r.byte()
		if r.err != nil {
			return 0
		}
		if i == maxBytes-1 {
			sig := bits - 7*i
			mask := byte(0x7f) &^ byte(1<<(sig-1)-1) // payload bits that must repeat the sign
			if b&0x80 != 0 || (b&mask != 0 && b&mask != mask) {
				r.failf(start, "integer too large for s%d", bits)
				return 0
			}
		}
		shift := uint(7 * i)
		v |= int64(b&0x7f) << shift
		if b&0x80 == 0 {
			if shift+7 < 64 && b&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			break
		}
	}
	return v
}

// u32 reads an unsigned LEB128 u32; most are one byte, read without the general loop.
func (r *reader) u32() uint32 {
	if r.err == nil && r.pos < r.end {
		if b := r.buf[r.pos]; b < 0x80 {
			r.pos++
			return uint32(b)
		}
	}
	return uint32(r.uleb(32))
}

// name reads a vec(byte) name; names are compared, never decoded as UTF-8 here.
func (r *reader) name() string { return string(r.bytes(uint64(r.u32()))) }

// appendU32 appends v as a minimal unsigned LEB128.
func appendU32(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendS32 appends v as a minimal signed LEB128.
func appendS32(dst []byte, v int32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 && b&0x40 == 0 || v == -1 && b&0x40 != 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// u32Len is the length of v's minimal unsigned LEB128 encoding.
func u32Len(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
