// Package wire holds the SLS emulator's byte-level formats: LogGroup
// protobuf validation, request body decompression, and the pre-compressed
// LogGroupList blocks that pull answers are stitched from.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
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

// Proto2 wire types used by log.proto.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
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
			if typ != wireBytes {
				return errors.New("LogGroup.Logs: wrong wire type")
			}
			logs++
			return validateLog(payload, minT, maxT)
		case 2, 3, 4, 5: // Category, Topic, Source, MachineUUID
			if typ != wireBytes {
				return fmt.Errorf("LogGroup field %d: wrong wire type", num)
			}
		case 6: // LogTags
			if typ != wireBytes {
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
			if typ != wireVarint {
				return errors.New("Log.Time: wrong wire type")
			}
			hasTime, t = true, v
		case 2: // Contents
			if typ != wireBytes {
				return errors.New("Log.Contents: wrong wire type")
			}
			return validatePair(payload, "LogContent")
		case 4: // TimeNs
			if typ != wireFixed32 {
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
			if typ != wireBytes {
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
// their framing is still checked.
func walkFields(b []byte, fn func(num, typ int, v uint64, payload []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("truncated field tag")
		}
		b = b[n:]
		num, typ := int(tag>>3), int(tag&7)
		if num == 0 || tag>>3 > 1<<29-1 {
			return errors.New("invalid field number")
		}
		var v uint64
		var payload []byte
		switch typ {
		case wireVarint:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return errors.New("truncated varint")
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return errors.New("truncated fixed64")
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return errors.New("truncated fixed32")
			}
			b = b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("truncated length-delimited field")
			}
			payload = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("unsupported wire type %d", typ)
		}
		if err := fn(num, typ, v, payload); err != nil {
			return err
		}
	}
	return nil
}

// AppendGroupElement appends group framed as one LogGroupList.LogGroups
// element (tag 0x0a, varint length, bytes), so a LogGroupList is the plain
// concatenation of such elements.
func AppendGroupElement(dst, group []byte) []byte {
	dst = append(dst, 0x0a)
	dst = binary.AppendUvarint(dst, uint64(len(group)))
	return append(dst, group...)
}
