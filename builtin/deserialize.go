package builtin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/slspipe/slspipe/engine"
)

// jsonDeserializer replaces a record's fields by the members of the JSON
// object held in one field, or in the payload when the record has no such
// field (a NATS message). Nested objects and arrays stay JSON text; strings
// are unquoted; other scalars keep their JSON spelling.
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
		fields, err := parseObject(src)
		if err != nil {
			out.Reject(fmt.Errorf("deserialize json: %w", err))
			continue
		}
		rec := in[i]
		rec.Fields = fields
		rec.Payload = nil
		out.Emit(rec)
	}
	return nil
}

// parseObject decodes a JSON object into fields, keeping member order.
func parseObject(src []byte) ([]engine.Field, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var fields []engine.Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad object key: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("bad value of %q: %w", key, err)
		}
		value := []byte(raw)
		if len(raw) > 0 && raw[0] == '"' {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("bad string value of %q: %w", key, err)
			}
			value = []byte(s)
		}
		fields = append(fields, engine.Field{Key: []byte(key), Value: value})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("unterminated object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return fields, nil
}
