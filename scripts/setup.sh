#!/usr/bin/env bash
# Set up everything kubetask's local stack and tests need on a fresh Debian 12 machine (idempotent, cached):
#   - the Python virtualenv .venv with kubetask (editable, strict mode for mypy) and its dev tools
#   - Debian's postgresql-15 and prometheus, for the tests (started by them, on loopback), and chromium,
#     which the browser tests drive through playwright (a dev dependency; `playwright install` is never run)
#   - the local Kubernetes 1.20 binaries and base images (scripts/cluster/build.sh, ~10 min cold, cached)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { echo "[setup.sh $(date +%T)] $*" >&2; }
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.kubetask-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing kubetask and dev tools into .venv"
  { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e '.[dev]'; } > .venv/pip.log 2>&1 ||
    { tail -n 40 .venv/pip.log >&2; echo "setup.sh: pip install failed (log: .venv/pip.log)" >&2; exit 1; }
  touch "$stamp"
fi
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then   # the tests run a throwaway PostgreSQL
  log "installing postgresql-15"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-upgrade postgresql-15 >&2 || { apt-get update -q >&2 && apt-get install -y -q --no-upgrade postgresql-15 >&2; }
fi
if [ ! -x /usr/bin/prometheus ]; then   # the metrics tests scrape the operator and the API with a real one
  log "installing prometheus"
  export DEBIAN_FRONTEND=noninteractive   # no init system here: the package's service does not start
  apt-get install -y -q --no-upgrade --no-install-recommends prometheus >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-upgrade --no-install-recommends prometheus >&2; }
fi
if [ ! -x /usr/bin/chromium ]; then   # the browser tests drive Debian's, through playwright (no browser download)
  log "installing chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-upgrade --no-install-recommends chromium >&2 ||
    { apt-get update -q >&2 && apt-get install -y -q --no-upgrade --no-install-recommends chromium >&2; }
fi
if [ "${KUBETASK_SKIP_CLUSTER_BUILD:-}" != 1 ]; then
  bash scripts/cluster/build.sh
fi
log "ready"
