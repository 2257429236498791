#!/usr/bin/env bash
# Build kubetask's container images with `docker build` (Debian's docker.io) and save them as
# docker-archive tars that scripts/cluster/cluster.sh imports into the node's containerd.
#   images.sh            build what changed; prints the tar paths (one per line)
#   images.sh derived CONTEXT TAG TAR
#                        also build CONTEXT/Dockerfile (e.g. FROM docker.io/kubetask/executor:dev, a handler
#                        package installed) as TAG with the same private dockerd, no network, and save it to TAR
# No registry is reachable here: the base is local/python:1 (made by scripts/cluster/build.sh), passed as
# the Dockerfile's BASE build argument. A private dockerd is started for the build when none answers.
# Cached by content: a tar is rebuilt only when its Dockerfile or the package sources change.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KUBETASK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetask}
BASE_TAR=$CACHE/k8s-v1.20/images/python.tar
OUT=$CACHE/images
log() { echo "[images.sh $(date +%T)] $*" >&2; }
die() { echo "images.sh: $*" >&2; exit 1; }
[ -s "$BASE_TAR" ] || die "no base image $BASE_TAR: run scripts/cluster/build.sh first"
mode=${1:-}
if [ "$mode" = derived ]; then
  [ $# -eq 4 ] && [ -f "$2/Dockerfile" ] || die "usage: images.sh derived CONTEXT TAG TAR (CONTEXT/Dockerfile)"
  CONTEXT=$(cd "$2" && pwd); TAG=$3; DERIVED_TAR=$4
elif [ -n "$mode" ]; then
  die "unknown mode $mode"
fi
mkdir -p "$OUT"
exec 9>"$OUT/.lock"; flock 9

hash=$( (cd "$ROOT" && find kubetask images/executor -type f -not -path '*/__pycache__/*' -print0 | sort -z |
         xargs -0 sha256sum; sha256sum "$BASE_TAR" | cut -d' ' -f1) | sha256sum | cut -c1-16)
tar=$OUT/executor.tar
fresh=
[ -s "$tar" ] && [ "$(cat "$OUT/executor.hash" 2>/dev/null)" = "$hash" ] && fresh=1
if [ -n "$fresh" ] && [ -z "$mode" ]; then
  echo "$tar"; exit 0
fi

DOCKER_DIR=$CACHE/docker
export DOCKER_HOST=unix://$DOCKER_DIR/docker.sock
started=
if ! docker version >/dev/null 2>&1; then
  command -v dockerd >/dev/null || die "dockerd not found: apt-get install docker.io (scripts/cluster/build.sh does)"
  mkdir -p "$DOCKER_DIR"
  setsid dockerd --data-root "$DOCKER_DIR/root" --exec-root "/run/kubetask-docker" -H "$DOCKER_HOST" \
    --pidfile "$DOCKER_DIR/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
    </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
  started=$!
  for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || { tail -n 20 "$DOCKER_DIR/dockerd.log" >&2; die "dockerd did not start"; }
fi
stop_docker() { [ -z "$started" ] || { kill "$started" 2>/dev/null; wait "$started" 2>/dev/null || true; }; }
trap stop_docker EXIT

if [ -z "$fresh" ]; then
  docker image inspect local/python:1 >/dev/null 2>&1 || docker load -q -i "$BASE_TAR" >&2
  log "building kubetask/executor:dev"
  DOCKER_BUILDKIT=0 docker build -q --network=none --build-arg BASE=local/python:1 \
    -f "$ROOT/images/executor/Dockerfile" -t docker.io/kubetask/executor:dev "$ROOT" >&2
  docker save docker.io/kubetask/executor:dev -o "$tar.tmp"
  mv "$tar.tmp" "$tar"; echo "$hash" > "$OUT/executor.hash"
fi
echo "$tar"
if [ "$mode" = derived ]; then
  # the daemon's copy may be older than the tar (another dockerd data root, a pruned one): load the tar
  docker load -q -i "$tar" >&2
  log "building $TAG from $CONTEXT"
  DOCKER_BUILDKIT=0 docker build -q --network=none -t "$TAG" "$CONTEXT" >&2
  docker save "$TAG" -o "$DERIVED_TAR.tmp"
  mv "$DERIVED_TAR.tmp" "$DERIVED_TAR"
  echo "$DERIVED_TAR"
fi
