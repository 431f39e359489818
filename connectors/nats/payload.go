package nats

import (
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
)

// appendPayload appends what is published for r: its serialized Payload,
// or, when a serializer left it empty, a JSON object of its fields in
// order ({"host":"a","status":"200"}; a repeated key is written again).
// Bytes that are not valid UTF-8 become U+FFFD.
func appendPayload(dst []byte, r *engine.Record) []byte {
	if len(r.Payload) > 0 {
		return append(dst, r.Payload...)
	}
	dst = append(dst, '{')
	for i := range r.Fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, r.Fields[i].Key)
		dst = append(dst, ':')
		dst = appendJSONString(dst, r.Fields[i].Value)
	}
	return append(dst, '}')
}

func appendJSONString(dst, b []byte) []byte {
	dst = append(dst, '"')
	dst = recordjson.AppendEscaped(dst, b)
	return append(dst, '"')
}
