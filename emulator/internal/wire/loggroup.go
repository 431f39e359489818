// Package wire holds the SLS emulator's byte-level formats: LogGroup
// protobuf validation, request body decompression, and the pre-compressed
// LogGroupList blocks that pull answers are stitched from.
package wire

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Limits enforced on write requests, from the service's documented quotas.
const (
	// MaxRawBody is the largest uncompressed PutLogs body (10 MB).
	MaxRawBody = 10 << 20
	// MaxPastLogAge and MaxFutureLogSkew bound Log.Time relative to the
	// receive time; outside the window the service answers InvalidTimestamp.
	MaxPastLogAge    = 7 * 24 * time.Hour
	MaxFutureLogSkew = 15 * time.Minute
)

// InvalidTimestampError reports a Log.Time outside the accepted window.
type InvalidTimestampError struct {
	Time uint32
}

func (e *InvalidTimestampError) Error() string {
	return fmt.Sprintf("log time %d is out of range", e.Time)
}

// ValidateLogGroup checks that b is a well-formed proto2 LogGroup as the
// service accepts it: every field has its declared wire type, required
// fields (Log.Time, LogContent/LogTag Key and Value) are present, and every
// Log.Time lies within [now-MaxPastLogAge, now+MaxFutureLogSkew]. It returns
// the number of logs. A *InvalidTimestampError is returned for a time out of
// range; any other error means the body is malformed.
func ValidateLogGroup(b []byte, now time.Time) (int, error) {
	minT := now.Add(-MaxPastLogAge).Unix()
	maxT := now.Add(MaxFutureLogSkew).Unix()
	logs := 0
	err := walkFields(b, func(num int, typ int, v uint64, payload []byte) error {
		switch num {
		case 1: // Logs
			if typ != int(protowire.BytesType) {
				return errors.New("LogGroup.Logs: wrong wire type")
			}
			logs++
			return validateLog(payload, minT, maxT)
		case 2, 3, 4, 5: // Category, Topic, Source, MachineUUID
			if typ != int(protowire.BytesType) {
				return fmt.Errorf("LogGroup field %d: wrong wire type", num)
			}
		case 6: // LogTags
			if typ != int(protowire.BytesType) {
				return errors.New("LogGroup.LogTags: wrong wire type")
			}
			return validatePair(payload, "LogTag")
		}
		return nil
	})
	return logs, err
}

func validateLog(b []byte, minT, maxT int64) error {
	hasTime := false
	var t uint64
	err := walkFields(b, func(num int, typ int, v uint64, payload []byte) error {
		switch num {
		case 1: // Time
			if typ != int(protowire.VarintType) {
				return errors.New("Log.Time: wrong wire type")
			}
			hasTime, t = true, v
		case 2: // Contents
			if typ != int(protowire.BytesType) {
				return errors.New("Log.Contents: wrong wire type")
			}
			return validatePair(payload, "LogContent")
		case 4: // TimeNs
			if typ != int(protowire.Fixed32Type) {
				return errors.New("Log.TimeNs: wrong wire type")
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !hasTime {
		return errors.New("Log.Time is required")
	}
	// Time is a uint32 field; a larger varint does not fit it.
	if t > 0xffffffff {
		return errors.New("Log.Time overflows uint32")
	}
	if int64(t) < minT || int64(t) > maxT {
		return &InvalidTimestampError{Time: uint32(t)}
	}
	return nil
}

func validatePair(b []byte, name string) error {
	var hasKey, hasValue bool
	err := walkFields(b, func(num int, typ int, v uint64, payload []byte) error {
		switch num {
		case 1, 2:
			if typ != int(protowire.BytesType) {
				return fmt.Errorf("%s field %d: wrong wire type", name, num)
			}
			if num == 1 {
				hasKey = true
			} else {
				hasValue = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !hasKey || !hasValue {
		return fmt.Errorf("%s: Key and Value are required", name)
	}
	return nil
}

// walkFields calls fn for every field of the protobuf message b. For varint
// fields v holds the value; for length-delimited fields payload holds the
// bytes. Unknown fields are passed through so callers can skip them, but
// their framing is still checked. It parses with protowire, the protobuf
// project's own reader, so that the emulator judges the connector's bytes
// with code the connector does not share.
func walkFields(b []byte, fn func(num, typ int, v uint64, payload []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var payload []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			payload, n = protowire.ConsumeBytes(b)
		case protowire.Fixed32Type, protowire.Fixed64Type:
			n = protowire.ConsumeFieldValue(num, typ, b)
		default:
			return fmt.Errorf("field %d: unsupported wire type %d", num, typ)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(int(num), int(typ), v, payload); err != nil {
			return err
		}
	}
	return nil
}

// AppendGroupElement appends group framed as one LogGroupList.LogGroups
// element (tag 0x0a, varint length, bytes), so a LogGroupList is the plain
// concatenation of such elements.
func AppendGroupElement(dst, group []byte) []byte {
	dst = protowire.AppendTag(dst, 1, protowire.BytesType)
	return protowire.AppendBytes(dst, group)
}
