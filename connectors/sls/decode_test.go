package sls

import (
	"bytes"
	"testing"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
)

// sampleList encodes a LogGroupList with the official SDK's types.
func sampleList(tb testing.TB, groups, logs int) []byte {
	tb.Helper()
	var gl sdk.LogGroupList
	for g := range groups {
		lg := &sdk.LogGroup{
			Topic: proto.String("topic"), Source: proto.String("10.0.0." + string(rune('0'+g%10))),
			LogTags: []*sdk.LogTag{{Key: proto.String("__tag__:host"), Value: proto.String("web-1")}},
		}
		for i := range logs {
			lg.Logs = append(lg.Logs, &sdk.Log{
				Time: proto.Uint32(1_700_000_000 + uint32(i)), TimeNs: proto.Uint32(uint32(i * 1000)),
				Contents: []*sdk.LogContent{
					{Key: proto.String("method"), Value: proto.String("GET")},
					{Key: proto.String("path"), Value: proto.String("/items/" + string(rune('a'+i%26)))},
					{Key: proto.String("empty"), Value: proto.String("")},
				},
			})
		}
		gl.LogGroups = append(gl.LogGroups, lg)
	}
	b, err := proto.Marshal(&gl)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestDecodeMatchesSDK decodes with the scanner and with the SDK and
// compares every field.
func TestDecodeMatchesSDK(t *testing.T) {
	buf := sampleList(t, 3, 5)
	var d decoder
	if err := d.decode(buf); err != nil {
		t.Fatal(err)
	}
	gl, err := sdk.LogsBytesDecode(buf)
	if err != nil {
		t.Fatal(err)
	}
	if d.groups != 3 || len(d.records) != 15 {
		t.Fatalf("decoded %d groups, %d records; want 3, 15", d.groups, len(d.records))
	}
	k := 0
	for g, lg := range gl.LogGroups {
		for i, l := range lg.Logs {
			r := d.records[k]
			if int(d.spans[k].group) != g || r.Identity.Index != i {
				t.Fatalf("record %d: group %d index %d, want %d %d", k, d.spans[k].group, r.Identity.Index, g, i)
			}
			if r.Topic != lg.GetTopic() || r.Source != lg.GetSource() {
				t.Fatalf("record %d: topic %q source %q", k, r.Topic, r.Source)
			}
			if r.Time.Sec != int64(l.GetTime()) || r.Time.Nsec != l.GetTimeNs() {
				t.Fatalf("record %d: time %+v", k, r.Time)
			}
			if len(r.Tags) != 1 || string(r.Tags[0].Key) != "__tag__:host" || string(r.Tags[0].Value) != "web-1" {
				t.Fatalf("record %d: tags %q", k, r.Tags)
			}
			if len(r.Fields) != len(l.Contents) {
				t.Fatalf("record %d: %d fields, want %d", k, len(r.Fields), len(l.Contents))
			}
			for j, c := range l.Contents {
				if string(r.Fields[j].Key) != c.GetKey() || string(r.Fields[j].Value) != c.GetValue() {
					t.Fatalf("record %d field %d: %q=%q, want %q=%q", k, j, r.Fields[j].Key, r.Fields[j].Value, c.GetKey(), c.GetValue())
				}
			}
			k++
		}
	}
}

// TestDecodeAliasesBuffer checks that fields point into the input rather
// than into copies.
func TestDecodeAliasesBuffer(t *testing.T) {
	buf := sampleList(t, 1, 1)
	var d decoder
	if err := d.decode(buf); err != nil {
		t.Fatal(err)
	}
	v := d.records[0].Fields[0].Value
	i := bytes.Index(buf, []byte("GET"))
	if &buf[i] != &v[0] {
		t.Fatal("field value does not alias the pulled buffer")
	}
}

func TestDecodeRejectsTruncated(t *testing.T) {
	buf := sampleList(t, 2, 3)
	for cut := 1; cut < len(buf); cut += 7 {
		var d decoder
		_ = d.decode(buf[:cut]) // must not panic; errors are fine
	}
	var d decoder
	if err := d.decode(buf[:len(buf)-1]); err == nil {
		t.Fatal("truncated list decoded without error")
	}
}

// TestDecodeAllocations checks that steady-state decoding allocates
// nothing per log.
func TestDecodeAllocations(t *testing.T) {
	buf := sampleList(t, 10, 100)
	var d decoder
	_ = d.decode(buf)
	allocs := testing.AllocsPerRun(20, func() {
		d.reset()
		if err := d.decode(buf); err != nil {
			t.Fatal(err)
		}
	})
	// The sources differ per group: one string per group at most.
	if allocs > 10 {
		t.Fatalf("%v allocations per decode of 1000 logs", allocs)
	}
}

func FuzzDecodeLogGroupList(f *testing.F) {
	f.Add(sampleList(f, 2, 3))
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d decoder
		if err := d.decode(b); err != nil {
			return
		}
		for i := range d.records {
			r := &d.records[i]
			for _, fl := range r.Fields {
				_ = len(fl.Key) + len(fl.Value)
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	buf := sampleList(b, 10, 100)
	var d decoder
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		d.reset()
		if err := d.decode(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "logs/s")
}

func BenchmarkSDKDecode(b *testing.B) {
	buf := sampleList(b, 10, 100)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sdk.LogsBytesDecode(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "logs/s")
}
