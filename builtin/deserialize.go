package builtin

import (
	"context"
	"fmt"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
)

// jsonDeserializer replaces a record's fields by the members of the JSON
// object held in one field, or in the payload when the record has no such
// field (a NATS message). It reads what the json serializer writes: the
// reserved members "__time__", "__time_ns__", "__topic__", "__source__" and
// "__tag__:key" set the record's time, topic, source and tags; the others
// become fields, in order (see recordjson.Parse).
type jsonDeserializer struct{ field string }

func (d jsonDeserializer) process(_ context.Context, in []engine.Record, out *engine.Results) error {
	for i := range in {
		src, ok := in[i].Get(d.field)
		if !ok {
			src = in[i].Payload
		}
		if len(src) == 0 {
			out.Reject(fmt.Errorf("deserialize json: record has no field %q and no payload", d.field))
			continue
		}
		rec := in[i]
		rec.Fields = nil
		rec.Payload = nil
		rec.Tags = rec.Tags[:len(rec.Tags):len(rec.Tags)] // appending must not touch the input's tags
		if err := recordjson.Parse(&rec, src); err != nil {
			out.Reject(fmt.Errorf("deserialize json: %w", err))
			continue
		}
		out.Emit(rec)
	}
	return nil
}
