package producer

import (
	"errors"
	"fmt"
	"time"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// deliver compresses and sends b, retrying what may succeed later, then
// confirms its records and returns its memory. out is scratch space for the
// compressed body; deliver returns it for reuse.
func (p *Producer) deliver(b *batch, out []byte) []byte {
	attempts, err := p.send(b, &out)
	p.m.finished(b.count, len(b.buf), len(out), attempts, err)
	b.confirm(err)
	p.mem.release(b.charged)
	p.bufs.put(b.buf)
	b.buf, b.spans = nil, nil
	return out
}

// send returns how many requests it sent and, unless the last one was
// answered 200, why b was not stored. *out holds the compressed body.
func (p *Producer) send(b *batch, out *[]byte) (int, error) {
	body, err := p.comp.compress((*out)[:0], b.buf)
	if err != nil {
		return 0, fmt.Errorf("sls producer: compress batch for logstore %s: %w", p.ep.logstore, err)
	}
	*out = body
	for attempt := 1; ; attempt++ {
		if err := p.failure(); err != nil {
			return attempt - 1, err
		}
		if p.ctx.Err() != nil {
			return attempt - 1, fmt.Errorf("sls producer: logstore %s: batch of %d logs not stored: %w", p.ep.logstore, b.count, ErrClosed)
		}
		start := time.Now()
		err := p.ep.post(p.ctx, b.hashKey, body, len(b.buf), p.comp.name())
		p.m.latency.Observe(time.Since(start).Seconds())
		if err == nil {
			return attempt, nil
		}
		var se *SendError
		if errors.As(err, &se) {
			se.Attempts = attempt
		}
		if p.ctx.Err() != nil {
			return attempt, fmt.Errorf("sls producer: logstore %s: batch of %d logs not stored: %w (last attempt: %v)", p.ep.logstore, b.count, ErrClosed, err)
		}
		if !retryable(err) || attempt > p.retries {
			if sticky(err) {
				p.fatal.CompareAndSwap(nil, &err)
			}
			return attempt, err
		}
		wait := p.backoff(attempt)
		if se == nil { // the credentials provider failed; it answered before
			p.m.retries.WithLabelValues("credentials").Inc()
			p.log.Warn("sls put logs: no credentials; retrying", "hash_key", b.hashKey, "logs", b.count,
				"attempt", attempt, "err", err, "wait", wait)
		} else {
			p.m.retried(se)
			p.log.Warn("sls put logs failed; retrying", "hash_key", b.hashKey, "logs", b.count,
				"attempt", attempt, "status", se.Status, "code", se.Code, "request_id", se.RequestID,
				"transport_error", se.Err, "wait", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.ctx.Done():
			t.Stop()
		}
	}
}

// backoff is the wait after the given failed attempt (from 1).
func (p *Producer) backoff(attempt int) time.Duration {
	return slsapi.Backoff{Base: p.baseBackoff, Max: p.maxBackoff}.Delay(attempt - 1)
}
