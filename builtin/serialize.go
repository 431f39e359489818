package builtin

import (
	"context"
	"fmt"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
)

// serializeJSON sets each record's payload to its JSON object encoding.
// The payloads share one buffer allocated for this call, which the stage
// never reuses, as the stage contract requires.
func serializeJSON(_ context.Context, in []engine.Record, out *engine.Results) error {
	size := 0
	for i := range in {
		size += in[i].Size() + 32 + 8*len(in[i].Fields)
	}
	buf := make([]byte, 0, size)
	for i := range in {
		start := len(buf)
		buf = AppendJSON(buf, &in[i])
		rec := in[i]
		rec.Payload = buf[start:len(buf):len(buf)]
		out.Emit(rec)
	}
	return nil
}

type rawSerializer struct{ field string }

func (s rawSerializer) process(_ context.Context, in []engine.Record, out *engine.Results) error {
	for i := range in {
		v, ok := in[i].Get(s.field)
		if !ok {
			out.Reject(fmt.Errorf("serialize raw: record has no field %q", s.field))
			continue
		}
		rec := in[i]
		rec.Payload = v
		out.Emit(rec)
	}
	return nil
}

// AppendJSON appends r as one JSON object: "__time__" (seconds),
// "__time_ns__" when not zero, "__topic__" and "__source__" when set, tags
// as "__tag__:key", then the fields in order. Bytes that are not valid UTF-8
// are written as U+FFFD.
func AppendJSON(dst []byte, r *engine.Record) []byte { return recordjson.Append(dst, r) }
