package sls

import (
	"context"
	"fmt"
	"time"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// startupNetworkRetries bounds the retries of network errors before the
// endpoint has answered once.
const startupNetworkRetries = 3

// call runs fn until it succeeds, applying the retry policy: throttling is
// retried without limit, server and network errors up to retry.max_retries
// times with capped exponential backoff, and fatal errors not at all. An
// expired cursor is returned as is for the caller's policy. what describes
// the call ("pull shard 3") for the error.
func (s *Source) call(ctx context.Context, logstore, what string, fn func() error) error {
	retries, throttled := 0, 0
	backoff := slsapi.Backoff{Base: s.cfg.Retry.BaseBackoff.D(), Max: s.cfg.Retry.MaxBackoff.D()}
	for {
		// A request refused for an expired or invalid security token is
		// signed again with renewed credentials inside Retry: no retry here.
		err := s.c.Creds.Retry(fn)
		if err == nil {
			s.reached.Store(true)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var wait time.Duration
		class := slsapi.Classify(err)
		if transient, ok := slsapi.IsCredentialsError(err); ok {
			// No credentials: fatal unless the provider answered before
			// and may recover, which is retried like a server error.
			class = slsapi.Fatal
			if transient {
				class = slsapi.Retry
			}
		}
		switch class {
		case slsapi.Fatal:
			return &fatalError{msg: fmt.Sprintf("%s: %s", s.where(logstore), what), err: err}
		case slsapi.InvalidCursor:
			return err
		case slsapi.Throttled:
			s.m.retries.WithLabelValues(logstore, "throttled").Inc()
			wait = backoff.Delay(throttled)
			throttled++
		default:
			network := slsapi.IsNetwork(err)
			limit := s.cfg.Retry.MaxRetries
			if network && !s.reached.Load() {
				// The endpoint has never answered: most likely a wrong
				// endpoint, so say so in seconds rather than minutes.
				limit = min(limit, startupNetworkRetries)
			}
			if retries >= limit {
				reason := "still failing"
				if network {
					reason = "endpoint unreachable"
				}
				return &fatalError{msg: fmt.Sprintf("%s: %s: %s after %d retries", s.where(logstore), what, reason, retries), err: err}
			}
			reason := "server"
			if network {
				reason = "network"
			}
			if _, ok := slsapi.IsCredentialsError(err); ok {
				reason = "credentials"
			}
			s.m.retries.WithLabelValues(logstore, reason).Inc()
			wait = backoff.Delay(retries)
			retries++
			s.log.Debug("retrying sls call", "logstore", logstore, "call", what, "attempt", retries, "wait", wait, "err", err)
		}
		if err := slsapi.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// fatalError ends the source: it names the logstore, project and endpoint
// and carries what the service said.
type fatalError struct {
	msg string
	err error
}

func (e *fatalError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + slsapi.Describe(e.err)
}

func (e *fatalError) Unwrap() error { return e.err }
