package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/internal/preflight"
	"github.com/slspipe/slspipe/internal/redact"
)

// checkTimeout bounds each preflight call. A request the server's
// permissions drop gets no answer at all, so it ends only here.
const checkTimeout = 5 * time.Second

// CheckHeader marks the message a write test publishes.
const CheckHeader = "Slspipe-Check"

// CheckSink probes what the NATS sink needs and returns one result per
// check: connecting with the configured authentication; in JetStream mode,
// that the configured stream exists and captures the subject (or, with
// create_stream, that run will create it), or without a stream that some
// stream captures the subject; and, only with po.WriteTest, publishing one
// message to the subject (JetStream: acknowledged by the stream; core:
// flushed without a permission error). The message carries the header
// Slspipe-Check and a JSON payload {"slspipe_check":"write test","host":…}.
//
// # Notes
//
//   - Nothing is created: a missing stream with create_stream set is
//     reported as skipped, since run creates it.
//   - A subject with {{field}} placeholders has no single subject to look
//     up or publish to; those checks are skipped.
func CheckSink(ctx context.Context, cfg config.NATSSink, po preflight.Options, opts ...Option) []preflight.Result {
	o := newOptions(opts)
	server := redact.URLs(cfg.URL)
	nc, res, ok := checkConnect(ctx, cfg.NATSConn, o.name)
	out := []preflight.Result{res}
	if !ok {
		return out
	}
	defer nc.Close()
	st, err := compileSubject(cfg.Subject)
	if err != nil {
		return append(out, preflight.Result{Status: preflight.Failed, Check: "subject", Resource: cfg.Subject, Detail: err.Error()})
	}
	subject := st.static // "" for a template

	if cfg.Mode == "core" {
		return append(out, checkPublish(ctx, nc, nil, subject, server, po))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return append(out, preflight.Result{Status: preflight.Failed, Check: "JetStream", Resource: server, Detail: err.Error()})
	}
	streamOK := true
	if cfg.Stream != "" {
		r := checkStream(ctx, nc, js, cfg.Stream, server)
		if r.Status == preflight.Missing && errors.Is(r.err, jetstream.ErrStreamNotFound) && cfg.CreateStream {
			r.Status, r.Fix = preflight.Skipped, ""
			r.Detail = fmt.Sprintf("does not exist; run creates it capturing %q (create_stream: true)", orWildcard(st))
		}
		if r.Status == preflight.OK && subject != "" {
			info := r.info
			if !capturedBy(info.Config.Subjects, subject) {
				r.Status = preflight.Missing
				r.Detail = fmt.Sprintf("captures %s, not subject %q", strings.Join(info.Config.Subjects, ", "), subject)
				r.Fix = fmt.Sprintf("add %q to the stream's subjects, or change subject", subject)
			}
		}
		streamOK = r.Status == preflight.OK
		out = append(out, r.Result)
	} else {
		r := preflight.Result{Check: "JetStream stream of subject", Resource: subject}
		if subject == "" {
			r.Status, r.Resource = preflight.Skipped, cfg.Subject
			r.Detail = "the subject has {{field}} placeholders; each subject's stream is looked up when published"
		} else {
			cctx, cancel := context.WithTimeout(ctx, checkTimeout)
			name, err := js.StreamNameBySubject(cctx, subject)
			cancel()
			switch {
			case err == nil:
				r.Status, r.Detail = preflight.OK, fmt.Sprintf("captured by stream %q", name)
			case errors.Is(err, jetstream.ErrStreamNotFound):
				r.Status, r.Detail = preflight.Missing, "no JetStream stream captures the subject"
				r.Fix = "create a stream capturing it, or set stream and create_stream: true"
			default:
				r = jsFailure(r, nc, err, "$JS.API.STREAM.NAMES")
			}
		}
		streamOK = r.Status == preflight.OK
		out = append(out, r)
	}
	if !streamOK && po.WriteTest {
		return append(out, preflight.Result{Status: preflight.Skipped, Check: "publish", Resource: subject,
			Detail: "not probed: no stream to publish to"})
	}
	return append(out, checkPublish(ctx, nc, js, subject, server, po))
}

// CheckSource probes what the NATS source needs: connecting, that its
// stream exists, and whether its durable consumer exists (run creates it
// when it does not). Nothing is created or acknowledged.
func CheckSource(ctx context.Context, cfg config.NATSSource, opts ...Option) []preflight.Result {
	o := newOptions(opts)
	server := redact.URLs(cfg.URL)
	nc, res, ok := checkConnect(ctx, cfg.NATSConn, o.name)
	out := []preflight.Result{res}
	if !ok {
		return out
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return append(out, preflight.Result{Status: preflight.Failed, Check: "JetStream", Resource: server, Detail: err.Error()})
	}
	r := checkStream(ctx, nc, js, cfg.Stream, server)
	out = append(out, r.Result)
	if r.Status != preflight.OK {
		return out
	}
	c := preflight.Result{Check: "durable consumer", Resource: cfg.Stream + "/" + cfg.Durable}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	cons, err := js.Consumer(cctx, cfg.Stream, cfg.Durable)
	cancel()
	switch {
	case err == nil:
		info := cons.CachedInfo()
		c.Status = preflight.OK
		c.Detail = fmt.Sprintf("exists, %d messages pending, %d awaiting acknowledgement", info.NumPending, info.NumAckPending)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		c.Status, c.Detail = preflight.Skipped, "does not exist; run creates it"
	default:
		c = jsFailure(c, nc, err, "$JS.API.CONSUMER.INFO."+cfg.Stream+"."+cfg.Durable)
	}
	return append(out, c)
}

// checkConnect connects once, without reconnecting.
func checkConnect(ctx context.Context, c config.NATSConn, name string) (*natsgo.Conn, preflight.Result, bool) {
	r := preflight.Result{Check: "connect", Resource: redact.URLs(c.URL)}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	nc, err := connect(ctx, c, name, natsgo.MaxReconnects(0), natsgo.NoCallbacksAfterClientClose())
	switch {
	case err == nil:
		r.Status = preflight.OK
		r.Detail = "connected to " + nc.ConnectedUrlRedacted()
		return nc, r, true
	case errors.Is(err, natsgo.ErrAuthorization) || errors.Is(err, natsgo.ErrAuthExpired) || errors.Is(err, natsgo.ErrAuthRevoked):
		r.Status, r.Detail = preflight.Failed, "the server refused the credentials: "+err.Error()
		r.Fix = "check token, user and password, credentials_file or nkey_seed_file"
	default:
		r.Status, r.Detail = preflight.Failed, err.Error()
	}
	return nil, r, false
}

// streamResult is a stream check's result and, when found, its info.
type streamResult struct {
	preflight.Result
	info *jetstream.StreamInfo
	err  error
}

func checkStream(ctx context.Context, nc *natsgo.Conn, js jetstream.JetStream, name, server string) streamResult {
	r := streamResult{Result: preflight.Result{Check: "JetStream stream", Resource: name}}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	s, err := js.Stream(ctx, name)
	r.err = err
	switch {
	case err == nil:
		r.info = s.CachedInfo()
		r.Status = preflight.OK
		r.Detail = fmt.Sprintf("exists, captures %s, %d messages", strings.Join(r.info.Config.Subjects, ", "), r.info.State.Msgs)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		r.Status, r.Detail = preflight.Missing, "does not exist on "+server
		r.Fix = "create the stream, or set create_stream: true on the sink"
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		r.Status, r.Detail = preflight.Missing, "JetStream is not enabled for this account on "+server
		r.Fix = "enable JetStream on the server and the account, or use mode core"
	default:
		r.Result = jsFailure(r.Result, nc, err, "$JS.API.STREAM.INFO."+name)
	}
	return r
}

// jsFailure describes a failed JetStream API call. A request that the
// user's permissions drop is never answered, so a timeout together with a
// permissions violation on the connection means the permission is missing.
func jsFailure(r preflight.Result, nc *natsgo.Conn, err error, apiSubject string) preflight.Result {
	if last := nc.LastError(); errors.Is(last, natsgo.ErrPermissionViolation) {
		r.Status, r.Detail = preflight.Missing, last.Error()
		r.Fix = fmt.Sprintf("allow this user to publish to %s (or $JS.API.>) and to subscribe to _INBOX.>", apiSubject)
		return r
	}
	r.Status, r.Detail = preflight.Failed, err.Error()
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, natsgo.ErrTimeout) {
		r.Detail = "no answer from the JetStream API within " + checkTimeout.String()
		r.Fix = "check that JetStream is enabled and that this user may publish to " + apiSubject
	}
	return r
}

// checkPublish publishes one test message when allowed; js is nil in core
// mode.
func checkPublish(ctx context.Context, nc *natsgo.Conn, js jetstream.JetStream, subject, server string, po preflight.Options) preflight.Result {
	r := preflight.Result{Check: "publish", Resource: subject}
	switch {
	case subject == "":
		r.Status, r.Detail = preflight.Skipped, "not probed: the subject has {{field}} placeholders"
		return r
	case !po.WriteTest:
		r.Status, r.Detail = preflight.Skipped, "not probed: --write-test publishes one message (header "+CheckHeader+") to "+subject
		return r
	}
	host := po.Host
	if host == "" {
		host = "unknown"
	}
	payload, _ := json.Marshal(map[string]string{"slspipe_check": "write test", "host": host})
	msg := natsgo.NewMsg(subject)
	msg.Data = payload
	msg.Header.Set(CheckHeader, "write test")
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	if js == nil {
		err := nc.PublishMsg(msg)
		if err == nil {
			err = nc.FlushWithContext(ctx)
		}
		// A denied publish is dropped; the server says so before the
		// flush's answer.
		if last := nc.LastError(); errors.Is(last, natsgo.ErrPermissionViolation) {
			r.Status, r.Detail = preflight.Missing, last.Error()
			r.Fix = fmt.Sprintf("allow this user to publish to %q", subject)
			return r
		}
		if err != nil {
			r.Status, r.Detail = preflight.Failed, err.Error()
			return r
		}
		r.Status, r.Detail = preflight.OK, "published 1 message to "+server
		return r
	}
	msgID := "slspipe-check-" + host + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	switch {
	case err == nil:
		r.Status, r.Detail = preflight.OK, fmt.Sprintf("published 1 message, stored by stream %q as sequence %d", ack.Stream, ack.Sequence)
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		r.Status, r.Detail = preflight.Missing, "no stream acknowledged: none captures the subject"
	default:
		r = jsFailure(r, nc, err, subject)
		if r.Status == preflight.Missing {
			r.Fix = fmt.Sprintf("allow this user to publish to %q and to subscribe to _INBOX.>", subject)
		}
	}
	return r
}

// capturedBy reports whether one of a stream's subject filters matches
// subject.
func capturedBy(filters []string, subject string) bool {
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// subjectMatches reports whether the literal subject matches filter, where
// '*' matches one token and a final '>' one or more.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		switch {
		case f == ">":
			return i == len(ft)-1 && len(st) > i
		case i >= len(st):
			return false
		case f != "*" && f != st[i]:
			return false
		}
	}
	return len(ft) == len(st)
}

func orWildcard(st *subjectTemplate) string {
	if st.static != "" {
		return st.static
	}
	return st.wildcard()
}
