package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/slspipe/slspipe/engine"
)

// coreRetryWait is the pause before a core-mode write is tried again after
// a transient failure (disconnected, flush timeout).
const coreRetryWait = 250 * time.Millisecond

// corePublisher publishes to core NATS: a write is confirmed once a flush
// proves the server received every message of it.
type corePublisher struct {
	s *Sink

	mu   sync.Mutex // guards the scratch fields below
	msg  *natsgo.Msg
	data []byte
	id   []byte
	subj []byte
}

func newCorePublisher(s *Sink) *corePublisher {
	return &corePublisher{s: s, msg: s.newMsg()}
}

// write publishes recs and confirms them after a flush, trying the whole
// write again after transient failures until ctx ends. Duplicates are
// possible, losses are not.
func (p *corePublisher) write(ctx context.Context, recs []engine.Record, c engine.Confirmer) {
	subjects := make([]string, len(recs))
	p.mu.Lock()
	for i := range recs {
		s, buf, err := p.s.subject.subject(&recs[i], p.subj)
		p.subj = buf
		if err != nil {
			p.mu.Unlock()
			c.Confirm(len(recs), fmt.Errorf("nats sink: %w", err))
			return
		}
		subjects[i] = s
	}
	p.mu.Unlock()
	for {
		err := p.attempt(ctx, recs, subjects)
		if err == nil {
			c.Confirm(len(recs), nil)
			return
		}
		if permanent(err) || errors.Is(err, natsgo.ErrPermissionViolation) {
			c.Confirm(len(recs), err)
			return
		}
		p.s.opts.log.Warn("nats sink: core publish failed, retrying", "records", len(recs), "err", err)
		select {
		case <-ctx.Done():
			c.Confirm(len(recs), fmt.Errorf("nats sink: core publish of %d records: %w (last error: %w)", len(recs), ctx.Err(), err))
			return
		case <-time.After(coreRetryWait):
		}
	}
}

// attempt publishes every record once and flushes.
func (p *corePublisher) attempt(ctx context.Context, recs []engine.Record, subjects []string) error {
	before := p.s.nc.LastError()
	p.mu.Lock()
	for i := range recs {
		p.data, p.id = p.s.buildMsg(p.msg, subjects[i], &recs[i], p.data, p.id)
		if err := p.s.nc.PublishMsg(p.msg); err != nil {
			p.mu.Unlock()
			return p.s.publishError(subjects[i], len(p.msg.Data), err)
		}
	}
	p.mu.Unlock()
	fctx, cancel := context.WithTimeout(ctx, p.s.opts.ackTimeout)
	defer cancel()
	if err := p.s.nc.FlushWithContext(fctx); err != nil {
		return fmt.Errorf("nats sink: flush: %w", err)
	}
	// The server reports a refused publish before it answers the flush.
	if after := p.s.nc.LastError(); after != nil && after != before && errors.Is(after, natsgo.ErrPermissionViolation) {
		if m := permissionSubject.FindStringSubmatch(after.Error()); m != nil {
			for _, s := range subjects {
				if strings.EqualFold(s, m[1]) {
					return fmt.Errorf("nats sink: permission denied publishing to subject %q: %w", s, after)
				}
			}
		}
	}
	return nil
}
