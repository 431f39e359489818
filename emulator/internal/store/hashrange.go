package store

import (
	"fmt"
	"math/big"
	"strings"
)

// MaxKey is the exclusive end of the last shard's hash range.
const MaxKey = "ffffffffffffffffffffffffffffffff"

var keySpace = new(big.Int).Lsh(big.NewInt(1), 128)

// evenRanges splits [begin, end) into n equal-sized contiguous ranges.
func evenRanges(begin, end string, n int) ([][2]string, error) {
	b, ok1 := new(big.Int).SetString(begin, 16)
	e, ok2 := new(big.Int).SetString(end, 16)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("invalid hash range [%s, %s)", begin, end)
	}
	if end == MaxKey {
		e = new(big.Int).Set(keySpace)
	}
	width := new(big.Int).Sub(e, b)
	if n < 1 || width.Cmp(big.NewInt(int64(n))) < 0 {
		return nil, fmt.Errorf("cannot split range into %d shards", n)
	}
	out := make([][2]string, n)
	prev := begin
	for i := 1; i <= n; i++ {
		var next string
		if i == n {
			next = end
		} else {
			off := new(big.Int).Mul(width, big.NewInt(int64(i)))
			off.Quo(off, big.NewInt(int64(n)))
			next = formatKey(off.Add(off, b))
		}
		out[i-1] = [2]string{prev, next}
		prev = next
	}
	return out, nil
}

func formatKey(v *big.Int) string {
	return fmt.Sprintf("%032x", v)
}

// NormalizeKey lowercases a hash key and right-pads it with '0' to 32 hex
// characters, the way the service reads route keys. It reports false for a
// key that is not hex or longer than 32 characters.
func NormalizeKey(key string) (string, bool) {
	key = strings.ToLower(key)
	if key == "" || len(key) > 32 {
		return "", false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", false
		}
	}
	return key + strings.Repeat("0", 32-len(key)), true
}

// inRange reports whether the normalized key lies in [begin, end); the last
// range also holds MaxKey itself.
func inRange(key, begin, end string) bool {
	return key >= begin && (key < end || end == MaxKey && key == MaxKey)
}
