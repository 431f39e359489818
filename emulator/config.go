package emulator

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Default credentials accepted when Config.AccessKeys is empty. They are for
// local use only: anyone who can reach the emulator knows them.
const (
	DefaultAccessKeyID     = "slspipe-local"
	DefaultAccessKeySecret = "slspipe-local-secret"
)

// Config configures a Server. The zero value is a usable in-memory emulator
// that accepts the default credentials.
type Config struct {
	// AccessKeys maps access key IDs to secrets. Every API request must be
	// signed (v1 or v4) by one of them. Empty means
	// {DefaultAccessKeyID: DefaultAccessKeySecret}.
	AccessKeys map[string]string
	// Denied refuses RAM actions to access keys, the way a RAM policy's
	// Deny statement does: it maps an access key id to actions such as
	// "log:ListShards", or patterns such as "log:Get*" and "log:*". A call
	// needing a denied action is answered 401 Unauthorized, "denied by sts
	// or ram, action: <action>, resource: <resource>", after the signature
	// check and before the resource is looked up, as the service answers it.
	// Keys not listed may do everything.
	Denied map[string][]string
	// DataDir persists logstores, shards, log groups and consumer groups
	// across restarts. "" keeps everything in memory.
	DataDir string
	// Logstores are created at start, with their projects, unless they
	// already exist (as they do when DataDir holds earlier state).
	Logstores []LogstoreSpec
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger

	// Roles are the RAM roles (ARNs such as "acs:ram::1234567890:role/
	// slspipe") the emulator's STS issues temporary credentials for:
	// AssumeRole to a request signed by any access key of AccessKeys (or
	// by temporary credentials), AssumeRoleWithOIDC to the holder of an
	// OIDC token from one of OIDCProviders. Any other role is answered 404
	// EntityNotExist.Role, as a role that does not exist.
	Roles []string
	// OIDCProviders are the OIDC provider ARNs the roles trust.
	OIDCProviders []string
	// InstanceRole is the RAM role name the instance metadata service
	// hands credentials of, as an ECS instance with that role attached.
	// Empty: no role is attached (every role lookup answers 404).
	InstanceRole string
	// TokenLifetime is the lifetime of every temporary credential issued
	// (STS and metadata service), for tests that need tokens to expire
	// within seconds. Zero: as requested from STS (DurationSeconds, 1 h by
	// default) and 6 h from the metadata service, as the services do.
	TokenLifetime time.Duration
}

// LogstoreSpec names a logstore and its initial shard count.
type LogstoreSpec struct {
	Project, Logstore string
	Shards            int
}

// String formats the spec as ParseLogstoreSpec reads it.
func (s LogstoreSpec) String() string {
	return fmt.Sprintf("%s/%s:%d", s.Project, s.Logstore, s.Shards)
}

// ParseLogstoreSpec parses "project/logstore:shards"; ":shards" may be
// omitted for 2 shards.
func ParseLogstoreSpec(s string) (LogstoreSpec, error) {
	spec := LogstoreSpec{Shards: 2}
	name, shards, hasShards := strings.Cut(s, ":")
	if hasShards {
		n, err := strconv.Atoi(shards)
		if err != nil || n < 1 {
			return LogstoreSpec{}, fmt.Errorf("logstore spec %q: shard count must be a positive integer", s)
		}
		spec.Shards = n
	}
	project, logstore, ok := strings.Cut(name, "/")
	if !ok || project == "" || logstore == "" || strings.Contains(logstore, "/") {
		return LogstoreSpec{}, fmt.Errorf("logstore spec %q: want project/logstore[:shards]", s)
	}
	spec.Project, spec.Logstore = project, logstore
	return spec, nil
}

// ParseDenySpec parses "KEYID=log:Action[,log:Action…]", the form of the
// emulator command's --deny flag, into an access key id and its denied
// actions.
func ParseDenySpec(s string) (keyID string, actions []string, err error) {
	keyID, list, ok := strings.Cut(s, "=")
	keyID = strings.TrimSpace(keyID)
	if !ok || keyID == "" {
		return "", nil, fmt.Errorf("deny spec %q: want KEYID=log:Action[,log:Action...]", s)
	}
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			actions = append(actions, a)
		}
	}
	if len(actions) == 0 {
		return "", nil, fmt.Errorf("deny spec %q: no action after '='", s)
	}
	return keyID, actions, nil
}

func (c Config) accessKeys() map[string]string {
	if len(c.AccessKeys) == 0 {
		return map[string]string{DefaultAccessKeyID: DefaultAccessKeySecret}
	}
	return c.AccessKeys
}
