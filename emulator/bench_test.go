package emulator_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/slspipe/slspipe/emulator"
)

const (
	benchGroups       = 1000 // groups per pull
	benchLogsPerGroup = 10
)

// benchShard fills one shard with 2×benchGroups groups of ~10-field logs.
func benchShard(b *testing.B) (*emulator.Server, sls.ClientInterface, string) {
	b.Helper()
	srv := startEmulator(b, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "bench", Shards: 1}},
	})
	c := defaultClient(srv, signV1)
	for i := range 2 * benchGroups {
		if err := c.PutLogs("demo", "bench", makeGroup(fmt.Sprint("g", i), benchLogsPerGroup)); err != nil {
			b.Fatal(err)
		}
	}
	begin, err := c.GetCursor("demo", "bench", 0, "begin")
	if err != nil {
		b.Fatal(err)
	}
	return srv, c, begin
}

// discardWriter is a ResponseWriter that only counts bytes, so the server
// benchmark measures the emulator alone.
type discardWriter struct {
	h http.Header
	n int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkPullLogs pulls 1000-group batches (10 logs of 10 fields each,
// about 250 bytes raw per log) in lz4: through the SDK over loopback, with
// and without protobuf decoding, and in the server alone.
func BenchmarkPullLogs(b *testing.B) {
	srv, c, begin := benchShard(b)
	logsPerPull := float64(benchGroups * benchLogsPerGroup)

	b.Run("sdk-GetLogsBytes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, _, err := c.GetLogsBytes("demo", "bench", 0, begin, "", benchGroups)
			if err != nil || len(out) == 0 {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
		}
		b.ReportMetric(logsPerPull*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
	})
	b.Run("sdk-PullLogs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			gl, _, err := c.PullLogs("demo", "bench", 0, begin, "", benchGroups)
			if err != nil || len(gl.LogGroups) != benchGroups {
				b.Fatal(err)
			}
		}
		b.ReportMetric(logsPerPull*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
	})
	for _, enc := range []string{"lz4", "zstd"} {
		b.Run("server-"+enc, func(b *testing.B) {
			req := signedPull(b, srv.Addr(), begin, enc)
			w := &discardWriter{h: http.Header{}}
			srv.ServeHTTP(w, req) // warm the zstd cache outside the timing
			raw, _ := strconv.Atoi(w.h.Get("x-log-bodyrawsize"))
			b.SetBytes(int64(raw))
			b.Logf("%s body: %d bytes for %d raw", enc, w.n, raw)
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				srv.ServeHTTP(w, req)
				if w.h.Get("x-log-count") != fmt.Sprint(benchGroups) {
					b.Fatalf("count %q, body %d bytes", w.h.Get("x-log-count"), w.n)
				}
			}
			b.ReportMetric(logsPerPull*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
		})
	}
}

// BenchmarkPullWithQuery serves 1000-group pulls with a query in the
// server alone: the stored groups are decompressed, every log evaluated,
// and what survives encoded and compressed again. "filter" keeps about a
// tenth of the logs unchanged (their bytes are copied); "reshape" keeps
// them all and rewrites each.
func BenchmarkPullWithQuery(b *testing.B) {
	srv, _, begin := benchShard(b)
	logsPerPull := float64(benchGroups * benchLogsPerGroup)
	for _, tc := range []struct{ name, query string }{
		{"filter", "* | where latency_ms like '%7'"},
		{"reshape", "* | extend kind = 'web' | project-away ua, remote"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := signedPull(b, srv.Addr(), begin, "lz4", tc.query)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				srv.ServeHTTP(w, req)
				if w.h.Get("x-log-rawdatacount") != fmt.Sprint(benchGroups) {
					b.Fatalf("read %q groups, body %d bytes", w.h.Get("x-log-rawdatacount"), w.n)
				}
			}
			raw, _ := strconv.Atoi(w.h.Get("x-log-rawdatasize"))
			b.SetBytes(int64(raw))
			b.ReportMetric(logsPerPull*float64(b.N)/b.Elapsed().Seconds(), "logs/s")
			b.Logf("%s: %s of %s logs kept, %d bytes answered", tc.name, w.h.Get("x-log-resultlines"), w.h.Get("x-log-rawdatalines"), w.n)
		})
	}
}

// signedPull builds a v1-signed PullLogs request to serve directly, with
// an SPL query when one is given.
func signedPull(b *testing.B, addr, cursor, enc string, query ...string) *http.Request {
	b.Helper()
	q := url.Values{"type": {"logs"}, "cursor": {cursor}, "count": {fmt.Sprint(benchGroups)}}
	if len(query) > 0 {
		q.Set("query", query[0])
		q.Set("pullMode", "scan_on_stream")
	}
	uri := "/logstores/bench/shards/0?" + q.Encode()
	h := map[string]string{
		"x-log-apiversion":  "0.6.0",
		"x-log-bodyrawsize": "0",
		"Accept-Encoding":   enc,
		"Date":              time.Now().UTC().Format(http.TimeFormat),
	}
	if err := sls.NewSignerV1(emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret).Sign(http.MethodGet, uri, h, nil); err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "http://demo."+addr+uri, nil)
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	return req
}

// BenchmarkPutLogs writes 10-log groups through the SDK (lz4).
func BenchmarkPutLogs(b *testing.B) {
	srv := startEmulator(b, emulator.Config{
		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "bench", Shards: 4}},
	})
	c := defaultClient(srv, signV1)
	g := makeGroup("w", benchLogsPerGroup)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.PutLogs("demo", "bench", g); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchLogsPerGroup*b.N)/b.Elapsed().Seconds(), "logs/s")
}
