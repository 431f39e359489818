package producer

import (
	"bytes"
	"math/rand/v2"
	"testing"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"
	"github.com/pierrec/lz4/v4"

	"github.com/slspipe/slspipe/engine"
)

// randomRecord has random fields (some empty, some long enough for
// multi-byte lengths), time and tags.
func randomRecord(rng *rand.Rand) engine.Record {
	bs := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	var r engine.Record
	for range rng.IntN(12) {
		r.Fields = append(r.Fields, engine.Field{Key: bs(rng.IntN(20)), Value: bs(rng.IntN(300) * rng.IntN(3))})
	}
	if rng.IntN(4) == 0 {
		r.Payload = bs(1 + rng.IntN(200))
	}
	r.Time = engine.Timestamp{Sec: rng.Int64N(1 << 32), Nsec: uint32(rng.IntN(1_000_000_000))}
	if rng.IntN(3) == 0 {
		r.Time.Nsec = 0
	}
	return r
}

// The hand-written encoding decodes, with the SDK's generated protobuf code,
// to exactly the record, and logSize predicts its length.
func TestEncodingMatchesTheSDK(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var recs []engine.Record
		var buf []byte
		for range 1 + rng.IntN(20) {
			r := randomRecord(rng)
			n := logSize(&r, 1700000000)
			before := len(buf)
			buf = appendLog(buf, &r, n, 1700000000)
			if got := len(buf) - before; got != framedSize(n) {
				t.Fatalf("encoded %d bytes, framedSize says %d", got, framedSize(n))
			}
			recs = append(recs, r)
		}
		tags := []engine.Field{{Key: []byte("__tag__:pod"), Value: []byte("p-1")}}
		buf = append(buf, appendHead(nil, "topic", "10.0.0.1", [][2]string{{"env", "test"}}, tags)...)

		var g sdk.LogGroup
		if err := g.Unmarshal(buf); err != nil {
			t.Fatalf("SDK cannot decode the group: %v", err)
		}
		if g.GetTopic() != "topic" || g.GetSource() != "10.0.0.1" || len(g.LogTags) != 2 ||
			g.LogTags[0].GetKey() != "env" || g.LogTags[1].GetValue() != "p-1" {
			t.Fatalf("group metadata %q %q %v", g.GetTopic(), g.GetSource(), g.LogTags)
		}
		if len(g.Logs) != len(recs) {
			t.Fatalf("%d logs decoded, %d encoded", len(g.Logs), len(recs))
		}
		for i, l := range g.Logs {
			r := recs[i]
			if l.GetTime() != uint32(r.Time.Sec) && !(r.Time.Sec == 0 && l.GetTime() == 1700000000) {
				t.Fatalf("log %d time %d, want %d", i, l.GetTime(), r.Time.Sec)
			}
			if l.GetTimeNs() != r.Time.Nsec {
				t.Fatalf("log %d time ns %d, want %d", i, l.GetTimeNs(), r.Time.Nsec)
			}
			want := r.Fields
			if len(want) == 0 && len(r.Payload) > 0 {
				want = []engine.Field{{Key: []byte(payloadKey), Value: r.Payload}}
			}
			if len(l.Contents) != len(want) {
				t.Fatalf("log %d has %d contents, want %d", i, len(l.Contents), len(want))
			}
			for k, c := range l.Contents {
				if c.GetKey() != string(want[k].Key) || c.GetValue() != string(want[k].Value) {
					t.Fatalf("log %d content %d differs", i, k)
				}
			}
		}
	}
}

// Incompressible bodies still become valid LZ4 blocks.
func TestLZ4IncompressibleBody(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 14, 15, 16, 269, 270, 271, 5000, 1 << 20} {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.IntN(256))
		}
		dst := make([]byte, lz4.CompressBlockBound(n))
		m := literalBlock(dst, src)
		out := make([]byte, n)
		got, err := lz4.UncompressBlock(dst[:m], out)
		if err != nil || got != n || !bytes.Equal(out, src) {
			t.Fatalf("literal block of %d bytes: decoded %d, %v", n, got, err)
		}
		body, err := lz4Compressor{}.compress(nil, src)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := lz4.UncompressBlock(body, out); err != nil || got != n || !bytes.Equal(out[:got], src) {
			t.Fatalf("compressed body of %d bytes: decoded %d, %v", n, got, err)
		}
	}
}

// Hash keys are compared as the service does: lowercase, padded to 32.
func TestShardRouterPicksTheRangeHoldingTheKey(t *testing.T) {
	r := shardRouter{}
	ranges := []shardRange{
		{id: 0, begin: "00000000000000000000000000000000", end: "55555555555555555555555555555555"},
		{id: 1, begin: "55555555555555555555555555555555", end: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{id: 2, begin: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", end: "ffffffffffffffffffffffffffffffff"},
	}
	if got := string(r.appendRoute(nil, []byte("6"))); got != "6" {
		t.Fatalf("without ranges: %q", got)
	}
	r.ranges.Store(&ranges)
	for key, want := range map[string]string{
		"0":                                "00000000000000000000000000000000",
		"5555":                             "00000000000000000000000000000000",
		"55555555555555555555555555555555": "55555555555555555555555555555555",
		"6":                                "55555555555555555555555555555555",
		"AB":                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"not-hex":                          "not-hex",
	} {
		if got := string(r.appendRoute([]byte("x"), []byte(key))); got != "x"+want {
			t.Errorf("route %q = %q, want %q", key, got[1:], want)
		}
	}
}

// BenchmarkEncodeGroup compares, per log, the hand-written encoding of
// 4096-log groups with building the SDK's LogGroup and marshalling it, which
// is what sending through the SDK's PostLogStoreLogsV2 costs.
func BenchmarkEncodeGroup(b *testing.B) {
	recs := benchRecords()
	b.Run("hand", func(b *testing.B) {
		buf := make([]byte, 0, 2<<20)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r := &recs[i%len(recs)]
			buf = appendLog(buf, r, logSize(r, 0), 0)
			if i%len(recs) == len(recs)-1 {
				buf = append(buf, appendHead(nil, "bench", "10.0.0.1", nil, nil)...)
				buf = buf[:0]
			}
		}
	})
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		g := &sdk.LogGroup{Topic: proto.String("bench"), Source: proto.String("10.0.0.1")}
		for i := 0; b.Loop(); i++ {
			g.Logs = append(g.Logs, toLog(&recs[i%len(recs)]))
			if len(g.Logs) == len(recs) {
				if _, err := proto.Marshal(g); err != nil {
					b.Fatal(err)
				}
				g = &sdk.LogGroup{Topic: proto.String("bench"), Source: proto.String("10.0.0.1")}
			}
		}
	})
}
