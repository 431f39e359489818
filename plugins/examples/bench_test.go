// Package examples_test measures the example modules of plugins/examples, and the
// identity module in every guest language, on batches of 10-field records of about 200
// bytes. Read the ns/record column:
//
//	go test -run '^$' -bench . ./plugins/examples [-args -trusted]
package examples_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/slspipe/slspipe/wasmhost"
)

// benchBatch is how many records one Process call receives: a whole pull of several
// log groups, split by the host into guest calls of at most 256 records.
const benchBatch = 1024

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// module returns a module built by plugins/build.sh, built on first use so that a plain
// `go test ./...` does not pay for it. A missing toolchain skips, or fails under CI.
func module(b testing.TB, name string) string {
	b.Helper()
	buildOnce.Do(func() {
		if builtDir, buildErr = os.MkdirTemp("", "slspipe-examples-"); buildErr != nil {
			return
		}
		out, err := exec.Command("../build.sh", builtDir).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatalf("building modules: %v", buildErr)
	}
	p := filepath.Join(builtDir, name+".wasm")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") != "" {
			b.Fatalf("module %s was not built: %v", name, err)
		}
		b.Skipf("module %s not built (toolchain missing; run scripts/setup-wasm.sh)", name)
	}
	return p
}

// record builds one record of 10 fields from values, keyed like an nginx access log.
func record(i int, values ...string) wasmhost.Record {
	keys := []string{"host", "method", "path", "status", "bytes", "agent", "referer", "latency", "client", "content"}
	r := wasmhost.Record{Sec: 1_735_689_600 + uint32(i)}
	for j, v := range values {
		r.Fields = append(r.Fields, wasmhost.Field{Key: []byte(keys[j]), Value: []byte(v)})
	}
	return r
}

// common returns the first nine field values of record i (about 150 bytes with keys).
func common(i int) []string {
	return []string{
		"web-" + strconv.Itoa(i%7) + ".example.internal",
		"GET",
		"/api/v1/orders/" + strconv.Itoa(100000+i),
		strconv.Itoa([]int{200, 200, 302, 404, 500, 503}[i%6]),
		strconv.Itoa(512 + i%1000),
		"Mozilla/5.0 (X11; Linux x86_64)",
		"https://shop.example/cart",
		"0.0" + strconv.Itoa(i%10),
		"10.1." + strconv.Itoa(i%255) + ".7",
	}
}

// workloads gives each benchmarked module its configuration and the tenth field of its
// records, the one it works on.
var workloads = []struct {
	module string
	config map[string]string
	last   func(i int) string
}{
	{"c_identity", nil, trace},
	{"rust_identity", nil, trace},
	{"go_identity", nil, trace},
	{"as_identity", nil, trace},
	{"go_json_deserializer", nil, func(i int) string {
		return `{"level":"info","user":"u` + strconv.Itoa(i) + `","ms":12.5,"ok":true}`
	}},
	{"rust_nginx_parser", nil, func(i int) string {
		return `10.1.2.` + strconv.Itoa(i%255) + ` - - [01/Jan/2025:00:00:00 +0000] "GET /p/` + strconv.Itoa(i) + ` HTTP/1.1" 200 512 "-" "curl/8"`
	}},
	{"rust_filter_enrich", map[string]string{"min_status": "400", "service": "shop"}, trace},
	{"c_pii_mask", nil, func(i int) string {
		return "user u" + strconv.Itoa(i) + "@example.com called 555-123-" + strconv.Itoa(1000+i%9000)
	}},
	{"as_fanout_router", map[string]string{"split": "content", "route_by": "status", "routes": "404,500"}, func(int) string {
		return "pagerduty,slack"
	}},
	{"go_custom_serializer", nil, trace},
}

func trace(i int) string { return "4bf92f3577b34da6a3ce929d0e0e" + strconv.Itoa(1000+i%9000) }

func batchFor(last func(int) string) *wasmhost.Batch {
	b := &wasmhost.Batch{Topic: []byte("nginx"), Source: []byte("10.0.0.1")}
	for i := 0; i < benchBatch; i++ {
		b.Records = append(b.Records, record(i, append(common(i), last(i))...))
	}
	return b
}

// BenchmarkExamples runs each module with the production defaults (batch deadline on,
// unless -trusted) on batches of benchBatch records.
func BenchmarkExamples(b *testing.B) {
	ctx := context.Background()
	for _, w := range workloads {
		b.Run(w.module, func(b *testing.B) {
			m, err := wasmhost.Open(ctx, module(b, w.module), wasmhost.Options{
				Config:  w.config,
				Timeout: benchTimeout(),
				Logger:  slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(ctx)
			batch := batchFor(w.last)
			var res wasmhost.Result
			if err := m.Process(ctx, batch, &res); err != nil {
				b.Fatal(err)
			}
			for i, oc := range res.Outcomes {
				if oc.Err != nil {
					b.Fatalf("record %d: %v", i, oc.Err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := m.Process(ctx, batch, &res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
		})
	}
}

// TestWorkloadRecordSize keeps the benchmark records at 10 fields of about 200 bytes, the
// size the ns/record figures are quoted for.
func TestWorkloadRecordSize(t *testing.T) {
	for _, w := range workloads {
		r := record(7, append(common(7), w.last(7))...)
		n := 0
		for _, f := range r.Fields {
			n += len(f.Key) + len(f.Value)
		}
		if len(r.Fields) != 10 || n < 170 || n > 260 {
			t.Errorf("%s: %d fields, %d bytes; want 10 fields of about 200 bytes", w.module, len(r.Fields), n)
		}
	}
}

// trusted runs the modules without the batch deadline, as trusted modules
// (go test -bench . ./plugins/examples -args -trusted).
var trusted = flag.Bool("trusted", false, "run the modules without the batch deadline")

func benchTimeout() time.Duration {
	if *trusted {
		return -1
	}
	return 0 // the default deadline
}
