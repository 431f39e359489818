package slsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/credentials-go/credentials/providers"

	"github.com/slspipe/slspipe/config"
)

// The providers are Alibaba Cloud's own (github.com/aliyun/credentials-go):
// this file only chooses and configures them, names them in errors and
// reads when their credentials expire.

// CredentialOptions are what NewCredentials needs beyond the configuration.
type CredentialOptions struct {
	// Lookup reads the environment (os.LookupEnv when nil) for the static,
	// env and oidc settings left out of the configuration.
	Lookup func(string) (string, bool)
	// Metrics counts renewals and refusals; nil counts nothing.
	Metrics *CredentialMetrics
	// Logger receives renewals and failed renewals; slog.Default() when
	// nil.
	Logger *slog.Logger
}

// NewCredentials returns the credentials of auth's provider. It makes no
// network call: the provider is first asked on the first request (or by
// Current). It fails when the configuration cannot work: a static provider
// without an access key.
func NewCredentials(auth config.SLSAuth, opts CredentialOptions) (*Credentials, error) {
	if opts.Lookup == nil {
		opts.Lookup = os.LookupEnv
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cc := auth.Credentials
	name := cc.Provider
	if name == "" {
		name = config.ProviderChain
	}
	src, err := newFetcher(auth, name, opts.Lookup)
	if err != nil {
		return nil, err
	}
	return &Credentials{name: name, src: src, m: opts.Metrics.forUse(), log: opts.Logger}, nil
}

// newFetcher builds the provider called name.
func newFetcher(auth config.SLSAuth, name string, lookup func(string) (string, bool)) (fetcher, error) {
	cc := auth.Credentials
	switch name {
	case config.ProviderStatic:
		id, secret, token := auth.StaticKeys(lookup)
		if !id.IsSet() || !secret.IsSet() {
			return nil, fmt.Errorf("credentials provider static: no access key: set access_key_id and access_key_secret, or ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")
		}
		return staticFetcher{name: "static", creds: sdk.Credentials{AccessKeyID: id.Value(), AccessKeySecret: secret.Value(), SecurityToken: token.Value()}}, nil
	case config.ProviderEnv:
		f, ok := envFetcher(lookup)
		if !ok {
			return nil, errors.New("credentials provider env: ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not both set")
		}
		return f, nil
	case config.ProviderProfile:
		p, err := providers.NewProfileCredentialsProviderBuilder().WithProfileName(cc.Profile).Build()
		if err != nil {
			return nil, fmt.Errorf("credentials provider profile: %w", err)
		}
		return &libraryFetcher{name: "profile", p: p, fix: profileFix}, nil
	case config.ProviderECSRAMRole:
		return ecsFetcher(cc)
	case config.ProviderOIDC:
		return oidcFetcher(auth, lookup)
	case config.ProviderAssumeRole:
		base := cc.BaseProvider
		if base == "" {
			base = config.ProviderChain
		}
		if base == config.ProviderAssumeRole {
			return nil, errors.New("credentials provider assume_role: base_provider cannot be assume_role")
		}
		bf, err := newFetcher(auth, base, lookup)
		if err != nil {
			return nil, err
		}
		return assumeRoleFetcher(auth, lookup, bf)
	case config.ProviderChain:
		return chainFetcher(auth, lookup), nil
	}
	return nil, fmt.Errorf("credentials: unknown provider %q", name)
}

// staticFetcher answers with fixed credentials.
type staticFetcher struct {
	name  string
	creds sdk.Credentials
}

func (f staticFetcher) fetch() (Answer, error) {
	return Answer{Credentials: f.creds, Provider: f.name}, nil
}

// envFetcher reads the ALIBABA_CLOUD_* variables through lookup.
func envFetcher(lookup func(string) (string, bool)) (staticFetcher, bool) {
	get := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	id, secret := get("ALIBABA_CLOUD_ACCESS_KEY_ID"), get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	if id == "" || secret == "" {
		return staticFetcher{}, false
	}
	return staticFetcher{name: "env", creds: sdk.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: get("ALIBABA_CLOUD_SECURITY_TOKEN")}}, true
}

// libraryFetcher asks a credentials-go provider.
type libraryFetcher struct {
	name string
	p    providers.CredentialsProvider
	// fix says what to check when the provider fails.
	fix func(err error) string
}

func (f *libraryFetcher) fetch() (Answer, error) {
	c, err := f.p.GetCredentials()
	if err != nil {
		return Answer{}, fmt.Errorf("%s", f.fix(err))
	}
	return Answer{
		Credentials: sdk.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken},
		Provider:    f.name,
		Expiry:      expiryOf(f.p),
	}, nil
}

func profileFix(err error) string {
	return fmt.Sprintf("%v: check the shared credentials file ($ALIBABA_CLOUD_CREDENTIALS_FILE, else ~/.alibabacloud/credentials) and credentials.profile ($ALIBABA_CLOUD_PROFILE, else default)", err)
}

// defaultMetadataHost is the ECS instance metadata service.
const defaultMetadataHost = "100.100.100.200"

func ecsFetcher(cc config.SLSCredentials) (fetcher, error) {
	b := providers.NewECSRAMRoleCredentialsProviderBuilder().WithRoleName(cc.RoleName)
	where := "http://" + defaultMetadataHost
	if cc.MetadataEndpoint != "" {
		// credentials-go always asks 100.100.100.200; its proxy setting is
		// how the requests reach another address.
		b = b.WithHttpOptions(&providers.HttpOptions{Proxy: cc.MetadataEndpoint})
		where = cc.MetadataEndpoint
	}
	p, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("credentials provider ecs_ram_role: %w", err)
	}
	role := cc.RoleName
	return &libraryFetcher{name: "ecs_ram_role", p: p, fix: func(err error) string {
		what := "the instance metadata service at " + where
		if role != "" {
			what += " (role " + role + ")"
		}
		return fmt.Sprintf("%s did not give credentials: %v: run on an ECS instance with a RAM role attached (credentials.role_name names it), or choose another credentials.provider", what, err)
	}}, nil
}

// stsHost is the STS endpoint: the configured one, else the region's.
func stsHost(auth config.SLSAuth) string {
	h := auth.Credentials.STSEndpoint
	h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
	return strings.TrimRight(h, "/")
}

func oidcFetcher(auth config.SLSAuth, lookup func(string) (string, bool)) (fetcher, error) {
	cc := auth.Credentials
	pick := func(v, env string) string {
		if v != "" {
			return v
		}
		e, _ := lookup(env)
		return strings.TrimSpace(e)
	}
	role := pick(cc.RoleARN, "ALIBABA_CLOUD_ROLE_ARN")
	provider := pick(cc.OIDCProviderARN, "ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
	file := pick(cc.OIDCTokenFile, "ALIBABA_CLOUD_OIDC_TOKEN_FILE")
	for _, m := range []struct{ v, key, env string }{
		{role, "role_arn", "ALIBABA_CLOUD_ROLE_ARN"},
		{provider, "oidc_provider_arn", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"},
		{file, "oidc_token_file", "ALIBABA_CLOUD_OIDC_TOKEN_FILE"},
	} {
		if m.v == "" {
			return nil, fmt.Errorf("credentials provider oidc: no %s: set credentials.%s, or %s in the environment", m.key, m.key, m.env)
		}
	}
	b := providers.NewOIDCCredentialsProviderBuilder().
		WithRoleArn(role).WithOIDCProviderARN(provider).WithOIDCTokenFilePath(file).
		WithRoleSessionName(sessionName(cc)).WithDurationSeconds(durationSeconds(cc))
	b = withSTS(b, auth)
	p, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("credentials provider oidc: %w", err)
	}
	return &libraryFetcher{name: "oidc", p: p, fix: func(err error) string {
		if _, serr := os.Stat(file); serr != nil {
			return fmt.Sprintf("cannot read the OIDC token file: %v: check credentials.oidc_token_file (or ALIBABA_CLOUD_OIDC_TOKEN_FILE), the service account token that RRSA projects into the pod", serr)
		}
		return fmt.Sprintf("AssumeRoleWithOIDC of %s at %s failed: %s: check role_arn, oidc_provider_arn and that the role trusts the provider", role, stsName(auth), stsFailure(err))
	}}, nil
}

func assumeRoleFetcher(auth config.SLSAuth, lookup func(string) (string, bool), base fetcher) (fetcher, error) {
	cc := auth.Credentials
	role := cc.RoleARN
	if role == "" {
		role, _ = lookup("ALIBABA_CLOUD_ROLE_ARN")
	}
	if role == "" {
		return nil, errors.New("credentials provider assume_role: no role_arn: set credentials.role_arn, or ALIBABA_CLOUD_ROLE_ARN in the environment")
	}
	b := providers.NewRAMRoleARNCredentialsProviderBuilder().
		WithCredentialsProvider(&baseProvider{f: base}).WithRoleArn(role).
		WithRoleSessionName(sessionName(cc)).WithDurationSeconds(durationSeconds(cc)).WithExternalId(cc.ExternalID)
	if h := stsHost(auth); h != "" {
		b = b.WithStsEndpoint(h)
	} else if auth.Region != "" {
		b = b.WithStsRegionId(auth.Region)
	}
	p, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("credentials provider assume_role: %w", err)
	}
	return &libraryFetcher{name: "assume_role", p: p, fix: func(err error) string {
		var be *baseError
		if errors.As(err, &be) {
			return fmt.Sprintf("the base credential (base_provider %s) failed: %v", cc.BaseProvider, be.err)
		}
		return fmt.Sprintf("AssumeRole of %s at %s failed: %s: check credentials.role_arn, and that the role's trust policy lets the base credential assume it", role, stsName(auth), stsFailure(err))
	}}, nil
}

// baseProvider gives a fetcher's credentials to credentials-go's AssumeRole
// provider, as the credential that calls AssumeRole.
type baseProvider struct{ f fetcher }

type baseError struct{ err error }

func (e *baseError) Error() string { return e.err.Error() }

func (b *baseProvider) GetCredentials() (*providers.Credentials, error) {
	a, err := b.f.fetch()
	if err != nil {
		return nil, &baseError{err}
	}
	return &providers.Credentials{AccessKeyId: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret, SecurityToken: a.SecurityToken, ProviderName: a.Provider}, nil
}

func (b *baseProvider) GetProviderName() string { return "base" }

func withSTS(b *providers.OIDCCredentialsProviderBuilder, auth config.SLSAuth) *providers.OIDCCredentialsProviderBuilder {
	if h := stsHost(auth); h != "" {
		return b.WithSTSEndpoint(h)
	}
	if auth.Region != "" {
		return b.WithStsRegionId(auth.Region)
	}
	return b
}

func stsName(auth config.SLSAuth) string {
	if h := stsHost(auth); h != "" {
		return h
	}
	if auth.Region != "" {
		return "sts." + auth.Region + ".aliyuncs.com"
	}
	return "sts.aliyuncs.com"
}

func sessionName(cc config.SLSCredentials) string {
	if cc.RoleSessionName != "" {
		return cc.RoleSessionName
	}
	return "slspipe"
}

func durationSeconds(cc config.SLSCredentials) int {
	if d := cc.Duration.D(); d > 0 {
		return int(d / time.Second)
	}
	return 3600
}

// stsFailure turns credentials-go's "... failed: {json}" into "Code:
// Message".
func stsFailure(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "{"); i >= 0 {
		var body struct{ Code, Message string }
		if json.Unmarshal([]byte(msg[i:]), &body) == nil && body.Code != "" {
			return body.Code + ": " + body.Message
		}
	}
	return msg
}

// chainFetcher tries, in the order of credentials-go's default chain, the
// file's static keys, env, oidc (RRSA), the CLI profile, the shared
// credentials file profile and the ECS RAM role, and keeps to the first
// that answers: a pipeline does not change identity while it runs.
type chain struct {
	links  []chainLink
	answer int // the link that answered; -1 before
}

type chainLink struct {
	name string
	make func() (fetcher, error) // nil fetcher: the link does not apply
	f    fetcher
}

func chainFetcher(auth config.SLSAuth, lookup func(string) (string, bool)) *chain {
	cc := auth.Credentials
	c := &chain{answer: -1}
	add := func(name string, make func() (fetcher, error)) {
		c.links = append(c.links, chainLink{name: name, make: make})
	}
	if auth.AccessKeyID.IsSet() || auth.AccessKeySecret.IsSet() {
		add("static", func() (fetcher, error) { return newFetcher(auth, config.ProviderStatic, lookup) })
	}
	add("env", func() (fetcher, error) {
		if f, ok := envFetcher(lookup); ok {
			return f, nil
		}
		return nil, errors.New("ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET are not set")
	})
	add("oidc", func() (fetcher, error) { return oidcFetcher(auth, lookup) })
	add("profile", func() (fetcher, error) {
		p, err := providers.NewCLIProfileCredentialsProviderBuilder().WithProfileName(cc.Profile).Build()
		if err != nil {
			return nil, err
		}
		return &libraryFetcher{name: "profile", p: p, fix: func(err error) string {
			return fmt.Sprintf("%v (the aliyun CLI configuration, ~/.aliyun/config.json)", err)
		}}, nil
	})
	add("profile", func() (fetcher, error) { return newFetcher(auth, config.ProviderProfile, lookup) })
	add("ecs_ram_role", func() (fetcher, error) {
		if v, _ := lookup("ALIBABA_CLOUD_ECS_METADATA_DISABLED"); strings.EqualFold(v, "true") {
			return nil, errors.New("ALIBABA_CLOUD_ECS_METADATA_DISABLED is true")
		}
		return ecsFetcher(cc)
	})
	return c
}

func (c *chain) fetch() (Answer, error) {
	if c.answer >= 0 {
		l := &c.links[c.answer]
		a, err := l.f.fetch()
		a.Provider = "chain/" + a.Provider
		if err != nil {
			return a, fmt.Errorf("%s: %w", l.name, err)
		}
		return a, nil
	}
	var tried []string
	for i := range c.links {
		l := &c.links[i]
		if l.f == nil {
			f, err := l.make()
			if err != nil {
				tried = append(tried, l.name+": "+err.Error())
				continue
			}
			l.f = f
		}
		a, err := l.f.fetch()
		if err != nil {
			tried = append(tried, l.name+": "+err.Error())
			continue
		}
		c.answer = i
		a.Provider = "chain/" + a.Provider
		return a, nil
	}
	return Answer{}, fmt.Errorf("no provider of the chain gave credentials (%s); configure one with credentials.provider", strings.Join(tried, "; "))
}

// expiryOf reads when a credentials-go provider's current credentials
// expire. The library keeps the expiry it parsed from STS or the metadata
// service in an unexported field and offers no accessor; reading it (by
// reflection, never writing) is what lets slspipe renew ahead of expiry
// and show the expiry in check. A provider holding none (static keys)
// gives the zero time. TestExpiryOfFollowsTheLibrary pins the field.
func expiryOf(p providers.CredentialsProvider) time.Time {
	v := reflect.ValueOf(p)
	for range 4 {
		if v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return time.Time{}
			}
			v = v.Elem()
			continue
		}
		if v.Kind() != reflect.Struct {
			return time.Time{}
		}
		if f := v.FieldByName("expirationTimestamp"); f.IsValid() && f.Kind() == reflect.Int64 && f.Int() > 0 {
			return time.Unix(f.Int(), 0)
		}
		// A profile provider wraps the provider its profile names.
		inner := v.FieldByName("innerProvider")
		if !inner.IsValid() {
			return time.Time{}
		}
		v = inner
	}
	return time.Time{}
}
