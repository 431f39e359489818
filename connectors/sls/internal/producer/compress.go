package producer

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// compressor compresses PutLogs bodies; it is safe for concurrent use.
type compressor interface {
	// name is the x-log-compresstype value.
	name() string
	// compress appends the compressed form of src to dst.
	compress(dst, src []byte) ([]byte, error)
}

// newCompressor returns the compressor called name, for up to concurrency
// simultaneous calls.
func newCompressor(name string, concurrency int) (compressor, error) {
	switch name {
	case "", "lz4":
		return lz4Compressor{}, nil
	case "zstd":
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(concurrency))
		if err != nil {
			return nil, fmt.Errorf("zstd encoder: %w", err)
		}
		return zstdCompressor{enc}, nil
	}
	return nil, fmt.Errorf("compression %q: want lz4 or zstd", name)
}

// lz4Compressor writes a raw LZ4 block, the form SLS expects.
type lz4Compressor struct{}

// lz4Pool recycles block compressors and their hash tables.
var lz4Pool = sync.Pool{New: func() any { return new(lz4.Compressor) }}

func (lz4Compressor) name() string { return "lz4" }

func (lz4Compressor) compress(dst, src []byte) ([]byte, error) {
	start := len(dst)
	dst = grow(dst, lz4.CompressBlockBound(len(src)))
	out := dst[start:cap(dst)]
	c := lz4Pool.Get().(*lz4.Compressor)
	n, err := c.CompressBlock(src, out)
	lz4Pool.Put(c)
	if err != nil {
		return dst[:start], fmt.Errorf("lz4: %w", err)
	}
	if n == 0 { // incompressible: the library declines, SLS still wants a block
		n = literalBlock(out, src)
	}
	return dst[:start+n], nil
}

// literalBlock writes src as one literal-only LZ4 sequence, which is a valid
// block; dst must hold lz4.CompressBlockBound(len(src)) bytes.
func literalBlock(dst, src []byte) int {
	n := len(src)
	i := 0
	if n < 0xF {
		dst[i] = byte(n << 4)
	} else {
		dst[i] = 0xF0
		for n -= 0xF; n >= 0xFF; n -= 0xFF {
			i++
			dst[i] = 0xFF
		}
		i++
		dst[i] = byte(n)
	}
	i++
	return i + copy(dst[i:], src)
}

// zstdCompressor writes a zstd frame.
type zstdCompressor struct{ enc *zstd.Encoder }

func (zstdCompressor) name() string { return "zstd" }

func (z zstdCompressor) compress(dst, src []byte) ([]byte, error) {
	return z.enc.EncodeAll(src, dst), nil
}

// grow returns b with room for n more bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
