#!/usr/bin/env bash
# Build (once, cached) everything the local single-node Kubernetes 1.20 needs:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy  (Debian 12's `kubernetes` source)
#   etcd, containerd, runc, CNI plugins, mmdebstrap                   (Debian packages)
#   images: local/pause:1 (static pause), local/python:1 (Debian minbase + python3, venv, pip: the executor's
#           base and the apps' build stage) and local/python-slim:1 (python3 alone: the apps' final stage)
# Idempotent: returns at once when the binaries and images are cached.
# Cache: $KUBETASK_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/kubetask), binaries in k8s-v1.20/bin.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${KUBETASK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetask}/k8s-v1.20
BIN=$CACHE/bin
BINS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
log() { echo "[build.sh $(date +%T)] $*" >&2; }
die() { echo "build.sh: $*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || echo "build.sh: exit $rc at: $BASH_COMMAND" >&2' EXIT

packages() {
  export DEBIAN_FRONTEND=noninteractive
  local pkgs=(golang-go etcd-server rsync golang-github-modern-go-reflect2-dev openssl curl make dpkg-dev
              gcc libc6-dev iproute2 iptables containerd runc containernetworking-plugins mmdebstrap docker.io)
  dpkg -s "${pkgs[@]}" >/dev/null 2>&1 && return 0
  apt-get install -y -q --no-upgrade "${pkgs[@]}" >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-upgrade "${pkgs[@]}" >&2; }
}

# The build's recipe: raise it whenever compile() changes how it builds, so cached binaries are rebuilt.
# A binary added to BINS needs no new recipe: a cache of the same recipe gains just the missing ones.
RECIPE=2   # 2: go-openapi's type check no longer takes "" for null
missing_bins() {  # the binaries to build: all of them for another recipe, else those not in the cache
  local f; [ "$(cat "$BIN/.recipe" 2>/dev/null || echo 1)" = "$RECIPE" ] || { echo "${BINS[*]}"; return 0; }
  for f in "${BINS[@]}"; do [ -x "$BIN/$f" ] || printf '%s ' "$f"; done
}

compile() {
  local need; need=$(missing_bins)
  [ -n "$need" ] || { log "binaries cached in $BIN"; return 0; }
  # A private deb-src list and index dir: the system's apt configuration stays untouched.
  local apt=$CACHE/apt work=$CACHE/build f
  rm -rf "$apt" "$work"; mkdir -p "$apt/parts" "$apt/lists/partial" "$work"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^deb /deb-src /p' "$f"; done > "$apt/parts/src.list"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt/parts/$(basename "$f")"; done
  local A=(apt-get -q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts"
           -o "Dir::State::Lists=$apt/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
           -o APT::Sandbox::User=root)
  "${A[@]}" update >&2
  (cd "$work" && "${A[@]}" source kubernetes >&2)
  local src; src=$(find "$work" -maxdepth 1 -type d -name 'kubernetes-1.20*' -print -quit)
  [ -d "$src" ] || die "no kubernetes 1.20 source tree (Debian 12 'bookworm' is the only release with one)"
  # The vendored reflect2 1.0.1 breaks with Go >= 1.18: swap in Debian's 1.0.2.
  rm -rf "$src/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$src/vendor/github.com/modern-go/reflect2"
  rm -f "$src/vendor/github.com/modern-go/reflect2/go.mod"
  # The vendored go-openapi/validate treats a value equal to its type's zero value as null
  # (reflect.DeepEqual of two reflect.Values). Built with Go >= 1.18 that holds for "", so an empty
  # string in a CR's typed field is refused as "must be of type string: null" (Kubernetes' own Go 1.15
  # build accepts it). Only a real null is null, as in later go-openapi releases.
  local zero='if data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {' typed
  typed=$(grep -rlF "$zero" "$src/vendor" --include=type.go || true)
  [ -n "$typed" ] || die "no vendored type validator holds the zero-value-as-null check: the patch no longer applies"
  for f in $typed; do sed -i "s/$(printf %s "$zero" | sed 's/[][\/.*^$]/\\&/g')/if data == nil {/" "$f"; done
  ! grep -rqF "$zero" "$src/vendor" || die "the zero-value-as-null check is still in the vendored type validator"
  log "compiling $need(cold, all five: about 13 minutes on 2 cores; kube-proxy alone about 3)"
  local what; what=$(printf 'cmd/%s ' $need)
  (cd "$src" && env GOCACHE="$work/gocache" GOPATH="$work/gopath" GOPROXY=off GOFLAGS=-mod=vendor \
     CGO_ENABLED=0 KUBE_GIT_VERSION=v1.20.2 make WHAT="${what% }" GOLDFLAGS="-s -w" >&2)
  mkdir -p "$BIN"
  for f in $need; do
    cp "$(find "$src/_output" -type f -name "$f" -perm -u+x -print -quit)" "$BIN/$f.tmp"; mv "$BIN/$f.tmp" "$BIN/$f"
  done
  echo "$RECIPE" > "$BIN/.recipe"
  rm -rf "$work" "$apt"   # source tree + Go cache are GBs; only the binaries are kept
  log "built: $("$BIN/kube-apiserver" --version)"
}

# The base images' recipe: raise it whenever debian_image() changes, so the cached bases are remade (and
# with them every image FROM them: scripts/images.sh hashes the base tars).
BASE_RECIPE=2   # 2: no perl (merged /usr by mmdebstrap's hook), docs, man pages, locales, unused stdlib; slim base
# Left out of the bases: documentation but the copyright files, man and info pages, translations
# (Python's messages are English) as dpkg path excludes (never unpacked); then, once the packages'
# scripts ran (libpython3.11-stdlib's postinst compiles lib2to3's grammar), the stdlib parts a service
# never imports: the regression tests, IDLE, tkinter, turtledemo, lib2to3, pydoc's topic index.
BASE_EXCLUDES=('/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*' '/usr/share/lintian/*')
BASE_UNUSED=(test idlelib tkinter turtledemo lib2to3 pydoc_data)
debian_image() {  # debian_image OUT.tar REF PACKAGES: a minbase root file system (from the mirror apt uses) as an image
  local out=$1 ref=$2 pkgs=$3 uri x opts=()
  uri=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | awk '/^URIs:|^deb / {print $2; exit}' || true)
  for x in "${BASE_EXCLUDES[@]}"; do opts+=(--dpkgopt="path-exclude=$x"); done
  opts+=(--dpkgopt='path-include=/usr/share/doc/*/copyright')
  # /usr merged by mmdebstrap's merged-usr hook, which installs usr-is-merged: apt would otherwise pick
  # usrmerge, which needs perl (about 35 MB); no apt lists, caches, logs
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --include="$pkgs" \
    "${opts[@]}" \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/cache/debconf/*-old' \
    --customize-hook='find "$1"/var/log -type f -delete' \
    --customize-hook="cd \"\$1\"/usr/lib/python3.11 && rm -rf ${BASE_UNUSED[*]}" \
    bookworm "$t/root.tar" "deb $uri bookworm main" >&2
  python3 "$HERE/mkimage.py" "$out.tmp" "$ref" --layer "$t/root.tar" -- python3 >&2
  mv "$out.tmp" "$out"; rm -f "$t/root.tar"
}

images() {  # base images as docker-archive tars in $CACHE/images (the slim one in images/slim: not for the node)
  local img=$CACHE/images t; mkdir -p "$img/slim"; t=$(mktemp -d)
  if [ ! -s "$img/pause.tar" ]; then
    gcc -static -O2 -o "$t/pause" "$HERE/pause.c"; mkdir "$t/r"; cp "$t/pause" "$t/r/"; tar -C "$t/r" -cf "$t/l.tar" .
    python3 "$HERE/mkimage.py" "$img/pause.tar.tmp" docker.io/local/pause:1 --layer "$t/l.tar" -- /pause >&2
    mv "$img/pause.tar.tmp" "$img/pause.tar"
  fi
  if [ "$(cat "$img/.base-recipe" 2>/dev/null || echo 1)" != "$BASE_RECIPE" ] || [ ! -s "$img/python.tar" ] ||
     [ ! -s "$img/slim/python-slim.tar" ]; then
    log "making the base images local/python:1 and local/python-slim:1 (recipe $BASE_RECIPE)"
    debian_image "$img/python.tar" docker.io/local/python:1 python3,python3-venv,python3-pip
    debian_image "$img/slim/python-slim.tar" docker.io/local/python-slim:1 python3
    echo "$BASE_RECIPE" > "$img/.base-recipe"
  fi
  rm -rf "$t"
}

mkdir -p "$CACHE"; exec 9>"$CACHE/.build.lock"; flock 9   # concurrent builds wait for the first one
packages
compile
images
log "ready: $BIN, $CACHE/images"
exit 0
