package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
)

const (
	// idleFetchWait bounds a fetch that waits for the first message.
	idleFetchWait = 5 * time.Second
	// fetchRetryWait is the pause after a failed fetch.
	fetchRetryWait = 500 * time.Millisecond
)

var fieldMessage = []byte("message")

// Source reads a JetStream stream through a durable pull consumer. It
// implements [engine.Source] and [engine.Committer]: it must be given to the
// pipeline as a committer too, because committing a position is what
// acknowledges the messages before it.
//
// # Notes
//
//   - The stream is one shard, "nats:<stream>/<durable>" number 0. A
//     batch holds up to batch messages; its cursor is the stream sequence
//     of its first message and its next cursor the sequence after its last.
//   - A message becomes a record with the raw payload both in Payload and
//     in the field "message", the subject as Topic, the headers as Tags
//     and the stored time as Time. Its identity's cursor is its stream
//     sequence, so a redelivered message has the same [engine.Record.ID].
//   - Acknowledgement: the consumer acknowledges cumulatively (AckAll). When
//     the engine commits a position, the last message before it is
//     acknowledged (and the server confirms), which acknowledges every
//     earlier one: a message is acknowledged only after the sink confirmed
//     it. Messages the server redelivers while their batch is still in the
//     pipeline (ack_wait expired) are skipped, not emitted twice.
//   - On start the consumer is reset to its acknowledgement floor (or to
//     the engine's stored checkpoint when that is further), so everything
//     a previous run read but did not commit is read again: at-least-once
//     into the sink; with a JetStream sink, the unchanged record ids make
//     the replay a no-op.
//   - One process per durable: two readers of one durable would reset
//     each other's delivery.
type Source struct {
	cfg  config.NATSSource
	opts options
	nc   *natsgo.Conn
	js   jetstream.JetStream
	cons jetstream.Consumer
	key  engine.ShardKey
	// origin names the stream this process reads, down to its creation
	// time: a stream created again under the same name starts its
	// sequences over, so a stored sequence of the old one means nothing.
	origin string

	mu    sync.Mutex // guards marks
	marks []batchMark
}

// batchMark is an emitted batch awaiting its commit: next is its next
// cursor, last its last message, whose acknowledgement covers the batch.
type batchMark struct {
	next uint64
	last jetstream.Msg
}

// NewSource connects, checks the stream and creates or updates the durable
// consumer.
func NewSource(ctx context.Context, cfg config.NATSSource, opts ...Option) (*Source, error) {
	s := &Source{cfg: cfg, opts: newOptions(opts)}
	if cfg.Durable == "" {
		return nil, errors.New("nats source: durable is required")
	}
	s.key = engine.ShardKey{Logstore: "nats:" + cfg.Stream + "/" + cfg.Durable}
	log := s.opts.log.With("source", "nats", "stream", cfg.Stream, "durable", cfg.Durable)
	nc, err := connect(ctx, cfg.NATSConn, s.opts.name,
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil { // nil on Close
				log.Warn("nats source disconnected", "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(*natsgo.Conn) { log.Info("nats source reconnected") }),
	)
	if err != nil {
		return nil, fmt.Errorf("nats source: %w", err)
	}
	s.nc = nc
	if err := s.setup(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return s, nil
}

func (s *Source) setup(ctx context.Context) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("nats source: %w", err)
	}
	s.js = js
	st, err := js.Stream(ctx, s.cfg.Stream)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("nats source: stream %q does not exist", s.cfg.Stream)
		}
		return fmt.Errorf("nats source: look up stream %q: %w", s.cfg.Stream, err)
	}
	s.origin = streamOrigin(s.cfg.Stream, st.CachedInfo().Created)
	ackWait := s.cfg.AckWait.D()
	if ackWait <= 0 {
		ackWait = 30 * time.Second
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, s.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       s.cfg.Durable,
		FilterSubject: s.cfg.FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       ackWait,
		// The engine's memory budget bounds what is in flight.
		MaxAckPending: -1,
	})
	if err != nil {
		return fmt.Errorf("nats source: create durable consumer %q on stream %q: %w", s.cfg.Durable, s.cfg.Stream, err)
	}
	s.cons = cons
	return nil
}

// Shard returns the shard the source emits.
func (s *Source) Shard() engine.ShardKey { return s.key }

// Run implements [engine.Source]: it reads until ctx ends.
func (s *Source) Run(ctx context.Context, host engine.Host) error {
	res, err := host.OpenShard(ctx, s.key)
	if err != nil {
		return fmt.Errorf("nats source: open shard %s: %w", s.key, err)
	}
	var floor uint64 // messages before it are committed
	if res.Found {
		if floor, err = strconv.ParseUint(res.Cursor, 10, 64); err != nil {
			return fmt.Errorf("nats source: bad checkpoint cursor %q for %s: %w", res.Cursor, s.key, err)
		}
		if err := s.checkFloor(ctx, floor); err != nil {
			return err
		}
	}
	if err := s.rewind(ctx, floor); err != nil {
		return err
	}
	next := floor // the lowest sequence not emitted yet
	for {
		msgs, err := s.fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.opts.log.Warn("nats source: fetch failed, retrying", "stream", s.cfg.Stream, "durable", s.cfg.Durable, "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(fetchRetryWait):
			}
			continue
		}
		b, last, err := s.batch(msgs, floor, &next)
		if err != nil {
			return err
		}
		if b == nil {
			continue
		}
		s.mu.Lock()
		s.marks = append(s.marks, batchMark{next: next, last: last})
		s.mu.Unlock()
		if err := host.Emit(ctx, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("nats source: emit: %w", err)
		}
	}
}

// rewind makes the consumer deliver again everything not acknowledged,
// starting no earlier than floor.
func (s *Source) rewind(ctx context.Context, floor uint64) error {
	info, err := s.cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("nats source: consumer %q info: %w", s.cfg.Durable, err)
	}
	start := info.AckFloor.Stream + 1
	if floor > start {
		start = floor
	}
	if _, err := s.js.ResetConsumerToSequence(ctx, s.cfg.Stream, s.cfg.Durable, start); err != nil {
		return fmt.Errorf("nats source: reset consumer %q to sequence %d: %w", s.cfg.Durable, start, err)
	}
	return nil
}

// fetch waits for a first message, then takes what else is ready, up to
// batch messages: low latency when idle, full batches under load.
func (s *Source) fetch(ctx context.Context) ([]jetstream.Msg, error) {
	fctx, cancel := context.WithTimeout(ctx, idleFetchWait)
	defer cancel()
	first, err := s.cons.Fetch(1, jetstream.FetchContext(fctx))
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range first.Messages() {
		msgs = append(msgs, m)
	}
	// A message received is never dropped, even when the fetch then
	// failed: the library ends a fetch with an error right after handing
	// over a message whose metadata does not parse, and batch must see
	// that message to refuse it rather than let a later acknowledgement
	// cover it.
	if err := first.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && len(msgs) == 0 {
		return nil, err
	}
	if len(msgs) == 0 || s.cfg.Batch <= 1 {
		return msgs, nil
	}
	rest, err := s.cons.FetchNoWait(s.cfg.Batch - 1)
	if err != nil {
		return msgs, nil // the first message is not lost; the rest comes next time
	}
	for m := range rest.Messages() {
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// batch turns fetched messages into a batch, skipping those already
// emitted (redeliveries) and acknowledging those before floor (committed
// by an earlier run). It returns nil when nothing is left.
//
// A message whose JetStream metadata does not parse fails the batch, and
// nothing of it is emitted or acknowledged: without a stream sequence the
// message has no place in the commit order, and skipping it would let the
// next batch's cumulative acknowledgement cover a message never delivered.
func (s *Source) batch(msgs []jetstream.Msg, floor uint64, next *uint64) (*engine.Batch, jetstream.Msg, error) {
	var b *engine.Batch
	var last jetstream.Msg
	start := *next
	for _, m := range msgs {
		meta, err := m.Metadata()
		if err == nil && meta.Sequence.Stream == 0 {
			err = errors.New("stream sequence 0")
		}
		if err != nil {
			*next = start
			return nil, nil, fmt.Errorf("nats source: stream %q delivered a message on subject %q whose JetStream metadata does not parse (reply subject %q: %v); stopping without acknowledging it or anything after it",
				s.cfg.Stream, m.Subject(), m.Reply(), err)
		}
		seq := meta.Sequence.Stream
		if seq < floor {
			_ = m.Ack() // committed already; AckAll settles it and everything before
			continue
		}
		if seq < *next {
			continue // still in the pipeline; its batch's commit acknowledges it
		}
		if b == nil {
			b = &engine.Batch{Records: make([]engine.Record, 0, len(msgs))}
			b.Position = engine.Position{Logstore: s.key.Logstore, Shard: s.key.Shard, Cursor: strconv.FormatUint(seq, 10)}
		}
		data := m.Data()
		r := engine.Record{
			Fields:   []engine.Field{{Key: fieldMessage, Value: data}},
			Time:     engine.TimestampOf(meta.Timestamp),
			Topic:    m.Subject(),
			Payload:  data,
			Identity: engine.Identity{Logstore: s.key.Logstore, Shard: s.key.Shard, Cursor: strconv.FormatUint(seq, 10)},
		}
		for k, vs := range m.Headers() {
			for _, v := range vs {
				r.Tags = append(r.Tags, engine.Field{Key: []byte(k), Value: []byte(v)})
			}
		}
		b.Records = append(b.Records, r)
		b.Position.CursorTime = meta.Timestamp
		*next = seq + 1
		last = m
	}
	if b == nil {
		return nil, nil, nil
	}
	b.Position.NextCursor = strconv.FormatUint(*next, 10)
	return b, last, nil
}

// LoadCheckpoints implements [engine.Committer]. The durable consumer keeps
// the position itself, so it has nothing to load.
func (s *Source) LoadCheckpoints(context.Context, string) ([]engine.Checkpoint, error) {
	return nil, nil
}

// SaveCheckpoints implements [engine.Committer]: it acknowledges every
// message before the committed cursor of the source's shard and waits for
// the server to confirm. Checkpoints of other shards are ignored.
func (s *Source) SaveCheckpoints(ctx context.Context, _ string, cps []engine.Checkpoint) error {
	for _, cp := range cps {
		if cp.Key() != s.key {
			continue
		}
		next, err := strconv.ParseUint(cp.Cursor, 10, 64)
		if err != nil {
			return fmt.Errorf("nats source: bad cursor %q for %s: %w", cp.Cursor, s.key, err)
		}
		if err := s.ackBefore(ctx, next); err != nil {
			return err
		}
	}
	return nil
}

// ackBefore acknowledges the last emitted batch whose next cursor is at
// most next.
func (s *Source) ackBefore(ctx context.Context, next uint64) error {
	s.mu.Lock()
	i := -1
	for j := range s.marks {
		if s.marks[j].next > next {
			break
		}
		i = j
	}
	if i < 0 {
		s.mu.Unlock()
		return nil
	}
	m := s.marks[i].last
	s.mu.Unlock()
	if err := m.DoubleAck(ctx); err != nil {
		return fmt.Errorf("nats source: acknowledge stream %q up to sequence %d: %w", s.cfg.Stream, next-1, err)
	}
	s.mu.Lock()
	// Marks only grow at the end, so the first i+1 are the ones acknowledged.
	s.marks = append(s.marks[:0], s.marks[i+1:]...)
	s.mu.Unlock()
	return nil
}

// Close closes the connection. Call it after the pipeline returned, so
// that its final commit is acknowledged.
func (s *Source) Close() error {
	s.nc.Close()
	return nil
}
