package faults

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Match selects the requests a Fault applies to. Zero fields match
// everything.
type Match struct {
	Kind     Kind   `json:"kind,omitempty"`
	Project  string `json:"project,omitempty"`
	Logstore string `json:"logstore,omitempty"`
	// Shard, when non-nil, matches only requests for that shard.
	Shard *int `json:"shard,omitempty"`
}

func (m Match) matches(op Op) bool {
	return (m.Kind == Any || m.Kind == op.Kind) &&
		(m.Project == "" || m.Project == op.Project) &&
		(m.Logstore == "" || m.Logstore == op.Logstore) &&
		(m.Shard == nil || *m.Shard == op.Shard)
}

// Fault is one rule of the fault plan: for the requests it matches, answer
// with an error, add a delay, or drop the connection.
type Fault struct {
	Match Match `json:"match"`
	// Count limits the fault to that many requests, after which it leaves
	// the plan; 0 means no limit.
	Count int `json:"count,omitempty"`
	// Probability, in (0,1), makes each matching request fire with that
	// chance; 0 or 1 means every matching request.
	Probability float64 `json:"probability,omitempty"`
	// Status and Code answer with an error; Code defaults from Status and
	// the request's kind, Message from Code.
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Delay is added before the answer.
	Delay Duration `json:"delay,omitempty"`
	// Drop closes the connection without answering.
	Drop bool `json:"drop,omitempty"`
}

// Throttle returns a fault that refuses the next n requests of kind (Any for
// all) on logstore ("" for all) with 403 and code; "" picks the shard quota
// code of the request's kind (ShardReadQuotaExceed, ShardWriteQuotaExceed).
func Throttle(kind Kind, logstore string, n int, code string) Fault {
	return Fault{Match: Match{Kind: kind, Logstore: logstore}, Count: n, Status: http.StatusForbidden, Code: code}
}

// ServerErrors returns a fault that answers each request with probability p
// with status (500 InternalServerError or 503 ServerBusy, as the service
// sends them).
func ServerErrors(p float64, status int) Fault {
	return Fault{Probability: p, Status: status}
}

// Latency returns a fault that delays every request by d.
func Latency(d time.Duration) Fault {
	return Fault{Delay: Duration(d)}
}

// DropConnections returns a fault that closes the connection of the next n
// requests without answering.
func DropConnections(n int) Fault {
	return Fault{Count: n, Drop: true}
}

// Validate reports whether f is a usable fault.
func (f Fault) Validate() error {
	switch {
	case f.Status == 0 && f.Delay == 0 && !f.Drop:
		return errors.New("fault has no effect: set status, delay or drop")
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("fault status %d is not an HTTP error status", f.Status)
	case f.Status != 0 && f.Drop:
		return errors.New("fault cannot both answer with an error and drop the connection")
	case f.Probability < 0 || f.Probability > 1:
		return fmt.Errorf("fault probability %v is not in [0,1]", f.Probability)
	case f.Count < 0:
		return fmt.Errorf("fault count %d is negative", f.Count)
	case f.Delay < 0:
		return fmt.Errorf("fault delay %v is negative", time.Duration(f.Delay))
	case f.Match.Kind < Any || f.Match.Kind > Meta:
		return fmt.Errorf("fault kind %d is unknown", f.Match.Kind)
	}
	return nil
}

// Add appends f to the plan and returns its id (for Remove).
func (in *Injector) Add(f Fault) (int, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.nextID++
	in.faults = append(in.faults, &entry{Fault: f, id: in.nextID})
	in.updateActiveLocked()
	return in.nextID, nil
}

// Remove takes the fault with id out of the plan and reports whether it was
// still there.
func (in *Injector) Remove(id int) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, e := range in.faults {
		if e.id == id {
			in.faults = append(in.faults[:i], in.faults[i+1:]...)
			in.updateActiveLocked()
			return true
		}
	}
	return false
}

// ClearFaults empties the plan; quotas and counters are kept.
func (in *Injector) ClearFaults() {
	in.mu.Lock()
	defer in.mu.Unlock()
	clear(in.faults)
	in.faults = nil
	in.updateActiveLocked()
}

// ActiveFault is a fault in the plan with its progress.
type ActiveFault struct {
	ID int `json:"id"`
	Fault
	// Hits counts the requests it has fired on.
	Hits int `json:"hits"`
}

// Faults returns the current plan in evaluation order.
func (in *Injector) Faults() []ActiveFault {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]ActiveFault, len(in.faults))
	for i, e := range in.faults {
		out[i] = ActiveFault{ID: e.id, Fault: e.Fault, Hits: e.hits}
	}
	return out
}

// entry is a fault in the plan.
type entry struct {
	Fault
	id   int
	hits int
}

// effect is what applying one fault did, for the counters.
type effect struct {
	code  string
	delay bool
	drop  bool
}

// apply adds the fault's effect to d.
func (e *entry) apply(d *Decision, op Op) effect {
	var eff effect
	if e.Delay > 0 {
		d.Delay += time.Duration(e.Delay)
		eff.delay = true
	}
	if e.Drop {
		d.Drop = true
		eff.drop = true
	}
	if e.Status != 0 {
		code := e.Code
		if code == "" {
			code = defaultCode(e.Status, op.Kind)
		}
		msg := e.Message
		if msg == "" {
			msg = defaultMessage(code)
		}
		d.Err = &apierr.Error{Status: e.Status, Code: code, Message: msg}
		eff.code = code
	}
	return eff
}

// Error codes the service answers with when throttling or failing.
const (
	CodeShardReadQuotaExceed  = "ShardReadQuotaExceed"
	CodeShardWriteQuotaExceed = "ShardWriteQuotaExceed"
	CodeReadQuotaExceed       = "ReadQuotaExceed"
	CodeWriteQuotaExceed      = "WriteQuotaExceed"
	CodeExceedQuota           = "ExceedQuota"
	CodeInternalServerError   = "InternalServerError"
	CodeServerBusy            = "ServerBusy"
)

// defaultCode picks the service's errorCode for status on a request of kind.
func defaultCode(status int, kind Kind) string {
	switch {
	case status == http.StatusForbidden && kind == Read:
		return CodeShardReadQuotaExceed
	case status == http.StatusForbidden && kind == Write:
		return CodeShardWriteQuotaExceed
	case status == http.StatusForbidden:
		return CodeExceedQuota
	case status == http.StatusServiceUnavailable:
		return CodeServerBusy
	case status >= 500:
		return CodeInternalServerError
	default:
		return "ParameterInvalid"
	}
}

// defaultMessage returns the service's errorMessage for code.
func defaultMessage(code string) string {
	switch code {
	case CodeShardReadQuotaExceed:
		return "shard read qps/bytes exceed quota limits"
	case CodeShardWriteQuotaExceed:
		return "shard write qps/bytes exceed quota limits"
	case CodeReadQuotaExceed:
		return "Project read quota exceed: qps"
	case CodeWriteQuotaExceed:
		return "Project write quota exceed: qps"
	case CodeExceedQuota:
		return "quota exceed"
	case CodeServerBusy:
		return "The server is busy, please try again later."
	case CodeInternalServerError:
		return "internal server error"
	default:
		return "injected fault"
	}
}

// Duration is a time.Duration written in JSON as a Go duration string
// ("250ms", "1.5s"); a bare number is read as milliseconds.
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string or a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("duration %s: want a string like \"250ms\" or milliseconds", b)
	}
	*d = Duration(ms * float64(time.Millisecond))
	return nil
}

// MarshalText writes the kind's name ("" for Any).
func (k Kind) MarshalText() ([]byte, error) {
	if k < Any || k > Meta {
		return nil, fmt.Errorf("unknown kind %d", int(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads "read", "write", "meta", or "" / "any" for Any.
func (k *Kind) UnmarshalText(b []byte) error {
	switch string(b) {
	case "", "any":
		*k = Any
	case "read":
		*k = Read
	case "write":
		*k = Write
	case "meta":
		*k = Meta
	default:
		return fmt.Errorf("unknown kind %q: want read, write, meta or any", b)
	}
	return nil
}
