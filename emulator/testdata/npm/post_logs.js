'use strict';

// Writes log groups to an SLS endpoint with the official Node SDK
// (@alicloud/log, v1 signatures), for npm_e2e_test.go.
//
// stdin: {"endpoint": "host:port", "project", "logstore", "accessKeyId",
//         "accessKeySecret", "securityToken"?,
//         "groups": [{"topic", "source", "tags": [[k, v]…],
//                     "logs": [{"timestamp", "timestampNsPart"?, "contents": [[k, v]…]}]}]}
// stdout: {"posted": n} when every group was accepted, or
//         {"posted": n, "error": {"code", "message", "requestid"}} on the first refusal.
//
// Every host name resolves to 127.0.0.1, so "<project>.<endpoint>" reaches
// the local server on the endpoint's port.

const http = require('http');
const Client = require('@alicloud/log');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function loopbackLookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  }
  if (options && options.all) {
    callback(null, [{ address: '127.0.0.1', family: 4 }]);
    return;
  }
  callback(null, '127.0.0.1', 4);
}

async function main() {
  const input = JSON.parse(await readStdin());
  const client = new Client({
    endpoint: input.endpoint,
    accessKeyId: input.accessKeyId,
    accessKeySecret: input.accessKeySecret,
    securityToken: input.securityToken || undefined,
  });
  const agent = new http.Agent({ keepAlive: false, lookup: loopbackLookup });

  let posted = 0;
  for (const group of input.groups) {
    const data = {
      topic: group.topic,
      source: group.source,
      tags: (group.tags || []).map(([k, v]) => ({ [k]: v })),
      logs: group.logs.map((log) => {
        const out = { timestamp: log.timestamp, content: Object.fromEntries(log.contents) };
        if (log.timestampNsPart !== undefined) {
          out.timestampNsPart = log.timestampNsPart;
        }
        return out;
      }),
    };
    try {
      await client.postLogStoreLogs(input.project, input.logstore, data, { agent, timeout: 30000 });
    } catch (err) {
      process.stdout.write(JSON.stringify({
        posted,
        error: { code: err.code || err.name, message: err.message, requestid: err.requestid || '' },
      }));
      return;
    }
    posted++;
  }
  process.stdout.write(JSON.stringify({ posted }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(1);
});
