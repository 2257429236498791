#!/usr/bin/env bash
# The local stack: the single-node cluster, the executor image, the operator; then a sample task.
#   run-local.sh up     start what is not running yet (idempotent), apply examples/echo.yaml, print the result,
#                       then examples/schedule.yaml and its first run
#   run-local.sh down   stop the operator and the cluster
# State lives in .run/ (kubeconfig, logs). Use it with: export KUBECONFIG=$PWD/.run/cluster/kubeconfig
# The API checks every request's bearer token with the cluster (KUBETASK_API_AUTH=kubernetes); the CLI
# sends the kubeconfig's token (the cluster's admin) and the script prints how to get a ServiceAccount's.
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
  # the chart's kubetask-admin/edit/view roles, so that `edit` in a namespace includes Tasks (aggregation)
  local roles
  roles=$(python -m kubetask.testing.helm 4 template kubetask "$ROOT/charts/kubetask" \
    --show-only templates/user-roles.yaml 2>"$RUN/helm.log") || { log "helm template failed: .run/helm.log"; exit 1; }
  kubectl apply -f - <<<"$roles" >/dev/null
  demo_account
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
    KUBETASK_API_AUTH=kubernetes KUBETASK_API_PORT=$PORT setsid kubetask-api </dev/null >>"$RUN/api.log" 2>&1 &
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
  echo "\$ kubetask list -n default --token \"\$SA_TOKEN\"    # as ServiceAccount default/$DEMO_SA (edit in default)"
  kubetask list --api "$API" -n default --token "$(sa_token)" --limit 3
  tokens
  log "stack is up: export KUBECONFIG=$C/kubeconfig; API docs at $API/docs; metrics at" \
    "http://127.0.0.1:$METRICS_PORT/metrics and $API/metrics; stop it with: make down"
}

# A ServiceAccount with `edit` in namespace default only, whose token a user can try the API with.
DEMO_SA=kubetask-demo
demo_account() {
  kubectl -n default get serviceaccount "$DEMO_SA" >/dev/null 2>&1 || kubectl -n default create serviceaccount "$DEMO_SA" >/dev/null
  kubectl -n default get rolebinding "$DEMO_SA" >/dev/null 2>&1 \
    || kubectl -n default create rolebinding "$DEMO_SA" --clusterrole=edit --serviceaccount="default:$DEMO_SA" >/dev/null
}

sa_token() {  # 1.20: the token controller puts the ServiceAccount's token in a Secret it names
  local secret=
  for _ in $(seq 50); do
    secret=$(kubectl -n default get serviceaccount "$DEMO_SA" -o jsonpath='{.secrets[0].name}')
    [ -z "$secret" ] || break; sleep 0.2
  done
  kubectl -n default get secret "$secret" -o jsonpath='{.data.token}' | base64 -d
}

tokens() {  # how to get a token for the local cluster's API (never the tokens themselves)
  cat <<EOT
Tokens: the API checks each request's "Authorization: Bearer <token>" with the cluster (TokenReview,
SubjectAccessReview). kubetask sends --token, else \$KUBETASK_TOKEN, else its context's, else the
current kubeconfig user's: with KUBECONFIG=$C/kubeconfig that is the cluster's admin (system:masters).
  admin:                  kubectl config view --raw -o jsonpath='{.users[0].user.token}'
  ServiceAccount default/$DEMO_SA (edit in default only):
    SA_TOKEN=\$(kubectl -n default get secret \$(kubectl -n default get sa $DEMO_SA -o jsonpath='{.secrets[0].name}') -o jsonpath='{.data.token}' | base64 -d)
  then: kubetask list -n default --token "\$SA_TOKEN"   or   curl -H "Authorization: Bearer \$SA_TOKEN" $API/api/v1/namespaces/default/tasks
EOT
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
