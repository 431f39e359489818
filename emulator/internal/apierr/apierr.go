// Package apierr is the error the SLS emulator answers with: an HTTP status,
// the service's errorCode and errorMessage. The server writes it as the JSON
// body {"errorCode":…,"errorMessage":…} with an x-log-requestid header, the
// way the service does, so SDK clients turn it into *sls.Error.
package apierr

import "fmt"

// Error is an SLS service error.
type Error struct {
	Status  int    // HTTP status code
	Code    string // errorCode, e.g. "InvalidCursor"
	Message string // errorMessage
}

// New returns an *Error with the message formatted from format and args.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}
