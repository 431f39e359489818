package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/slspipe/slspipe/emulator/internal/apierr"
)

// Temporary credentials, as STS and the instance metadata service hand them
// out: an access key id with the "STS." prefix, its secret and a security
// token that must travel with every request (x-acs-security-token) until it
// expires.

// temporaryPrefix starts the access key id of temporary credentials, as
// the service's do.
const temporaryPrefix = "STS."

// TemporaryCredentials is one set of temporary credentials the emulator
// issued.
type TemporaryCredentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	// Role is the ARN of the role the credentials act as.
	Role       string
	Expiration time.Time
}

// tempCreds holds the temporary credentials issued, by access key id. It is
// safe for concurrent use.
type tempCreds struct {
	now func() time.Time

	mu     sync.Mutex // guards issued
	issued map[string]*TemporaryCredentials
}

func newTempCreds(now func() time.Time) *tempCreds {
	return &tempCreds{now: now, issued: map[string]*TemporaryCredentials{}}
}

// issue mints credentials for role valid for lifetime. Credentials expired
// for more than an hour are forgotten, so that a long run does not grow
// without bound; a request still carrying them is answered as for an
// unknown token.
func (t *tempCreds) issue(role string, lifetime time.Duration) TemporaryCredentials {
	now := t.now()
	c := &TemporaryCredentials{
		AccessKeyID:     temporaryPrefix + randomText(12),
		AccessKeySecret: randomText(20),
		SecurityToken:   "CAIS" + base64.RawURLEncoding.EncodeToString([]byte(randomText(36))),
		Role:            role,
		Expiration:      now.Add(lifetime).Truncate(time.Second),
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, old := range t.issued {
		if now.Sub(old.Expiration) > time.Hour {
			delete(t.issued, id)
		}
	}
	t.issued[c.AccessKeyID] = c
	return *c
}

// expireAll makes every credential issued so far expire now.
func (t *tempCreds) expireAll() {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.issued {
		if c.Expiration.After(now) {
			c.Expiration = now
		}
	}
}

// secret returns the secret of a temporary access key that is still
// valid, for the signature check.
func (t *tempCreds) secret(accessKeyID string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.issued[accessKeyID]
	if !ok {
		return "", false
	}
	return c.AccessKeySecret, true
}

// check refuses a request whose security token the service would refuse,
// before its signature is looked at, with the service's answers: 401
// Unauthorized "The security token you provided has expired." for a token
// past its expiration, and "The security token you provided is invalid."
// for a token that was never issued, one that belongs to another access key,
// or a temporary access key sent without its token. A request signed with a
// permanent key and no token is left to the signature check.
func (t *tempCreds) check(r *http.Request, accessKeyID string) error {
	token := r.Header.Get("x-acs-security-token")
	if token == "" && !strings.HasPrefix(accessKeyID, temporaryPrefix) {
		return nil
	}
	return t.checkToken(accessKeyID, token)
}

// checkToken checks that token is the live security token of accessKeyID.
func (t *tempCreds) checkToken(accessKeyID, token string) error {
	t.mu.Lock()
	c, ok := t.issued[accessKeyID]
	t.mu.Unlock()
	switch {
	case !ok || token == "" || token != c.SecurityToken:
		return errInvalidToken()
	case !t.now().Before(c.Expiration):
		return apierr.New(http.StatusUnauthorized, "Unauthorized", "The security token you provided has expired.")
	}
	return nil
}

func errInvalidToken() *apierr.Error {
	return apierr.New(http.StatusUnauthorized, "Unauthorized", "The security token you provided is invalid.")
}

// randomText returns n random bytes as hex, uppercase like the service's
// key ids.
func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))[:n]
}
