// Package recordjson writes a record as one JSON object, the form slspipe
// prints records in (stdout sink, slspipe test) and the built-in json
// serializer produces.
package recordjson

import (
	"strconv"
	"unicode/utf8"

	"github.com/slspipe/slspipe/engine"
)

// Append appends r as one JSON object: "__time__" (seconds),
// "__time_ns__" when not zero, "__topic__" and "__source__" when set, tags
// as "__tag__:key", then the fields in order. Bytes that are not valid UTF-8
// are written as U+FFFD.
func Append(dst []byte, r *engine.Record) []byte {
	dst = append(dst, `{"__time__":`...)
	dst = strconv.AppendInt(dst, r.Time.Sec, 10)
	if r.Time.Nsec != 0 {
		dst = append(dst, `,"__time_ns__":`...)
		dst = strconv.AppendUint(dst, uint64(r.Time.Nsec), 10)
	}
	if r.Topic != "" {
		dst = append(dst, `,"__topic__":"`...)
		dst = AppendEscaped(dst, r.Topic)
		dst = append(dst, '"')
	}
	if r.Source != "" {
		dst = append(dst, `,"__source__":"`...)
		dst = AppendEscaped(dst, r.Source)
		dst = append(dst, '"')
	}
	for i := range r.Tags {
		dst = append(dst, `,"__tag__:`...)
		dst = AppendEscaped(dst, r.Tags[i].Key)
		dst = append(dst, `":"`...)
		dst = AppendEscaped(dst, r.Tags[i].Value)
		dst = append(dst, '"')
	}
	for i := range r.Fields {
		dst = append(dst, `,"`...)
		dst = AppendEscaped(dst, r.Fields[i].Key)
		dst = append(dst, `":"`...)
		dst = AppendEscaped(dst, r.Fields[i].Value)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// safe marks the ASCII bytes that need no escaping inside a JSON string.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendEscaped appends s escaped for the inside of a JSON string.
func AppendEscaped[T ~string | ~[]byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

func decodeRune[T ~string | ~[]byte](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.DecodeRuneInString(string(s))
}
