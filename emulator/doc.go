// Package emulator is an SLS (Alibaba Cloud Log Service) compatible HTTP
// server that the official SDKs talk to unmodified, with request signatures
// checked. It serves logstores, shards with hash ranges, split and merge,
// cursors, PullLogs, PutLogs and PostLogStoreLogs, and consumer groups, in
// memory or persisted to a directory. slspipe's tests, benchmarks and demo
// run against it, and `slspipe emulator` serves it on its own.
//
// The SDK puts the project into the Host name ("<project>.<endpoint>"),
// which does not resolve for a local address, so point the SDK's HTTP
// client at the emulator instead of at the resolved host:
//
//	srv, _ := emulator.New(emulator.Config{
//		Logstores: []emulator.LogstoreSpec{{Project: "demo", Logstore: "nginx", Shards: 4}},
//	})
//	_ = srv.Start(ctx, "127.0.0.1:0")
//	defer srv.Close()
//
//	client := sls.CreateNormalInterface(srv.Addr(), emulator.DefaultAccessKeyID, emulator.DefaultAccessKeySecret, "")
//	client.SetHTTPClient(srv.HTTPClient()) // or emulator.DialClient("127.0.0.1:9100")
//	shards, _ := client.ListShards("demo", "nginx")
//
// The consumer and producer libraries take the same client through
// consumer.LogHubConfig.HTTPClient and producer.ProducerConfig.HTTPClient.
//
// # Notes
//
//   - The project is the Host header up to its first '.', so any endpoint
//     string works ("127.0.0.1:9100", "localhost", "cn-hangzhou.example").
//   - Cursors are base64 decimal integers, consecutive per log group within
//     a shard, as the SDK assumes.
//   - Log.Time must lie within [now-7d, now+15min] (InvalidTimestamp
//     otherwise), as on the service. Logstore TTL is recorded but data never
//     expires on its own; Server.ExpireBefore expires a shard's old data.
//   - Config.Denied refuses RAM actions to access keys; each route names
//     its action (log:ListShards, log:GetCursorOrData, log:PostLogStoreLogs,
//     the consumer-group actions…) and a denied call is answered 401
//     Unauthorized, "denied by sts or ram, action: …, resource: …", before
//     the resource is looked up, as on the service.
//   - Signatures cover the body: a v1 request with a body needs
//     Content-MD5 and a v4 request's x-log-content-sha256 must be the
//     SHA-256 of the body received (400 MissingContentMD5,
//     InvalidContentMD5, InvalidContentSha256 otherwise), so a captured
//     request cannot be replayed with another body.
//   - The fault injector is also served under /_emulator/faults (see
//     faults.Injector.AdminHandler) to callers presenting the secret of one
//     of the access keys as "Authorization: Bearer <secret>"; requests a
//     web page could send (Origin, Sec-Fetch-Site) are refused, bodies must
//     be JSON of at most 1 MiB.
//   - Pulls never recompress: each log group is stored once as an LZ4 block
//     and a pull joins consecutive blocks, re-encoding only their seams.
//   - A pull with query (rule-based consumption, the SDK's
//     PullLogsWithQuery) runs the SPL statement (package spl: where,
//     extend, project, project-away, project-rename, parse-regexp,
//     parse-json, parse-csv and SQL expressions) on every log of the groups
//     it reads, and answers what survives: groups keep their topic, source
//     and tags, a group left empty is not sent, the cursor moves past every
//     group read. x-log-rawdatacount, x-log-rawdatasize and
//     x-log-rawdatalines say what was read, x-log-resultlines and
//     x-log-failedlines what was kept and what the statement failed on (left
//     out). A malformed or unsupported statement is answered 400
//     ParameterInvalid, "invalid query: line L, column C: …". Such a pull
//     decodes, filters and re-encodes; a statement of only where clauses
//     passes kept logs' bytes through unchanged.
//   - Temporary credentials: with Config.Roles the server also answers as
//     STS (POST / with Action=AssumeRole or AssumeRoleWithOIDC), and with
//     Config.InstanceRole as the ECS metadata service (/latest/...);
//     Config.TokenLifetime shortens every temporary credential. SLS calls
//     with an expired or unknown security token are answered 401
//     Unauthorized, as on the service. StartTLS serves the same over HTTPS
//     with a certificate of the emulator's own CA (CACertificatePEM).
package emulator
