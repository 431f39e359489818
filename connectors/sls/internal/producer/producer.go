package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// SLS limits checked before sending (fact sheet §4).
const (
	// MaxLogBytes is the largest encoded log SLS accepts.
	MaxLogBytes = 1 << 20
	// maxGroupBytes is the largest log group SLS accepts.
	maxGroupBytes = 5 << 20
)

// Defaults applied to zero settings, as in config.SLSSink.
const (
	defaultIOThreads     = 8
	defaultLinger        = 3 * time.Second
	defaultMaxBatchCount = 4096
	defaultMaxBatchBytes = 3 << 20
	defaultMaxMemory     = 100 << 20
	defaultBaseBackoff   = 100 * time.Millisecond
	defaultMaxBackoff    = 50 * time.Second
)

// Option configures a Producer.
type Option func(*options)

type options struct {
	log       *slog.Logger
	lookup    func(string) (string, bool)
	userAgent string
	reg       prometheus.Registerer
}

// WithLogger sets the logger for retries; slog.Default() otherwise.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithLookup sets how credentials left empty in the configuration are
// looked up in the environment; os.LookupEnv otherwise.
func WithLookup(f func(string) (string, bool)) Option { return func(o *options) { o.lookup = f } }

// WithUserAgent sets the User-Agent of requests.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithRegisterer registers the producer's Prometheus metrics with r, all
// labelled with the project and logstore. Producers writing to the same
// project and logstore through one registerer share their series.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// Producer is the SLS sink. It implements engine.Sink and
// engine.ReadinessChecker; Close flushes it.
//
// # Notes
//
//   - Write encodes records into batches at once (it keeps no reference
//     to them), so recs may be reused as soon as they are confirmed.
//   - Batches for one shard may be sent concurrently, so SLS may store
//     them in another order than Write received them, as with the
//     official producer.
//   - After a 401 or 404 answer the producer sends nothing more: Write
//     returns that error and queued batches fail with it.
type Producer struct {
	ep          *endpoint
	comp        compressor
	part        partitioner
	log         *slog.Logger
	mem         *memoryBudget
	m           *metrics
	ioThreads   int
	linger      time.Duration
	maxCount    int
	maxBytes    int
	retries     int
	baseBackoff time.Duration
	maxBackoff  time.Duration
	topic       string
	source      string // configured source, or the host's address
	cfgSource   bool   // source comes from the configuration
	cfgTopic    bool
	tags        [][2]string
	writes      atomic.Uint64 // numbers Write calls for batch spans
	bufs        bufferPool
	router      shardRouter

	ctx    context.Context // cancelled when Close gives up; sends use it
	cancel context.CancelFunc
	closed chan struct{} // closed when Close starts
	// stopping is cancelled when Close starts; background calls use it.
	stopping context.Context
	stop     context.CancelFunc
	done     chan struct{} // closed when every goroutine has exited
	wg       sync.WaitGroup
	once     sync.Once

	fatal atomic.Pointer[error] // a sticky send error

	mu      sync.Mutex // guards the fields below
	ready   *sync.Cond // signalled when queue grows or closing is set
	open    map[string]*batch
	queue   []*batch // sealed, waiting for a sender
	closing bool
	scratch []byte // batch key being built
	routing bool   // the shard router runs
}

// New returns a producer writing to cfg.Logstore through hc, which must be
// ready to reach cfg.Endpoint (for a local emulator, a client that dials
// it for every "<project>.<endpoint>" host). Credentials come from cfg, or
// the ALIBABA_CLOUD_* environment variables when cfg leaves them empty. New
// starts cfg.IOThreads senders and does no I/O; Close stops them.
//
// Zero settings take the config defaults, except Linger (0: each Write's
// batches are sealed when it returns) and Retries (0: no retry).
func New(cfg config.SLSSink, hc *http.Client, opts ...Option) (*Producer, error) {
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if hc == nil {
		return nil, errors.New("sls producer: no HTTP client")
	}
	cm, err := slsapi.NewCredentialMetrics(o.reg)
	if err != nil {
		return nil, fmt.Errorf("sls producer: %w", err)
	}
	ep, err := newEndpoint(cfg.SLSAuth, cfg.Logstore, hc, slsapi.CredentialOptions{Lookup: o.lookup, Metrics: cm, Logger: o.log}, o.userAgent)
	if err != nil {
		return nil, fmt.Errorf("sls producer: %w", err)
	}
	p := &Producer{
		ep: ep, log: o.log.With("logstore", cfg.Logstore),
		ioThreads:   orDefault(cfg.IOThreads, defaultIOThreads),
		linger:      cfg.Linger.D(),
		maxCount:    orDefault(cfg.MaxBatchCount, defaultMaxBatchCount),
		maxBytes:    int(orDefault(cfg.MaxBatchBytes.Bytes(), defaultMaxBatchBytes)),
		retries:     cfg.Retries,
		baseBackoff: orDefault(cfg.BaseBackoff.D(), defaultBaseBackoff),
		maxBackoff:  orDefault(cfg.MaxBackoff.D(), defaultMaxBackoff),
		topic:       cfg.Topic, cfgTopic: cfg.Topic != "",
		source: cfg.Source, cfgSource: cfg.Source != "",
		closed: make(chan struct{}), done: make(chan struct{}),
		open: make(map[string]*batch),
	}
	if p.maxBytes > maxGroupBytes {
		return nil, fmt.Errorf("sls producer: max_batch_bytes %d exceeds the SLS log group limit of %d", p.maxBytes, maxGroupBytes)
	}
	memLimit := orDefault(cfg.MaxMemory.Bytes(), defaultMaxMemory)
	if memLimit < int64(max(p.maxBytes, MaxLogBytes+16)) {
		return nil, fmt.Errorf("sls producer: max_memory %d must hold a full batch (%d bytes) and the largest log (%d bytes)", memLimit, p.maxBytes, MaxLogBytes)
	}
	if p.m, err = newMetrics(o.reg, cfg.Project, cfg.Logstore, memLimit); err != nil {
		return nil, fmt.Errorf("sls producer: %w", err)
	}
	p.mem = newMemoryBudget(memLimit, p.m.buffered)
	// Enough spare buffers for every sender and the batches being filled.
	p.bufs.limit = min(int(memLimit/4), (p.ioThreads+4)*(p.maxBytes+p.maxBytes/8))
	if p.part, err = newPartitioner(cfg); err != nil {
		p.m.release()
		return nil, fmt.Errorf("sls producer: %w", err)
	}
	if p.comp, err = newCompressor(cfg.Compression, p.ioThreads); err != nil {
		p.m.release()
		return nil, fmt.Errorf("sls producer: %w", err)
	}
	if !p.cfgSource {
		p.source = hostAddress()
	}
	for k, v := range cfg.Tags {
		p.tags = append(p.tags, [2]string{k, v})
	}
	sort.Slice(p.tags, func(i, j int) bool { return p.tags[i][0] < p.tags[j][0] })
	p.router.ep, p.router.known = ep, make(chan struct{})
	p.ready = sync.NewCond(&p.mu)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.stopping, p.stop = context.WithCancel(p.ctx)

	p.wg.Add(p.ioThreads)
	for range p.ioThreads {
		go p.runSender()
	}
	if p.linger > 0 {
		p.wg.Add(1)
		go p.runLinger()
	}
	go func() { p.wg.Wait(); close(p.done) }()
	return p, nil
}

var (
	_ engine.Sink             = (*Producer)(nil)
	_ engine.ReadinessChecker = (*Producer)(nil)
)

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Write implements engine.Sink. It blocks while the memory budget is spent;
// a ctx error or ErrClosed then fails the records not yet accepted, and the
// accepted ones are still confirmed.
func (p *Producer) Write(ctx context.Context, recs []engine.Record, c engine.Confirmer) error {
	if err := p.failure(); err != nil {
		return err
	}
	w := p.writes.Add(1)
	sec := uint32(time.Now().Unix())
	sp := sizesPool.Get().(*[]int32)
	defer sizesPool.Put(sp)
	for i := 0; i < len(recs); {
		// Take the budget for a chunk of at most one batch at a time, so
		// that a large Write cannot wait for more than the budget holds.
		sizes := (*sp)[:0]
		j, need := i, int64(0)
		for ; j < len(recs); j++ {
			n := logSize(&recs[j], sec)
			if n > MaxLogBytes {
				p.m.failedLogs.Inc()
				c.Confirm(1, fmt.Errorf("%w: log of %d bytes for logstore %s exceeds the limit of %d bytes on one log", ErrLogTooLarge, n, p.ep.logstore, MaxLogBytes))
				sizes = append(sizes, -1)
				continue
			}
			f := int64(framedSize(n))
			if need > 0 && need+f > int64(p.maxBytes) {
				break
			}
			need += f
			sizes = append(sizes, int32(n))
		}
		*sp = sizes
		if need > 0 {
			if err := p.mem.acquire(ctx, need, p.closed, p.sealIfStarved); err != nil {
				return fmt.Errorf("sls producer: write to logstore %s: %w", p.ep.logstore, err)
			}
			if err := p.add(recs[i:j], sizes, c, w, sec, need); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// sizesPool recycles the per-chunk log sizes of Write.
var sizesPool = sync.Pool{New: func() any { s := make([]int32, 0, 1024); return &s }}

// add encodes recs into their batches. sizes holds each record's logSize,
// -1 for a record already failed; charged bytes were taken from the budget
// for them.
func (p *Producer) add(recs []engine.Record, sizes []int32, c engine.Confirmer, w uint64, sec uint32, charged int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		p.mem.release(charged)
		return fmt.Errorf("sls producer: write to logstore %s: %w", p.ep.logstore, ErrClosed)
	}
	for i := range recs {
		n := int(sizes[i])
		if n < 0 {
			continue // confirmed failed by Write
		}
		r := &recs[i]
		f := framedSize(n)
		b := p.batchFor(r)
		if b.count > 0 && (b.count >= p.maxCount || len(b.buf)+f > p.maxBytes) {
			p.sealLocked(b)
			b = p.batchFor(r)
		}
		if need := f + len(b.head); cap(b.buf)-len(b.buf) < need {
			b.buf = growBatch(b.buf, need, p.maxBytes+len(b.head))
		}
		b.buf = appendLog(b.buf, r, n, sec)
		b.count++
		b.charged += int64(f)
		b.add(c, w)
		if b.count >= p.maxCount || len(b.buf) >= p.maxBytes {
			p.sealLocked(b)
		}
	}
	if p.linger == 0 {
		p.sealAllLocked()
	}
	return nil
}

// growBatch returns buf with room for need more bytes. It grows fourfold,
// up to the largest batch (limit), so that filling a batch copies it little;
// append alone would grow large buffers by a quarter at a time.
func growBatch(buf []byte, need, limit int) []byte {
	c := max(min(4*cap(buf), limit), len(buf)+need)
	nb := make([]byte, len(buf), c)
	copy(nb, buf)
	return nb
}

// batchFor returns the open batch r belongs to, opening one if needed.
// p.mu must be held.
func (p *Producer) batchFor(r *engine.Record) *batch {
	topic, source := p.topic, p.source
	if !p.cfgTopic {
		topic = r.Topic
	}
	if !p.cfgSource && r.Source != "" {
		source = r.Source
	}
	k := p.part(p.scratch[:0], r)
	if len(k) > 0 {
		if !p.routing {
			p.startRouting()
		}
		// Route through the scratch space past the key, then move back.
		n := len(k)
		k = p.router.appendRoute(k, k[:n])
		k = k[:copy(k, k[n:])]
	}
	hk := len(k)
	k = append(k, 0)
	k = append(k, topic...)
	k = append(k, 0)
	k = append(k, source...)
	for i := range r.Tags {
		k = append(k, 0)
		k = append(k, r.Tags[i].Key...)
		k = append(k, 0)
		k = append(k, r.Tags[i].Value...)
	}
	p.scratch = k
	if b := p.open[string(k)]; b != nil {
		return b
	}
	b := &batch{
		key: string(k), hashKey: string(k[:hk]),
		head: appendHead(nil, topic, source, p.tags, r.Tags),
		buf:  p.bufs.get(), opened: time.Now(),
	}
	p.open[b.key] = b
	return b
}

// startRouting starts the goroutine that keeps the shard ranges, on the
// first keyed record. p.mu must be held and p.closing false, so the senders
// still run and the wait group is not at zero.
func (p *Producer) startRouting() {
	p.routing = true
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(routeRefresh)
		defer t.Stop()
		for {
			if err := p.router.refresh(p.stopping); err != nil && p.stopping.Err() == nil {
				p.log.Warn("cannot list shards; keyed records are batched per hash key", "err", err)
			}
			select {
			case <-p.closed:
				return
			case <-t.C:
			}
		}
	}()
}

// sealLocked moves b from the open batches to the send queue. p.mu must be
// held.
func (p *Producer) sealLocked(b *batch) {
	delete(p.open, b.key)
	b.buf = append(b.buf, b.head...)
	p.queue = append(p.queue, b)
	p.ready.Signal()
}

func (p *Producer) sealAllLocked() {
	for _, b := range p.open {
		p.sealLocked(b)
	}
}

// sealIfStarved seals every open batch when no sealed one waits for a
// sender: a Write short of memory calls it, so that memory held by
// lingering batches is freed, without cutting batches short while queued
// ones will free memory anyway.
func (p *Producer) sealIfStarved() {
	p.mu.Lock()
	if len(p.queue) == 0 {
		p.sealAllLocked()
	}
	p.mu.Unlock()
}

// runLinger seals batches that have waited linger.
func (p *Producer) runLinger() {
	defer p.wg.Done()
	t := time.NewTicker(min(max(p.linger/4, time.Millisecond), time.Second))
	defer t.Stop()
	for {
		select {
		case <-p.closed:
			return
		case now := <-t.C:
			p.mu.Lock()
			for _, b := range p.open {
				if now.Sub(b.opened) >= p.linger {
					p.sealLocked(b)
				}
			}
			p.mu.Unlock()
		}
	}
}

// next returns the next sealed batch, or nil once closing and drained.
func (p *Producer) next() *batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && !p.closing {
		p.ready.Wait()
	}
	if len(p.queue) == 0 {
		return nil
	}
	b := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	return b
}

// runSender sends batches until the producer is closed and drained.
func (p *Producer) runSender() {
	defer p.wg.Done()
	var out []byte
	for b := p.next(); b != nil; b = p.next() {
		out = p.deliver(b, out[:0])
	}
}

// failure returns the sticky error, if any.
func (p *Producer) failure() error {
	if e := p.fatal.Load(); e != nil {
		return *e
	}
	return nil
}

// Ready implements engine.ReadinessChecker: it fails once the service has
// refused the credentials or the logstore.
func (p *Producer) Ready(context.Context) error {
	if err := p.failure(); err != nil {
		return err
	}
	select {
	case <-p.closed:
		return ErrClosed
	default:
		return nil
	}
}

// Close seals every batch and waits until each is confirmed. If ctx ends
// first, requests in flight are abandoned, their records confirmed failed
// with ErrClosed, and ctx's error returned. Close may be called again.
func (p *Producer) Close(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.sealAllLocked()
		p.ready.Broadcast()
		close(p.closed)
		p.stop()
		p.mu.Unlock()
		p.m.release()
	})
	select {
	case <-p.done:
		p.cancel()
		return nil
	case <-ctx.Done():
		p.cancel()
		<-p.done
		return fmt.Errorf("sls producer: close logstore %s: %w", p.ep.logstore, ctx.Err())
	}
}

// hostAddress returns the first non-loopback IPv4 address, the default
// source of written log groups, or "".
func hostAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
