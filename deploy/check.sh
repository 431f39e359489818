#!/usr/bin/env bash
# Checks the Kubernetes manifests without a cluster:
#
#   1. every YAML file under deploy/ parses (python3 with PyYAML);
#   2. the manifests agree with the pipeline file: probes reach metrics.listen,
#      terminationGracePeriodSeconds exceeds limits.shutdown_timeout, every
#      ${VAR} the pipeline needs is set in the container's env, every Secret
#      key referenced exists, the pod runs as the image's non-root user with a
#      read-only root filesystem, and /data is mounted;
#   3. `kubectl kustomize` renders the kustomization (when kubectl is present);
#   4. `slspipe validate` accepts the embedded pipeline, with the env the pod
#      gives it.
#
# Usage: deploy/check.sh [path/to/slspipe]   (default bin/slspipe, built if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

slspipe=${1:-bin/slspipe}
if [[ ! -x $slspipe ]]; then
	echo "deploy-check: building $slspipe" >&2
	CGO_ENABLED=0 go build -trimpath -o "$slspipe" ./cmd/slspipe
fi
# A python3 with PyYAML: the one on PATH, else Debian's (installing python3-yaml).
py=python3
if ! "$py" -c 'import yaml' 2>/dev/null; then
	py=/usr/bin/python3
	if ! "$py" -c 'import yaml' 2>/dev/null; then
		echo "deploy-check: installing python3-yaml" >&2
		if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
		$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-yaml >/dev/null
	fi
fi

dir=deploy/kubernetes

# 1 and 2. Parse and cross-check. Prints "ENV NAME=VALUE" lines for step 4.
env_lines=$("$py" - "$dir" <<'PY'
import glob, os, re, sys
import yaml

d = sys.argv[1]
problems = []
def problem(msg):
    problems.append(msg)

docs = {}
for path in sorted(glob.glob("deploy/**/*.yaml", recursive=True) + glob.glob("deploy/**/*.yml", recursive=True)):
    try:
        with open(path) as f:
            loaded = [x for x in yaml.safe_load_all(f) if x is not None]
    except yaml.YAMLError as e:
        problem(f"{path}: {e}")
        continue
    docs[path] = loaded
    print(f"deploy-check: parsed {path} ({len(loaded)} document(s))", file=sys.stderr)
if problems:
    print("\n".join(problems), file=sys.stderr); sys.exit(1)

def kind(k):
    return [o for p, objs in docs.items() if p.startswith(d) for o in objs
            if isinstance(o, dict) and o.get("kind") == k]

kust = docs[os.path.join(d, "kustomization.yaml")][0]
listed = set(kust.get("resources", []))
for gen in kust.get("configMapGenerator", []):
    listed.update(gen.get("files", []))
for path in docs:
    if path.startswith(d + "/") and os.path.basename(path) not in listed | {"kustomization.yaml"}:
        problem(f"{path}: not listed in kustomization.yaml")
for r in listed:
    if not os.path.exists(os.path.join(d, r)):
        problem(f"kustomization.yaml lists {r}, which does not exist")

pipeline = docs[os.path.join(d, "pipeline.yaml")][0]
deps = kind("Deployment")
if len(deps) != 1:
    problem(f"want one Deployment, found {len(deps)}")
dep = deps[0]
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]

def duration(s):
    total = 0.0
    for n, unit in re.findall(r"([0-9.]+)(ms|h|m|s)", s):
        total += float(n) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total

# Metrics and probes.
listen = pipeline.get("metrics", {}).get("listen", "127.0.0.1:9464")
host, _, port = listen.rpartition(":")
if host not in ("0.0.0.0", "", "[::]"):
    problem(f"metrics.listen is {listen}: probes from the kubelet need 0.0.0.0")
ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
for probe in ("readinessProbe", "livenessProbe"):
    pr = c.get(probe)
    if not pr:
        problem(f"container has no {probe}"); continue
    want = "/readyz" if probe == "readinessProbe" else "/healthz"
    if pr["httpGet"]["path"] != want:
        problem(f"{probe} path is {pr['httpGet']['path']}, want {want}")
    p = pr["httpGet"]["port"]
    p = ports.get(p, p)
    if str(p) != port:
        problem(f"{probe} port {p} is not metrics.listen port {port}")

# Graceful shutdown.
shutdown = duration(pipeline.get("limits", {}).get("shutdown_timeout", "30s"))
grace = pod.get("terminationGracePeriodSeconds", 30)
if grace <= shutdown:
    problem(f"terminationGracePeriodSeconds {grace} must exceed limits.shutdown_timeout ({shutdown:g}s)")

# Consumer group.
sls = pipeline["source"].get("sls", {})
if sls.get("group_mode") != "distributed" or not sls.get("consumer_group"):
    problem("source.sls needs consumer_group and group_mode: distributed for replicas")
if "${POD_NAME}" not in str(sls.get("consumer_name", "")):
    problem("source.sls.consumer_name should be ${POD_NAME}")

# Environment: every ${VAR} without a default must be set by the container.
env = {e["name"]: e for e in c.get("env", [])}
with open(os.path.join(d, "pipeline.yaml")) as f:
    text = "\n".join(l.split(" #")[0] for l in f if not l.lstrip().startswith("#"))
needed = sorted({m for m in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text)})
for v in needed:
    if v not in env:
        problem(f"pipeline.yaml uses ${{{v}}} but the container does not set {v}")
if env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "metadata.name":
    problem("POD_NAME must come from the downward API (metadata.name)")
secrets = {s["metadata"]["name"]: s for s in kind("Secret")}
for name, e in env.items():
    ref = e.get("valueFrom", {}).get("secretKeyRef")
    if not ref:
        continue
    s = secrets.get(ref["name"])
    if s is None:
        problem(f"env {name} refers to Secret {ref['name']}, which is not in the manifests")
    elif ref["key"] not in {**s.get("stringData", {}), **s.get("data", {})}:
        problem(f"env {name} refers to key {ref['key']} missing from Secret {ref['name']}")

# Security and storage.
psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
if not psc.get("runAsNonRoot") or psc.get("runAsUser") != 65532:
    problem("pod must run as non-root user 65532 (the image's user)")
if not csc.get("readOnlyRootFilesystem") or csc.get("allowPrivilegeEscalation", True):
    problem("container needs readOnlyRootFilesystem and allowPrivilegeEscalation: false")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
ckpt = pipeline.get("checkpoint", {}).get("path", "")
if "/data" not in mounts or not ckpt.startswith("/data/"):
    problem(f"checkpoint.path ({ckpt}) must be under the /data volume")
if "/etc/slspipe" not in mounts:
    problem("the pipeline ConfigMap must be mounted at /etc/slspipe")
if c.get("resources", {}).get("limits", {}).get("memory") is None:
    problem("the container needs a memory limit (see limits.max_inflight_bytes)")

if problems:
    print("\n".join("deploy-check: " + p for p in problems), file=sys.stderr)
    sys.exit(1)
# Values for validating the pipeline as the pod would see it; secrets get
# placeholders.
for v in needed:
    e = env[v]
    print(f"{v}={e.get('value', 'check-placeholder')}")
PY
)
echo "deploy-check: manifests agree with pipeline.yaml" >&2

# 3. Render the kustomization.
if command -v kubectl >/dev/null; then
	rendered=$(kubectl kustomize "$dir")
	kinds=$(grep -E '^kind: ' <<<"$rendered" | sed 's/kind: //' | sort | tr '\n' ' ')
	echo "deploy-check: kubectl kustomize renders: $kinds" >&2
else
	echo "deploy-check: kubectl not found; kustomize rendering not checked" >&2
fi

# 4. The pipeline, as the pod sees it.
mapfile -t envs <<<"$env_lines"
env "${envs[@]}" "$slspipe" validate "$dir/pipeline.yaml"
