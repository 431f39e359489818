package sls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
)

// errorClass says how the source reacts to a failed call.
type errorClass int

const (
	// classRetry: 5xx, network errors and anything unrecognised; retried
	// with capped exponential backoff, up to retry.max_retries.
	classRetry errorClass = iota
	// classThrottled: 403 quota errors; backed off and retried without
	// limit, since the quota recovers on its own.
	classThrottled
	// classInvalidCursor: the cursor lies outside the shard's data (it
	// expired past the TTL); handled by on_cursor_expired.
	classInvalidCursor
	// classFatal: wrong credentials, unknown project or logstore and other
	// client errors that retrying cannot fix.
	classFatal
)

// apiError is an error answer of the service.
type apiError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *apiError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// asAPIError extracts the service's answer from err, whether it came from
// the SDK or from the source's own requests.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae, true
	}
	var se *sdk.Error
	if errors.As(err, &se) && se.HTTPCode >= 400 {
		return &apiError{Status: int(se.HTTPCode), Code: se.Code, Message: se.Message, RequestID: se.RequestID}, true
	}
	var be *sdk.BadResponseError
	if errors.As(err, &be) && be.HTTPCode > 0 {
		return &apiError{Status: be.HTTPCode, Code: "BadResponse", Message: be.RespBody}, true
	}
	return nil, false
}

// classify decides how to react to err.
func classify(err error) errorClass {
	if ae, ok := asAPIError(err); ok {
		switch {
		case ae.Status >= 500:
			return classRetry
		case ae.Status == 403 && isQuotaCode(ae.Code):
			return classThrottled
		case ae.Code == "InvalidCursor":
			return classInvalidCursor
		case ae.Status == 429:
			return classThrottled
		case ae.Status >= 400:
			return classFatal
		}
		return classRetry
	}
	// The SDK folds some answers into plain strings ("Code:Message").
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Unauthorized") || strings.Contains(msg, "SignatureNotMatch") ||
		strings.Contains(msg, "LogStoreNotExist") || strings.Contains(msg, "ProjectNotExist"):
		return classFatal
	case strings.Contains(msg, "InvalidCursor"):
		return classInvalidCursor
	case strings.Contains(msg, "QuotaExceed") || strings.Contains(msg, "ExceedQuota"):
		return classThrottled
	}
	return classRetry
}

func isQuotaCode(code string) bool {
	return strings.Contains(code, "Quota") || code == "ExceedQuota"
}

// isNetwork reports whether err is a transport failure (no answer).
func isNetwork(err error) bool {
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return true
	}
	// The SDK reports transport failures as a ClientError with HTTP code -1.
	var se *sdk.Error
	return errors.As(err, &se) && se.HTTPCode <= 0 &&
		(strings.Contains(se.Message, "dial tcp") || strings.Contains(se.Message, "connection") || strings.Contains(se.Message, "EOF"))
}

// describe returns err's text without the SDK's JSON framing.
func describe(err error) string {
	if ae, ok := asAPIError(err); ok {
		return "the service answered " + ae.Error()
	}
	var se *sdk.Error
	if errors.As(err, &se) && se.HTTPCode <= 0 {
		return strings.TrimPrefix(se.Message, "stopped retrying err: ")
	}
	return err.Error()
}

// isCtx reports whether err comes from a cancelled or expired context.
func isCtx(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
