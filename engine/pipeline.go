package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Errors returned by the pipeline's [Host] methods.
var (
	// ErrPipelineFailed means the pipeline has failed; Run returns the cause.
	ErrPipelineFailed = errors.New("pipeline failed")
	// ErrNotRunning means the call came before Run started or after it ended.
	ErrNotRunning = errors.New("pipeline not running")
)

// Pipeline runs one source through a chain of stages into a sink. Create it
// with [New] and start it with [Pipeline.Run].
type Pipeline struct {
	name     string
	src      Source
	stages   []StageFactory
	sink     Sink
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	m        *metrics
	stageM   []stageMetrics
	recycler BatchRecycler
	origins  Origins // nil when the source names no origins
	budget   *byteBudget
	runq     *runQueue

	// freeMu guards free, the batch states (and their output buffers)
	// ready for reuse. Unlike a sync.Pool it survives garbage collections;
	// the budget bounds how many states exist.
	freeMu sync.Mutex
	free   []*batchState

	started atomic.Bool
	running atomic.Bool // between starting the source and the end of the drain

	// inflight counts batches emitted and not done; idle is poked when it
	// drops to zero.
	inflight atomic.Int64
	idle     chan struct{}

	failOnce     sync.Once
	failErr      error // set once, before failed is closed
	failed       chan struct{}
	cancelSource context.CancelFunc

	mu          sync.Mutex // guards shards, checkpoints, released and unbound
	shards      map[ShardKey]*shard
	checkpoints map[ShardKey]Checkpoint // last loaded or saved
	released    map[ShardKey]bool       // shards drained and handed back
	unbound     map[ShardKey]bool       // loaded without an origin; bound on the next save
	loadedAt    time.Time               // when checkpoints were loaded at start

	saveMu sync.Mutex // serializes collecting and saving checkpoints

	status *statusTracker // history and latest events for Status
}

// New creates a pipeline named name. stages run in order; there may be none.
func New(name string, src Source, stages []StageFactory, sink Sink, cfg Config) (*Pipeline, error) {
	if name == "" {
		return nil, errors.New("new pipeline: empty name")
	}
	if src == nil || sink == nil {
		return nil, fmt.Errorf("new pipeline %q: source and sink are required", name)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("new pipeline %q: %w", name, err)
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	p := &Pipeline{
		name:        name,
		src:         src,
		stages:      append([]StageFactory(nil), stages...),
		sink:        sink,
		cfg:         cfg,
		log:         logger.With("pipeline", name),
		reg:         cfg.registry,
		runq:        newRunQueue(),
		idle:        make(chan struct{}, 1),
		failed:      make(chan struct{}),
		shards:      make(map[ShardKey]*shard),
		checkpoints: make(map[ShardKey]Checkpoint),
		released:    make(map[ShardKey]bool),
		unbound:     make(map[ShardKey]bool),
	}
	if p.reg == nil {
		p.reg = prometheus.NewRegistry()
	}
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	p.m = newMetrics(prometheus.WrapRegistererWith(prometheus.Labels{"pipeline": name}, p.reg))
	p.budget = newByteBudget(cfg.maxInflightBytes, p.m.sourceBlocked.Inc)
	for _, st := range p.stages {
		p.stageM = append(p.stageM, p.m.stage(st.Name()))
	}
	p.recycler, _ = src.(BatchRecycler)
	p.origins, _ = src.(Origins)
	p.status = newStatusTracker(p)
	p.log = slog.New(warnCapture{next: p.log.Handler(), st: p.status})
	if p.cfg.deadLetter != nil {
		p.cfg.deadLetter = deadLetterRecorder{Sink: p.cfg.deadLetter, st: p.status}
	}
	return p, nil
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// Registry returns the pipeline's own Prometheus registry, so that other
// components (modules, connectors) can add their collectors to it.
func (p *Pipeline) Registry() *prometheus.Registry { return p.reg }

// Run runs the pipeline until the source is exhausted, ctx is cancelled or
// something fails, and returns after the final commit.
//
// # Notes
//
//   - On cancellation it stops pulling, waits up to the shutdown timeout for
//     in-flight batches to complete, saves the committed positions and
//     returns nil. Batches still in flight then are replayed by the next
//     run.
//   - When the source is exhausted it drains everything and returns nil.
//   - On failure (a sink error, a rejected record under the fail policy, a
//     source or stage error) it saves the positions committed so far, which
//     never include the failed batch, and returns the error.
//   - Run may be called once.
func (p *Pipeline) Run(ctx context.Context) (err error) {
	if !p.started.CompareAndSwap(false, true) {
		return fmt.Errorf("run pipeline %q: already started", p.name)
	}
	defer func() { p.status.end(err) }()
	if err := p.loadCheckpoints(ctx); err != nil {
		return err
	}
	// Workers and sinks keep running while the pipeline drains after ctx is
	// cancelled; they get their own context.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	workers, err := p.newWorkers(ctx)
	if err != nil {
		return err
	}
	srcCtx, cancelSrc := context.WithCancel(ctx)
	defer cancelSrc()
	p.cancelSource = cancelSrc

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { w.run(runCtx) })
	}
	stopCheckpoints := make(chan struct{})
	wg.Go(func() { p.checkpointLoop(runCtx, stopCheckpoints) })
	wg.Go(func() { p.status.run(ctx, runCtx) })

	p.log.Info("pipeline started", "workers", len(workers), "stages", len(p.stages), "on_error", p.cfg.errorPolicy.String())
	p.running.Store(true)
	srcDone := make(chan error, 1)
	go func() { srcDone <- p.src.Run(srcCtx, host{p}) }()

	var runErr error
	select {
	case err := <-srcDone:
		if err != nil && srcCtx.Err() == nil {
			runErr = fmt.Errorf("source: %w", err)
		}
	case <-p.failed:
		cancelSrc()
		<-srcDone
	}
	if !p.isFailed() {
		p.drain(ctx)
	}
	p.running.Store(false)

	cancelRun()
	p.runq.close()
	close(stopCheckpoints)
	wg.Wait()

	saveCtx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), max(p.cfg.shutdownTimeout, 5*time.Second))
	saveErr := p.saveMoved(saveCtx)
	cancelSave()
	for _, w := range workers {
		w.close(context.WithoutCancel(ctx))
	}
	if p.isFailed() {
		runErr = p.failErr
	}
	if saveErr != nil {
		runErr = errors.Join(runErr, fmt.Errorf("final checkpoint: %w", saveErr))
	}
	if runErr != nil {
		return fmt.Errorf("pipeline %q: %w", p.name, runErr)
	}
	p.log.Info("pipeline stopped")
	return nil
}

// drain waits for in-flight batches: without limit while ctx lives (the
// source is exhausted), then for at most the shutdown timeout.
func (p *Pipeline) drain(ctx context.Context) {
	if ctx.Err() == nil && p.waitIdle(ctx) {
		return
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.shutdownTimeout)
	defer cancel()
	if !p.waitIdle(tctx) && !p.isFailed() {
		p.log.Warn("shutdown timeout: in-flight batches left uncommitted and will be replayed",
			"batches", p.inflight.Load(), "timeout", p.cfg.shutdownTimeout)
	}
}

// waitIdle waits until no batch is in flight and reports whether that
// happened before ctx ended or the pipeline failed.
func (p *Pipeline) waitIdle(ctx context.Context) bool {
	for p.inflight.Load() != 0 {
		select {
		case <-p.idle:
		case <-ctx.Done():
			return false
		case <-p.failed:
			return false
		}
	}
	return true
}

func (p *Pipeline) newWorkers(ctx context.Context) ([]*worker, error) {
	workers := make([]*worker, 0, p.cfg.workers)
	for range p.cfg.workers {
		w := &worker{p: p}
		if len(p.stages) > 1 {
			w.scratch = make([]Results, len(p.stages)-1)
		}
		for _, f := range p.stages {
			st, err := f.NewStage(ctx)
			if err != nil {
				w.close(ctx)
				for _, o := range workers {
					o.close(ctx)
				}
				return nil, fmt.Errorf("pipeline %q: create stage %q: %w", p.name, f.Name(), err)
			}
			w.stages = append(w.stages, st)
		}
		workers = append(workers, w)
	}
	return workers, nil
}

func (w *worker) close(ctx context.Context) {
	for i, st := range w.stages {
		if err := st.Close(ctx); err != nil {
			w.p.log.Warn("closing stage instance failed", "stage", w.p.stages[i].Name(), "err", err)
		}
	}
	w.stages = nil
}

// fail records the pipeline's first fatal error and stops the source.
func (p *Pipeline) fail(err error) {
	p.failOnce.Do(func() {
		p.failErr = err
		close(p.failed)
		if p.cancelSource != nil {
			p.cancelSource()
		}
	})
}

func (p *Pipeline) isFailed() bool {
	select {
	case <-p.failed:
		return true
	default:
		return false
	}
}

// InflightBytes returns the bytes of batches emitted and not yet done, and
// the highest value that reached since the pipeline was created.
func (p *Pipeline) InflightBytes() (current, peak int64) { return p.budget.stats() }
