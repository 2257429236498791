#!/usr/bin/env bash
# Build kubetask's container images with `docker build` (Debian's docker.io) and save them as
# docker-archive tars that scripts/cluster/cluster.sh imports into the node's containerd.
#   images.sh            build the executor image if it changed; prints its tar path
#   images.sh apps       also build the operator and API images (docker.io/kubetask/operator:dev and
#                        docker.io/kubetask/api:dev, non-root UID 65532, images/operator, images/api); prints
#                        the executor's, the operator's and the API's tar paths, one per line
#   images.sh derived CONTEXT TAG TAR
#                        also build CONTEXT/Dockerfile (e.g. FROM docker.io/kubetask/executor:dev, a handler
#                        package installed) as TAG with the same private dockerd, no network, and save it to TAR
# No registry is reachable here: the bases are made by scripts/cluster/build.sh and passed as build
# arguments: local/python:1 (python3, venv, pip) as BASE, the executor's base and the apps' build stage;
# local/python-slim:1 (python3 alone) as SLIM, the operator's and the API's final stage. A private dockerd
# is started for the build when none answers.
# Cached by content: a tar is rebuilt only when its Dockerfile, the package sources, pyproject.toml or the
# bases change. The operator and API images install kubetask and its dependencies from wheels made here on
# the host (`pip wheel`, the one step that reaches the package index), with `pip install --no-index` in the
# image build; the dependencies' wheels are kept per pyproject.toml, kubetask's own is made per change.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${KUBETASK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetask}
BASE_TAR=$CACHE/k8s-v1.20/images/python.tar
SLIM_TAR=$CACHE/k8s-v1.20/images/slim/python-slim.tar   # not in images/: the nodes need no copy of it
OUT=$CACHE/images
log() { echo "[images.sh $(date +%T)] $*" >&2; }
die() { echo "images.sh: $*" >&2; exit 1; }
[ -s "$BASE_TAR" ] && [ -s "$SLIM_TAR" ] || die "no base image $BASE_TAR or $SLIM_TAR: run scripts/cluster/build.sh first"
mode=${1:-}
if [ "$mode" = derived ]; then
  [ $# -eq 4 ] && [ -f "$2/Dockerfile" ] || die "usage: images.sh derived CONTEXT TAG TAR (CONTEXT/Dockerfile)"
  CONTEXT=$(cd "$2" && pwd); TAG=$3; DERIVED_TAR=$4
elif [ -n "$mode" ] && [ "$mode" != apps ]; then
  die "unknown mode $mode"
fi
mkdir -p "$OUT"
exec 9>"$OUT/.lock"; flock 9

content() {  # content PATH...: one hash of these files (symlinked package dirs followed) and of the bases
  (cd "$ROOT" && find -L "$@" -type f -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha256sum
   sha256sum "$BASE_TAR" "$SLIM_TAR" | cut -d' ' -f1) | sha256sum | cut -c1-16
}
hash=$(content kubetask images/executor pyproject.toml)
tar=$OUT/executor.tar
fresh=
[ -s "$tar" ] && [ "$(cat "$OUT/executor.hash" 2>/dev/null)" = "$hash" ] && fresh=1
apps_hash=$(content kubetask images/operator images/api pyproject.toml README.md)
apps_fresh=1
for app in operator api; do
  [ -s "$OUT/$app.tar" ] && [ "$(cat "$OUT/$app.hash" 2>/dev/null)" = "$apps_hash" ] || apps_fresh=
done
if [ -n "$fresh" ] && { [ -z "$mode" ] || { [ "$mode" = apps ] && [ -n "$apps_fresh" ]; }; }; then
  echo "$tar"; [ "$mode" != apps ] || printf '%s\n' "$OUT/operator.tar" "$OUT/api.tar"
  exit 0
fi

wheels() {  # kubetask's wheel (from a copy of the sources: the checkout stays untouched) and its dependencies'
  local pip=$ROOT/.venv/bin/pip deps src
  [ -x "$pip" ] || pip=pip3
  deps=$OUT/wheels-$( (cd "$ROOT" && sha256sum pyproject.toml) | cut -c1-16)
  src=$(mktemp -d); CONTEXT_DIR=$(mktemp -d)
  (cd "$ROOT" && tar -ch --exclude=__pycache__ pyproject.toml README.md kubetask) | tar -x -C "$src"
  if [ ! -d "$deps" ]; then   # the host's Python (3.11, like the base's): its wheels fit the image
    log "pip wheel: kubetask's dependencies (pyproject.toml changed)"
    rm -rf "$OUT"/wheels-*; "$pip" wheel -q -w "$deps.tmp" "$src" >&2; rm -f "$deps.tmp"/kubetask-*.whl
    mv "$deps.tmp" "$deps"
  fi
  "$pip" wheel -q --no-deps -w "$CONTEXT_DIR" "$src" >&2
  cp -l "$deps"/*.whl "$CONTEXT_DIR"/ 2>/dev/null || cp "$deps"/*.whl "$CONTEXT_DIR"/
  rm -rf "$src"
}

DOCKER_DIR=$CACHE/docker
export DOCKER_HOST=unix://$DOCKER_DIR/docker.sock
started=
if ! docker version >/dev/null 2>&1; then
  command -v dockerd >/dev/null || die "dockerd not found: apt-get install docker.io (scripts/cluster/build.sh does)"
  mkdir -p "$DOCKER_DIR"
  setsid dockerd --data-root "$DOCKER_DIR/root" --exec-root "/run/kubetask-docker-$(printf %s "$DOCKER_DIR" | md5sum | cut -c1-6)" -H "$DOCKER_HOST" \
    --pidfile "$DOCKER_DIR/dockerd.pid" --iptables=false --ip-masq=false --bridge=none \
    </dev/null >"$DOCKER_DIR/dockerd.log" 2>&1 &
  started=$!
  for _ in $(seq 150); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || { tail -n 20 "$DOCKER_DIR/dockerd.log" >&2; die "dockerd did not start"; }
fi
stop_docker() { [ -z "$started" ] || { kill "$started" 2>/dev/null; wait "$started" 2>/dev/null || true; }; }
trap stop_docker EXIT

if [ -z "$fresh" ]; then
  docker load -q -i "$BASE_TAR" >&2   # every time: a daemon's copy of an older base under the tag would win
  log "building kubetask/executor:dev"
  DOCKER_BUILDKIT=0 docker build -q --network=none --build-arg BASE=local/python:1 \
    -f "$ROOT/images/executor/Dockerfile" -t docker.io/kubetask/executor:dev "$ROOT" >&2
  docker save docker.io/kubetask/executor:dev -o "$tar.tmp"
  mv "$tar.tmp" "$tar"; echo "$hash" > "$OUT/executor.hash"
fi
echo "$tar"
if [ "$mode" = apps ]; then
  if [ -z "$apps_fresh" ]; then
    # loaded every time: a daemon's copy of an older base under the same tag would go unnoticed
    docker load -q -i "$BASE_TAR" >&2; docker load -q -i "$SLIM_TAR" >&2
    wheels   # -> $CONTEXT_DIR: kubetask's wheel and every dependency's
    for app in operator api; do
      log "building kubetask/$app:dev"
      DOCKER_BUILDKIT=0 docker build -q --network=none --build-arg BASE=local/python:1 \
        --build-arg SLIM=local/python-slim:1 \
        -f "$ROOT/images/$app/Dockerfile" -t "docker.io/kubetask/$app:dev" "$CONTEXT_DIR" >&2
      docker save "docker.io/kubetask/$app:dev" -o "$OUT/$app.tar.tmp"
      mv "$OUT/$app.tar.tmp" "$OUT/$app.tar"; echo "$apps_hash" > "$OUT/$app.hash"
    done
    rm -rf "$CONTEXT_DIR"
  fi
  printf '%s\n' "$OUT/operator.tar" "$OUT/api.tar"
fi
if [ "$mode" = derived ]; then
  # the daemon's copy may be older than the tar (another dockerd data root, a pruned one): load the tar
  docker load -q -i "$tar" >&2
  log "building $TAG from $CONTEXT"
  DOCKER_BUILDKIT=0 docker build -q --network=none -t "$TAG" "$CONTEXT" >&2
  docker save "$TAG" -o "$DERIVED_TAR.tmp"
  mv "$DERIVED_TAR.tmp" "$DERIVED_TAR"
  echo "$DERIVED_TAR"
fi
