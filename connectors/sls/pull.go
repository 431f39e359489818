package sls

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// maxRawPull bounds the decompressed size the source accepts for one pull
// (the service answers at most a few tens of MB).
const maxRawPull = 256 << 20

// zstdDecoder decompresses zstd pull answers; DecodeAll is safe for
// concurrent use.
var zstdDecoder, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxRawPull))

// pullBatch is one pull's memory: the compressed answer, the decompressed
// LogGroupList the records alias, and the decoded records. It is recycled
// once the engine is done with the batch.
type pullBatch struct {
	engine.Batch
	comp []byte
	raw  []byte
	dec  decoder
}

// weight is what b pins, for the memory budget: the compressed and the
// decompressed answer and the decoded tables.
func (b *pullBatch) weight() int {
	return cap(b.comp) + cap(b.raw) + cap(b.dec.fields)*fieldSize + cap(b.dec.records)*(recordSize+spanSize)
}

// pullResult is a pull answer's metadata.
type pullResult struct {
	count      int    // log groups answered
	next       string // cursor to read next
	readLast   int64  // x-log-read-last-cursor, the last group's cursor number
	hasLast    bool
	cursorTime time.Time // x-log-cursor-time, zero when absent
	body       int       // compressed bytes received
	// With a query: what the service read before filtering (groups, logs,
	// raw bytes) and the logs the statement failed on.
	groupsRead, logsRead, rawRead, failed, lines int
}

// pull reads up to count log groups of shard from cursor (until end, when
// set) into b, decoding them. With query set the service runs the SPL
// statement on the groups it reads (rule-based consumption) and answers
// what it keeps.
func (c *client) pull(ctx context.Context, logstore string, shard int, cursor, end string, count int, useZstd bool, query string, b *pullBatch) (pullResult, error) {
	q := url.Values{"type": {"logs"}, "cursor": {cursor}, "count": {strconv.Itoa(count)}}
	if end != "" {
		q.Set("end_cursor", end)
	}
	if query != "" {
		// As the SDK's PullLogsWithQuery sends it.
		q.Set("query", query)
		q.Set("pullMode", "scan_on_stream")
	}
	enc := "lz4"
	if useZstd {
		enc = "zstd"
	}
	req, err := c.NewRequest(ctx, http.MethodGet, shardsURI(logstore, shard, q), map[string]string{
		"x-log-bodyrawsize": "0", "Accept": "application/x-protobuf", "Accept-Encoding": enc,
	}, nil)
	if err != nil {
		return pullResult{}, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return pullResult{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return pullResult{}, slsapi.ReadAPIError(resp)
	}
	var res pullResult
	h := resp.Header
	res.next = h.Get("x-log-cursor")
	if res.next == "" {
		return pullResult{}, fmt.Errorf("pull answer has no x-log-cursor header")
	}
	if res.count, err = strconv.Atoi(h.Get("x-log-count")); err != nil {
		return pullResult{}, fmt.Errorf("pull answer: bad x-log-count %q", h.Get("x-log-count"))
	}
	if v := h.Get("x-log-read-last-cursor"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			res.readLast, res.hasLast = n, true
		}
	}
	if v := h.Get("x-log-cursor-time"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			res.cursorTime = time.Unix(n, 0).UTC()
		}
	}
	if query != "" {
		res.groupsRead, _ = strconv.Atoi(h.Get("x-log-rawdatacount"))
		res.logsRead, _ = strconv.Atoi(h.Get("x-log-rawdatalines"))
		res.rawRead, _ = strconv.Atoi(h.Get("x-log-rawdatasize"))
		res.failed, _ = strconv.Atoi(h.Get("x-log-failedlines"))
		res.lines, _ = strconv.Atoi(h.Get("x-log-resultlines"))
	}
	rawSize, _ := strconv.Atoi(h.Get("x-log-bodyrawsize"))
	if rawSize < 0 || rawSize > maxRawPull {
		return pullResult{}, fmt.Errorf("pull answer: raw size %d out of range", rawSize)
	}
	if b.comp, err = readBody(resp, b.comp[:0]); err != nil {
		return pullResult{}, fmt.Errorf("read pull answer: %w", err)
	}
	res.body = len(b.comp)
	b.dec.reset()
	if res.count == 0 || len(b.comp) == 0 {
		return res, nil
	}
	switch ct := h.Get("x-log-compresstype"); ct {
	case "lz4":
		if cap(b.raw) < rawSize {
			b.raw = make([]byte, rawSize)
		}
		b.raw = b.raw[:rawSize]
		n, err := lz4.UncompressBlock(b.comp, b.raw)
		if err != nil {
			return pullResult{}, fmt.Errorf("decompress lz4 pull answer: %w", err)
		}
		b.raw = b.raw[:n]
	case "zstd":
		if b.raw, err = zstdDecoder.DecodeAll(b.comp, b.raw[:0]); err != nil {
			return pullResult{}, fmt.Errorf("decompress zstd pull answer: %w", err)
		}
	case "", "none":
		b.raw = append(b.raw[:0], b.comp...)
	default:
		return pullResult{}, fmt.Errorf("pull answer: unsupported compression %q", ct)
	}
	if err := b.dec.decode(b.raw); err != nil {
		return pullResult{}, fmt.Errorf("decode pull answer: %w", err)
	}
	return res, nil
}

// readBody reads the whole answer into dst, sized by Content-Length when
// known.
func readBody(resp *http.Response, dst []byte) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 {
		if n > maxRawPull {
			return dst, fmt.Errorf("answer of %d bytes is too large", n)
		}
		if int64(cap(dst)) < n {
			dst = make([]byte, n)
		}
		dst = dst[:n]
		_, err := io.ReadFull(resp.Body, dst)
		return dst, err
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := resp.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		if len(dst) > maxRawPull {
			return dst, fmt.Errorf("answer larger than %d bytes", maxRawPull)
		}
	}
}

// batchPool recycles pullBatches. A free list rather than a sync.Pool, so
// that owner (which maps an emitted *engine.Batch back to its pullBatch)
// never holds batches the pool has dropped.
type batchPool struct {
	mu    sync.Mutex // guards free
	free  []*pullBatch
	owner sync.Map // *engine.Batch → *pullBatch
}

// batches is shared by every Source of the process: pull buffers outlive a
// pipeline's run and are reused by the next.
var batches batchPool

// maxFreeBatches bounds the batches kept for reuse.
const maxFreeBatches = 256

func (p *batchPool) get() *pullBatch {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	b := &pullBatch{}
	p.owner.Store(&b.Batch, b)
	return b
}

func (p *batchPool) put(b *pullBatch) {
	b.dec.reset()
	b.Records = nil
	b.Reserved = 0
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) >= maxFreeBatches {
		p.owner.Delete(&b.Batch)
		return
	}
	p.free = append(p.free, b)
}

func (p *batchPool) recycle(eb *engine.Batch) {
	if v, ok := p.owner.Load(eb); ok {
		p.put(v.(*pullBatch))
	}
}
