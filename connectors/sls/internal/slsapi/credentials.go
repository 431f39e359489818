package slsapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
)

// Credentials hands out the access key that requests are signed with, from
// the configured provider, and renews temporary credentials before they
// expire. It implements the SDK's sls.CredentialsProvider, so the SDK
// client and the requests this package signs use the same key. It is safe
// for concurrent use.
//
// # Notes
//
//   - Credentials are renewed when the provider would renew them: in the
//     last three minutes before they expire (half their lifetime, for
//     shorter ones). One caller renews while the others go on with the
//     current credentials, which are still valid; nobody waits unless the
//     credentials have expired.
//   - A renewal that fails while the current credentials are still valid
//     is logged and tried again shortly; the current ones stay in use.
//   - A request that the service refuses for an expired or invalid security
//     token is signed again with renewed credentials and sent again by
//     [Credentials.Retry]; it counts as no failure.
type Credentials struct {
	name string // the configured provider
	src  fetcher
	m    *credentialMetrics
	log  *slog.Logger

	mu  sync.Mutex // serialises fetches: the providers are not safe for concurrent use
	cur atomic.Pointer[heldCredentials]
	// reached is set once credentials were obtained.
	reached atomic.Bool
}

// Answer is what a provider answered: the credentials, the provider that
// answered and when they expire.
type Answer struct {
	sdk.Credentials
	// Provider names the provider that answered: "static", "env",
	// "profile", "ecs_ram_role", "oidc", "assume_role", prefixed by
	// "chain/" when the chain found it.
	Provider string
	// Expiry is when the credentials expire; zero for long-lived ones.
	Expiry time.Time
}

// heldCredentials are the credentials in use.
type heldCredentials struct {
	Answer
	obtained time.Time // when these credentials were first seen
	renewAt  time.Time // zero: never
}

// fetcher obtains credentials from a provider.
type fetcher interface {
	fetch() (Answer, error)
}

// renewAhead is how long before expiry credentials are renewed: inside the
// three minutes in which credentials-go's providers fetch new ones.
const renewAhead = 179 * time.Second

// maxRefusals bounds how often one request is signed again after the
// service refused its security token.
const maxRefusals = 2

// Current returns the credentials in use, obtaining them first if needed.
func (c *Credentials) Current() (Answer, error) {
	if _, err := c.GetCredentials(); err != nil {
		return Answer{}, err
	}
	return c.cur.Load().Answer, nil
}

// Provider returns the configured provider's name.
func (c *Credentials) Provider() string { return c.name }

// GetCredentials implements sls.CredentialsProvider.
func (c *Credentials) GetCredentials() (sdk.Credentials, error) {
	h := c.cur.Load()
	now := time.Now()
	if h != nil {
		if h.renewAt.IsZero() || now.Before(h.renewAt) {
			return h.Credentials, nil
		}
		if now.Before(h.Expiry) {
			// Due but still valid: one caller renews, the rest go on.
			if c.mu.TryLock() {
				n, err := c.renewLocked(h, false)
				c.mu.Unlock()
				if n == nil {
					return sdk.Credentials{}, err
				}
				return n.Credentials, nil
			}
			return h.Credentials, nil
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.cur.Load(); n != h && n != nil && time.Now().Before(n.Expiry) {
		return n.Credentials, nil
	}
	n, err := c.renewLocked(h, false)
	if err != nil {
		return sdk.Credentials{}, err
	}
	return n.Credentials, nil
}

// renewLocked asks the provider for credentials and makes them current.
// When it fails and old is still valid, old stays current (to be renewed
// again shortly) and is returned with the error; otherwise the error is a
// *CredentialsError. c.mu must be held.
func (c *Credentials) renewLocked(old *heldCredentials, refused bool) (*heldCredentials, error) {
	a, err := c.src.fetch()
	now := time.Now()
	if err != nil {
		ce := &CredentialsError{Provider: c.name, Err: err, Transient: c.reached.Load()}
		if old != nil && !refused && now.Before(old.Expiry) {
			retry := *old
			retry.renewAt = now.Add(min(5*time.Second, max(old.Expiry.Sub(now)/4, 100*time.Millisecond)))
			c.cur.Store(&retry)
			c.log.Warn("cannot renew SLS credentials; the current ones stay in use", "provider", c.name, "expires", old.Expiry, "err", err)
			return &retry, ce
		}
		return nil, ce
	}
	n := &heldCredentials{Answer: a, obtained: now}
	same := old != nil && old.Credentials == a.Credentials
	if same {
		n.obtained = old.obtained
	}
	if !a.Expiry.IsZero() {
		lifetime := a.Expiry.Sub(n.obtained)
		n.renewAt = a.Expiry.Add(-min(renewAhead, lifetime/2))
		if !n.renewAt.After(now) {
			// The provider gave the same credentials back: ask again later.
			n.renewAt = now.Add(max(a.Expiry.Sub(now)/4, 100*time.Millisecond))
		}
	}
	c.cur.Store(n)
	c.reached.Store(true)
	if !same {
		c.m.obtained(a, old != nil)
		if old != nil {
			c.log.Info("SLS credentials renewed", "provider", a.Provider, "expires", a.Expiry)
		}
	}
	return n, nil
}

// Retry runs send, which makes one request signed with these credentials.
// When the service refuses the request's security token (expired or
// invalid), Retry renews the credentials and runs send again, up to twice;
// a refusal that renewing cannot fix (the provider has no other
// credentials, as a static token) is returned as a *CredentialsError that
// says what to fix.
func (c *Credentials) Retry(send func() error) error {
	for attempt := 0; ; attempt++ {
		if _, err := c.GetCredentials(); err != nil {
			return err
		}
		h := c.cur.Load()
		err := send()
		ae, refused := tokenRefusal(err)
		if !refused {
			return err
		}
		c.m.refused(h.Provider)
		if attempt >= maxRefusals || !c.renewRefused(h) {
			return &CredentialsError{Provider: c.name, Answered: h.Provider, Refused: ae, Err: err}
		}
	}
}

// renewRefused renews credentials the service refused. It reports false
// when the provider answers with the very same credentials.
func (c *Credentials) renewRefused(refused *heldCredentials) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.cur.Load(); cur != refused && cur.Credentials != refused.Credentials {
		return true // renewed meanwhile
	}
	n, err := c.renewLocked(refused, true)
	return err == nil && n.Credentials != refused.Credentials
}

// tokenRefusal reports whether err is the service refusing the request's
// security token: 401 Unauthorized "The security token you provided has
// expired." or "... is invalid.", and the SecurityToken* codes some
// services use.
func tokenRefusal(err error) (*APIError, bool) {
	if err == nil {
		return nil, false
	}
	ae, ok := AsAPIError(err)
	if !ok || ae.Status != http.StatusUnauthorized {
		return nil, false
	}
	switch {
	case strings.HasPrefix(ae.Code, "SecurityToken"), strings.HasPrefix(ae.Code, "InvalidSecurityToken"):
		return ae, true
	case ae.Code == "Unauthorized" && strings.Contains(strings.ToLower(ae.Message), "security token"):
		return ae, true
	}
	return nil, false
}

// CredentialsError is a provider that could not give credentials, or
// credentials the service refused that no renewal fixed. Its text names the
// provider and what to change.
type CredentialsError struct {
	// Provider is the configured provider, Answered the one that gave the
	// refused credentials.
	Provider, Answered string
	// Refused is the service's refusal; nil when the provider failed.
	Refused *APIError
	// Transient is set when credentials were obtained before: the provider
	// may recover (an STS or metadata outage).
	Transient bool
	Err       error
}

func (e *CredentialsError) Error() string {
	if e.Refused == nil {
		return fmt.Sprintf("credentials provider %s: %v", e.Provider, e.Err)
	}
	who := e.Answered
	if who == "" {
		who = e.Provider
	}
	msg := fmt.Sprintf("credentials provider %s: the service refused the security token (%d %s: %s) and the provider has no other credentials",
		who, e.Refused.Status, e.Refused.Code, e.Refused.Message)
	if strings.HasSuffix(who, "static") || strings.HasSuffix(who, "env") || strings.HasSuffix(who, "profile") {
		msg += "; a static security token cannot be renewed: give a fresh access_key_id, access_key_secret and security_token, or use a provider that renews them (credentials.provider ecs_ram_role, oidc or assume_role)"
	}
	return msg
}

func (e *CredentialsError) Unwrap() error { return e.Err }

// IsCredentialsError reports whether err is a *CredentialsError, and
// whether it may pass (the provider answered before).
func IsCredentialsError(err error) (transient, ok bool) {
	var ce *CredentialsError
	if !errors.As(err, &ce) {
		return false, false
	}
	return ce.Transient && ce.Refused == nil, true
}
