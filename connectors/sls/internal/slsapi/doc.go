// Package slsapi is the SLS request path that the source and the sink
// share: the endpoint (parsing, the HTTP client that reaches it, TLS and
// proxies), the credentials requests are signed with, the v1 and v4
// signers, the service's error answers as typed errors, how a failed call
// is classified (retry, throttled, expired cursor, refused credentials,
// fatal) and the jittered exponential backoff between retries.
//
// It knows nothing of pipelines: the source and the sink keep their own
// retry loops (their policies differ), built from these pieces.
package slsapi
