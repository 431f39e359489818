package config

import (
	"os"
	"strconv"
	"strings"

	"github.com/slspipe/slspipe/spl"
)

// Source is where records come from: exactly one kind is set.
type Source struct {
	SLS      *SLSSource      `yaml:"sls,omitempty" doc:"Read every shard of one or more SLS logstores."`
	NATS     *NATSSource     `yaml:"nats,omitempty" doc:"Read a JetStream stream through a durable pull consumer."`
	Generate *GenerateSource `yaml:"generate,omitempty" doc:"Generate synthetic log records (demos, benchmarks, trying modules)."`
}

func (*Source) isUnion() {}

// Kind returns the name of the configured kind: "sls", "nats" or "generate".
func (s Source) Kind() string {
	switch {
	case s.SLS != nil:
		return "sls"
	case s.NATS != nil:
		return "nats"
	case s.Generate != nil:
		return "generate"
	}
	return ""
}

// SLSAuth is the endpoint and credentials of an SLS project, shared by the
// SLS source and sink.
type SLSAuth struct {
	Endpoint         string `yaml:"endpoint" flink:"LOG_ENDPOINT" required:"true" format:"endpoint" doc:"SLS endpoint of the project's region."`
	Project          string `yaml:"project" flink:"LOG_PROJECT" required:"true" format:"project" doc:"SLS project."`
	AccessKeyID      Secret `yaml:"access_key_id" flink:"LOG_ACCESSKEYID" defaultdoc:"$ALIBABA_CLOUD_ACCESS_KEY_ID" doc:"AccessKey ID. Usually ${VAR}; when empty, the environment variable ALIBABA_CLOUD_ACCESS_KEY_ID applies at run time."`
	AccessKeySecret  Secret `yaml:"access_key_secret" flink:"LOG_ACCESSKEY" defaultdoc:"$ALIBABA_CLOUD_ACCESS_KEY_SECRET" doc:"AccessKey secret. When empty, ALIBABA_CLOUD_ACCESS_KEY_SECRET applies at run time."`
	SecurityToken    Secret `yaml:"security_token" defaultdoc:"$ALIBABA_CLOUD_SECURITY_TOKEN" doc:"STS security token, for temporary credentials. When empty, ALIBABA_CLOUD_SECURITY_TOKEN applies at run time."`
	SignatureVersion string `yaml:"signature_version" flink:"SIGNATURE_VERSION" default:"v1" enum:"v1|v4" doc:"Request signature version."`
	Region           string `yaml:"region" flink:"REGION_ID" doc:"Region id such as cn-hangzhou; required with signature_version v4, and names the regional STS endpoint of the oidc and assume_role providers."`
	CAFile           string `yaml:"ca_file" format:"path" doc:"PEM file of CAs trusted besides the system roots, for an HTTPS endpoint behind a private CA or a TLS-inspecting proxy."`
	// Credentials says where the access key comes from.
	Credentials SLSCredentials `yaml:"credentials" doc:"Where the access key comes from: by default the chain of providers Alibaba Cloud's own tools use, refreshed before it expires."`
}

// Credential providers, the values of credentials.provider.
const (
	ProviderChain      = "chain"
	ProviderStatic     = "static"
	ProviderEnv        = "env"
	ProviderProfile    = "profile"
	ProviderECSRAMRole = "ecs_ram_role"
	ProviderOIDC       = "oidc"
	ProviderAssumeRole = "assume_role"
)

// SLSCredentials selects and configures the credential provider of an SLS
// source or sink. Temporary credentials (ecs_ram_role, oidc, assume_role)
// are renewed before they expire.
type SLSCredentials struct {
	Provider         string   `yaml:"provider" default:"chain" enum:"chain|static|env|profile|ecs_ram_role|oidc|assume_role" doc:"chain: the first that answers of access_key_id/access_key_secret in this file, then env, oidc (RRSA), the CLI and shared credentials file profiles, ecs_ram_role, as Alibaba Cloud's own tools try them. static: access_key_id, access_key_secret (and security_token) of this file. env: ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET and _SECURITY_TOKEN. profile: a profile of the shared credentials file. ecs_ram_role: the ECS instance's RAM role, from the metadata service. oidc: AssumeRoleWithOIDC with a service account token (ACK RRSA). assume_role: AssumeRole from the base_provider's credential."`
	Profile          string   `yaml:"profile" defaultdoc:"$ALIBABA_CLOUD_PROFILE, else default" doc:"profile: the profile of the shared credentials file ($ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials)."`
	RoleName         string   `yaml:"role_name" defaultdoc:"$ALIBABA_CLOUD_ECS_METADATA, else the role attached to the instance" doc:"ecs_ram_role: the RAM role attached to the ECS instance."`
	MetadataEndpoint string   `yaml:"metadata_endpoint" format:"endpoint" defaultdoc:"http://100.100.100.200" doc:"ecs_ram_role: where to reach the instance metadata service instead of 100.100.100.200 (a metadata proxy, or the emulator in tests); its requests go through it as through an HTTP proxy."`
	RoleARN          string   `yaml:"role_arn" defaultdoc:"$ALIBABA_CLOUD_ROLE_ARN" doc:"oidc, assume_role: the RAM role to assume, acs:ram::<account>:role/<name>."`
	OIDCProviderARN  string   `yaml:"oidc_provider_arn" defaultdoc:"$ALIBABA_CLOUD_OIDC_PROVIDER_ARN" doc:"oidc: the OIDC provider the role trusts."`
	OIDCTokenFile    string   `yaml:"oidc_token_file" format:"path" defaultdoc:"$ALIBABA_CLOUD_OIDC_TOKEN_FILE" doc:"oidc: the file holding the OIDC token (the projected service account token); read again at every renewal."`
	RoleSessionName  string   `yaml:"role_session_name" default:"slspipe" doc:"oidc, assume_role: the session name, shown in ActionTrail."`
	Duration         Duration `yaml:"duration" default:"1h" min:"15m" max:"12h" doc:"oidc, assume_role: the lifetime asked of STS (at most the role's maximum session duration)."`
	ExternalID       string   `yaml:"external_id" doc:"assume_role: the external id the role's trust policy requires."`
	STSEndpoint      string   `yaml:"sts_endpoint" defaultdoc:"sts.<region>.aliyuncs.com, or sts.aliyuncs.com without region" doc:"oidc, assume_role: the STS host[:port], always reached over HTTPS; sts-vpc.<region>.aliyuncs.com from inside a VPC."`
	BaseProvider     string   `yaml:"base_provider" default:"chain" enum:"chain|static|env|profile|ecs_ram_role|oidc" doc:"assume_role: the provider of the credential that calls AssumeRole."`
}

// credentialKeys are the keys of SLSCredentials and the providers each
// applies to.
var credentialKeys = []struct {
	key       string
	providers []string
}{
	{"profile", []string{ProviderProfile, ProviderChain, ProviderAssumeRole}},
	{"role_name", []string{ProviderECSRAMRole, ProviderChain, ProviderAssumeRole}},
	{"metadata_endpoint", []string{ProviderECSRAMRole, ProviderChain, ProviderAssumeRole}},
	{"role_arn", []string{ProviderOIDC, ProviderAssumeRole, ProviderChain}},
	{"oidc_provider_arn", []string{ProviderOIDC, ProviderChain, ProviderAssumeRole}},
	{"oidc_token_file", []string{ProviderOIDC, ProviderChain, ProviderAssumeRole}},
	{"role_session_name", []string{ProviderOIDC, ProviderAssumeRole, ProviderChain}},
	{"duration", []string{ProviderOIDC, ProviderAssumeRole, ProviderChain}},
	{"external_id", []string{ProviderAssumeRole}},
	{"sts_endpoint", []string{ProviderOIDC, ProviderAssumeRole, ProviderChain}},
	{"base_provider", []string{ProviderAssumeRole}},
}

// check refuses a key that the provider does not read, and a provider
// whose required settings are neither in the file nor in the environment,
// naming the provider and the missing piece.
func (sc *SLSCredentials) check(c *checkCtx) {
	if c.failed("provider") {
		return
	}
	for _, k := range credentialKeys {
		if !c.has(k.key) || contains(k.providers, sc.Provider) {
			continue
		}
		c.errorf(k.key, "is not read by provider %s (it applies to %s)", sc.Provider, strings.Join(k.providers, ", "))
	}
	env := func(key, value, variable string) {
		if value != "" {
			return
		}
		if v, ok := c.d.lookup(variable); ok && v != "" {
			return
		}
		c.errorf("provider", "%s needs %s: set credentials.%s, or %s in the environment", sc.Provider, key, key, variable)
	}
	switch sc.Provider {
	case ProviderEnv:
		env("an access key id", "", "ALIBABA_CLOUD_ACCESS_KEY_ID")
		env("an access key secret", "", "ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	case ProviderOIDC:
		sc.checkOIDC(env)
	case ProviderAssumeRole:
		env("role_arn", sc.RoleARN, "ALIBABA_CLOUD_ROLE_ARN")
		if sc.BaseProvider == ProviderOIDC {
			sc.checkOIDC(env)
		}
	}
}

func (sc *SLSCredentials) checkOIDC(env func(key, value, variable string)) {
	env("role_arn", sc.RoleARN, "ALIBABA_CLOUD_ROLE_ARN")
	env("oidc_provider_arn", sc.OIDCProviderARN, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
	env("oidc_token_file", sc.OIDCTokenFile, "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
}

// StaticKeys returns the access key id, secret and security token of the
// static provider, each taken from the standard ALIBABA_CLOUD_* environment
// variable (looked up with lookup, os.LookupEnv when nil) when the
// configuration leaves it empty.
func (a SLSAuth) StaticKeys(lookup func(string) (string, bool)) (id, secret, token Secret) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	pick := func(s Secret, env string) Secret {
		if s.IsSet() {
			return s
		}
		v, _ := lookup(env)
		return Secret{v: v}
	}
	return pick(a.AccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_ID"),
		pick(a.AccessKeySecret, "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
		pick(a.SecurityToken, "ALIBABA_CLOUD_SECURITY_TOKEN")
}

func (a *SLSAuth) check(c *checkCtx) {
	if a.SignatureVersion == "v4" && a.Region == "" {
		c.errorf("region", "required when signature_version is v4")
	}
	p, base := a.Credentials.Provider, a.Credentials.BaseProvider
	keysHere := a.AccessKeyID.IsSet() || a.AccessKeySecret.IsSet() || a.SecurityToken.IsSet()
	staticUsed := p == ProviderStatic || p == ProviderChain || p == ProviderAssumeRole && (base == ProviderStatic || base == ProviderChain)
	if keysHere && !staticUsed && !c.failed("credentials") {
		for _, k := range []string{"access_key_id", "access_key_secret", "security_token"} {
			if c.has(k) {
				c.errorf(k, "is read by provider static (or chain, or assume_role with base_provider static); credentials.provider is %s", p)
				break
			}
		}
	}
	if p == ProviderStatic || p == ProviderAssumeRole && base == ProviderStatic {
		id, secret, _ := a.StaticKeys(c.d.lookup)
		switch {
		case !id.IsSet():
			c.errorf("access_key_id", "provider static needs an access key id: set access_key_id, or ALIBABA_CLOUD_ACCESS_KEY_ID in the environment")
		case !secret.IsSet():
			c.errorf("access_key_secret", "provider static needs an access key secret: set access_key_secret, or ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment")
		}
	}
}

// Retry is the backoff used for retryable errors (throttling, 5xx,
// network).
type Retry struct {
	BaseBackoff Duration `yaml:"base_backoff" flink:"BASE_RETRY_BACKOFF_TIME_MS" default:"200ms" min:"1ms" doc:"First wait after a retryable error; doubles each retry."`
	MaxBackoff  Duration `yaml:"max_backoff" flink:"MAX_RETRY_BACKOFF_TIME_MS" default:"5s" min:"1ms" doc:"Longest wait between retries."`
	MaxRetries  int      `yaml:"max_retries" flink:"MAX_RETRIES_FOR_RETRYABLE_ERROR" default:"60" min:"0" doc:"Retries before the error stops the pipeline; 0 fails at once."`
}

func (r *Retry) check(c *checkCtx) {
	if r.MaxBackoff < r.BaseBackoff && c.ok("base_backoff", "max_backoff") {
		c.errorf("max_backoff", "must not be less than base_backoff (%s)", r.BaseBackoff)
	}
}

// SLSSource reads SLS logstores shard by shard.
type SLSSource struct {
	SLSAuth                `yaml:",inline"`
	Logstore               string    `yaml:"logstore,omitempty" flink:"LOG_LOGSTORE" format:"logstore" doc:"Logstore to read. Give this or logstores."`
	Logstores              []string  `yaml:"logstores" format:"logstore" doc:"Logstores to read, all in the project. After loading it always lists every logstore, including the one given as logstore."`
	StartPosition          Position  `yaml:"start_position" flink:"LOG_CONSUMER_BEGIN_POSITION" default:"begin_cursor" doc:"Where to start a shard with no stored checkpoint: begin_cursor, end_cursor, consumer_from_checkpoint (needs consumer_group), unix seconds, or an RFC 3339 time (the first data received at or after it). A stored checkpoint always wins."`
	DefaultPosition        Position  `yaml:"default_position" flink:"LOG_CONSUMER_DEFAULT_POSITION" default:"begin_cursor" doc:"With consumer_from_checkpoint: where to start a shard the consumer group has no checkpoint for (begin_cursor, end_cursor or a time)."`
	StopTime               Timestamp `yaml:"stop_time" flink:"STOP_TIME" doc:"Stop reading each shard at data received at this time (unix seconds or RFC 3339); empty reads forever."`
	FetchInterval          Duration  `yaml:"fetch_interval" flink:"LOG_FETCH_DATA_INTERVAL_MILLIS" default:"100ms" min:"0s" doc:"Wait before pulling again from a shard that returned no data."`
	MaxPerFetch            int       `yaml:"max_per_fetch" flink:"LOG_MAX_NUMBER_PER_FETCH" default:"100" min:"1" max:"1000" doc:"Log groups per pull request."`
	ShardDiscoveryInterval Duration  `yaml:"shard_discovery_interval" flink:"LOG_SHARDS_DISCOVERY_INTERVAL_MILLIS" default:"30s" min:"1s" doc:"How often to list shards to follow splits and merges."`
	Compression            string    `yaml:"compression" default:"lz4" enum:"lz4|zstd" doc:"Compression requested for pulled data."`
	ConsumerGroup          string    `yaml:"consumer_group" flink:"LOG_CONSUMERGROUP" format:"group" doc:"SLS consumer group: checkpoints are also committed to it, and with group_mode distributed it assigns shards to replicas."`
	GroupMode              string    `yaml:"group_mode" default:"standalone" enum:"standalone|distributed" doc:"standalone: this process reads every shard. distributed: replicas sharing consumer_group split the shards between them."`
	ConsumerName           string    `yaml:"consumer_name" defaultdoc:"$POD_NAME, the pod name in Kubernetes, else <host>-<pid>" doc:"This replica's name in the consumer group; must differ between replicas. The default is unique per process and stable for a Kubernetes pod; a replica that finds its name in use by another live consumer of the group stops."`
	HeartbeatInterval      Duration  `yaml:"heartbeat_interval" default:"20s" min:"1s" doc:"Consumer group heartbeat interval."`
	HeartbeatTimeout       Duration  `yaml:"heartbeat_timeout" default:"60s" min:"1s" doc:"Time without heartbeats after which the group reassigns this replica's shards; must exceed heartbeat_interval."`
	Ordered                bool      `yaml:"ordered" default:"true" doc:"Finish a parent shard before reading its children after a split or merge, keeping per-key order."`
	OnCursorExpired        string    `yaml:"on_cursor_expired" default:"begin" enum:"begin|end|fail" doc:"When a stored cursor has expired (data past its TTL): restart from the oldest data (begin), the newest (end), or stop (fail)."`
	Query                  string    `yaml:"query" doc:"SPL statement SLS runs on every pull (rule-based consumption), such as * | where cast(status as bigint) >= 500 | project uri, status: only the logs and fields it keeps are sent. Checked when the file is loaded; see Rule-based consumption below for the supported subset."`
	Retry                  Retry     `yaml:"retry" doc:"Backoff for retryable SLS errors."`
}

func (s *SLSSource) check(c *checkCtx) {
	s.SLSAuth.check(c)
	if s.Query != "" && c.ok("query") {
		if _, err := spl.Parse(s.Query); err != nil {
			c.splError("query", s.Query, err)
		}
	}
	switch {
	case s.Logstore != "" && len(s.Logstores) > 0:
		c.errorf("logstores", "give logstore or logstores, not both")
	case s.Logstore == "" && len(s.Logstores) == 0:
		switch {
		case c.failed("logstore") || c.failed("logstores"):
		case c.has("logstores"):
			c.errorf("logstores", "must list at least one logstore")
		case c.has("logstore"):
			c.errorf("logstore", "must not be empty")
		default:
			c.d.errorf(c.node, "%smissing required key \"logstore\" (or \"logstores\")", prefix(c.path))
		}
	case s.Logstore != "":
		s.Logstores = []string{s.Logstore}
	default:
		seen := map[string]bool{}
		for i, ls := range s.Logstores {
			if seen[ls] {
				c.d.errorf(resolve(c.item("logstores", i)), "%slogstore %q is listed twice", prefix(join(c.path, "logstores")), ls)
			}
			seen[ls] = true
		}
	}
	switch s.DefaultPosition.Mode {
	case PositionCheckpoint:
		c.errorf("default_position", "must be begin_cursor, end_cursor or a time, not consumer_from_checkpoint")
	}
	if s.StartPosition.Mode == PositionCheckpoint && s.ConsumerGroup == "" {
		c.errorf("start_position", "consumer_from_checkpoint needs consumer_group")
	}
	if s.GroupMode == "distributed" && s.ConsumerGroup == "" {
		c.errorf("group_mode", "distributed needs consumer_group")
	}
	if s.HeartbeatTimeout <= s.HeartbeatInterval && c.ok("heartbeat_interval", "heartbeat_timeout") {
		c.errorf("heartbeat_timeout", "must exceed heartbeat_interval (%s), got %s", s.HeartbeatInterval, s.HeartbeatTimeout)
	}
	if !s.StopTime.IsZero() && s.StartPosition.Mode == PositionTime && !s.StopTime.After(s.StartPosition.Time) && c.ok("start_position", "stop_time") {
		c.errorf("stop_time", "must be after start_position")
	}
	if s.ConsumerName == "" {
		s.ConsumerName = DefaultConsumerName(c.d.lookup)
	}
}

// DefaultConsumerName is the consumer name of a replica that configures
// none: $POD_NAME (the Kubernetes downward API), else in a Kubernetes pod
// its host name (which is the pod name), else "<host>-<pid>". lookup reads
// the environment (os.LookupEnv when nil).
//
// # Notes
//
// A pod keeps its name across container restarts, so a restarted replica
// takes its own place in the consumer group again; outside Kubernetes the
// process id makes two replicas on one host distinct, at the price of a
// new name after each restart (the old one times out of the group).
func DefaultConsumerName(lookup func(string) (string, bool)) string {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if v, ok := lookup("POD_NAME"); ok && v != "" {
		return strings.ToLower(v)
	}
	host, _ := os.Hostname()
	if v, ok := lookup("HOSTNAME"); ok && v != "" {
		host = v
	}
	host = strings.ToLower(host)
	if v, ok := lookup("KUBERNETES_SERVICE_HOST"); ok && v != "" && host != "" {
		return host
	}
	if host == "" {
		host = "slspipe"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// NATSConn is how to reach and authenticate to a NATS server, shared by the
// NATS source and sink. At most one of credentials_file, nkey_seed_file,
// token and user may be given.
type NATSConn struct {
	URL             string `yaml:"url" default:"nats://127.0.0.1:4222" format:"nats-url" doc:"Server URL(s)."`
	CredentialsFile string `yaml:"credentials_file" format:"path" doc:"NATS .creds file (JWT and NKey seed)."`
	NKeySeedFile    string `yaml:"nkey_seed_file" format:"path" doc:"File holding an NKey seed."`
	Token           Secret `yaml:"token" doc:"Authentication token."`
	User            string `yaml:"user" doc:"User name; needs password."`
	Password        Secret `yaml:"password" doc:"Password for user."`
	TLS             *TLS   `yaml:"tls,omitempty" doc:"TLS settings; implied by a tls:// URL."`
}

func (n *NATSConn) check(c *checkCtx) {
	var given []string
	for _, k := range []string{"credentials_file", "nkey_seed_file", "token", "user"} {
		if c.has(k) {
			given = append(given, k)
		}
	}
	if len(given) > 1 {
		c.errorf(given[1], "give only one way to authenticate, found %s", strings.Join(given, " and "))
	}
	if n.User != "" && !n.Password.IsSet() {
		c.errorf("user", "needs password")
	}
	if n.Password.IsSet() && n.User == "" {
		c.errorf("password", "needs user")
	}
}

// TLS configures a TLS client connection.
type TLS struct {
	CAFile             string `yaml:"ca_file" format:"path" doc:"PEM file of CAs that sign the server's certificate; the system roots when empty."`
	CertFile           string `yaml:"cert_file" format:"path" doc:"PEM client certificate, for mutual TLS; needs key_file."`
	KeyFile            string `yaml:"key_file" format:"path" doc:"PEM private key of cert_file."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" default:"false" doc:"Accept any server certificate. For tests only."`
}

func (t *TLS) check(c *checkCtx) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		c.errorf("cert_file", "cert_file and key_file must be given together")
	}
}

// NATSSource reads a JetStream stream through a durable pull consumer.
type NATSSource struct {
	NATSConn      `yaml:",inline"`
	Stream        string   `yaml:"stream" required:"true" format:"stream" doc:"JetStream stream to read."`
	Durable       string   `yaml:"durable" format:"stream" defaultdoc:"slspipe-<name>" doc:"Durable consumer name; its acknowledgements are the checkpoints."`
	FilterSubject string   `yaml:"filter_subject" doc:"Only messages on this subject (wildcards allowed)."`
	Batch         int      `yaml:"batch" default:"500" min:"1" max:"100000" doc:"Messages per fetch."`
	AckWait       Duration `yaml:"ack_wait" default:"30s" min:"1s" doc:"Time the server waits for an acknowledgement before redelivering."`
}

// GenerateSource generates synthetic records.
type GenerateSource struct {
	Shards      int    `yaml:"shards" default:"4" min:"1" max:"1024" doc:"Number of simulated shards."`
	Rate        int    `yaml:"rate" default:"0" min:"0" doc:"Records per second over all shards; 0 is as fast as possible."`
	Count       int64  `yaml:"count" default:"0" min:"0" doc:"Records to generate in total; 0 is unbounded."`
	Fields      int    `yaml:"fields" default:"10" min:"1" max:"1000" doc:"Fields per record (random template)."`
	RecordBytes Size   `yaml:"record_bytes" default:"200" min:"16" max:"1MiB" doc:"Approximate size of a record."`
	Template    string `yaml:"template" default:"nginx" enum:"nginx|random" doc:"nginx: access-log-like records; random: fields with random values."`
	Seed        int64  `yaml:"seed" default:"1" doc:"Random seed; the same seed generates the same records."`
}
