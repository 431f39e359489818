// Package logwire reads and writes the protobuf wire format of SLS's
// log.proto (LogGroupList, LogGroup, Log, LogContent, LogTag) without
// reflection and without allocating: the SLS source decodes pulls with it
// straight into engine records, the SLS sink encodes log groups with it,
// and the benchmark harness measures its raw decode limit with it.
//
// # Notes
//
// These few functions are written by hand rather than taken from
// google.golang.org/protobuf/encoding/protowire because they are measured
// 35% faster on the source's decode and the sink's encode (one-byte tags
// take a fast path, and every function here inlines); docs/RATIONALE.md
// has the numbers. The emulator deliberately does not use this package.
package logwire

import (
	"errors"
	"math/bits"
)

// Errors of malformed input.
var (
	ErrTruncated = errors.New("truncated protobuf")
	ErrWireType  = errors.New("unsupported protobuf wire type")
)

// Wire types used by log.proto.
const (
	WireVarint  = 0
	WireFixed64 = 1
	WireBytes   = 2
	WireFixed32 = 5
)

// Varint reads a varint at b[i:], returning it and the index after it, or
// n < 0 when b ends first or the varint is longer than 10 bytes.
func Varint(b []byte, i int) (v uint64, n int) {
	var shift uint
	for j := 0; j < 10; j++ {
		if i >= len(b) {
			return 0, -1
		}
		c := b[i]
		i++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, i
		}
		shift += 7
	}
	return 0, -1
}

// Tag reads a field tag at b[i:]: the field number, the wire type and the
// index after it (n < 0 when truncated).
func Tag(b []byte, i int) (field uint64, wt int, n int) {
	if i < len(b) && b[i] < 0x80 { // one-byte tags are the common case
		return uint64(b[i] >> 3), int(b[i] & 7), i + 1
	}
	v, n := Varint(b, i)
	if n < 0 {
		return 0, 0, -1
	}
	return v >> 3, int(v & 7), n
}

// Bytes reads a length-delimited value at b[i:]. The result is
// capacity-limited, so appending to it cannot overwrite what follows.
func Bytes(b []byte, i int) (sub []byte, n int) {
	l, n := Varint(b, i)
	if n < 0 || l > uint64(len(b)-n) {
		return nil, -1
	}
	end := n + int(l)
	return b[n:end:end], end
}

// Skip skips a value of wire type wt at b[i:], returning the index after it
// or -1.
func Skip(b []byte, i, wt int) int {
	switch wt {
	case WireVarint:
		_, n := Varint(b, i)
		return n
	case WireFixed64:
		if len(b)-i < 8 {
			return -1
		}
		return i + 8
	case WireBytes:
		_, n := Bytes(b, i)
		return n
	case WireFixed32:
		if len(b)-i < 4 {
			return -1
		}
		return i + 4
	}
	return -1
}

// NextBytes finds the next length-delimited field of b at or after i,
// skipping fields of other wire types, and returns its number, its bytes
// and the index after it. field is 0 (no protobuf field has that number)
// when only other wire types remain.
func NextBytes(b []byte, i int) (field uint64, sub []byte, next int, err error) {
	for i < len(b) {
		f, wt, n := Tag(b, i)
		if n < 0 {
			return 0, nil, 0, ErrTruncated
		}
		if wt != WireBytes {
			if i = Skip(b, n, wt); i < 0 {
				return 0, nil, 0, ErrWireType
			}
			continue
		}
		sub, n = Bytes(b, n)
		if n < 0 {
			return 0, nil, 0, ErrTruncated
		}
		return f, sub, n, nil
	}
	return 0, nil, len(b), nil
}

// ForEach calls fn with every length-delimited field number want of b, up
// to the first malformed field.
func ForEach(b []byte, want uint64, fn func([]byte)) {
	for i := 0; i < len(b); {
		field, sub, n, err := NextBytes(b, i)
		if err != nil || field == 0 {
			return
		}
		if field == want {
			fn(sub)
		}
		i = n
	}
}

// SizeVarint is the encoded size of x.
func SizeVarint(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// AppendVarint appends x as a varint.
func AppendVarint(b []byte, x uint64) []byte {
	for x >= 0x80 {
		b = append(b, byte(x)|0x80)
		x >>= 7
	}
	return append(b, byte(x))
}
