package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// batchLatencyMetric is slspipe's histogram of the time from a batch's
// emission by the source to its completion (every record confirmed by the
// sink).
const batchLatencyMetric = "slspipe_batch_latency_seconds"

// metricsScraper polls a /metrics endpoint and keeps the last good body, so
// the histogram is known even if the process exits on its own.
type metricsScraper struct {
	url string

	mu   sync.Mutex // guards last
	last string
}

// run polls until ctx ends.
func (s *metricsScraper) run(ctx context.Context, every time.Duration) {
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if body, ok := s.fetch(ctx, client); ok {
			s.mu.Lock()
			s.last = body
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *metricsScraper) fetch(ctx context.Context, client *http.Client) (string, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return "", false
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", false
	}
	return string(b), true
}

func (s *metricsScraper) body() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

// histogramBuckets reads the cumulative buckets of histogram name from a
// Prometheus text exposition, adding up series that differ in other labels.
func histogramBuckets(exposition, name string) []bucket {
	byLE := map[float64]float64{}
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	prefix := name + "_bucket{"
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		i := strings.Index(labels, `le="`)
		if i < 0 {
			continue
		}
		leText, _, _ := strings.Cut(labels[i+4:], `"`)
		le, err := strconv.ParseFloat(leText, 64)
		if err != nil {
			continue
		}
		count, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			continue
		}
		byLE[le] += count
	}
	out := make([]bucket, 0, len(byLE))
	for le, c := range byLE {
		out = append(out, bucket{le: le, count: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].le < out[j].le })
	return out
}

// histogramQuantile estimates quantile q from cumulative buckets the way
// Prometheus's histogram_quantile does: linear within the bucket that
// holds it. It returns NaN for an empty histogram; a quantile in the +Inf
// bucket is the highest finite bound.
func histogramQuantile(q float64, buckets []bucket) float64 {
	if len(buckets) == 0 {
		return math.NaN()
	}
	total := buckets[len(buckets)-1].count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for _, b := range buckets {
		if b.count >= rank {
			if math.IsInf(b.le, 1) {
				return prevLE
			}
			if b.count == prevCount {
				return b.le
			}
			return prevLE + (b.le-prevLE)*(rank-prevCount)/(b.count-prevCount)
		}
		prevLE, prevCount = b.le, b.count
	}
	return prevLE
}

// profile saves a CPU profile of the slspipe process serving addr into
// ProfileDir/<key>.pprof. It starts one second in, past the start-up, and
// reports failures as progress lines: a missing profile never fails a run.
func (h *harness) profile(ctx context.Context, addr, key string) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Second):
	}
	secs := h.cfg.ProfileSeconds
	if secs <= 0 {
		secs = 5
	}
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		h.progress("profile %s: %v", key, err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.progress("profile %s: %v", key, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		h.progress("profile %s: status %d, %v", key, resp.StatusCode, err)
		return
	}
	path := filepath.Join(h.cfg.ProfileDir, key+".pprof")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		h.progress("profile %s: %v", key, err)
		return
	}
	h.progress("profile of %s in %s", key, path)
}

// Metrics the rule-based consumption rows read.
const (
	pulledBytesMetric = "slspipe_sls_source_pulled_bytes_total"
	pulledLogsMetric  = "slspipe_sls_source_logs_total"
	queryReadMetric   = "slspipe_sls_source_query_read_logs_total"
	sinkRecordsMetric = "slspipe_sink_records_confirmed_total"
)

// counterSum adds up every series of counter name in a Prometheus text
// exposition.
func counterSum(exposition, name string) float64 {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, ' '); i >= 0 {
			if v, err := strconv.ParseFloat(rest[i+1:], 64); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// pollStatus asks url (a pipeline's /api/status) every interval until ctx
// ends, for only the samples it has not seen, as the status page does.
func pollStatus(ctx context.Context, url string, every time.Duration) {
	client := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(every)
	defer t.Stop()
	var since int64
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"?since="+strconv.FormatInt(since, 10), nil)
		if err != nil {
			return
		}
		if resp, err := client.Do(req); err == nil {
			var s struct {
				Samples []struct {
					T int64 `json:"t"`
				} `json:"samples"`
			}
			if json.NewDecoder(resp.Body).Decode(&s) == nil && len(s.Samples) > 0 {
				since = s.Samples[len(s.Samples)-1].T
			}
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
