package builtin

import (
	"context"
	"fmt"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
)

// serializeJSON sets each record's payload to its JSON object encoding.
// The payloads share one buffer of the batch's (out.Buffer): the engine
// counts it against the memory budget and reuses it once the batch is
// confirmed, so serializing allocates nothing in steady state.
func serializeJSON(_ context.Context, in []engine.Record, out *engine.Results) error {
	size := 0
	for i := range in {
		size += jsonSizeHint(&in[i])
	}
	buf := out.Buffer(size)
	for i := range in {
		start := len(buf)
		if cap(buf)-start < jsonSizeHint(&in[i]) {
			// Escaping outgrew the estimate: continue in a new buffer rather
			// than let append move payloads already handed out.
			buf = out.Buffer(max(size-start, 2*jsonSizeHint(&in[i])))
			start = 0
		}
		buf = AppendJSON(buf, &in[i])
		rec := in[i]
		rec.Payload = buf[start:len(buf):len(buf)]
		out.Emit(rec)
	}
	return nil
}

// jsonSizeHint estimates r's JSON encoding: its bytes plus the fixed
// punctuation per field and object, without escapes.
func jsonSizeHint(r *engine.Record) int {
	return r.Size() + 80 + 6*len(r.Fields) + 16*len(r.Tags)
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
