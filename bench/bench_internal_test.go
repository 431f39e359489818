package bench

import (
	"context"
	"math"
	"os/exec"
	"runtime"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"google.golang.org/protobuf/proto"
)

func TestScanLogGroupListCountsLogsAndBytes(t *testing.T) {
	lg := &sls.LogGroup{Topic: proto.String("t"), Source: proto.String("10.0.0.1"),
		LogTags: []*sls.LogTag{{Key: proto.String("k"), Value: proto.String("v")}}}
	var want int64
	for i := range 7 {
		log := &sls.Log{Time: proto.Uint32(uint32(1700000000 + i)), TimeNs: proto.Uint32(5)}
		for _, kv := range [][2]string{{"host", "web-1"}, {"status", "200"}} {
			log.Contents = append(log.Contents, &sls.LogContent{Key: proto.String(kv[0]), Value: proto.String(kv[1])})
			want += int64(len(kv[0]) + len(kv[1]))
		}
		lg.Logs = append(lg.Logs, log)
	}
	b, err := (&sls.LogGroupList{LogGroups: []*sls.LogGroup{lg, lg}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	logs, size, err := scanLogGroupList(b)
	if err != nil || logs != 14 || size != 2*want {
		t.Fatalf("scan = %d logs, %d bytes, %v; want 14, %d", logs, size, err, 2*want)
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _, _ = scanLogGroupList(b) }); allocs != 0 {
		t.Errorf("scan allocates %.0f times per call", allocs)
	}
	if _, _, err := scanLogGroupList(b[:len(b)-3]); err == nil {
		t.Error("a truncated list scanned without error")
	}
}

func TestHistogramQuantile(t *testing.T) {
	exp := `# TYPE slspipe_batch_latency_seconds histogram
slspipe_batch_latency_seconds_bucket{pipeline="a",le="0.001"} 0
slspipe_batch_latency_seconds_bucket{pipeline="a",le="0.002"} 50
slspipe_batch_latency_seconds_bucket{pipeline="a",le="0.004"} 100
slspipe_batch_latency_seconds_bucket{pipeline="a",le="+Inf"} 100
slspipe_batch_latency_seconds_sum{pipeline="a"} 0.2
slspipe_batch_latency_seconds_count{pipeline="a"} 100
`
	b := histogramBuckets(exp, batchLatencyMetric)
	if got := histogramQuantile(0.5, b); math.Abs(got-0.002) > 1e-9 {
		t.Errorf("p50 = %v, want 0.002", got)
	}
	if got := histogramQuantile(0.75, b); math.Abs(got-0.003) > 1e-9 {
		t.Errorf("p75 = %v, want 0.003", got)
	}
	if got := histogramQuantile(0.5, nil); !math.IsNaN(got) {
		t.Errorf("empty histogram p50 = %v, want NaN", got)
	}
}

// A child started while the harness holds much memory reports its own peak
// RSS, not the harness's (which the kernel copies into its rusage).
func TestRunMeasuredPeakRSSIsTheChilds(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	held := make([]byte, 256<<20)
	for i := range held {
		held[i] = 1
	}
	m, err := runMeasured(context.Background(), time.Minute, sleep, []string{"0.3"}, nil, nil)
	runtime.KeepAlive(held)
	if err != nil || m.failure() != nil {
		t.Fatalf("run sleep: %v, %v", err, m.failure())
	}
	if m.peakRSS <= 0 || m.peakRSS > 64<<20 {
		t.Errorf("sleep's peak RSS = %d MiB; want a few MiB, the harness holds 256 MiB", m.peakRSS>>20)
	}
}

func TestMedianRowKeepsTheMedianRunWhole(t *testing.T) {
	run := func(secs float64, p99 time.Duration) Row {
		return Row{Key: "k", Records: 1000, Duration: time.Duration(secs * float64(time.Second)), P99: p99}
	}
	m := medianRow([]Row{run(1, 10*time.Millisecond), run(4, 40*time.Millisecond), run(2, 20*time.Millisecond)})
	if m.Duration != 2*time.Second || m.P99 != 20*time.Millisecond {
		t.Fatalf("median run: %+v", m)
	}
	if m.Note != "median of 3 runs (0.2k–1.0k records/s)" {
		t.Fatalf("note: %q", m.Note)
	}
	one := run(1, time.Millisecond)
	if got := medianRow([]Row{one}); got != one {
		t.Fatalf("a single run changed: %+v", got)
	}
}
