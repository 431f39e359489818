package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/slspipe/slspipe/emulator"
)

func newEmulatorCmd() *cobra.Command {
	var (
		addr      string
		specs     []string
		keyID     string
		keySecret string
		dataDir   string
		denies    []string
		tlsAddr   string
		caFile    string
		roles     []string
		oidc      []string
		instance  string
		lifetime  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Run a local SLS-compatible server to develop and test against",
		Long: `Run a local server that speaks the Alibaba Cloud Log Service (SLS) API well
enough for the official SDKs, their consumer and producer libraries, and
slspipe itself: logstores, shards and hash ranges, split and merge, cursors,
PullLogs, PutLogs, PostLogStoreLogs and consumer groups. Requests must be
signed (v1 or v4) with the configured access key.

Data lives in memory unless --data names a directory, in which case logstores,
shards, log groups and consumer-group checkpoints survive restarts.

When it is ready it prints one line, "listening on HOST:PORT", on stdout.
SIGINT or SIGTERM stops it cleanly.

Credentials default to access key id "` + emulator.DefaultAccessKeyID + `" and secret
"` + emulator.DefaultAccessKeySecret + `" (local use only).

--deny KEYID=log:Action,... refuses RAM actions to an access key, as a RAM
policy's Deny statement would: a call needing one is answered like the
service answers it, HTTP 401 with errorCode "Unauthorized" and the message
"denied by sts or ram, action: log:ListShards, resource:
acs:log:local:emulator:project/<p>/logstore/<l>". Actions are the service's:
log:ListShards, log:GetCursorOrData (GetCursor, GetCursorTime, PullLogs),
log:PostLogStoreLogs (every write), log:CreateConsumerGroup,
log:UpdateConsumerGroup, log:ListConsumerGroup, log:ConsumerGroupHeartBeat,
log:ConsumerGroupUpdateCheckPoint, log:GetConsumerGroupCheckPoint,
log:GetLogStore, log:ListLogStores, log:GetProject and the like; "log:Get*"
and "log:*" match several. Use it to try "slspipe check" or a client's
handling of a missing permission.

Faults (throttling, 5xx, latency, dropped connections) are injected through
/_emulator/faults, JSON in and out, with the access key secret as a bearer
token; requests a web page could send are refused:

    curl -H 'Authorization: Bearer ` + emulator.DefaultAccessKeySecret + `' -H 'Content-Type: application/json' \
      -X POST 127.0.0.1:9100/_emulator/faults -d '{"match":{"kind":"read"},"count":20,"status":403}'

Temporary credentials: --role ARN lets the emulator's STS (POST / with
Action=AssumeRole or AssumeRoleWithOIDC, as https://sts.aliyuncs.com answers
them) issue credentials for that role, to requests signed by the access key
(AssumeRole) or holding an OIDC token from an --oidc-provider
(AssumeRoleWithOIDC). --instance-role NAME makes it answer as the ECS
instance metadata service of an instance with that role attached
(/latest/meta-data/ram/security-credentials/NAME, reached by sending the
requests for 100.100.100.200 through the emulator as an HTTP proxy).
--token-lifetime shortens every temporary credential, so that tests see
them expire. Requests with an expired security token are answered 401
Unauthorized "The security token you provided has expired.", an unknown one
"The security token you provided is invalid.".

HTTPS: --tls-addr also serves everything over TLS, with a certificate for
127.0.0.1, ::1 and localhost signed by a CA the emulator creates at start
and writes to --ca-file; it then prints a second line, "listening with TLS
on HOST:PORT". Credentials libraries call STS over HTTPS only.

Pointing the Go SDK at it: the SDK sends the project in the Host
("<project>.<endpoint>"), which does not resolve locally, so give the SDK an
http.Client that always dials the emulator:

    client := sls.CreateNormalInterface("127.0.0.1:9100",
        "` + emulator.DefaultAccessKeyID + `", "` + emulator.DefaultAccessKeySecret + `", "")
    client.SetHTTPClient(emulator.DialClient("127.0.0.1:9100"))
    shards, err := client.ListShards("demo", "nginx")

The consumer and producer libraries take the same client in
consumer.LogHubConfig.HTTPClient and producer.ProducerConfig.HTTPClient.`,
		Example: `  # two logstores, 4 and 2 shards, on a fixed port
  slspipe emulator --addr 127.0.0.1:9100 --logstore demo/nginx:4 --logstore demo/out:2

  # pick a free port and keep data across restarts
  slspipe emulator --addr 127.0.0.1:0 --logstore demo/nginx:4 --data ./sls-data

  # an STS and a metadata service whose tokens live 5 seconds, over HTTPS too
  slspipe emulator --logstore demo/nginx:4 --role acs:ram::1234567890:role/slspipe \
    --oidc-provider acs:ram::1234567890:oidc-provider/ack --instance-role slspipe \
    --token-lifetime 5s --tls-addr 127.0.0.1:0 --ca-file ./emulator-ca.pem

  # the default key may not list shards nor write
  slspipe emulator --logstore demo/nginx:4 --deny slspipe-local=log:ListShards,log:PostLogStoreLogs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := emulator.Config{
				DataDir:       dataDir,
				Logger:        slog.New(slog.NewTextHandler(os.Stderr, nil)),
				Roles:         roles,
				OIDCProviders: oidc,
				InstanceRole:  instance,
				TokenLifetime: lifetime,
			}
			if caFile != "" && tlsAddr == "" {
				return errors.New("--ca-file needs --tls-addr")
			}
			if keyID != "" || keySecret != "" {
				if keyID == "" || keySecret == "" {
					return errors.New("--access-key-id and --access-key-secret go together")
				}
				cfg.AccessKeys = map[string]string{keyID: keySecret}
			}
			for _, d := range denies {
				id, actions, err := emulator.ParseDenySpec(d)
				if err != nil {
					return err
				}
				if cfg.Denied == nil {
					cfg.Denied = map[string][]string{}
				}
				cfg.Denied[id] = append(cfg.Denied[id], actions...)
			}
			for _, s := range specs {
				spec, err := emulator.ParseLogstoreSpec(s)
				if err != nil {
					return err
				}
				cfg.Logstores = append(cfg.Logstores, spec)
			}
			srv, err := emulator.New(cfg)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if err := srv.Start(ctx, addr); err != nil {
				srv.Close()
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", srv.Addr())
			if tlsAddr != "" {
				if err := srv.StartTLS(ctx, tlsAddr); err != nil {
					srv.Close()
					return err
				}
				if caFile != "" {
					if err := os.WriteFile(caFile, srv.CACertificatePEM(), 0o644); err != nil {
						srv.Close()
						return fmt.Errorf("write --ca-file: %w", err)
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "listening with TLS on %s\n", srv.TLSAddr())
			}
			cfg.Logger.Info("emulator started", "addr", srv.Addr(), "logstores", len(cfg.Logstores), "data", dataDir)
			<-ctx.Done()
			cfg.Logger.Info("emulator stopping")
			if err := srv.Close(); err != nil {
				return fmt.Errorf("stop emulator: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9100", "address to listen on; port 0 picks a free port")
	f.StringArrayVar(&specs, "logstore", nil, "create `project/logstore:shards` at start (repeatable)")
	f.StringVar(&keyID, "access-key-id", "", "access key id clients sign with (default "+emulator.DefaultAccessKeyID+")")
	f.StringVar(&keySecret, "access-key-secret", "", "access key secret clients sign with (default: the documented local secret)")
	f.StringVar(&dataDir, "data", "", "directory to persist data in (default: memory only)")
	f.StringVar(&tlsAddr, "tls-addr", "", "also serve HTTPS on this address, with a certificate of the emulator's own CA")
	f.StringVar(&caFile, "ca-file", "", "write the emulator's CA certificate (PEM) to this file (with --tls-addr)")
	f.StringArrayVar(&roles, "role", nil, "a RAM role `ARN` the STS issues temporary credentials for (repeatable)")
	f.StringArrayVar(&oidc, "oidc-provider", nil, "an OIDC provider `ARN` the roles trust for AssumeRoleWithOIDC (repeatable)")
	f.StringVar(&instance, "instance-role", "", "answer as the ECS metadata service of an instance with this RAM role `name`")
	f.DurationVar(&lifetime, "token-lifetime", 0, "lifetime of every temporary credential (default: as requested from STS, 6h from the metadata service)")
	f.StringArrayVar(&denies, "deny", nil, "refuse RAM actions to an access key: `KEYID=log:Action[,log:Action...]` (repeatable)")
	return cmd
}
