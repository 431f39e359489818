package slsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// APIError is an error answer of the service: its status, errorCode,
// errorMessage and x-log-requestid.
type APIError struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// ReadAPIError turns a non-200 answer into an *APIError, reading (a bounded
// part of) its body. The caller closes the body.
func ReadAPIError(resp *http.Response) *APIError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	ae := &APIError{Status: resp.StatusCode, RequestID: resp.Header.Get("x-log-requestid")}
	if err := json.Unmarshal(body, &e); err == nil && e.Code != "" {
		ae.Code, ae.Message = e.Code, e.Message
	} else {
		ae.Code = http.StatusText(resp.StatusCode)
		ae.Message = strings.TrimSpace(string(body))
	}
	return ae
}

// AsAPIError extracts the service's answer from err, whether it came from
// the SDK or from a request of this package.
func AsAPIError(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, true
	}
	var answered interface{ APIError() *APIError }
	if errors.As(err, &answered) {
		if ae := answered.APIError(); ae != nil {
			return ae, true
		}
	}
	var se *sdk.Error
	if errors.As(err, &se) && se.HTTPCode >= 400 {
		return &APIError{Status: int(se.HTTPCode), Code: se.Code, Message: se.Message, RequestID: se.RequestID}, true
	}
	var be *sdk.BadResponseError
	if errors.As(err, &be) && be.HTTPCode > 0 {
		return &APIError{Status: be.HTTPCode, Code: "BadResponse", Message: be.RespBody}, true
	}
	return nil, false
}

// Class says how a caller reacts to a failed call.
type Class int

const (
	// Retry: 5xx, network errors and anything unrecognised; retried with
	// capped exponential backoff, up to the caller's limit.
	Retry Class = iota
	// Throttled: 403 quota errors and 429; backed off and retried, since
	// the quota recovers on its own.
	Throttled
	// InvalidCursor: the cursor lies outside the shard's data (it expired
	// past the TTL); the source's on_cursor_expired decides.
	InvalidCursor
	// Fatal: wrong credentials, unknown project or logstore and other
	// client errors that retrying cannot fix.
	Fatal
)

// Classify decides how to react to err.
func Classify(err error) Class {
	if ae, ok := AsAPIError(err); ok {
		return ClassifyAnswer(ae.Status, ae.Code)
	}
	// The SDK folds some answers into plain strings ("Code:Message").
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Unauthorized") || strings.Contains(msg, "SignatureNotMatch") ||
		strings.Contains(msg, "LogStoreNotExist") || strings.Contains(msg, "ProjectNotExist"):
		return Fatal
	case strings.Contains(msg, "InvalidCursor"):
		return InvalidCursor
	case strings.Contains(msg, "QuotaExceed") || strings.Contains(msg, "ExceedQuota"):
		return Throttled
	}
	return Retry
}

// ClassifyAnswer classifies an answer by its status and errorCode.
func ClassifyAnswer(status int, code string) Class {
	switch {
	case status >= 500:
		return Retry
	case status == http.StatusForbidden && isQuotaCode(code):
		return Throttled
	case status == http.StatusTooManyRequests:
		return Throttled
	case code == "InvalidCursor":
		return InvalidCursor
	case status >= 400:
		return Fatal
	}
	return Retry
}

func isQuotaCode(code string) bool {
	return strings.Contains(code, "Quota") || code == "ExceedQuota"
}

// IsNetwork reports whether err is a transport failure (no answer).
func IsNetwork(err error) bool {
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

// Describe returns err's text without the SDK's JSON framing.
func Describe(err error) string {
	var ce *CredentialsError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	if ae, ok := AsAPIError(err); ok {
		return "the service answered " + ae.Error()
	}
	var se *sdk.Error
	if errors.As(err, &se) && se.HTTPCode <= 0 {
		return strings.TrimPrefix(se.Message, "stopped retrying err: ")
	}
	return err.Error()
}

// IsCanceled reports whether err comes from a cancelled or expired context.
func IsCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
