package spl

import (
	"strconv"
	"strings"
)

// Field is one key/value pair of a log.
type Field struct {
	Key, Value string
}

// Row is one log as a statement sees it: its contents, in order, its time
// (the bigint fields __time__ and __time_ns_part__, which extend may set and
// the project instructions always keep) and the attributes of its log group,
// which expressions may read as the varchar fields __topic__, __source__ and
// "__tag__:<key>" but instructions do not change.
//
// # Notes
//
// Apply rewrites Fields; the strings it stores either alias the input
// (unchanged values, substrings) or are new. Callers that alias a buffer in
// Fields must keep it alive until they are done with the row.
type Row struct {
	Fields []Field
	Time   int64  // seconds
	TimeNs uint32 // nanoseconds within the second
	Topic  string
	Source string
	Tags   []Field // keys without the "__tag__:" prefix

	scratch []Field // project's working space, reused
	ctx     evalCtx // Apply's evaluation state
}

// get returns the value of the first field named key.
func (r *Row) get(key string) (string, bool) {
	for i := range r.Fields {
		if r.Fields[i].Key == key {
			return r.Fields[i].Value, true
		}
	}
	return "", false
}

// set overwrites the first field named key, or appends it.
func (r *Row) set(key, val string) {
	for i := range r.Fields {
		if r.Fields[i].Key == key {
			r.Fields[i].Value = val
			return
		}
	}
	r.Fields = append(r.Fields, Field{Key: key, Value: val})
}

// del removes every field named key.
func (r *Row) del(key string) {
	out := r.Fields[:0]
	for _, f := range r.Fields {
		if f.Key != key {
			out = append(out, f)
		}
	}
	clear(r.Fields[len(out):])
	r.Fields = out
}

// attribute kinds a field reference can resolve to.
const (
	attrNone = iota
	attrTime
	attrTimeNs
	attrTopic
	attrSource
	attrTag
)

// attrOf classifies a field name: a log content or one of the reserved
// names of the log group's attributes.
func attrOf(name string) (kind int, tag string) {
	switch name {
	case "__time__":
		return attrTime, ""
	case "__time_ns_part__":
		return attrTimeNs, ""
	case "__topic__":
		return attrTopic, ""
	case "__source__":
		return attrSource, ""
	}
	if t, ok := strings.CutPrefix(name, "__tag__:"); ok {
		return attrTag, t
	}
	return attrNone, ""
}

// lookup reads a field reference of the given kind.
func (r *Row) lookup(kind int, name, tag string) (string, bool) {
	switch kind {
	case attrTime:
		return strconv.FormatInt(r.Time, 10), true
	case attrTimeNs:
		return strconv.FormatUint(uint64(r.TimeNs), 10), true
	case attrTopic:
		return r.Topic, true
	case attrSource:
		return r.Source, true
	case attrTag:
		for _, t := range r.Tags {
			if t.Key == tag {
				return t.Value, true
			}
		}
		return "", false
	}
	return r.get(name)
}
