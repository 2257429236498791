#!/usr/bin/env bash
# The local stack: the single-node cluster, the executor image, the operator; then a sample task.
#   run-local.sh up     start what is not running yet (idempotent), apply examples/echo.yaml, print the result,
#                       then examples/schedule.yaml and its first run
#   run-local.sh down   stop the operator and the cluster
# State lives in .run/ (kubeconfig, logs). Use it with: export KUBECONFIG=$PWD/.run/cluster/kubeconfig
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=$ROOT/.run
C=$RUN/cluster
export PATH=$ROOT/.venv/bin:$PATH
log() { echo "[run-local $(date +%T)] $*" >&2; }

PORT=${KUBETASK_API_PORT:-8080}
API=http://127.0.0.1:$PORT
METRICS_PORT=${KUBETASK_OPERATOR_METRICS_PORT:-9464}   # the operator's /metrics, on loopback
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
  export KUBETASK_DATABASE_URL=${KUBETASK_DATABASE_URL:-sqlite:///$RUN/kubetask.db}
  if alive operator; then
    log "operator already running (pid $(cat "$RUN/operator.pid"))"
  else
    log "starting the operator (log: .run/operator.log)"
    KUBETASK_OPERATOR_METRICS_PORT=$METRICS_PORT KUBETASK_OPERATOR_METRICS_ADDRESS=127.0.0.1 \
      setsid kubetask-operator </dev/null >>"$RUN/operator.log" 2>&1 &
    echo $! > "$RUN/operator.pid"
  fi
  if alive api; then
    log "API already running on $API"
  else
    log "starting the API on $API (log: .run/api.log)"
    KUBETASK_API_PORT=$PORT setsid kubetask-api </dev/null >>"$RUN/api.log" 2>&1 &
    echo $! > "$RUN/api.pid"
    for _ in $(seq 100); do curl -sf "$API/healthz" >/dev/null && break; sleep 0.2; done
  fi
  log "applying examples/echo.yaml with kubectl"
  kubectl delete task hello --ignore-not-found >/dev/null
  kubectl apply -f "$ROOT/examples/echo.yaml"
  kubectl wait task/hello --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s >/dev/null 2>&1 || {
    kubectl get task hello -o yaml >&2; log "the sample task did not succeed"; exit 1; }
  kubectl get tasks
  echo "result: $(kubectl get task hello -o jsonpath='{.status.result}')"
  log "submitting the same template over HTTP: POST $API/api/v1/namespaces/default/tasks"
  local name
  name=$(kubetask submit echo --api "$API" -p message='hello over HTTP')
  kubectl wait "task/$name" --for=jsonpath='{.status.phase}'=Succeeded --timeout=120s >/dev/null
  for _ in $(seq 50); do   # the operator mirrors to SQL asynchronously
    kubetask list --api "$API" -n default --phase Succeeded | grep -q "$name" && break; sleep 0.2
  done
  echo "\$ kubetask list -n default    # from the API's SQL history"
  kubetask list --api "$API" -n default
  log "applying examples/schedule.yaml: a TaskSchedule running echo every 15 s"
  kubectl apply -f "$ROOT/examples/schedule.yaml" >/dev/null
  local ran=
  for _ in $(seq 90); do   # its next instant is at most 15 s away, then the run's pod starts
    if kubectl get tasks -l kubetask.io/schedule=heartbeat -o jsonpath='{.items[*].status.phase}' | grep -q Succeeded
    then ran=1; break; fi
    sleep 1
  done
  kubectl get kts heartbeat
  [ -n "$ran" ] || { kubectl describe kts heartbeat >&2; log "the schedule's first run did not succeed"; exit 1; }
  kubectl get tasks -l kubetask.io/schedule=heartbeat
  echo "\$ curl -s 127.0.0.1:$METRICS_PORT/metrics | grep ^kubetask_tasks_finished_total    # the operator's metrics"
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
    "http://127.0.0.1:$METRICS_PORT/metrics" | grep '^kubetask_tasks_finished_total' \
    || { log "the operator's metrics show no finished task (one started before it had metrics? make down; make run)"; exit 1; }
  log "stack is up: export KUBECONFIG=$C/kubeconfig; API docs at $API/docs; metrics at" \
    "http://127.0.0.1:$METRICS_PORT/metrics and $API/metrics; stop it with: make down"
}

down() {
  local p
  for p in api operator; do
    if alive "$p"; then kill "$(cat "$RUN/$p.pid")"; fi
    rm -f "$RUN/$p.pid"
  done
  [ ! -d "$C" ] || bash "$ROOT/scripts/cluster/cluster.sh" down "$C"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
