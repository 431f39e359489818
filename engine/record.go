package engine

import (
	"bytes"
	"strconv"
	"time"
)

// Field is one key/value pair of a record.
//
// # Notes
//
// Key and Value usually alias a buffer shared by the whole batch, so that
// decoding a record costs no allocation per field. Their lifetime is the
// batch's: see [Batch] and the ownership rules of [Stage] and [Sink].
type Field struct {
	Key   []byte
	Value []byte
}

// Timestamp is a record's event time: seconds and nanoseconds since the Unix
// epoch, as SLS stores it.
type Timestamp struct {
	Sec  int64
	Nsec uint32
}

// Time returns t as a time.Time in UTC.
func (t Timestamp) Time() time.Time { return time.Unix(t.Sec, int64(t.Nsec)).UTC() }

// TimestampOf converts a time.Time into a Timestamp.
func TimestampOf(t time.Time) Timestamp {
	return Timestamp{Sec: t.Unix(), Nsec: uint32(t.Nanosecond())}
}

// Identity says where a record came from. It is stable across replays of the
// same source data, which makes [Record.ID] usable as a de-duplication id.
type Identity struct {
	// Logstore and Shard name the source shard.
	Logstore string
	Shard    int
	// Cursor is the cursor of the log group that held the record.
	Cursor string
	// Index is the record's position inside its log group.
	Index int
	// Output numbers the outputs that stages derived from one source record
	// (fan-out), from 0. The engine sets it; stages need not.
	Output int
}

// Record is one log record flowing through a pipeline.
//
// # Notes
//
// A Record is a plain value: copying it copies the slice headers, not the
// bytes they point to. Byte slices are owned by the batch the record belongs
// to and must not be retained past the point its owner's contract allows.
type Record struct {
	// Fields are the record's contents, in order. Keys may repeat.
	Fields []Field
	// Time is the record's event time.
	Time Timestamp
	// Tags are the log group's tags (for SLS, "__tag__:..." pairs).
	Tags []Field
	// Topic and Source are the log group's topic and source address.
	Topic  string
	Source string
	// Identity is where the record came from; the engine maintains it.
	Identity Identity
	// Route, when set by a stage, selects a sink route by name.
	Route string
	// Payload, Subject and HashKey are what a serializer stage produced for
	// the sink to write: the message body, the NATS subject, the SLS hash
	// key. They are empty when no serializer ran.
	Payload []byte
	Subject string
	HashKey string
}

// Get returns the value of the first field named key.
func (r *Record) Get(key string) ([]byte, bool) {
	for i := range r.Fields {
		if string(r.Fields[i].Key) == key {
			return r.Fields[i].Value, true
		}
	}
	return nil, false
}

// AppendID appends the record's de-duplication id to dst and returns the
// extended buffer. The id is "logstore:shard:cursor:index:output"; SLS
// cursors are base64 and never contain ':'.
func (r *Record) AppendID(dst []byte) []byte {
	id := &r.Identity
	dst = append(dst, id.Logstore...)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(id.Shard), 10)
	dst = append(dst, ':')
	dst = append(dst, id.Cursor...)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(id.Index), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(id.Output), 10)
	return dst
}

// ID returns the record's stable de-duplication id (see [Record.AppendID]).
// Two deliveries of the same source record through deterministic stages have
// the same id, which is what JetStream's Nats-Msg-Id needs.
func (r *Record) ID() string {
	var buf [128]byte
	return string(r.AppendID(buf[:0]))
}

// Size returns the number of bytes the record's fields, tags and payload
// occupy; the engine uses it when a source does not size its batches.
func (r *Record) Size() int {
	n := len(r.Payload) + len(r.Topic) + len(r.Source) + len(r.Subject) + len(r.HashKey)
	for i := range r.Fields {
		n += len(r.Fields[i].Key) + len(r.Fields[i].Value)
	}
	for i := range r.Tags {
		n += len(r.Tags[i].Key) + len(r.Tags[i].Value)
	}
	return n
}

// Clone returns a deep copy of r whose bytes share nothing with r. Sinks that
// keep records past confirmation, and tests, use it.
func (r *Record) Clone() Record {
	c := *r
	c.Fields = cloneFields(r.Fields)
	c.Tags = cloneFields(r.Tags)
	if r.Payload != nil {
		c.Payload = bytes.Clone(r.Payload)
	}
	return c
}

func cloneFields(fs []Field) []Field {
	if fs == nil {
		return nil
	}
	n := 0
	for _, f := range fs {
		n += len(f.Key) + len(f.Value)
	}
	buf := make([]byte, 0, n)
	out := make([]Field, len(fs))
	for i, f := range fs {
		start := len(buf)
		buf = append(buf, f.Key...)
		mid := len(buf)
		buf = append(buf, f.Value...)
		out[i] = Field{Key: buf[start:mid:mid], Value: buf[mid:len(buf):len(buf)]}
	}
	return out
}
