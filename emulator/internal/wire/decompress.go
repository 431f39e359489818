package wire

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ErrTooLarge reports a body whose uncompressed size exceeds MaxRawBody.
var ErrTooLarge = errors.New("body exceeds the raw size limit")

// zstdDecoder is shared: DecodeAll is safe for concurrent use. The memory
// cap keeps a hostile frame from allocating past the body limit.
var zstdDecoder, _ = zstd.NewReader(nil,
	zstd.WithDecoderConcurrency(0),
	zstd.WithDecoderMaxMemory(MaxRawBody+1),
)

// Decompress returns the raw body for the x-log-compresstype value
// compressType ("" means uncompressed) and the declared x-log-bodyrawsize
// rawSize (-1 when absent). It returns ErrTooLarge when the raw body exceeds
// MaxRawBody and another error when the body cannot be decoded or does not
// match rawSize.
func Decompress(compressType string, rawSize int, body []byte) ([]byte, error) {
	switch compressType {
	case "":
		if len(body) > MaxRawBody {
			return nil, ErrTooLarge
		}
		return body, nil
	case "lz4":
		if rawSize < 0 {
			return nil, errors.New("lz4 body without x-log-bodyrawsize")
		}
		if rawSize > MaxRawBody {
			return nil, ErrTooLarge
		}
		out := make([]byte, rawSize)
		n, err := lz4.UncompressBlock(body, out)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if n != rawSize {
			return nil, fmt.Errorf("lz4: %d bytes decoded, x-log-bodyrawsize says %d", n, rawSize)
		}
		return out, nil
	case "zstd":
		if rawSize > MaxRawBody {
			return nil, ErrTooLarge
		}
		out, err := zstdDecoder.DecodeAll(body, nil)
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
				return nil, ErrTooLarge
			}
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if len(out) > MaxRawBody {
			return nil, ErrTooLarge
		}
		if rawSize >= 0 && len(out) != rawSize {
			return nil, fmt.Errorf("zstd: %d bytes decoded, x-log-bodyrawsize says %d", len(out), rawSize)
		}
		return out, nil
	case "deflate":
		// The service's "deflate" is zlib (RFC 1950), as old SDKs send it.
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		defer zr.Close()
		out, err := io.ReadAll(io.LimitReader(zr, MaxRawBody+1))
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		if len(out) > MaxRawBody {
			return nil, ErrTooLarge
		}
		if rawSize >= 0 && len(out) != rawSize {
			return nil, fmt.Errorf("deflate: %d bytes decoded, x-log-bodyrawsize says %d", len(out), rawSize)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported compress type %q", compressType)
	}
}
