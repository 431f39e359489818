package sls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"time"

	sdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/slspipe/slspipe/config"
	"github.com/slspipe/slspipe/connectors/sls/internal/slsapi"
	"github.com/slspipe/slspipe/internal/preflight"
)

// CheckTopic is the topic of the one log a write test writes into an SLS
// sink's logstore, so that it can be found and filtered out.
const CheckTopic = "slspipe-check"

// checkTimeout bounds each preflight call; the SDK calls take no context.
const checkTimeout = 15 * time.Second

// CheckSource probes, for every logstore of cfg, each call the source will
// make, and returns one result per call: ListShards, GetCursor and a pull
// of one log group at the end of a shard (which reads nothing), and with a
// consumer group, creating it (or finding it), updating its timeout and
// order, and reading its checkpoints.
//
// # Notes
//
//   - Creating a missing consumer group and setting its timeout and order
//     is what run does first, so the probe does it too; the result says
//     when the group was created.
//   - Updating a checkpoint and heartbeating are never probed: a checkpoint
//     written by a probe would move where the group resumes, and a
//     heartbeat makes the caller a member of the group, to which the
//     service moves shards away from running replicas until it times out.
//     Both are reported as skipped, with the statement that grants them.
//   - A denial (401 Unauthorized, "denied by sts or ram") is a Missing
//     result whose Grant allows the action and resource the service
//     named. Rejected credentials, an unknown project or an unreachable
//     endpoint end the probes: the calls left are reported as skipped.
func CheckSource(ctx context.Context, cfg config.SLSSource, _ preflight.Options, opts ...Option) []preflight.Result {
	if len(cfg.Logstores) == 0 && cfg.Logstore != "" {
		cfg.Logstores = []string{cfg.Logstore}
	}
	applyDefaults(&cfg)
	p, res, ok := newProbe(cfg.SLSAuth, opts)
	if !ok {
		return res
	}
	for _, ls := range cfg.Logstores {
		p.source(ctx, cfg, ls)
	}
	return p.out
}

// CheckSink probes the calls the SLS sink will make: ListShards on its
// logstore and, only with po.WriteTest, PostLogStoreLogs, writing one log
// with topic [CheckTopic] (fields slspipe_check and host). Without
// WriteTest the write is reported as skipped.
func CheckSink(ctx context.Context, cfg config.SLSSink, po preflight.Options, opts ...Option) []preflight.Result {
	p, res, ok := newProbe(cfg.SLSAuth, opts)
	if !ok {
		return res
	}
	p.sink(ctx, cfg.Logstore, po)
	return p.out
}

// slsProbe runs one connector's preflight calls through one client and
// collects their results. It is used by one goroutine.
type slsProbe struct {
	c     *client
	scrub *strings.Replacer // hides the credentials in any text shown
	out   []preflight.Result
	// halt, once set, is why every further call is skipped: the
	// credentials, project or endpoint are unusable.
	halt string
}

func newProbe(auth config.SLSAuth, opts []Option) (*slsProbe, []preflight.Result, bool) {
	o := options{lookup: os.LookupEnv}
	for _, opt := range opts {
		opt(&o)
	}
	ep, err := slsapi.ParseEndpoint(auth.Endpoint)
	hc := o.hc
	if err == nil && hc == nil {
		hc, err = slsapi.NewHTTPClient(ep, slsapi.ClientOptions{CAFile: auth.CAFile, Timeout: checkTimeout})
	}
	var c *client
	if err == nil {
		c, err = newClient(auth, slsapi.CredentialOptions{Lookup: o.lookup, Logger: o.logger}, hc, "slspipe-check")
	}
	if err != nil {
		return nil, []preflight.Result{{
			Status: preflight.Failed, Check: "credentials and endpoint", Resource: projectARN(auth.Project),
			Detail: err.Error(),
		}}, false
	}
	who := preflight.Result{Status: preflight.OK, Check: "credentials", Resource: projectARN(auth.Project)}
	cred, err := c.Creds.Current()
	if err != nil {
		who.Status, who.Detail = preflight.Failed, err.Error()
		who.Fix = "see docs/operations.md, \"Credentials\", for what each provider needs"
		return nil, []preflight.Result{who}, false
	}
	who.Detail = describeCredentials(cred, time.Now())
	var pairs []string
	for _, s := range []string{cred.AccessKeySecret, cred.AccessKeyID, cred.SecurityToken} {
		if s != "" {
			pairs = append(pairs, s, "<redacted>")
		}
	}
	scrub := strings.NewReplacer(pairs...)
	who.Detail = scrub.Replace(who.Detail)
	return &slsProbe{c: c, scrub: scrub, out: []preflight.Result{who}}, nil, true
}

// describeCredentials says which provider answered and when its
// credentials expire, never what they are.
func describeCredentials(a slsapi.Answer, now time.Time) string {
	kind := "an access key"
	if a.SecurityToken != "" {
		kind = "temporary credentials (STS token)"
	}
	s := fmt.Sprintf("provider %s answered with %s", a.Provider, kind)
	if a.Expiry.IsZero() {
		if a.SecurityToken != "" {
			return s + "; expiry unknown: a static token is not renewed"
		}
		return s + "; no expiry"
	}
	return s + fmt.Sprintf("; expires %s (in %s), renewed before", a.Expiry.UTC().Format(time.RFC3339), a.Expiry.Sub(now).Round(time.Second))
}

// source probes the calls of the source on one logstore.
func (p *slsProbe) source(ctx context.Context, cfg config.SLSSource, logstore string) {
	project := p.c.Name
	ls := logstoreARN(project, logstore)
	var stop string // why the rest of this logstore is skipped

	shard := 0
	p.probe(&stop, "ListShards", "log:ListShards", ls, func() (string, error) {
		shards, err := p.c.sdk.ListShards(project, logstore)
		if err != nil {
			return "", err
		}
		rw := 0
		for i, s := range shards {
			if i == 0 || s.ShardID < shard {
				shard = s.ShardID
			}
			if s.Status == "readwrite" {
				rw++
			}
		}
		return fmt.Sprintf("%d shards, %d readwrite", len(shards), rw), nil
	})
	cursor := ""
	p.probe(&stop, "GetCursor", "log:GetCursorOrData", ls, func() (string, error) {
		var err error
		cursor, err = p.c.sdk.GetCursor(project, logstore, shard, "end")
		return fmt.Sprintf("end cursor of shard %d", shard), err
	})
	if cursor == "" && stop == "" && p.halt == "" {
		p.skip("PullLogs", "log:GetCursorOrData", ls, "not probed: no cursor to pull from")
	} else {
		p.probe(&stop, "PullLogs", "log:GetCursorOrData", ls, func() (string, error) {
			ctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			res, err := p.c.pull(ctx, logstore, shard, cursor, "", 1, cfg.Compression == "zstd", "", &pullBatch{})
			return fmt.Sprintf("pulled %d log groups at the end of shard %d", res.count, shard), err
		})
	}
	if cfg.Query != "" {
		// Run the statement once where the service evaluates it: on the
		// oldest log group of the shard.
		p.probe(&stop, "PullLogs with query", "log:GetCursorOrData", ls, func() (string, error) {
			ctx, cancel := context.WithTimeout(ctx, checkTimeout)
			defer cancel()
			begin, err := p.c.sdk.GetCursor(project, logstore, shard, "begin")
			if err != nil {
				return "", err
			}
			res, err := p.c.pull(ctx, logstore, shard, begin, "", 1, cfg.Compression == "zstd", cfg.Query, &pullBatch{})
			if err != nil {
				return "", fmt.Errorf("the service refused the query: %w", err)
			}
			return fmt.Sprintf("query accepted; on the oldest log group of shard %d it kept %d of %d logs, failed on %d",
				shard, res.lines, res.logsRead, res.failed), nil
		})
	}
	if cfg.ConsumerGroup == "" {
		return
	}

	name := cfg.ConsumerGroup
	cg := sdk.ConsumerGroup{ConsumerGroupName: name, Timeout: max(1, int(cfg.HeartbeatTimeout.D().Seconds())), InOrder: cfg.Ordered}
	group := groupARN(project, logstore, name)
	p.probe(&stop, "CreateConsumerGroup", "log:CreateConsumerGroup", groupARN(project, logstore, "*"), func() (string, error) {
		err := p.c.sdk.CreateConsumerGroup(project, logstore, cg)
		if ae, ok := slsapi.AsAPIError(err); ok && ae.Code == "ConsumerGroupAlreadyExist" {
			return fmt.Sprintf("consumer group %q exists", name), nil
		}
		return fmt.Sprintf("created consumer group %q (run creates it too)", name), err
	})
	p.probe(&stop, "UpdateConsumerGroup", "log:UpdateConsumerGroup", group, func() (string, error) {
		err := p.c.sdk.UpdateConsumerGroup(project, logstore, cg)
		return fmt.Sprintf("timeout %ds, ordered %t, as run sets them", cg.Timeout, cg.InOrder), err
	})
	p.probe(&stop, "GetCheckPoint", "log:GetConsumerGroupCheckPoint", group, func() (string, error) {
		cps, err := p.c.sdk.GetCheckpoint(project, logstore, name)
		n := 0
		for _, cp := range cps {
			if cp != nil && cp.CheckPoint != "" {
				n++
			}
		}
		return fmt.Sprintf("%d shard checkpoints", n), err
	})
	p.skip("UpdateCheckPoint", "log:ConsumerGroupUpdateCheckPoint", group,
		"not probed: writing a checkpoint would move where the group resumes")
	if cfg.GroupMode == "distributed" {
		p.skip("HeartBeat", "log:ConsumerGroupHeartBeat", group,
			"not probed: a heartbeat would join the group and take shards from running replicas")
	}
}

// sink probes the calls of the sink on logstore.
func (p *slsProbe) sink(_ context.Context, logstore string, po preflight.Options) {
	project := p.c.Name
	ls := logstoreARN(project, logstore)
	var stop string
	p.probe(&stop, "ListShards", "log:ListShards", ls, func() (string, error) {
		shards, err := p.c.sdk.ListShards(project, logstore)
		return fmt.Sprintf("%d shards", len(shards)), err
	})
	if !po.WriteTest {
		p.skip("PostLogStoreLogs", "log:PostLogStoreLogs", ls, "not probed: --write-test writes one log with topic "+CheckTopic)
		return
	}
	p.probe(&stop, "PostLogStoreLogs", "log:PostLogStoreLogs", ls, func() (string, error) {
		host := po.Host
		if host == "" {
			host = "unknown"
		}
		lg := &sdk.LogGroup{
			Topic:  proto.String(CheckTopic),
			Source: proto.String(host),
			Logs: []*sdk.Log{{
				Time: proto.Uint32(uint32(time.Now().Unix())),
				Contents: []*sdk.LogContent{
					{Key: proto.String("slspipe_check"), Value: proto.String("write test")},
					{Key: proto.String("host"), Value: proto.String(host)},
				},
			}},
		}
		err := p.c.sdk.PostLogStoreLogs(project, logstore, lg, nil)
		return "wrote 1 log with topic " + CheckTopic, err
	})
}

// probe runs call unless an earlier result stopped this logstore (*stop)
// or the whole probe, and records its result.
func (p *slsProbe) probe(stop *string, check, action, resource string, call func() (string, error)) {
	if why := p.halted(*stop); why != "" {
		p.skip(check, action, resource, "not checked: "+why)
		return
	}
	var detail string
	err := p.c.Creds.Retry(func() error {
		var err error
		detail, err = call()
		return err
	})
	res := preflight.Result{Status: preflight.OK, Check: check, Action: action, Resource: resource, Detail: detail}
	if err != nil {
		res = p.judge(res, err, stop)
	}
	res.Detail, res.Fix = p.scrub.Replace(res.Detail), p.scrub.Replace(res.Fix)
	p.out = append(p.out, res)
}

func (p *slsProbe) halted(stop string) string {
	if p.halt != "" {
		return p.halt
	}
	return stop
}

// skip records a call that was not made, with the statement granting it.
func (p *slsProbe) skip(check, action, resource, why string) {
	p.out = append(p.out, preflight.Result{
		Status: preflight.Skipped, Check: check, Action: action, Resource: resource,
		Detail: why, Grant: preflight.Allow(resource, action),
	})
}

// denial finds the action and resource in the service's RAM denial,
// "denied by sts or ram, action: log:ListShards, resource: acs:log:…".
var denial = regexp.MustCompile(`action:\s*([A-Za-z0-9:*]+),\s*resource:\s*(\S+)`)

// judge turns a failed call into its result and decides what else it
// stops: a denial stops nothing; a missing logstore stops the logstore's
// other calls (*stop); rejected credentials, a missing project or an
// unreachable endpoint stop everything (p.halt).
func (p *slsProbe) judge(res preflight.Result, err error, stop *string) preflight.Result {
	project := p.c.Name
	var ce *slsapi.CredentialsError
	if errors.As(err, &ce) {
		res.Status, res.Detail = preflight.Failed, ce.Error()
		p.halt = "credentials rejected"
		return res
	}
	ae, ok := slsapi.AsAPIError(err)
	if !ok {
		ae, ok = foldedAPIError(err)
	}
	if !ok {
		res.Status, res.Detail = preflight.Failed, slsapi.Describe(err)
		if slsapi.IsNetwork(err) {
			res.Detail = "endpoint " + p.c.Endpoint.Raw + " unreachable: " + slsapi.Describe(err)
			p.halt = "endpoint unreachable"
		}
		return res
	}
	req := ""
	if ae.RequestID != "" {
		req = " (request " + ae.RequestID + ")"
	}
	switch {
	case ae.Code == "Unauthorized" && strings.Contains(ae.Message, "denied by"):
		action, resource := res.Action, res.Resource
		if m := denial.FindStringSubmatch(ae.Message); m != nil {
			action, resource = m[1], anyRegionAccount(m[2])
		}
		res.Status = preflight.Missing
		res.Detail = fmt.Sprintf("denied by RAM: the access key may not %s%s", action, req)
		res.Grant = preflight.Allow(resource, action)
	case ae.Code == "InvalidAccessKeyId":
		res.Status = preflight.Failed
		res.Detail = "the access key id is not known to the service (InvalidAccessKeyId)" + req
		res.Fix = "check access_key_id, or ALIBABA_CLOUD_ACCESS_KEY_ID when it is empty"
		p.halt = "credentials rejected"
	case ae.Code == "SignatureNotMatch":
		res.Status = preflight.Failed
		res.Detail = "the signature does not match: the access key secret is wrong (SignatureNotMatch)" + req
		res.Fix = "check access_key_secret, or ALIBABA_CLOUD_ACCESS_KEY_SECRET when it is empty"
		p.halt = "credentials rejected"
	case ae.Status == http.StatusUnauthorized || strings.Contains(ae.Code, "SecurityToken"):
		res.Status = preflight.Failed
		res.Detail = fmt.Sprintf("credentials refused: %d %s%s", ae.Status, ae.Code, req)
		res.Fix = "check the access key, and security_token for STS credentials"
		p.halt = "credentials rejected"
	case ae.Code == "ProjectNotExist":
		res.Status = preflight.Missing
		res.Detail = fmt.Sprintf("project %q does not exist at %s (ProjectNotExist)%s", project, p.c.Endpoint.Raw, req)
		res.Fix = "check project and endpoint (the project's region)"
		p.halt = "project does not exist"
	case ae.Code == "LogStoreNotExist":
		res.Status = preflight.Missing
		res.Detail = fmt.Sprintf("logstore does not exist in project %q (LogStoreNotExist)%s", project, req)
		res.Fix = "check the logstore name, or create the logstore"
		*stop = "logstore does not exist"
	case ae.Code == "ConsumerGroupNotExist":
		res.Status = preflight.Missing
		res.Detail = "consumer group does not exist (ConsumerGroupNotExist)" + req
	case ae.Code == "RequestTimeExpired":
		res.Status = preflight.Failed
		res.Detail = "this machine's clock is more than 15 minutes off (RequestTimeExpired)" + req
		p.halt = "clock skew"
	case ae.Status == http.StatusForbidden || ae.Status == http.StatusTooManyRequests:
		res.Status = preflight.Failed
		res.Detail = fmt.Sprintf("throttled, not a permission problem: %d %s%s; try again", ae.Status, ae.Code, req)
	default:
		res.Status = preflight.Failed
		res.Detail = fmt.Sprintf("%d %s: %s%s", ae.Status, ae.Code, ae.Message, req)
	}
	return res
}

// foldedCode finds an error code in the text of an error the SDK turned
// into a plain string.
var foldedCode = regexp.MustCompile(`\b(Unauthorized|InvalidAccessKeyId|SignatureNotMatch|ProjectNotExist|LogStoreNotExist|ConsumerGroupNotExist|RequestTimeExpired)\b`)

func foldedAPIError(err error) (*slsapi.APIError, bool) {
	var se *sdk.Error
	if errors.As(err, &se) && se.HTTPCode <= 0 {
		return nil, false // a transport failure
	}
	m := foldedCode.FindStringSubmatch(err.Error())
	if m == nil {
		return nil, false
	}
	return &slsapi.APIError{Code: m[1], Message: err.Error()}, true
}

// anyRegionAccount replaces the region and account of an SLS resource name
// with "*", so that the statement fits whatever region and account the
// policy is attached in.
func anyRegionAccount(resource string) string {
	parts := strings.SplitN(resource, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "log" {
		return resource
	}
	return "acs:log:*:*:" + parts[4]
}

func projectARN(project string) string { return "acs:log:*:*:project/" + project }

func logstoreARN(project, logstore string) string {
	return projectARN(project) + "/logstore/" + logstore
}

func groupARN(project, logstore, group string) string {
	return logstoreARN(project, logstore) + "/consumergroup/" + group
}
