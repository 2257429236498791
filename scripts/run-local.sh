#!/usr/bin/env bash
# The local stack: the single-node cluster, the executor image, the operator; then a sample task.
#   run-local.sh up     start what is not running yet (idempotent), apply examples/echo.yaml, print the result
#   run-local.sh down   stop the operator and the cluster
# State lives in .run/ (kubeconfig, logs). Use it with: export KUBECONFIG=$PWD/.run/cluster/kubeconfig
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=$ROOT/.run
C=$RUN/cluster
export PATH=$ROOT/.venv/bin:$PATH
log() { echo "[run-local $(date +%T)] $*" >&2; }

alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

up() {
  mkdir -p "$RUN"
  local tar; tar=$(bash "$ROOT/scripts/images.sh" | tail -1)
  export KUBECONFIG=$C/kubeconfig
  if [ -f "$C/pids" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
    log "cluster already running"
  else
    [ ! -f "$C/pids" ] || bash "$ROOT/scripts/cluster/cluster.sh" down "$C"
    log "starting the cluster (about 20 s)"
    KUBETASK_CRDS=$ROOT/crds KUBETASK_NODE_IMAGES=$tar bash "$ROOT/scripts/cluster/cluster.sh" up "$C" >/dev/null
  fi
  kubectl apply --server-side --force-conflicts -f "$ROOT/crds" >/dev/null
  if alive operator; then
    log "operator already running (pid $(cat "$RUN/operator.pid"))"
  else
    log "starting the operator (log: .run/operator.log)"
    setsid kubetask-operator </dev/null >>"$RUN/operator.log" 2>&1 &
    echo $! > "$RUN/operator.pid"
  fi
  log "applying examples/echo.yaml"
  kubectl delete task hello --ignore-not-found >/dev/null
  kubectl apply -f "$ROOT/examples/echo.yaml"
  kubectl wait task/hello --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s >/dev/null 2>&1 || {
    kubectl get task hello -o yaml >&2; log "the sample task did not succeed"; exit 1; }
  kubectl get tasks
  echo "result: $(kubectl get task hello -o jsonpath='{.status.result}')"
  log "stack is up: export KUBECONFIG=$C/kubeconfig; stop it with: make down"
}

down() {
  if alive operator; then kill "$(cat "$RUN/operator.pid")"; fi
  rm -f "$RUN/operator.pid"
  [ ! -d "$C" ] || bash "$ROOT/scripts/cluster/cluster.sh" down "$C"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
