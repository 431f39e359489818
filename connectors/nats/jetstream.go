package nats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	natsgo "github.com/nats-io/nats.go"

	"github.com/slspipe/slspipe/engine"
)

const (
	// resendTick is how often unacknowledged publishes are checked.
	resendTick = 250 * time.Millisecond
	// noStreamTicks is how long "no responders" (no stream captures the
	// subject) is retried before it fails the record: a stream that is
	// starting after a server restart answers within it.
	noStreamTicks = 20

	statusHeader       = "Status"
	noRespondersStatus = "503"
)

// jsPublisher publishes to JetStream asynchronously over one reply
// subscription, keeping every unacknowledged message until the stream
// acknowledges it.
//
// Each message gets a reply subject prefix+token; the token keys the
// pending entry, and a republished message keeps its token, so a late
// acknowledgement of an earlier copy resolves it just as well.
type jsPublisher struct {
	s      *Sink
	prefix string
	sub    *natsgo.Subscription
	slots  chan struct{} // one element per unacknowledged message
	ticks  uint64        // ack timeout in resend ticks

	kickc chan struct{} // republish everything now (after a reconnection)
	stop  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex // guards the fields below
	closed bool
	// replay: a publish failed or the connection dropped, so messages may be
	// missing from the stream. New messages wait (unsent) until a resend has
	// published every pending one again, in order, so that the stream keeps
	// each key's order.
	replay  bool
	next    uint64
	epoch   uint64
	pending pendingRing
	free    []*inflight // settled entries, for reuse
	peak    int         // most entries ever pending
	msg     *natsgo.Msg
	data    []byte
	id      []byte
	subj    []byte
	reply   []byte
}

// inflight is a published message awaiting its acknowledgement.
type inflight struct {
	w       *jsWrite
	rec     *engine.Record
	subject string
	token   uint64 // keys pending; the reply subject is prefix+token
	epoch   uint64 // resend tick of the last publish
	sent    bool   // false when the last publish did not leave the client
	noResp  int    // "no responders" answers so far
}

// jsWrite tracks the confirmations of one Write.
type jsWrite struct {
	c         engine.Confirmer
	remaining atomic.Int64
	ok        atomic.Int64
}

// done settles one record. Successes are confirmed together when the
// write's last record settles; failures are confirmed at once.
func (w *jsWrite) done(n int, err error) {
	if err != nil {
		w.c.Confirm(n, err)
	} else {
		w.ok.Add(int64(n))
	}
	if w.remaining.Add(-int64(n)) == 0 {
		if ok := w.ok.Load(); ok > 0 {
			w.c.Confirm(int(ok), nil)
		}
	}
}

func newJSPublisher(s *Sink) (*jsPublisher, error) {
	window := s.cfg.MaxInflight
	if window <= 0 {
		window = 4096
	}
	ticks := uint64((s.opts.ackTimeout + resendTick - 1) / resendTick)
	if ticks < 1 {
		ticks = 1
	}
	p := &jsPublisher{
		s:       s,
		prefix:  s.nc.NewRespInbox() + ".",
		slots:   make(chan struct{}, window),
		ticks:   ticks,
		kickc:   make(chan struct{}, 1),
		stop:    make(chan struct{}),
		pending: newPendingRing(window),
		msg:     s.newMsg(),
	}
	sub, err := s.nc.Subscribe(p.prefix+"*", p.onAck)
	if err != nil {
		return nil, fmt.Errorf("subscribe to acknowledgements: %w", err)
	}
	// Acknowledgements may arrive in bursts of a whole window.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe to acknowledgements: %w", err)
	}
	p.sub = sub
	p.wg.Go(p.resendLoop)
	return p, nil
}

// write publishes recs, blocking while the window is full. Records it
// cannot publish because ctx ended or the sink closed are confirmed as
// failed.
func (p *jsPublisher) write(ctx context.Context, recs []engine.Record, c engine.Confirmer) {
	w := &jsWrite{c: c}
	w.remaining.Store(int64(len(recs)))
	for i := range recs {
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			w.done(len(recs)-i, fmt.Errorf("nats sink: %d records not published: %w", len(recs)-i, ctx.Err()))
			return
		case <-p.stop:
			w.done(len(recs)-i, fmt.Errorf("nats sink: %d records not published: sink closed", len(recs)-i))
			return
		}
		if err := p.publishNew(w, &recs[i]); err != nil {
			<-p.slots
			w.done(1, err)
		}
	}
}

// publishNew registers and publishes one record; an error fails it.
func (p *jsPublisher) publishNew(w *jsWrite, r *engine.Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("nats sink: sink closed")
	}
	subject, subj, err := p.s.subject.subject(r, p.subj)
	p.subj = subj
	if err != nil {
		return fmt.Errorf("nats sink: %w", err)
	}
	token := p.next
	p.next++
	var e *inflight
	if n := len(p.free); n > 0 {
		e, p.free = p.free[n-1], p.free[:n-1]
	} else {
		e = new(inflight)
	}
	*e = inflight{w: w, rec: r, subject: subject, token: token}
	if p.replay {
		p.pending.add(e) // sent by the resend loop, after every older message
		p.peak = max(p.peak, p.pending.n)
		return nil
	}
	if err := p.send(e); err != nil {
		*e = inflight{}
		p.free = append(p.free, e)
		return err
	}
	p.pending.add(e)
	p.peak = max(p.peak, p.pending.n)
	return nil
}

// send publishes e. A transient failure leaves e to be sent again; a
// permanent one is returned. p.mu must be held.
func (p *jsPublisher) send(e *inflight) error {
	p.data, p.id = p.s.buildMsg(p.msg, e.subject, e.rec, p.data, p.id)
	// The reply is rebuilt rather than kept per message, and passed as a
	// view of the scratch buffer: PublishMsg copies it into the
	// connection's buffer before returning, and p.mu keeps it unchanged
	// until then. This saves an allocation per record.
	p.reply = strconv.AppendUint(append(p.reply[:0], p.prefix...), e.token, 10)
	p.msg.Reply = unsafe.String(unsafe.SliceData(p.reply), len(p.reply))
	e.epoch = p.epoch
	err := p.s.nc.PublishMsg(p.msg)
	e.sent = err == nil
	if err != nil {
		p.replay = true
	}
	if err != nil && permanent(err) {
		return p.s.publishError(e.subject, len(p.msg.Data), err)
	}
	return nil
}

// onAck handles an acknowledgement; it runs on the subscription's
// goroutine.
func (p *jsPublisher) onAck(m *natsgo.Msg) {
	token, err := strconv.ParseUint(m.Subject[len(p.prefix):], 10, 64)
	if err != nil {
		return
	}
	var result error
	if len(m.Data) == 0 && m.Header.Get(statusHeader) == noRespondersStatus {
		p.mu.Lock()
		e := p.pending.get(token)
		if e == nil {
			p.mu.Unlock()
			return
		}
		e.noResp++
		if e.noResp < noStreamTicks {
			e.sent = false // published again on the next tick
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		result = p.noStreamError(e.subject)
	} else if bytes.Contains(m.Data, []byte(`"error"`)) {
		result = p.rejected(token, m.Data)
	}
	p.settle(token, result)
}

// settle removes a pending entry and confirms its record.
func (p *jsPublisher) settle(token uint64, err error) {
	p.mu.Lock()
	e := p.pending.remove(token)
	if e == nil {
		p.mu.Unlock()
		return // a late acknowledgement of a message published twice
	}
	w := e.w
	*e = inflight{}
	p.free = append(p.free, e)
	p.mu.Unlock()
	<-p.slots
	w.done(1, err)
}

func (p *jsPublisher) noStreamError(subject string) error {
	if p.s.cfg.Stream != "" {
		return fmt.Errorf("nats sink: no JetStream stream answers for subject %q (stream %q is configured; does it capture the subject?)", subject, p.s.cfg.Stream)
	}
	return fmt.Errorf("nats sink: no JetStream stream captures subject %q", subject)
}

// rejected decodes a negative acknowledgement.
func (p *jsPublisher) rejected(token uint64, data []byte) error {
	var resp struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || resp.Error == nil {
		return nil // "error" appeared elsewhere, e.g. in a stream name
	}
	p.mu.Lock()
	subject := ""
	if e := p.pending.get(token); e != nil {
		subject = e.subject
	}
	p.mu.Unlock()
	stream := ""
	if p.s.cfg.Stream != "" {
		stream = fmt.Sprintf(" (stream %q)", p.s.cfg.Stream)
	}
	return fmt.Errorf("nats sink: JetStream rejected a message for subject %q%s: %s (code %d, error code %d)",
		subject, stream, resp.Error.Description, resp.Error.Code, resp.Error.ErrCode)
}

// failSubject fails every sent message to subject: the server refused
// them (a permission violation) and will not acknowledge them.
func (p *jsPublisher) failSubject(subject string, cause error) {
	err := fmt.Errorf("nats sink: permission denied publishing to subject %q: %w", subject, cause)
	p.mu.Lock()
	var tokens []uint64
	p.pending.each(func(e *inflight) {
		if e.sent && e.subject == subject {
			tokens = append(tokens, e.token)
		}
	})
	p.mu.Unlock()
	for _, t := range tokens {
		p.settle(t, err)
	}
}

// holdForReplay makes new messages wait until every pending one has been
// published again: called when the connection drops, since what was sent
// just before may be lost.
func (p *jsPublisher) holdForReplay() {
	p.mu.Lock()
	p.replay = true
	p.mu.Unlock()
}

// kick asks the resend loop to publish every pending message again.
func (p *jsPublisher) kick() {
	select {
	case p.kickc <- struct{}{}:
	default:
	}
}

func (p *jsPublisher) resendLoop() {
	t := time.NewTicker(resendTick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.resend(false)
		case <-p.kickc:
			p.resend(true)
		}
	}
}

// resend publishes again what was not sent, what timed out, or, with all,
// everything pending.
func (p *jsPublisher) resend(all bool) {
	type failure struct {
		token uint64
		err   error
	}
	var failed []failure
	p.mu.Lock()
	if !all {
		p.epoch++
	}
	if p.s.nc.IsConnected() {
		all = all || p.replay
		p.replay = false // set again by a send that fails
		// In publish order, so that records of one key are stored in their order
		// even when a whole window is republished after a reconnect. send does not
		// change the ring; failures are settled after the walk.
		p.pending.each(func(e *inflight) {
			if all || !e.sent || p.epoch-e.epoch >= p.ticks {
				if err := p.send(e); err != nil {
					failed = append(failed, failure{e.token, err})
				}
			}
		})
	}
	p.mu.Unlock()
	for _, f := range failed {
		p.settle(f.token, f.err)
	}
}

// inflightPeak returns the most messages ever awaiting acknowledgement.
func (p *jsPublisher) inflightPeak() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peak
}

// inflightNow returns how many messages await acknowledgement.
func (p *jsPublisher) inflightNow() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending.n
}

// close stops the resend loop and unblocks writers.
func (p *jsPublisher) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	_ = p.sub.Unsubscribe()
}
