package producer

import (
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/logwire"
)

// Protobuf tags of the SLS LogGroup message and its parts (log.proto).
const (
	tagGroupLog    = 1<<3 | 2 // LogGroup.Logs
	tagGroupTopic  = 3<<3 | 2 // LogGroup.Topic
	tagGroupSource = 4<<3 | 2 // LogGroup.Source
	tagGroupTag    = 6<<3 | 2 // LogGroup.LogTags
	tagLogTime     = 1<<3 | 0 // Log.Time, varint
	tagLogContent  = 2<<3 | 2 // Log.Contents
	tagLogTimeNs   = 4<<3 | 5 // Log.TimeNs, fixed32
	tagPairKey     = 1<<3 | 2 // LogContent.Key, LogTag.Key
	tagPairValue   = 2<<3 | 2 // LogContent.Value, LogTag.Value
)

// payloadKey is the content key under which a record that has a payload but
// no fields is written.
const payloadKey = "content"

// pairSize is the size of a LogContent or LogTag message.
func pairSize(k, v int) int {
	return 1 + logwire.SizeVarint(uint64(k)) + k + 1 + logwire.SizeVarint(uint64(v)) + v
}

// framedSize is the size of a message of n bytes as a length-delimited
// field with a one-byte tag.
func framedSize(n int) int { return 1 + logwire.SizeVarint(uint64(n)) + n }

// logSize returns the size of r's Log message, excluding its framing in the
// group. sec is the time written when the record carries none.
func logSize(r *engine.Record, sec uint32) int {
	n := 1 + logwire.SizeVarint(uint64(logTime(r, sec)))
	if r.Time.Nsec != 0 {
		n += 5
	}
	if len(r.Fields) == 0 && len(r.Payload) > 0 {
		return n + framedSize(pairSize(len(payloadKey), len(r.Payload)))
	}
	for i := range r.Fields {
		f := &r.Fields[i]
		n += framedSize(pairSize(len(f.Key), len(f.Value)))
	}
	return n
}

// logTime is the Log.Time of r: its own seconds, or sec when it has none.
func logTime(r *engine.Record, sec uint32) uint32 {
	if r.Time.Sec <= 0 {
		return sec
	}
	return uint32(r.Time.Sec)
}

// appendLog appends r as a LogGroup.Logs field; size is logSize(r, sec).
func appendLog(b []byte, r *engine.Record, size int, sec uint32) []byte {
	b = append(b, tagGroupLog)
	b = logwire.AppendVarint(b, uint64(size))
	b = append(b, tagLogTime)
	b = logwire.AppendVarint(b, uint64(logTime(r, sec)))
	if len(r.Fields) == 0 && len(r.Payload) > 0 {
		b = appendPair(b, tagLogContent, payloadKey, r.Payload)
	}
	for i := range r.Fields {
		f := &r.Fields[i]
		b = appendPair(b, tagLogContent, f.Key, f.Value)
	}
	if ns := r.Time.Nsec; ns != 0 {
		b = append(b, tagLogTimeNs, byte(ns), byte(ns>>8), byte(ns>>16), byte(ns>>24))
	}
	return b
}

// appendPair appends a LogContent or LogTag message as field tag.
func appendPair[K, V ~string | ~[]byte](b []byte, tag byte, k K, v V) []byte {
	b = append(b, tag)
	b = logwire.AppendVarint(b, uint64(pairSize(len(k), len(v))))
	b = append(b, tagPairKey)
	b = logwire.AppendVarint(b, uint64(len(k)))
	b = append(b, k...)
	b = append(b, tagPairValue)
	b = logwire.AppendVarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendString appends a string field.
func appendString(b []byte, tag byte, s string) []byte {
	b = append(b, tag)
	b = logwire.AppendVarint(b, uint64(len(s)))
	return append(b, s...)
}
