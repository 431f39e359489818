package sls

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/engine"
)

// Sizes of the decoded tables' elements, for the memory budget.
const (
	fieldSize  = int(unsafe.Sizeof(engine.Field{}))
	recordSize = int(unsafe.Sizeof(engine.Record{}))
	spanSize   = int(unsafe.Sizeof(recSpan{}))
)

// readEnd says why a shard reader stopped.
type readEnd int

const (
	// endCancelled: the context ended (shutdown, shard taken away).
	endCancelled readEnd = iota
	// endFinished: a readonly shard was read to its end.
	endFinished
	// endStopTime: the shard reached stop_time.
	endStopTime
)

// shardReader pulls one shard and emits its batches, in order, from one
// goroutine.
type shardReader struct {
	src      *Source
	host     engine.Host
	key      engine.ShardKey
	cursor   string
	readonly *atomic.Bool // set by discovery when the shard turns readonly
	// lastSize is the weight of the reader's last emitted batch, its
	// estimate of what the next pull will hold.
	lastSize int64
	// qnames names the groups a query answers (source.sls.query).
	qnames queryNames
}

// run pulls from r.cursor until the shard ends, stop_time is reached, ctx
// ends, or a fatal error occurs.
func (r *shardReader) run(ctx context.Context) (readEnd, error) {
	s := r.src
	ls, shard := r.key.Logstore, r.key.Shard
	stopAt := s.cfg.StopTime.Time
	stopCursor := ""
	idle := s.cfg.FetchInterval.D()
	what := "pull shard " + strconv.Itoa(shard)
	if s.cfg.Query != "" {
		what += " with query " + strconv.Quote(s.cfg.Query)
	}
	for {
		if ctx.Err() != nil {
			return endCancelled, nil
		}
		if !stopAt.IsZero() && stopCursor == "" && time.Now().After(stopAt.Add(time.Second)) {
			// Nothing can be received before stop_time any more: fix the
			// shard's stop cursor.
			c, err := s.getCursor(ctx, ls, shard, strconv.FormatInt(ceilSeconds(stopAt), 10))
			if err != nil {
				return s.endOf(ctx, err)
			}
			stopCursor = c
		}
		if stopCursor != "" && r.cursor == stopCursor {
			return endStopTime, nil
		}
		// Reserve before taking a pooled batch: a reader waiting for budget
		// must not sit on a batch's memory meanwhile.
		reserved, err := r.reserve(ctx)
		if err != nil {
			return endCancelled, nil
		}
		b := batches.get()
		b.Reserved = reserved
		count := s.cfg.MaxPerFetch
		if s.cfg.Query != "" {
			count, err = r.queryCount(ctx, b)
		}
		var res pullResult
		if err == nil {
			err = s.call(ctx, ls, what, func() error {
				var err error
				res, err = s.c.pull(ctx, ls, shard, r.cursor, stopCursor, count, s.useZstd, s.cfg.Query, b)
				return err
			})
		}
		if err != nil {
			r.unreserve(b)
			batches.put(b)
			if slsapi.Classify(err) == slsapi.InvalidCursor && !slsapi.IsCanceled(err) {
				if err := r.cursorExpired(ctx, err); err != nil {
					return s.endOf(ctx, err)
				}
				continue
			}
			return s.endOf(ctx, err)
		}
		s.countPull(ls, shard, res)
		pastStop := !stopAt.IsZero() && stopCursor == "" && !res.cursorTime.IsZero() && res.cursorTime.Unix() >= ceilSeconds(stopAt)
		if s.cfg.Query != "" && len(b.dec.records) == 0 && res.next != r.cursor && res.next != "" && !pastStop {
			// Every group read was filtered out: hand the engine an empty
			// batch, so that the cursor past them is committed like any
			// other (the service will not send these groups again).
			if err := r.emit(ctx, b, res); err != nil {
				batches.put(b)
				return s.endOf(ctx, err)
			}
			r.cursor = res.next
			continue
		}
		if res.count == 0 || len(b.dec.records) == 0 {
			r.unreserve(b)
			batches.put(b)
			// An idle shard's polls reserve little, so that many tailing
			// shards do not queue for budget they will not use; a burst
			// after idling is corrected when its batch is emitted.
			r.lastSize = idlePullReserve
			switch {
			case stopCursor != "" && (res.next == r.cursor || res.next == stopCursor):
				return endStopTime, nil
			case res.next == r.cursor && r.readonly.Load():
				return endFinished, nil
			}
			if res.next != r.cursor && res.next != "" {
				r.cursor = res.next // groups with no logs
				continue
			}
			if err := slsapi.Sleep(ctx, idle); err != nil {
				return endCancelled, nil
			}
			continue
		}
		if pastStop {
			// The batch reaches past stop_time: wait until the stop cursor
			// is known and pull it again up to there.
			r.unreserve(b)
			batches.put(b)
			if err := slsapi.Sleep(ctx, time.Until(stopAt.Add(time.Second))); err != nil {
				return endCancelled, nil
			}
			continue
		}
		if err := r.emit(ctx, b, res); err != nil {
			batches.put(b)
			return s.endOf(ctx, err)
		}
		r.cursor = res.next
		// More data may be waiting: pull again at once.
	}
}

// reserve takes from the pipeline's budget what the next pull is expected
// to hold, before pulling: every reader would otherwise hold one decoded
// pull beyond the budget while it waits to emit it. The estimate is the
// reader's last batch, or any reader's, or a conservative guess per log
// group before the first pull; Emit corrects it to the real weight.
func (r *shardReader) reserve(ctx context.Context) (int64, error) {
	mr, ok := r.host.(engine.MemoryReserver)
	if !ok {
		return 0, nil
	}
	n := r.lastSize
	if n == 0 {
		n = r.src.typicalBatch.Load()
	}
	if n == 0 {
		n = int64(r.src.cfg.MaxPerFetch) * firstPullGroupWeight
	}
	if err := mr.Reserve(ctx, n); err != nil {
		return 0, err
	}
	return n, nil
}

// unreserve gives back the reservation of a batch that will not be emitted.
func (r *shardReader) unreserve(b *pullBatch) {
	if b.Reserved > 0 {
		r.host.(engine.MemoryReserver).Unreserve(b.Reserved)
		b.Reserved = 0
	}
}

// idlePullReserve is what a poll of a shard whose last pull was empty
// reserves.
const idlePullReserve = 64 << 10

// firstPullGroupWeight is the weight per log group reserved for a pull
// before any batch was measured: a 100-log group of small logs weighs
// about 100 KiB once decoded. Too high only delays the first pulls.
const firstPullGroupWeight = 160 << 10

// endOf maps an error to the reader's end: cancellation is not an error.
func (s *Source) endOf(ctx context.Context, err error) (readEnd, error) {
	if ctx.Err() != nil || slsapi.IsCanceled(err) {
		return endCancelled, nil
	}
	return endCancelled, err
}

// emit fills in the records' identities and the batch position and hands
// the batch to the engine.
func (r *shardReader) emit(ctx context.Context, b *pullBatch, res pullResult) error {
	s := r.src
	ls, shard := r.key.Logstore, r.key.Shard
	groups := b.dec.groups
	// Log-group cursors are consecutive integers ending at the last read
	// one, as the SDK computes them; without the header, count from the
	// cursor read from. With a query the answered groups are a subset of
	// those read: queryNames names them.
	first, ok := int64(0), false
	var cursors []string
	switch {
	case s.cfg.Query != "" && r.qnames.ok:
		cursors = r.qnames.nameQueryGroups(groups, res.next)
	case s.cfg.Query != "":
	case res.hasLast:
		first, ok = res.readLast-int64(groups)+1, true
	default:
		if n, err := decodeCursorNum(r.cursor); err == nil {
			first, ok = n, true
		}
	}
	if cursors == nil {
		cursors = make([]string, groups)
	}
	for g := range cursors {
		switch {
		case cursors[g] != "":
		case ok:
			cursors[g] = encodeCursorNum(first + int64(g))
		default:
			cursors[g] = r.cursor + "#" + strconv.Itoa(g)
		}
	}
	recs := b.dec.records
	for i := range recs {
		id := &recs[i].Identity
		id.Logstore, id.Shard, id.Cursor = ls, shard, cursors[b.dec.spans[i].group]
	}
	ct := res.cursorTime
	if ct.IsZero() {
		if t, err := s.c.sdk.GetCursorTime(s.cfg.Project, ls, shard, res.next); err == nil {
			ct = t
		}
	}
	b.Records = recs
	b.Position = engine.Position{Logstore: ls, Shard: shard, Cursor: r.cursor, NextCursor: res.next, CursorTime: ct}
	b.Size = b.weight()
	r.lastSize = int64(b.Size)
	s.typicalBatch.Store(r.lastSize)
	s.m.pulledLogs.WithLabelValues(ls).Add(float64(len(recs)))
	s.heads.pulled(r.key, r.cursor, groups, len(recs))
	if err := r.host.Emit(ctx, &b.Batch); err != nil {
		return fmt.Errorf("%s: emit shard %d batch at cursor %s: %w", s.where(ls), shard, r.cursor, err)
	}
	return nil
}

// cursorExpired applies on_cursor_expired to an invalid cursor.
func (r *shardReader) cursorExpired(ctx context.Context, cause error) error {
	s := r.src
	ls, shard := r.key.Logstore, r.key.Shard
	policy := s.cfg.OnCursorExpired
	s.m.cursorExpired.WithLabelValues(ls, policy).Inc()
	if policy == "fail" {
		return &fatalError{msg: fmt.Sprintf("%s: shard %d: cursor %s has expired (on_cursor_expired: fail)", s.where(ls), shard, r.cursor), err: cause}
	}
	pos := config.Position{Mode: config.PositionBegin}
	if policy == "end" {
		pos.Mode = config.PositionEnd
	}
	cur, err := s.positionCursor(ctx, ls, shard, pos)
	if err != nil {
		return err
	}
	s.log.Warn("cursor expired; data past the logstore TTL is lost",
		"logstore", ls, "shard", shard, "cursor", r.cursor, "on_cursor_expired", policy, "restart_cursor", cur)
	r.cursor = cur
	return nil
}

// encodeCursorNum and decodeCursorNum convert between SLS cursors (base64
// of a decimal integer) and their numbers.
func encodeCursorNum(n int64) string {
	var buf [20]byte
	return base64.StdEncoding.EncodeToString(strconv.AppendInt(buf[:0], n, 10))
}

func decodeCursorNum(c string) (int64, error) {
	var buf [32]byte
	if base64.StdEncoding.DecodedLen(len(c)) > len(buf) {
		return 0, fmt.Errorf("cursor %q too long", c)
	}
	n, err := base64.StdEncoding.Decode(buf[:], []byte(c))
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(string(buf[:n]), 10, 64)
}

// countPull records a pull answer's bytes and, with a query, what the
// service read and failed on; a failure is also logged with its position,
// since those logs are not delivered.
func (s *Source) countPull(ls string, shard int, res pullResult) {
	s.m.pulledBytes.WithLabelValues(ls).Add(float64(res.body))
	if s.cfg.Query == "" {
		return
	}
	s.m.queryRead.WithLabelValues(ls).Add(float64(res.logsRead))
	if res.failed > 0 {
		s.m.queryFailed.WithLabelValues(ls).Add(float64(res.failed))
		s.log.Warn("the query failed on logs, which SLS left out", "logstore", ls, "shard", shard, "failed", res.failed, "read", res.logsRead, "next_cursor", res.next)
	}
}
