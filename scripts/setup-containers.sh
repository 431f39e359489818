#!/usr/bin/env bash
# Installs what building and running the slspipe container image needs on a
# Debian machine (podman, buildah, runc and their helpers), and writes a
# project-local containers.conf that works on hosts where the defaults fail:
#
#   - crun cannot run on cgroup v1 "hybrid" hosts, so runc is the runtime;
#   - podman's default ulimits exceed the hard limits of some VMs and CI
#     runners ("error setting rlimit ... operation not permitted"), so the
#     defaults are lowered to the current hard limits.
#
# The file goes to bin/containers/containers.conf (or $SLSPIPE_CONTAINERS_CONF);
# scripts/image.sh and scripts/image-smoke.sh pass it through CONTAINERS_CONF.
# The user's global configuration is never modified.
#
# Idempotent: installs only what is missing; prints the config path last.
set -euo pipefail
cd "$(dirname "$0")/.."

conf=${SLSPIPE_CONTAINERS_CONF:-$PWD/bin/containers/containers.conf}

need_apt=()
command -v podman >/dev/null || need_apt+=(podman)
command -v buildah >/dev/null || need_apt+=(buildah)
command -v runc >/dev/null || need_apt+=(runc)
# Rootless podman needs newuidmap/newgidmap and a user-mode network and
# overlay; root uses the CNI plugins. Both sets are small.
command -v newuidmap >/dev/null || need_apt+=(uidmap)
command -v slirp4netns >/dev/null || need_apt+=(slirp4netns)
command -v fuse-overlayfs >/dev/null || need_apt+=(fuse-overlayfs)
[[ -d /usr/lib/cni || -d /usr/libexec/cni ]] || need_apt+=(containernetworking-plugins)
# scripts/image-smoke.sh probes the endpoints with curl and writes logs into
# the emulator with a small python3 client.
command -v curl >/dev/null || need_apt+=(curl)
# scripts/image.sh copies the host's CA bundle into the image.
[[ -s /etc/ssl/certs/ca-certificates.crt ]] || need_apt+=(ca-certificates)
command -v python3 >/dev/null || need_apt+=(python3)

if ((${#need_apt[@]})); then
	if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
	echo "setup-containers: installing Debian packages: ${need_apt[*]}" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

# Never ask for more than the hard limits allow, and keep nproc modest: a
# pipeline needs few threads, and a high soft limit is what runc cannot set.
nofile_hard=$(ulimit -Hn)
[[ $nofile_hard == unlimited ]] && nofile_hard=1048576
((nofile_hard > 65536)) && nofile_hard=65536
nproc_hard=$(ulimit -Hu)
[[ $nproc_hard == unlimited ]] && nproc_hard=4096
((nproc_hard > 4096)) && nproc_hard=4096

mkdir -p "$(dirname "$conf")"
tmp=$(mktemp "$conf.XXXXXX")
cat >"$tmp" <<EOF
# Written by scripts/setup-containers.sh; used through CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=${nofile_hard}:${nofile_hard}", "nproc=${nproc_hard}:${nproc_hard}"]

[engine]
runtime = "runc"
EOF
mv "$tmp" "$conf"

# A quick sanity check, so a broken host is reported here and not in the middle
# of a build.
if ! CONTAINERS_CONF=$conf podman info >/dev/null 2>&1; then
	echo "setup-containers: 'podman info' fails with $conf:" >&2
	CONTAINERS_CONF=$conf podman info 2>&1 | tail -5 >&2 || true
	exit 1
fi
echo "$conf"
