package producer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
)

// Errors callers may branch on (with errors.Is).
var (
	// ErrLogTooLarge fails a record whose encoded log exceeds the SLS limit
	// on one log; it is never sent.
	ErrLogTooLarge = errors.New("log exceeds the SLS size limit")
	// ErrClosed fails writes after Close, and batches Close gave up on.
	ErrClosed = errors.New("sls producer closed")
)

// SendError is why a PostLogStoreLogs request failed: the service's answer
// (Status, Code, Message, RequestID) or, with Status 0, the transport error.
type SendError struct {
	Endpoint, Project, Logstore string
	// HashKey is the shard key of the request; "" when load-balanced.
	HashKey string
	// Status, Code, Message and RequestID are what the service answered.
	Status    int
	Code      string
	Message   string
	RequestID string
	// Err is the transport error when there was no answer.
	Err error
	// Attempts is how many times the batch was sent; 0 when unknown.
	Attempts int
}

// Error names the destination, the answer and the attempts.
func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "put logs to logstore %s of project %s at %s", e.Logstore, e.Project, e.Endpoint)
	if e.HashKey != "" {
		fmt.Fprintf(&b, " (hash key %s)", e.HashKey)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
		if e.Code != "" {
			fmt.Fprintf(&b, ": %s", e.Code)
		}
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		if e.RequestID != "" {
			fmt.Fprintf(&b, " (request id %s)", e.RequestID)
		}
	} else if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Attempts > 0 {
		fmt.Fprintf(&b, " after %d attempt(s)", e.Attempts)
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *SendError) Unwrap() error { return e.Err }

// APIError returns the service's answer, or nil when there was none.
func (e *SendError) APIError() *slsapi.APIError {
	if e.Status == 0 {
		return nil
	}
	return &slsapi.APIError{Status: e.Status, Code: e.Code, Message: e.Message, RequestID: e.RequestID}
}

// retryable reports whether sending the same batch again may succeed:
// throttling (403 quota, 429), server errors (5xx) and transport errors;
// not a cancelled send.
func retryable(err error) bool {
	if transient, ok := slsapi.IsCredentialsError(err); ok {
		return transient // the provider answered before: an STS or metadata outage
	}
	var se *SendError
	if !errors.As(err, &se) {
		return false
	}
	if se.Status == 0 {
		return se.Err != nil && !errors.Is(se.Err, context.Canceled)
	}
	switch slsapi.ClassifyAnswer(se.Status, se.Code) {
	case slsapi.Retry, slsapi.Throttled:
		return true
	}
	return false
}

// sticky reports whether err will fail every later request as well (bad
// credentials, missing project or logstore), so the producer stops
// sending instead of failing batch after batch.
func sticky(err error) bool {
	var se *SendError
	return errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusNotFound)
}
