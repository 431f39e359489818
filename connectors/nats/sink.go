package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"
	"unsafe"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/engine"
	"github.com/slspipe/slspipe/internal/redact"
)

// DefaultAckTimeout is how long a JetStream publish waits for its
// acknowledgement before it is published again, and how long a core-mode
// flush may take.
const DefaultAckTimeout = 5 * time.Second

// Option adjusts a [Sink] or a [Source].
type Option func(*options)

type options struct {
	log        *slog.Logger
	ackTimeout time.Duration
	name       string
}

// WithLogger sets the logger; slog.Default() otherwise.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithAckTimeout sets the publish acknowledgement timeout of a sink
// (default [DefaultAckTimeout]).
func WithAckTimeout(d time.Duration) Option { return func(o *options) { o.ackTimeout = d } }

// WithClientName sets the connection name the server shows; "slspipe"
// otherwise.
func WithClientName(name string) Option { return func(o *options) { o.name = name } }

func newOptions(opts []Option) options {
	o := options{log: slog.Default(), ackTimeout: DefaultAckTimeout, name: "slspipe"}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Sink publishes records to NATS. It implements [engine.Sink] and
// [engine.ReadinessChecker] and is safe for concurrent use.
//
// # Notes
//
//   - Subject: the record's Subject when a serializer set it, else the
//     configured subject template (see the subject rules in the package
//     documentation). Payload: the record's Payload, else a JSON object of
//     its fields. Headers: the configured ones plus Nats-Msg-Id, the
//     record's identity ([engine.Record.AppendID]), in both modes.
//   - JetStream mode publishes asynchronously, at most max_inflight
//     messages awaiting their acknowledgement; Write blocks while the window
//     is full. Each record is confirmed once the stream acknowledged it
//     (a duplicate acknowledgement counts: the stream already holds it).
//     A publish that is not acknowledged in time, or that was in flight
//     when the connection dropped, is published again with the same
//     Nats-Msg-Id, for as long as it takes: the stream drops the
//     duplicates. Errors the server states (no stream captures the
//     subject, permission denied, message too large, a stream limit) fail
//     the record's confirmation with the subject and the server's words.
//   - Records that Write could not publish because ctx ended or the sink was
//     closed are confirmed as failed; Write itself returns nil.
//   - Core mode publishes a write's records, then flushes: the records are
//     confirmed once the server has received them (at-least-once; nothing
//     tells whether a subscriber got them). A failed publish or flush
//     (disconnected) retries the whole write until ctx ends.
type Sink struct {
	cfg     config.NATSSink
	opts    options
	nc      *natsgo.Conn
	subject *subjectTemplate
	js      *jsPublisher   // jetstream mode
	core    *corePublisher // core mode
	// events is js for the connection's callbacks, which may run before
	// NewSink has set js.
	events atomic.Pointer[jsPublisher]
}

// permissionSubject extracts the subject of a publish permission violation.
var permissionSubject = regexp.MustCompile(`(?i)publish to "([^"]+)"`)

// NewSink connects to NATS and prepares publishing. In JetStream mode with
// a stream configured, the stream must exist (or create_stream must be
// set): a missing stream is an error here, not at the first write.
func NewSink(ctx context.Context, cfg config.NATSSink, opts ...Option) (*Sink, error) {
	s := &Sink{cfg: cfg, opts: newOptions(opts)}
	st, err := compileSubject(cfg.Subject)
	if err != nil {
		return nil, fmt.Errorf("nats sink: %w", err)
	}
	s.subject = st
	log := s.opts.log.With("sink", "nats", "url", redact.URLs(cfg.URL))
	nc, err := connect(ctx, cfg.NATSConn, s.opts.name,
		// Nothing is buffered while disconnected: unconfirmed messages are
		// published again after the reconnection.
		natsgo.ReconnectBufSize(-1),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil { // nil on Close
				log.Warn("nats sink disconnected; unacknowledged messages will be published again", "err", err)
				if p := s.events.Load(); p != nil {
					p.holdForReplay()
				}
			}
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) {
			log.Info("nats sink reconnected", "server", c.ConnectedUrlRedacted())
			if p := s.events.Load(); p != nil {
				p.kick()
			}
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, _ *natsgo.Subscription, err error) {
			if errors.Is(err, natsgo.ErrPermissionViolation) {
				if m := permissionSubject.FindStringSubmatch(err.Error()); m != nil {
					if p := s.events.Load(); p != nil {
						p.failSubject(m[1], err)
					}
					// Core mode finds it through LastError after its flush.
					return
				}
			}
			log.Warn("nats sink asynchronous error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("nats sink: %w", err)
	}
	s.nc = nc

	switch cfg.Mode {
	case "core":
		s.core = newCorePublisher(s)
	case "jetstream", "":
		if err := s.ensureStream(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		p, err := newJSPublisher(s)
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("nats sink: %w", err)
		}
		s.js = p
		s.events.Store(p)
	default:
		nc.Close()
		return nil, fmt.Errorf("nats sink: unknown mode %q (want jetstream or core)", cfg.Mode)
	}
	return s, nil
}

// ensureStream checks that the configured stream exists, creating it when
// create_stream is set. Without a configured stream, a static subject must
// be captured by some stream.
func (s *Sink) ensureStream(ctx context.Context) error {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return fmt.Errorf("nats sink: %w", err)
	}
	if s.cfg.Stream == "" {
		if s.subject.static == "" {
			return nil // checked per subject when publishing
		}
		_, err := js.StreamNameBySubject(ctx, s.subject.static)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("nats sink: no JetStream stream captures subject %q; create one, or set stream and create_stream: true", s.subject.static)
		}
		if err != nil {
			// The lookup may be forbidden to this user; publishing will tell.
			s.opts.log.Debug("nats sink: could not look up the stream of the subject", "subject", s.subject.static, "err", err)
		}
		return nil
	}
	_, err = js.Stream(ctx, s.cfg.Stream)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("nats sink: look up stream %q: %w", s.cfg.Stream, err)
	case !s.cfg.CreateStream:
		return fmt.Errorf("nats sink: stream %q does not exist; create it or set create_stream: true", s.cfg.Stream)
	}
	subj := s.subject.static
	if subj == "" {
		subj = s.subject.wildcard()
	}
	window := s.cfg.DuplicateWindow.D()
	if window <= 0 {
		window = 2 * time.Minute
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       s.cfg.Stream,
		Subjects:   []string{subj},
		Storage:    jetstream.FileStorage,
		Duplicates: window,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("nats sink: create stream %q capturing %q: %w", s.cfg.Stream, subj, err)
	}
	s.opts.log.Info("nats sink created stream", "stream", s.cfg.Stream, "subject", subj, "duplicate_window", window)
	return nil
}

// Write implements [engine.Sink].
func (s *Sink) Write(ctx context.Context, recs []engine.Record, c engine.Confirmer) error {
	if len(recs) == 0 {
		return nil
	}
	if s.js != nil {
		s.js.write(ctx, recs, c)
		return nil
	}
	s.core.write(ctx, recs, c)
	return nil
}

// Ready implements [engine.ReadinessChecker]: nil while connected.
func (s *Sink) Ready(context.Context) error {
	if st := s.nc.Status(); st != natsgo.CONNECTED {
		return fmt.Errorf("nats sink: %s", st)
	}
	return nil
}

// Close stops publishing and closes the connection. Records not yet
// confirmed stay unconfirmed; call it after the pipeline has returned.
func (s *Sink) Close() error {
	if s.js != nil {
		s.js.close()
	}
	s.nc.Close()
	return nil
}

// buildMsg fills m with what is published for r. The returned buffers are
// the grown scratch buffers; m aliases them (and r's payload) until the
// next call, so m may only be published before then.
//
// # Notes
//
// The Nats-Msg-Id value is a string view of the id scratch buffer, not a
// copy: publishing copies header values into the connection's buffer, and
// the next call overwrites both the buffer and the header. A serialized
// payload is published straight from the record, which the engine keeps
// alive until the record is confirmed.
func (s *Sink) buildMsg(m *natsgo.Msg, subject string, r *engine.Record, data, id []byte) ([]byte, []byte) {
	if len(r.Payload) > 0 {
		m.Data = r.Payload
	} else {
		data = appendPayload(data[:0], r)
		m.Data = data
	}
	id = r.AppendID(id[:0])
	m.Subject = subject
	m.Header[jetstream.MsgIDHeader][0] = unsafe.String(unsafe.SliceData(id), len(id))
	return data, id
}

// newMsg returns a reusable message holding the configured headers and a
// Nats-Msg-Id slot.
func (s *Sink) newMsg() *natsgo.Msg {
	h := make(natsgo.Header, len(s.cfg.Headers)+1)
	for k, v := range s.cfg.Headers {
		h[k] = []string{v}
	}
	h[jetstream.MsgIDHeader] = []string{""}
	return &natsgo.Msg{Header: h}
}

// publishError describes a failed publish of a message of size bytes.
func (s *Sink) publishError(subject string, size int, err error) error {
	if errors.Is(err, natsgo.ErrMaxPayload) {
		return fmt.Errorf("nats sink: message for subject %q is %d bytes, over the server's max_payload of %d bytes: %w",
			subject, size, s.nc.MaxPayload(), err)
	}
	return fmt.Errorf("nats sink: publish to subject %q: %w", subject, err)
}

// permanent reports whether a publish error will not go away by retrying.
func permanent(err error) bool {
	return errors.Is(err, natsgo.ErrMaxPayload) || errors.Is(err, natsgo.ErrBadSubject) ||
		errors.Is(err, natsgo.ErrInvalidMsg) || errors.Is(err, natsgo.ErrHeadersNotSupported)
}
