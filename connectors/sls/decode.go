package sls

import (
	"encoding/binary"
	"fmt"

	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/logwire"
)

// recSpan locates one decoded record's fields and tags in decoder.fields
// and its log group in the pulled list.
type recSpan struct {
	f0, f1 int32 // fields
	t0, t1 int32 // tags
	group  int32
}

// decoder turns LogGroupList bytes into engine records without copying:
// every Field's Key and Value alias the input buffer. It is reused from
// batch to batch, so steady-state decoding allocates nothing per log.
//
// The LogGroupList schema (log.proto): LogGroupList{1: LogGroup*};
// LogGroup{1: Log*, 3: Topic, 4: Source, 6: LogTag*}; Log{1: Time varint,
// 2: Content*, 4: TimeNs fixed32}; Content and LogTag {1: Key, 2: Value}.
type decoder struct {
	records []engine.Record
	fields  []engine.Field
	spans   []recSpan
	groups  int
	// lastTopic and lastSource are reused when consecutive groups repeat
	// them, which they almost always do.
	lastTopic, lastSource string
}

// reset empties d, keeping its memory.
func (d *decoder) reset() {
	clear(d.records) // drop references into the previous buffer
	d.records = d.records[:0]
	d.fields = d.fields[:0]
	d.spans = d.spans[:0]
	d.groups = 0
}

// decode appends the records of the LogGroupList in buf. The records'
// Fields and Tags are valid once decode returns nil; their Identity holds
// only the index in the log group (the caller fills in the rest, see
// spans). On error d holds what was decoded before the malformed part.
func (d *decoder) decode(buf []byte) error {
	d.reserve(buf)
	i := 0
	for i < len(buf) {
		field, wt, n := logwire.Tag(buf, i)
		if n < 0 {
			return fmt.Errorf("log group list at byte %d: %w", i, logwire.ErrTruncated)
		}
		i = n
		if field == 1 && wt == 2 {
			sub, n := logwire.Bytes(buf, i)
			if n < 0 {
				return fmt.Errorf("log group %d at byte %d: %w", d.groups, i, logwire.ErrTruncated)
			}
			i = n
			if err := d.decodeGroup(sub); err != nil {
				d.fixup()
				return fmt.Errorf("log group %d: %w", d.groups, err)
			}
			d.groups++
			continue
		}
		if i = logwire.Skip(buf, i, wt); i < 0 {
			d.fixup()
			return fmt.Errorf("log group list: %w", logwire.ErrWireType)
		}
	}
	d.fixup()
	return nil
}

// reserve grows d's slices to what buf holds, so that decoding a large
// pull never copies pointer-holding slices while they double. Counting
// only reads tags and lengths; malformed input just counts short.
func (d *decoder) reserve(buf []byte) {
	logs, fields := countList(buf)
	if want := len(d.fields) + fields; cap(d.fields) < want {
		d.fields = append(make([]engine.Field, 0, want), d.fields...)
	}
	if want := len(d.records) + logs; cap(d.records) < want {
		d.records = append(make([]engine.Record, 0, want), d.records...)
		d.spans = append(make([]recSpan, 0, want), d.spans...)
	}
}

// countList counts the logs and the fields (contents and tags, a group's
// tags once per log) of a LogGroupList.
func countList(buf []byte) (logs, fields int) {
	logwire.ForEach(buf, 1, func(g []byte) {
		tags, glogs, gfields := 0, 0, 0
		for i := 0; i < len(g); {
			field, sub, n, err := logwire.NextBytes(g, i)
			if err != nil || field == 0 {
				break
			}
			i = n
			switch field {
			case 1:
				glogs++
				logwire.ForEach(sub, 2, func([]byte) { gfields++ })
			case 6:
				tags++
			}
		}
		logs += glogs
		fields += gfields + tags
	})
	return logs, fields
}

// fixup points every record at its fields and tags; d.fields may have moved
// while it grew.
func (d *decoder) fixup() {
	d.records = d.records[:len(d.spans)]
	for k := range d.spans {
		s := &d.spans[k]
		r := &d.records[k]
		r.Fields = d.fields[s.f0:s.f1:s.f1]
		if s.t1 > s.t0 {
			r.Tags = d.fields[s.t0:s.t1:s.t1]
		} else {
			r.Tags = nil
		}
	}
}

func (d *decoder) decodeGroup(g []byte) error {
	// Pass 1: topic, source and tags, which apply to every log of the group
	// and may follow the logs on the wire.
	t0 := int32(len(d.fields))
	topic, source := d.lastTopic, d.lastSource
	var haveTopic, haveSource bool
	for i := 0; i < len(g); {
		field, sub, n, err := logwire.NextBytes(g, i)
		if err != nil {
			return err
		}
		i = n
		switch field {
		case 3:
			haveTopic = true
			if string(sub) != topic {
				topic = string(sub)
			}
		case 4:
			haveSource = true
			if string(sub) != source {
				source = string(sub)
			}
		case 6:
			k, v, err := decodePair(sub)
			if err != nil {
				return fmt.Errorf("tag: %w", err)
			}
			d.fields = append(d.fields, engine.Field{Key: k, Value: v})
		}
	}
	if !haveTopic {
		topic = ""
	} else {
		d.lastTopic = topic
	}
	if !haveSource {
		source = ""
	} else {
		d.lastSource = source
	}
	t1 := int32(len(d.fields))

	// Pass 2: the logs.
	index := 0
	for i := 0; i < len(g); {
		field, sub, n, err := logwire.NextBytes(g, i)
		if err != nil {
			return err
		}
		i = n
		if field != 1 {
			continue
		}
		f0 := int32(len(d.fields))
		ts, err := d.decodeLog(sub)
		if err != nil {
			d.fields = d.fields[:f0]
			return fmt.Errorf("log %d: %w", index, err)
		}
		d.spans = append(d.spans, recSpan{f0: f0, f1: int32(len(d.fields)), t0: t0, t1: t1, group: int32(d.groups)})
		d.records = append(d.records, engine.Record{
			Time: ts, Topic: topic, Source: source,
			Identity: engine.Identity{Index: index},
		})
		index++
	}
	return nil
}

// decodeLog appends a log's contents to d.fields and returns its time.
func (d *decoder) decodeLog(l []byte) (engine.Timestamp, error) {
	var ts engine.Timestamp
	for i := 0; i < len(l); {
		field, wt, n := logwire.Tag(l, i)
		if n < 0 {
			return ts, logwire.ErrTruncated
		}
		i = n
		switch {
		case field == 1 && wt == 0:
			v, n := logwire.Varint(l, i)
			if n < 0 {
				return ts, logwire.ErrTruncated
			}
			i = n
			ts.Sec = int64(uint32(v))
		case field == 2 && wt == 2:
			sub, n := logwire.Bytes(l, i)
			if n < 0 {
				return ts, logwire.ErrTruncated
			}
			i = n
			k, v, err := decodePair(sub)
			if err != nil {
				return ts, fmt.Errorf("content: %w", err)
			}
			d.fields = append(d.fields, engine.Field{Key: k, Value: v})
		case field == 4 && wt == 5:
			if len(l)-i < 4 {
				return ts, logwire.ErrTruncated
			}
			ts.Nsec = binary.LittleEndian.Uint32(l[i:])
			i += 4
		default:
			if i = logwire.Skip(l, i, wt); i < 0 {
				return ts, logwire.ErrWireType
			}
		}
	}
	if ts.Nsec >= 1e9 {
		ts.Nsec = 0 // out of range on the wire; keep the seconds
	}
	return ts, nil
}

// decodePair decodes a LogContent or LogTag: {1: Key, 2: Value}. The
// results are capacity-limited so appending to one cannot overwrite its
// neighbour.
func decodePair(b []byte) (key, value []byte, err error) {
	for i := 0; i < len(b); {
		field, wt, n := logwire.Tag(b, i)
		if n < 0 {
			return nil, nil, logwire.ErrTruncated
		}
		i = n
		if wt == 2 && (field == 1 || field == 2) {
			sub, n := logwire.Bytes(b, i)
			if n < 0 {
				return nil, nil, logwire.ErrTruncated
			}
			i = n
			if field == 1 {
				key = sub
			} else {
				value = sub
			}
			continue
		}
		if i = logwire.Skip(b, i, wt); i < 0 {
			return nil, nil, logwire.ErrWireType
		}
	}
	return key, value, nil
}
