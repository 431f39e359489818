package wasmhost

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"github.com/slspipe/slspipe/wasmhost/internal/abi"
)

// testBatch returns n records of 10 fields; with shared set, their bytes alias one
// buffer (the dense path), otherwise every key and value is its own allocation.
func testBatch(n int, shared bool) *Batch {
	b := &Batch{Topic: []byte("topic"), Tags: []Field{{Key: []byte("tk"), Value: []byte("tv")}}}
	var buf []byte
	type at struct{ k, kl, v, vl int }
	var spans []at
	for i := 0; i < n; i++ {
		for j := 0; j < 10; j++ {
			k, v := "key"+strconv.Itoa(j), "value-"+strconv.Itoa(i*10+j)
			buf = append(buf, 0x0a)
			spans = append(spans, at{len(buf), len(k), len(buf) + len(k) + 1, len(v)})
			buf = append(buf, k...)
			buf = append(buf, 0x12)
			buf = append(buf, v...)
		}
	}
	for i := 0; i < n; i++ {
		r := Record{Sec: uint32(i), Nsec: 9}
		for _, s := range spans[i*10 : i*10+10] {
			k, v := buf[s.k:s.k+s.kl], buf[s.v:s.v+s.vl]
			if !shared {
				k, v = bytes.Clone(k), bytes.Clone(v)
			}
			r.Fields = append(r.Fields, Field{Key: k, Value: v})
		}
		b.Records = append(b.Records, r)
	}
	return b
}

// perRecordBuffers rebuilds b so that each record's bytes share one buffer of their own:
// the whole batch is not dense, each record is.
func perRecordBuffers(b *Batch) {
	for i := range b.Records {
		var buf []byte
		for _, f := range b.Records[i].Fields {
			buf = append(buf, f.Key...)
			buf = append(buf, f.Value...)
		}
		at := 0
		for j, f := range b.Records[i].Fields {
			k := buf[at : at+len(f.Key)]
			at += len(f.Key)
			v := buf[at : at+len(f.Value)]
			at += len(f.Value)
			b.Records[i].Fields[j] = Field{Key: k, Value: v}
		}
		// Keep the buffers apart so the batch as a whole is not dense.
		_ = make([]byte, 4096)
	}
}

// TestEncodeInputLayout decodes the encoded bytes independently and compares them with
// the batch, for both the dense and the scattered path.
func TestEncodeInputLayout(t *testing.T) {
	for _, mode := range []string{"shared", "per-record", "scattered"} {
		shared := mode == "shared"
		b := testBatch(5, mode != "scattered")
		if mode == "per-record" {
			perRecordBuffers(b)
		}
		var p inputPlan
		if err := p.prepare(b, b.Records[1:]); err != nil {
			t.Fatal(err)
		}
		if (p.whole.src != nil) != shared {
			t.Fatalf("%s: whole-batch region detection = %v", mode, p.whole.src != nil)
		}
		if mode == "per-record" && (len(p.regions) == 0 || p.regions[0].src == nil) {
			t.Fatalf("%s: per-record region not detected", mode)
		}
		const base = 1000
		mem := make([]byte, base+p.size)
		p.encode(mem[base:], base, b, b.Records[1:], 1)
		le := binary.LittleEndian
		h := mem[base:]
		if le.Uint32(h) != abi.InputMagic || le.Uint32(h[8:]) != 4 {
			t.Fatalf("header: %x", h[:16])
		}
		str := func(at, n uint32) string { return string(mem[at : at+n]) }
		if str(le.Uint32(h[24:]), le.Uint32(h[28:])) != "topic" {
			t.Fatal("topic")
		}
		recs, fields := le.Uint32(h[12:]), le.Uint32(h[20:])
		tag := mem[fields:]
		if le.Uint32(h[44:]) != 1 || str(le.Uint32(tag), le.Uint32(tag[4:])) != "tk" || str(le.Uint32(tag[8:]), le.Uint32(tag[12:])) != "tv" {
			t.Fatal("tags")
		}
		for i, want := range b.Records[1:] {
			r := mem[recs+uint32(i)*abi.RecordSize:]
			if le.Uint32(r) != want.Sec || le.Uint32(r[4:]) != 9 || le.Uint32(r[16:]) != uint32(i+1) || le.Uint32(r[12:]) != 10 {
				t.Fatalf("record %d entry %x", i, r[:24])
			}
			first := le.Uint32(r[8:])
			for j, f := range want.Fields {
				e := mem[fields+(first+uint32(j))*abi.FieldSize:]
				if str(le.Uint32(e), le.Uint32(e[4:])) != string(f.Key) || str(le.Uint32(e[8:]), le.Uint32(e[12:])) != string(f.Value) {
					t.Fatalf("%s: record %d field %d differs", mode, i, j)
				}
				if !bytes.Equal(e[:16], p.table[(first+uint32(j))*abi.FieldSize:][:16]) {
					t.Fatal("host copy of the field table differs")
				}
			}
		}
	}
}

func BenchmarkEncodeInput(b *testing.B) {
	for _, shared := range []bool{true, false} {
		b.Run("shared="+strconv.FormatBool(shared), func(b *testing.B) {
			batch := testBatch(128, shared)
			var p inputPlan
			_ = p.prepare(batch, batch.Records)
			dst := make([]byte, p.size)
			for b.Loop() {
				_ = p.prepare(batch, batch.Records)
				p.encode(dst, 4096, batch, batch.Records, 0)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*128), "ns/record")
		})
	}
}
