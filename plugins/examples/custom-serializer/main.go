// Command custom-serializer is a serialize module: it writes each record as one line in
// the `_payload` output field, the message body a NATS sink publishes.
//
// Config:
//   - `format`: `pipe` (default) writes the record time (RFC 3339, UTC) and the values of
//     `fields`, separated by `|`, a missing field as `-`; `logfmt` writes
//     `time=<RFC 3339>` then every field as key=value, quoting values that need it.
//   - `fields`: comma-separated field names for `pipe` (default `host,status,path`).
//   - `subject_field`: when set, the value of that field becomes the NATS subject
//     (`_subject`), so records can be published to per-host or per-service subjects.
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	slspipe "github.com/slspipe/slspipe/plugins/sdk/go"
)

var (
	format       = "pipe"
	fields       = []string{"host", "status", "path"}
	subjectField string

	keyPayload = []byte("_payload")
	keySubject = []byte("_subject")
)

func init() {
	slspipe.HandleInit(func(cfg slspipe.Config) error {
		if v, ok := cfg.Get("format"); ok {
			if v != "pipe" && v != "logfmt" {
				return fmt.Errorf("custom-serializer: format %q: want pipe or logfmt", v)
			}
			format = v
		}
		if v, ok := cfg.Get("fields"); ok {
			fields = fields[:0]
			for _, f := range strings.Split(v, ",") {
				if f = strings.TrimSpace(f); f != "" {
					fields = append(fields, f)
				}
			}
			if len(fields) == 0 {
				return errors.New("custom-serializer: fields lists no field")
			}
		}
		subjectField, _ = cfg.Get("subject_field")
		return nil
	})
	slspipe.Handle(process)
}

func process(in *slspipe.Batch, out *slspipe.Output) error {
	for i := 0; i < in.Len(); i++ {
		r := in.Record(i)
		line := make([]byte, 0, 256)
		line = time.Unix(int64(r.Sec), int64(r.Nsec)).UTC().AppendFormat(line, time.RFC3339Nano)
		if format == "pipe" {
			for _, name := range fields {
				line = append(line, '|')
				if v, ok := r.Get(name); ok {
					line = append(line, v...)
				} else {
					line = append(line, '-')
				}
			}
		} else {
			line = append([]byte("time="), line...)
			for j := 0; j < r.NumFields(); j++ {
				k, v := r.Field(j)
				line = append(line, ' ')
				line = append(line, k...)
				line = append(line, '=')
				line = appendLogfmtValue(line, v)
			}
		}
		out.Emit(r.Sec, r.Nsec)
		out.Field(keyPayload, line)
		if subjectField != "" {
			if v, ok := r.Get(subjectField); ok {
				out.Field(keySubject, v)
			}
		}
		out.OK(i, 0)
	}
	return nil
}

// appendLogfmtValue quotes v when it is empty or holds spaces, quotes, '=' or control
// bytes.
func appendLogfmtValue(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, `""`...)
	}
	for _, c := range v {
		if c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f {
			return strconv.AppendQuote(dst, string(v))
		}
	}
	return append(dst, v...)
}

func main() {}
