#!/usr/bin/env bash
# Builds the slspipe container image (what `make image` runs).
#
# The binary is compiled on the host (static, CGO_ENABLED=0) and packaged on an
# empty base by the Containerfile, so no base image and no network are needed.
# The image is tagged localhost/slspipe:<version> and localhost/slspipe:latest.
#
# Environment:
#   VERSION          image tag and version stamped into the binary
#                    (default: git describe, else "dev")
#   IMAGE            repository name (default: localhost/slspipe)
#   CONTAINERS_CONF  containers.conf to use (default: the one
#                    scripts/setup-containers.sh writes)
#   IMAGE_ARCHIVE    also write the image to this oci-archive tarball
#
# Prints the image reference on the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "image: $*" >&2; exit 1; }

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
IMAGE=${IMAGE:-localhost/slspipe}
# Tags may not contain '+' or start with '.' or '-'.
tag=$(printf '%s' "$VERSION" | tr -c 'A-Za-z0-9_.-' '-')
tag=${tag#[.-]}

# The project-local containers.conf (runc, ulimits the host can grant).
if [[ -z ${CONTAINERS_CONF:-} ]]; then
	CONTAINERS_CONF=$PWD/bin/containers/containers.conf
	[[ -f $CONTAINERS_CONF ]] || ./scripts/setup-containers.sh >/dev/null ||
		die "scripts/setup-containers.sh failed; see above"
fi
export CONTAINERS_CONF

# Pick the first tool that actually works here, not just the first installed.
tool=
if command -v podman >/dev/null && podman info >/dev/null 2>&1; then
	tool=podman
elif command -v buildah >/dev/null && buildah info >/dev/null 2>&1; then
	tool=buildah
fi
if [[ -z $tool ]]; then
	die "neither podman nor buildah works on this machine.
  Install them with scripts/setup-containers.sh (Debian), or check
  'podman info' with CONTAINERS_CONF=$CONTAINERS_CONF for the cause."
fi

# 1. The static binary.
go=${GO:-go}
echo "image: building bin/slspipe $VERSION (CGO_ENABLED=0)" >&2
CGO_ENABLED=0 GOOS=linux $go build -trimpath -ldflags "-s -w -X main.version=$VERSION" \
	-o bin/slspipe ./cmd/slspipe

# 2. The build context: the binary and a minimal root.
ctx=bin/image-context
rm -rf "$ctx"
mkdir -p "$ctx/rootfs/etc/ssl/certs" "$ctx/rootfs/tmp" "$ctx/data"
chmod 1777 "$ctx/rootfs/tmp"
ln -f bin/slspipe "$ctx/slspipe" 2>/dev/null || cp bin/slspipe "$ctx/slspipe"
cat >"$ctx/rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
slspipe:x:65532:65532:slspipe:/data:/sbin/nologin
EOF
cat >"$ctx/rootfs/etc/group" <<'EOF'
root:x:0:
slspipe:x:65532:
EOF
ca=
for f in /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/cert.pem; do
	[[ -s $f ]] && { ca=$f; break; }
done
[[ -n $ca ]] || die "no CA bundle on this machine (install ca-certificates); https endpoints need it"
cp "$ca" "$ctx/rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$ctx"/rootfs/etc/passwd "$ctx"/rootfs/etc/group "$ctx"/rootfs/etc/ssl/certs/ca-certificates.crt

# 3. The image.
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "image: building $IMAGE:$tag with $tool" >&2
case $tool in
podman)
	podman build --quiet --layers=false --format oci -f Containerfile \
		--build-arg VERSION="$VERSION" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
		-t "$IMAGE:$tag" -t "$IMAGE:latest" "$ctx" >/dev/null
	;;
buildah)
	buildah build --quiet --layers=false --format oci -f Containerfile \
		--build-arg VERSION="$VERSION" --build-arg REVISION="$revision" --build-arg CREATED="$created" \
		-t "$IMAGE:$tag" -t "$IMAGE:latest" "$ctx" >/dev/null
	;;
esac

# Rebuilding moves the tags; drop the earlier slspipe images left untagged.
if [[ $tool == podman ]]; then
	podman image prune -f --filter label=org.opencontainers.image.title=slspipe >/dev/null 2>&1 || true
fi

if [[ -n ${IMAGE_ARCHIVE:-} ]]; then
	rm -f "$IMAGE_ARCHIVE"
	if [[ $tool == podman ]]; then
		podman save -q --format oci-archive -o "$IMAGE_ARCHIVE" "$IMAGE:$tag"
	else
		buildah push "$IMAGE:$tag" "oci-archive:$IMAGE_ARCHIVE:$IMAGE:$tag"
	fi
	echo "image: wrote $IMAGE_ARCHIVE" >&2
fi

size=$($tool images --format '{{.Size}}' "$IMAGE:$tag" 2>/dev/null | head -1 || true)
echo "image: $IMAGE:$tag ${size:+($size)}" >&2
echo "$IMAGE:$tag"
