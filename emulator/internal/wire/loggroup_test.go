package wire

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
)

func marshalGroup(t *testing.T, g *sls.LogGroup) []byte {
	t.Helper()
	b, err := proto.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestValidateLogGroup(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ts := uint32(now.Unix())
	good := &sls.LogGroup{
		Topic:  proto.String("t"),
		Source: proto.String("s"),
		Logs: []*sls.Log{{Time: proto.Uint32(ts), TimeNs: proto.Uint32(5), Contents: []*sls.LogContent{
			{Key: proto.String("k"), Value: proto.String("v")},
		}}},
		LogTags: []*sls.LogTag{{Key: proto.String("tk"), Value: proto.String("tv")}},
	}
	n, err := ValidateLogGroup(marshalGroup(t, good), now)
	if err != nil || n != 1 {
		t.Fatalf("valid group: n=%d err=%v", n, err)
	}

	old := proto.Clone(good).(*sls.LogGroup)
	old.Logs[0].Time = proto.Uint32(ts - 8*24*3600)
	var te *InvalidTimestampError
	if _, err := ValidateLogGroup(marshalGroup(t, old), now); !errors.As(err, &te) {
		t.Fatalf("8-day-old log: err=%v, want InvalidTimestampError", err)
	}

	// A LogContent without Value: gogo refuses to marshal a missing
	// required field, so build the bytes by hand.
	log := binary.AppendUvarint([]byte{0x08}, uint64(ts)) // Time
	log = append(log, 0x12, 0x03, 0x0a, 0x01, 'k')        // Contents{Key: "k"}
	noValue := append([]byte{0x0a, byte(len(log))}, log...)
	if _, err := ValidateLogGroup(noValue, now); err == nil || errors.As(err, &te) {
		t.Fatalf("LogContent without Value: err = %v, want a malformed-body error", err)
	}
	for name, body := range map[string][]byte{
		"truncated":        marshalGroup(t, good)[:10],
		"wrong wire type":  {0x08, 0x01}, // Logs as varint
		"missing log time": {0x0a, 0x00}, // empty Log
		"group wire type":  {0x0b},       // start-group
		"field zero":       {0x02, 0x00}, // field number 0
	} {
		if _, err := ValidateLogGroup(body, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
