package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// scalar is implemented by the configuration's own value types: they parse
// themselves from the (interpolated) YAML scalar text.
type scalar interface {
	parse(s string) error
	// kind names the type in errors and in the reference documentation.
	kind() string
}

// Duration is a Go duration written as text ("100ms", "5s", "2m").
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns the Go duration text.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return fmt.Errorf("expected a duration with a unit such as 100ms or 5s, got %q", s)
		}
		return fmt.Errorf("expected a duration such as 100ms or 5s, got %q", s)
	}
	*d = Duration(v)
	return nil
}

func (*Duration) kind() string { return "duration" }

// Size is a number of bytes, written as a plain integer or with a unit:
// B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
type Size int64

// Bytes returns the size in bytes.
func (s Size) Bytes() int64 { return int64(s) }

// String renders the size with the largest binary unit that divides it.
func (s Size) String() string {
	units := []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if s != 0 && int64(s)%u.n == 0 {
			return strconv.FormatInt(int64(s)/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalYAML writes the size as text.
func (s Size) MarshalYAML() (any, error) { return s.String(), nil }

var sizeUnits = map[string]float64{
	"": 1, "B": 1,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

func (s *Size) parse(text string) error {
	t := strings.TrimSpace(text)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = strings.TrimSpace(t[:i]), t[i:]
	}
	mult, ok := sizeUnits[unit]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" {
		return fmt.Errorf("expected a size such as 64MiB, 3MB or 1048576, got %q", text)
	}
	v := f * mult
	if v > math.MaxInt64 || v < math.MinInt64 {
		return fmt.Errorf("size %q is too large", text)
	}
	*s = Size(math.Round(v))
	return nil
}

func (*Size) kind() string { return "size" }

// Secret is a credential. It never prints: String, GoString and the YAML and
// text encodings all show "<redacted>" when it is set. Read it with Value.
type Secret struct{ v string }

// NewSecret wraps a credential, for callers that build a Pipeline in code.
func NewSecret(v string) Secret { return Secret{v: v} }

// Value returns the credential itself. Pass it only to the client that
// needs it; never log it.
func (s Secret) Value() string { return s.v }

// IsSet reports whether the credential is non-empty.
func (s Secret) IsSet() bool { return s.v != "" }

const redacted = "<redacted>"

// String returns "<redacted>" for a set secret and "" for an empty one.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the credential.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// MarshalYAML writes "<redacted>" for a set secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText writes "<redacted>" for a set secret (JSON, logs).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Secret) parse(v string) error { s.v = v; return nil }

func (*Secret) kind() string { return "secret string" }

// Position is where reading a shard starts: the oldest data, the newest,
// the consumer group's checkpoint, or the first data received at or after
// a time.
type Position struct {
	// Mode is PositionBegin, PositionEnd, PositionCheckpoint or PositionTime.
	Mode string
	// Time is set when Mode is PositionTime.
	Time time.Time
}

// Position modes.
const (
	PositionBegin      = "begin_cursor"
	PositionEnd        = "end_cursor"
	PositionCheckpoint = "consumer_from_checkpoint"
	PositionTime       = "time"
)

// String returns the position as written in the configuration.
func (p Position) String() string {
	if p.Mode == PositionTime {
		return p.Time.UTC().Format(time.RFC3339)
	}
	return p.Mode
}

// MarshalYAML writes the position as text.
func (p Position) MarshalYAML() (any, error) { return p.String(), nil }

func (p *Position) parse(s string) error {
	switch s {
	case PositionBegin, PositionEnd, PositionCheckpoint:
		*p = Position{Mode: s}
		return nil
	}
	t, err := parseTime(s)
	if err != nil {
		return fmt.Errorf("expected begin_cursor, end_cursor, consumer_from_checkpoint, unix seconds or an RFC 3339 time, got %q", s)
	}
	*p = Position{Mode: PositionTime, Time: t}
	return nil
}

func (*Position) kind() string { return "position" }

// Timestamp is a point in time written as unix seconds or RFC 3339. The zero
// value means "not set".
type Timestamp struct{ time.Time }

// MarshalYAML writes the time in RFC 3339, or nothing when unset.
func (t Timestamp) MarshalYAML() (any, error) {
	if t.IsZero() {
		return "", nil
	}
	return t.UTC().Format(time.RFC3339), nil
}

func (t *Timestamp) parse(s string) error {
	v, err := parseTime(s)
	if err != nil {
		return fmt.Errorf("expected unix seconds or an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)
	}
	t.Time = v
	return nil
}

func (*Timestamp) kind() string { return "time" }

func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return time.Time{}, fmt.Errorf("negative unix time")
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339, s)
}
