// Package stdout provides a sink that writes records as JSON lines, to
// standard output or any io.Writer.
package stdout

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/recordjson"
)

// Format is how the sink prints a record.
type Format int

const (
	// JSON prints one JSON object per line (see [AppendRecord]).
	JSON Format = iota
	// Text prints one line of key=value pairs (see [AppendText]).
	Text
)

// ParseFormat parses "json" or "text".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "json", "":
		return JSON, nil
	case "text":
		return Text, nil
	}
	return 0, fmt.Errorf("stdout sink: unknown format %q (want json or text)", s)
}

// Sink writes one line per record and confirms a write once its lines are
// written to the underlying writer. It is safe for concurrent use.
//
// # Notes
//
// A record carrying a serialized payload is written as that payload (plus a
// newline when it lacks one), whatever the format: the serializer chose it.
type Sink struct {
	format Format
	mu     sync.Mutex // guards w and buf
	w      io.Writer
	buf    []byte
}

// New returns a sink printing to w in the given format.
func New(w io.Writer, format Format) *Sink { return &Sink{w: w, format: format} }

// Write implements engine.Sink.
func (s *Sink) Write(_ context.Context, recs []engine.Record, c engine.Confirmer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	buf := s.buf[:0]
	for i := range recs {
		if s.format == Text {
			buf = AppendText(buf, &recs[i])
		} else {
			buf = AppendRecord(buf, &recs[i])
		}
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("stdout sink: %w", err)
	}
	c.Confirm(len(recs), nil)
	return nil
}

// appendPayload appends a serialized record's payload as one line.
func appendPayload(dst []byte, p []byte) []byte {
	dst = append(dst, p...)
	if len(p) == 0 || p[len(p)-1] != '\n' {
		dst = append(dst, '\n')
	}
	return dst
}

// AppendText appends r as a line of key=value pairs: __time__ (RFC 3339),
// __topic__, __source__, tags as __tag__:key, then the fields in order.
// Values holding spaces, quotes, '=' or non-printable bytes are quoted
// with Go escapes.
func AppendText(dst []byte, r *engine.Record) []byte {
	if r.Payload != nil {
		return appendPayload(dst, r.Payload)
	}
	dst = append(dst, "__time__="...)
	dst = r.Time.Time().AppendFormat(dst, time.RFC3339Nano)
	if r.Topic != "" {
		dst = append(dst, " __topic__="...)
		dst = appendTextValue(dst, []byte(r.Topic))
	}
	if r.Source != "" {
		dst = append(dst, " __source__="...)
		dst = appendTextValue(dst, []byte(r.Source))
	}
	for _, t := range r.Tags {
		dst = append(dst, " __tag__:"...)
		dst = appendTextValue(dst, t.Key)
		dst = append(dst, '=')
		dst = appendTextValue(dst, t.Value)
	}
	for _, f := range r.Fields {
		dst = append(dst, ' ')
		dst = appendTextValue(dst, f.Key)
		dst = append(dst, '=')
		dst = appendTextValue(dst, f.Value)
	}
	return append(dst, '\n')
}

func appendTextValue(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, `""`...)
	}
	for _, c := range v {
		if c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f {
			return strconv.AppendQuote(dst, string(v))
		}
	}
	return append(dst, v...)
}

// AppendRecord appends r as a JSON object line, newline included (see
// recordjson.Append), or its payload when a serializer set one.
func AppendRecord(dst []byte, r *engine.Record) []byte {
	if r.Payload != nil {
		return appendPayload(dst, r.Payload)
	}
	dst = recordjson.Append(dst, r)
	return append(dst, '\n')
}
