package sls

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// call runs fn until it succeeds, applying the retry policy: throttling is
// retried without limit, server and network errors up to retry.max_retries
// times with capped exponential backoff, and fatal errors not at all. An
// expired cursor is returned as is for the caller's policy. what describes
// the call ("pull shard 3") for the error.
// startupNetworkRetries bounds the retries of network errors before the
// endpoint has answered once.
const startupNetworkRetries = 3

func (s *Source) call(ctx context.Context, logstore, what string, fn func() error) error {
	retries, throttled := 0, 0
	for {
		err := fn()
		if err == nil {
			s.reached.Store(true)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		switch classify(err) {
		case classFatal:
			return &fatalError{msg: fmt.Sprintf("%s: %s", s.where(logstore), what), err: err}
		case classInvalidCursor:
			return err
		case classThrottled:
			s.m.retries.WithLabelValues(logstore, "throttled").Inc()
			wait = s.backoff(throttled)
			throttled++
		default:
			limit := s.cfg.Retry.MaxRetries
			if isNetwork(err) && !s.reached.Load() {
				// The endpoint has never answered: most likely a wrong
				// endpoint, so say so in seconds rather than minutes.
				limit = min(limit, startupNetworkRetries)
			}
			if retries >= limit {
				reason := "still failing"
				if isNetwork(err) {
					reason = "endpoint unreachable"
				}
				return &fatalError{msg: fmt.Sprintf("%s: %s: %s after %d retries", s.where(logstore), what, reason, retries), err: err}
			}
			reason := "server"
			if isNetwork(err) {
				reason = "network"
			}
			s.m.retries.WithLabelValues(logstore, reason).Inc()
			wait = s.backoff(retries)
			retries++
			s.log.Debug("retrying sls call", "logstore", logstore, "call", what, "attempt", retries, "wait", wait, "err", err)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// backoff returns the wait before retry n (from 0): base·2ⁿ capped at the
// maximum, with the upper half jittered.
func (s *Source) backoff(n int) time.Duration {
	base, ceil := s.cfg.Retry.BaseBackoff.D(), s.cfg.Retry.MaxBackoff.D()
	d := base
	for i := 0; i < n && d < ceil; i++ {
		d *= 2
	}
	d = min(d, ceil)
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fatalError ends the source: it names the logstore, project and endpoint
// and carries what the service said.
type fatalError struct {
	msg string
	err error
}

func (e *fatalError) Error() string { return e.msg + ": " + describe(e.err) }

func (e *fatalError) Unwrap() error { return e.err }
