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
//   - Pulls never recompress: each log group is stored once as an LZ4 block
//     and a pull joins consecutive blocks, re-encoding only their seams.
//   - Temporary credentials: with Config.Roles the server also answers as
//     STS (POST / with Action=AssumeRole or AssumeRoleWithOIDC), and with
//     Config.InstanceRole as the ECS metadata service (/latest/...);
//     Config.TokenLifetime shortens every temporary credential. SLS calls
//     with an expired or unknown security token are answered 401
//     Unauthorized, as on the service. StartTLS serves the same over HTTPS
//     with a certificate of the emulator's own CA (CACertificatePEM).
package emulator
