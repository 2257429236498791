#!/usr/bin/env bash
# A real single-node Kubernetes 1.20 on this machine, for kubetask's tests and local stack.
#   cluster.sh up DIR     the network first (a bridge with its pod subnet, a service range, the egress guards),
#                         then etcd on 127.0.0.1 and kube-apiserver on the bridge's address (pods reach it
#                         through the `kubernetes` Service), kube-controller-manager, then a node: its own
#                         containerd, kube-scheduler, kube-proxy (unless another cluster's owns the KUBE-*
#                         iptables chains: DIR/no-proxy says so) and a kubelet; imports the base images and
#                         the tars in $KUBETASK_NODE_IMAGES; prints DIR/kubeconfig when the node is Ready.
#                         CRDs in $KUBETASK_CRDS (files/dirs) are created BEFORE the controller-manager starts:
#                         its garbage collector notices CRDs created later only after ~30 s.
#   cluster.sh down DIR   stop exactly what 'up' started; remove etcd data, pods, network, cgroups; logs stay.
#   cluster.sh restart-apiserver DIR   stop kube-apiserver and start it again with the same flags.
#   cluster.sh restart-controller-manager DIR   the same for kube-controller-manager, its feature gates
#                         then the default ones plus $KUBETASK_CM_GATES (benchmarks: CronJobControllerV2=true).
#   cluster.sh import DIR TAR...   import docker-archive tars (scripts/images.sh apps) into the running node;
#                         a tar this node already imported (same path, size and mtime) is skipped.
#   cluster.sh node-up DIR   add the node (containerd, kube-scheduler, kubelet) to a control plane started with
#                         KUBETASK_NO_NODE=1 (benchmarks: dispatch without a node, then end to end with it).
# Build the binaries first: scripts/cluster/build.sh (cached). Needs root (kubelet, containerd, bridge).
# Env: KUBETASK_CACHE, KUBETASK_CRDS, KUBETASK_NODE_IMAGES, KUBETASK_CLUSTER_TIMEOUT (s, default 90),
#      KUBETASK_NO_NODE=1 (control plane only: pods stay Pending; used by dispatch benchmarks).
set -euo pipefail
CACHE=${KUBETASK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetask}/k8s-v1.20
BIN=$CACHE/bin
GATES=TTLAfterFinished=true
CONTROLLERS=job,garbagecollector,namespace,serviceaccount,serviceaccount-token,ttl-after-finished,cronjob
CONTROLLERS+=,endpoint,endpointslice,endpointslicemirroring   # Services get Endpoints (kube-proxy reads them)
CONTROLLERS+=,deployment,replicaset   # the Helm chart's Deployments get pods (test_helm_release_runs_tasks.py)
CONTROLLERS+=,clusterrole-aggregation   # the chart's kubetask-admin/edit/view fold into admin/edit/view
TIMEOUT=${KUBETASK_CLUSTER_TIMEOUT:-90}
die() { echo "cluster.sh: $*" >&2; exit 1; }
log() { echo "[cluster.sh $(date +%T)] $*" >&2; }
trap 'rc=$?; [ $rc -eq 0 ] || { echo "cluster.sh: exit $rc at: $BASH_COMMAND" >&2
  [ -z "${UP_DIR:-}" ] || { X=$UP_DIR; UP_DIR=; down "$X"; }; }' EXIT

free_ports() { python3 -c 'import socket,sys
s=[socket.socket() for _ in range(int(sys.argv[1]))]
[x.bind((sys.argv[2],0)) for x in s]; print(*[x.getsockname()[1] for x in s])' "$1" "${2:-127.0.0.1}"; }

start() {  # start NAME CMD...: detached (own session, no inherited stdio), log DIR/NAME.log, "pid name exe" in DIR/pids
  local name=$1; shift
  setsid "$@" </dev/null >"$D/$name.log" 2>&1 9>&- &   # 9: the lock of locked(), not to be held on
  echo "$! $name $(readlink -f "$(command -v "$1")")" >> "$D/pids"
}

api() {  # api [curl args] PATH
  curl -sS --fail-with-body -A cluster.sh --cacert "$D/ca.crt" -H "Authorization: Bearer $TOKEN" "${@:1:$#-1}" \
    "https://$API_HOST:$P_API${*: -1}"
}

wait_for() {  # wait_for WHAT CMD...: poll; fail with log tails if a component died or time ran out
  local what=$1 pid name exe; shift
  until "$@" >/dev/null 2>&1; do
    while read -r pid name exe; do
      kill -0 "$pid" 2>/dev/null || { tail -n 20 "$D/$name.log" >&2; die "$name exited early"; }
    done < "$D/pids"
    [ "$SECONDS" -lt "$DEADLINE" ] || { tail -n 5 "$D"/*.log >&2; die "timeout waiting for $what"; }
    sleep 0.1
  done
}
has() { local pat=$1; shift; grep -q "$pat" <<<"$(api "$@")"; }

certs() {  # the serving certificate names the bridge address and the `kubernetes` Service's ClusterIP
  local q=(-nodes -newkey rsa:2048)
  openssl req -x509 "${q[@]}" -keyout "$D/ca.key" -out "$D/ca.crt" -days 3650 -subj /CN=kubetask-test-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req "${q[@]}" -keyout "$D/apiserver.key" -out "$D/apiserver.csr" -subj /CN=kube-apiserver 2>/dev/null
  local dns=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
  printf '%s\n' "subjectAltName=IP:$API_HOST,IP:$SVC_IP,IP:127.0.0.1,DNS:localhost,$dns" \
    "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" > "$D/ext.cnf"
  openssl x509 -req -in "$D/apiserver.csr" -CA "$D/ca.crt" -CAkey "$D/ca.key" -CAcreateserial \
    -out "$D/apiserver.crt" -days 3650 -extfile "$D/ext.cnf" 2>/dev/null
  openssl genrsa -out "$D/sa.key" 2048 2>/dev/null
  rm -f "$D/apiserver.csr" "$D/ext.cnf" "$D/ca.srl"
}

apply_crds() {
  local f doc out names=()
  for f in $(find ${KUBETASK_CRDS} -type f \( -name '*.yaml' -o -name '*.yml' \) | sort); do
    awk -v o="$D/.doc" '/^---/ {n++; next} {print > (o "." n+0)}' "$f"
    for doc in "$D"/.doc.*; do
      if grep -q '^kind: *CustomResourceDefinition' "$doc"; then
        out=$(api -X POST -H 'Content-Type: application/yaml' --data-binary "@$doc" \
          /apis/apiextensions.k8s.io/v1/customresourcedefinitions) || die "CRD in $f: $out"
        [[ $out =~ \"metadata\":\{\"name\":\"([^\"]+)\" ]] && names+=("${BASH_REMATCH[1]}")
      fi
      rm -f "$doc"
    done
  done
  for f in "${names[@]}"; do
    wait_for "CRD $f" has '"type":"Established","status":"True"' "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$f"
  done
}

control_plane() {
  local P_ETCD P_PEER shm=/dev/shm data
  read -r P_ETCD P_PEER < <(free_ports 2)
  P_API=$(free_ports 1 "$API_HOST")
  [ -w "$shm" ] || shm=$D
  certs
  TOKEN=$(openssl rand -hex 24)
  echo "$TOKEN,admin,admin,system:masters" > "$D/tokens.csv"
  cat > "$D/kubeconfig" <<EOT
apiVersion: v1
kind: Config
clusters:
- name: kubetask-local
  cluster: {server: "https://$API_HOST:$P_API", certificate-authority-data: $(base64 -w0 "$D/ca.crt")}
users:
- name: admin
  user: {token: $TOKEN}
contexts:
- name: kubetask-local
  context: {cluster: kubetask-local, user: admin, namespace: default}
current-context: kubetask-local
EOT
  chmod 600 "$D"/*.key "$D/tokens.csv" "$D/kubeconfig"
  data=$(mktemp -d "$shm/kubetask-etcd.XXXXXX"); echo "$data" > "$D/etcd-data-dir"
  start etcd etcd --name=test --data-dir="$data" --logger=zap --log-level=warn \
    --listen-client-urls="http://127.0.0.1:$P_ETCD" --advertise-client-urls="http://127.0.0.1:$P_ETCD" \
    --listen-peer-urls="http://127.0.0.1:$P_PEER" --initial-advertise-peer-urls="http://127.0.0.1:$P_PEER" \
    --initial-cluster="test=http://127.0.0.1:$P_PEER"
  echo "$P_ETCD" > "$D/etcd-port"
  # The audit log is the tests' oracle for "who wrote what, how often" (Job creates per name, status writes
  # per replica by User-Agent): written by each request itself (blocking), never rotated (maxsize in MB),
  # appended to by a restarted apiserver (same flags), unlike request counters or a watch. The policy audits
  # writes to what kubetask touches and little else (first matching rule wins). KUBETASK_AUDIT=0 turns it off
  # (benchmarks: the apiserver encodes every audited request body).
  local audit=(--audit-policy-file="$D/audit-policy.yaml" --audit-log-path="$D/audit.log" --audit-log-format=json
    --audit-log-mode=blocking --audit-log-maxsize=1000000 --audit-log-maxbackup=0)
  [ "${KUBETASK_AUDIT:-1}" = 1 ] || audit=()
  cat > "$D/audit-policy.yaml" <<'EOT'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  verbs: [watch]
- level: Metadata   # reads of kubetask's resources (who listed; a test's barrier request)
  verbs: [get, list]
  resources: [{group: kubetask.io}]
- level: Metadata   # leader election: reads and renewals, by replica
  resources: [{group: coordination.k8s.io, resources: [leases]}]
- level: Metadata   # the API's reviews of tokens and permissions (tests count them; no token is logged)
  verbs: [create]
  resources: [{group: authentication.k8s.io, resources: [tokenreviews]}, {group: authorization.k8s.io, resources: [subjectaccessreviews]}]
- level: Metadata   # who listed Jobs and pods (the controllers list them too: a counter cannot tell)
  verbs: [list]
  resources: [{group: batch, resources: [jobs]}, {group: "", resources: [pods]}]
- level: None
  verbs: [get, list]
- level: Request
  resources:
  - {group: batch, resources: [jobs, jobs/status]}
  - {group: kubetask.io}
  - {group: "", resources: [events]}
  - {group: events.k8s.io, resources: [events]}
- level: Request    # the body names the Job (pods are created with generateName)
  verbs: [create]
  resources: [{group: "", resources: [pods]}]
- level: Metadata
  resources: [{group: "", resources: [pods, pods/status, pods/binding]}]
- level: None
EOT
  start kube-apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$P_ETCD" "${audit[@]}" \
    --bind-address="$API_HOST" --advertise-address="$API_HOST" --secure-port="$P_API" \
    --tls-cert-file="$D/apiserver.crt" --tls-private-key-file="$D/apiserver.key" --cert-dir="$D" \
    --client-ca-file="$D/ca.crt" --token-auth-file="$D/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$D/sa.key" --service-account-signing-key-file="$D/sa.key" \
    --service-cluster-ip-range="$SVC" --endpoint-reconciler-type=lease --allow-privileged=true \
    --enable-priority-and-fairness=false --profiling=false --feature-gates="$GATES" \
    --kubelet-preferred-address-types=InternalIP
  wait_for "apiserver /readyz" api /readyz
  [ -z "${KUBETASK_CRDS:-}" ] || apply_crds
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$D/kubeconfig" \
    --controllers="$CONTROLLERS" --service-account-private-key-file="$D/sa.key" \
    --root-ca-file="$D/ca.crt" --use-service-account-credentials=false --leader-elect=false \
    --port=0 --secure-port=0 --kube-api-qps=200 --kube-api-burst=400 --feature-gates="$GATES"
  # Pods can be created in a namespace once its ServiceAccount "default" has a token secret (1.20).
  wait_for "controller-manager (default ServiceAccount token)" has '"secrets"' \
    /api/v1/namespaces/default/serviceaccounts/default
}

node_vars() {  # NET: the pod subnet's first three octets (NET.1 is the bridge); SVC: the service range
  ID=$(printf %s "$D" | md5sum | cut -c1-6); BR=ktb$ID; CG=kubetask-$ID; RUN=/run/kubetask-$ID; SOCK=$RUN/containerd.sock
  EGRESS=KT-EGRESS-$ID
  NET=$(cat "$D/pod-subnet" 2>/dev/null || true); NET=${NET%.0/24}; SVC=$(cat "$D/service-range" 2>/dev/null || true)
  API_HOST=${NET:+$NET.1}; SVC_IP=${SVC:+${SVC%.0/24}.1}
}
LEGACY_SVC=10.0.0.0/24   # the one service range of clusters made before each had its own
CGS="cpu cpuacct cpuset memory pids systemd blkio devices freezer"
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes net.ipv4.ip_forward"
# Host state that every node on this machine shares (/var/lib/kubelet, the sysctls) is changed
# under one lock, and removed only by the last node to go: each node has a ktb* bridge from before its
# locked set-up until after its kubelet stopped, so "another ktb* bridge exists" means "another node needs it".
RT_PROTO=151   # an unassigned routing protocol number: marks the routes made by a kubetask cluster
locked() { ( flock 9; "$@" ) 9>/run/kubetask-net.lock; }
other_nodes() { ip -o link show type bridge | grep -v "^[0-9]*: $BR:" | grep -q '^[0-9]*: ktb[0-9a-f]\{6\}:' ||
  grep -qsx kubelet /proc/[0-9]*/comm; }

# Nothing a pod sends may leave this machine. The CNI bridge is the pods' default gateway (isGateway, a
# 0.0.0.0/0 route, no masquerade), so without this their packets are forwarded to the host's default route.
# - This cluster's own chain, jumped to from FORWARD for its pod subnet: clusters side by side keep apart
#   and 'down' removes exactly its own rules. br_netfilter (bridge-nf-call-iptables=1 here) sends bridged
#   pod-to-pod frames through FORWARD too, hence the RETURN for the bridge subnet; host <-> pod traffic is
#   INPUT/OUTPUT and unaffected (kubectl logs, tests reaching pod IPs). REJECT rather than DROP: a pod fails
#   at once (EHOSTUNREACH) instead of waiting out its timeout; tests read the rule's packet counter.
# - The service range is not exempt: kube-proxy DNATs in PREROUTING, so FORWARD sees translated addresses
#   (a Service whose endpoint is off the machine is refused like any other destination), and a ClusterIP
#   that nothing translated meets the cluster's own 'unreachable' route first (host processes too): dropped
#   locally like a blackhole, but answered with host-unreachable instead of a silent timeout. Such packets
#   from pods are counted on their way, by a rule of the cluster's chain of the same name in the nat table,
#   after kube-proxy's KUBE-SERVICES (which DNATs, and so ends the nat traversal, for real Services).
# - kube-proxy's own FORWARD rules (KUBE-FORWARD) ACCEPT what it marked for masquerading, which with
#   --masquerade-all is every Service packet: start_proxy moves this guard's jump back above them.
guard_egress() {  # guard_egress: under the lock, before anything can start a pod
  local pods=$NET.0/24
  iptables -w -N "$EGRESS" 2>/dev/null || iptables -w -F "$EGRESS"   # left by a run that was killed
  iptables -w -A "$EGRESS" -d "$pods" -j RETURN -m comment --comment "kubetask-$ID pod to pod"
  iptables -w -A "$EGRESS" -j REJECT --reject-with icmp-admin-prohibited -m comment --comment "kubetask-$ID pod egress"
  iptables -w -C FORWARD -s "$pods" -j "$EGRESS" 2>/dev/null || iptables -w -I FORWARD 1 -s "$pods" -j "$EGRESS"
  iptables -w -t nat -N "$EGRESS" 2>/dev/null || iptables -w -t nat -F "$EGRESS"
  iptables -w -t nat -A "$EGRESS" -d "$SVC" -j RETURN -m comment --comment "kubetask-$ID untranslated ClusterIP"
  iptables -w -t nat -C PREROUTING -s "$pods" -j "$EGRESS" 2>/dev/null || iptables -w -t nat -A PREROUTING -s "$pods" -j "$EGRESS"
  echo "$EGRESS" > "$D/egress-chain"
  ip route add unreachable "$SVC" proto "$RT_PROTO"
  # kubelet 1.20 hard-codes /var/lib/kubelet/device-plugins; the mark tells the last node it may remove it.
  [ -e /var/lib/kubelet ] || { mkdir -p /var/lib/kubelet && touch /var/lib/kubelet/.made-by-kubetask; }
}
# kubelet and the CNI plugin change these host-wide sysctls. The first node records their values in one
# shared file; the last node to go restores them and removes it. A per-node copy would let a node that
# started after another record that one's changes as "original", and a node that goes first reset them
# under a node still running.
SYSCTL_ORIG=/run/kubetask-sysctl.orig
save_sysctls() { [ -f "$SYSCTL_ORIG" ] || for f in $SYSCTLS; do echo "$f=$(sysctl -n "$f")"; done > "$SYSCTL_ORIG"; }
unguard_shared() {  # the last node to go removes the sysctls file and /var/lib/kubelet if a kubetask node made them
  other_nodes && return 0
  [ ! -f "$SYSCTL_ORIG" ] || { sysctl -q -p "$SYSCTL_ORIG" >/dev/null && rm -f "$SYSCTL_ORIG"; }
  [ -z "$(ip route show exact "$LEGACY_SVC" proto "$RT_PROTO")" ] || ip route del unreachable "$LEGACY_SVC" proto "$RT_PROTO"
  [ ! -e /var/lib/kubelet/.made-by-kubetask ] && [ ! -f "$D/made-var-lib-kubelet" ] || rm -rf /var/lib/kubelet
}

# The network comes before the control plane: the apiserver binds the bridge's address, which pods reach
# (127.0.0.1 in a pod is the pod). Picked under the lock, so clusters starting at once pick apart: a pod
# subnet 10.200-249.x.0/24 and a service range 10.150-199.y.0/24 that no route uses yet, from the
# directory's hash. The range's first address is the `kubernetes` Service's ClusterIP.
network() {
  node_vars; local i net svc used
  used=$(ip route show table all | { grep -o '10\.[0-9]*\.[0-9]*\.' || true; } | sort -u)
  for i in $(seq 0 250); do net=10.$((200 + 0x${ID:0:2} % 50)).$(( (0x${ID:2:2} + i) % 250 )); grep -qxF "$net." <<<"$used" || break; done
  for i in $(seq 0 250); do svc=10.$((150 + 0x${ID:4:2} % 50)).$(( (0x${ID:2:2} + i) % 250 )); grep -qxF "$svc." <<<"$used" || break; done
  ip link add "$BR" type bridge && echo "$BR" > "$D/bridge"
  echo "$net.0/24" > "$D/pod-subnet"; echo "$svc.0/24" > "$D/service-range"
  node_vars
  ip addr add "$API_HOST/24" dev "$BR" && ip link set "$BR" up
  guard_egress   # before any pod can start
}

# kube-proxy writes the KUBE-* chains of the network namespace and removes the ones it does not know, so
# one kube-proxy at a time: the first node claims them (PROXY_OWNER names its DIR), a node that finds them
# owned runs without a proxy and says so in DIR/no-proxy (Services' ClusterIPs then fail with
# host-unreachable in that cluster). An owner whose kube-proxy is gone (a killed run) is taken over.
PROXY_OWNER=/run/kubetask-proxy.owner
proxy_alive() {  # proxy_alive DIR: DIR's kube-proxy runs
  local pid name exe
  read -r pid name exe < <(awk '$2 == "kube-proxy"' "$1/pids" 2>/dev/null) && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]
}
claim_proxy() {  # under the lock: start kube-proxy if no other cluster's owns the chains
  local owner p1 p2 t
  owner=$(cat "$PROXY_OWNER" 2>/dev/null || true)
  if [ -n "$owner" ] && [ "$owner" != "$D" ] && proxy_alive "$owner"; then   # started under this lock: no gap
    echo "no kube-proxy in this cluster: the cluster in $owner owns this machine's KUBE-* iptables chains (one kube-proxy per network namespace), so Services' ClusterIPs are unreachable here; stop it first (cluster.sh down $owner) to have Services" > "$D/no-proxy"
    return 0
  fi
  if [ -z "$owner" ] && iptables -w -t nat -S KUBE-SERVICES >/dev/null 2>&1; then
    echo "no kube-proxy in this cluster: this machine's nat table has KUBE-* chains that no kubetask cluster owns ($PROXY_OWNER is missing): another kube-proxy, or left by a killed run; remove them to have Services" > "$D/no-proxy"
    return 0
  fi
  if [ -n "$owner" ] && [ "$owner" != "$D" ] && [ -f "$owner/kube-chains.before" ]; then
    cp "$owner/kube-chains.before" "$D/kube-chains.before"   # taken over: what was there before it, stays
    cp "$owner/route-localnet.orig" "$D/route-localnet.orig" 2>/dev/null || true
  else
    for t in nat filter mangle; do iptables-save -t "$t" | sed -n "s/^:\(KUBE-[^ ]*\) .*/$t \1/p"; done > "$D/kube-chains.before"
    sysctl -n net.ipv4.conf.all.route_localnet > "$D/route-localnet.orig"   # kube-proxy sets it to 1
  fi
  echo "$D" > "$PROXY_OWNER"
  read -r p1 p2 < <(free_ports 2)
  # --conntrack-*=0: leave the host's conntrack sysctls alone; --oom-score-adj=0: root here may not lower it;
  # --bind-address: the node's IP (else it waits up to ~30 s for the Node object, not registered yet).
  start kube-proxy "$BIN/kube-proxy" --kubeconfig="$D/kubeconfig" --hostname-override=node-1 --proxy-mode=iptables \
    --bind-address="$API_HOST" \
    --masquerade-all --cluster-cidr="$NET.0/24" --conntrack-max-per-core=0 --conntrack-tcp-timeout-established=0 \
    --conntrack-tcp-timeout-close-wait=0 --oom-score-adj=0 --metrics-bind-address="127.0.0.1:$p1" \
    --healthz-bind-address="127.0.0.1:$p2"
}
proxy_synced() { iptables -w -S FORWARD | grep -q -- '-j KUBE-FORWARD'; }
guard_first() {  # under the lock: the egress guard's jump (if there is one) back at the top of FORWARD
  ! iptables -w -D FORWARD -s "$NET.0/24" -j "$EGRESS" 2>/dev/null || iptables -w -I FORWARD 1 -s "$NET.0/24" -j "$EGRESS"
}
unproxy() {  # under the lock, kube-proxy stopped: its owner removes the KUBE-* chains (and jumps) it made
  [ "$(cat "$PROXY_OWNER" 2>/dev/null)" = "$D" ] || return 0
  local t c rule made
  for t in nat filter mangle; do
    made=" $(iptables-save -t "$t" | sed -n 's/^:\(KUBE-[^ ]*\) .*/\1/p' | grep -vxF -f <(awk -v t="$t" '$1 == t {print $2}' "$D/kube-chains.before") | xargs || true) "
    [ "$made" != "  " ] || continue
    { iptables-save -t "$t" | grep '^-A ' || true; } | while read -r rule; do
      c=${rule#-A }; c=${c%% *}; [[ $made != *" $c "* ]] || continue   # rules inside made chains go with them
      if [[ $rule =~ \ -j\ ([^ ]+) ]] && [[ $made == *" ${BASH_REMATCH[1]} "* ]]; then
        eval "iptables -w -t $t -D ${rule#-A }"   # iptables-save quotes comments as a shell would
      fi
    done
    for c in $made; do iptables -w -t "$t" -F "$c"; done
    for c in $made; do iptables -w -t "$t" -X "$c" || log "could not delete chain $c ($t)"; done
  done
  [ ! -f "$D/route-localnet.orig" ] || sysctl -q -w net.ipv4.conf.all.route_localnet="$(cat "$D/route-localnet.orig")"
  rm -f "$PROXY_OWNER"
}

node() {
  node_vars; local N=$D/node name=node-1 P_KUBELET IMPORT i f
  mkdir -p "$N" "$RUN"
  locked save_sysctls
  # restrict_oom_score_adj: root here may lack CAP_SYS_RESOURCE; without it every pod sandbox fails.
  cat > "$N/containerd.toml" <<EOT
version = 2
root = "$N/containerd"
state = "$RUN"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/local/pause:1"
  restrict_oom_score_adj = true
  disable_hugetlb_controller = true
  tolerate_missing_hugetlb_controller = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$N/certs.d"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "$RUN/runc"
EOT
  # No registry is reachable: docker.io pulls go to a dead loopback port (fast ErrImagePull, no DNS).
  # containerd 1.6 ignores a hosts.toml without a [host] table.
  mkdir -p "$N/certs.d/docker.io"
  printf 'server = "http://127.0.0.1:9"\n[host."http://127.0.0.1:9"]\n  capabilities = ["pull", "resolve"]\n' > "$N/certs.d/docker.io/hosts.toml"
  mkdir -p "$N/cni"; cat > "$N/cni/10-kubetask.conflist" <<EOT
{"cniVersion": "0.4.0", "name": "kubetask-$ID", "plugins": [
  {"type": "bridge", "bridge": "$BR", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$N/ipam", "ranges": [[{"subnet": "$NET.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
EOT
  # Pods get the kubelet's --resolv-conf (by default the host's, whose nameserver is off this machine).
  # 127.0.0.1 in a pod's network namespace is the pod itself, where nothing serves :53: a lookup fails at
  # once and no query leaves the pod. Tests that need names run a server on the bridge address and set the
  # pod's dnsConfig.
  printf '# kubetask local cluster: no resolver off this machine (cluster.sh)\nnameserver 127.0.0.1\n' > "$N/resolv.conf"
  start containerd containerd --config "$N/containerd.toml"
  for i in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
  import_once "$CACHE/images/pause.tar" || exit 1
  (for f in "$CACHE"/images/*.tar ${KUBETASK_NODE_IMAGES:-}; do [ "$f" = "$CACHE/images/pause.tar" ] ||
     import_once "$f" || exit 1; done) & IMPORT=$!
  for f in $CGS; do [ ! -d "/sys/fs/cgroup/$f" ] || mkdir -p "/sys/fs/cgroup/$f/$CG"; done
  for f in cpus mems; do cat "/sys/fs/cgroup/cpuset/cpuset.$f" > "/sys/fs/cgroup/cpuset/$CG/cpuset.$f"; done
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$D/kubeconfig" --leader-elect=false --port=0 --secure-port=0 \
    --kube-api-qps=100 --kube-api-burst=200
  locked claim_proxy
  if [ -f "$D/no-proxy" ]; then log "$(cat "$D/no-proxy")"; else
    wait_for "kube-proxy's first sync (its FORWARD rules)" proxy_synced
    locked guard_first
  fi
  P_KUBELET=$(free_ports 1)
  export AWS_EC2_METADATA_DISABLED=true   # else kubelet's ECR credential code probes the EC2 metadata address
  start kubelet "$BIN/kubelet" --kubeconfig="$D/kubeconfig" --hostname-override="$name" --node-ip="$API_HOST" \
    --container-runtime=remote --container-runtime-endpoint="unix://$SOCK" --containerd="$SOCK" --runtime-request-timeout=2m \
    --resolv-conf="$N/resolv.conf" \
    --cgroup-driver=cgroupfs --cgroup-root="/$CG" --fail-swap-on=false --oom-score-adj=0 \
    --pod-infra-container-image=local/pause:1 --root-dir="$N/kubelet" --cert-dir="$N/kubelet/pki" --volume-plugin-dir="$N/kubelet/plugins-exec" \
    --address="$API_HOST" --port="$P_KUBELET" --read-only-port=0 --healthz-port=0 --anonymous-auth=true \
    --authorization-mode=AlwaysAllow --make-iptables-util-chains=false --register-node=true \
    --image-gc-high-threshold=100 --image-gc-low-threshold=99 --eviction-hard= --serialize-image-pulls=false \
    --kube-api-qps=100 --kube-api-burst=200 --event-qps=100 --event-burst=200 \
    --node-status-update-frequency=4s --sync-frequency=10s \
    --container-log-max-size=100Mi  # pods/log serves only the current file: README "Logs", log rotation
  wait_for "node $name Ready" has '"type":"Ready","status":"True"' "/api/v1/nodes/$name"
  wait "$IMPORT" || die "image import failed (see $D/containerd.log)"
  # kubelet registers tainted not-ready; only the nodelifecycle controller (not run here) would untaint it.
  api -X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"spec":{"taints":null}}' "/api/v1/nodes/$name" >/dev/null
}

up() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubelet" ] && [ -x "$BIN/kube-proxy" ] ||
    die "no binaries (or no kube-proxy) in $BIN: run scripts/cluster/build.sh first"
  mkdir -p "$1"; D=$(cd "$1" && pwd)
  [ -e "$D/pids" ] && die "$D/pids exists: already up? (cluster.sh down $D first)"
  local t0=$SECONDS
  DEADLINE=$((SECONDS + TIMEOUT))
  : > "$D/pids"; UP_DIR=$D
  locked network; node_vars
  control_plane
  [ "${KUBETASK_NO_NODE:-}" = 1 ] || node
  UP_DIR=
  log "ready in $((SECONDS - t0)) s: https://$API_HOST:$P_API"
  echo "$D/kubeconfig"
}

down() {
  local D; D=$(cd "$1" 2>/dev/null && pwd) || die "no such dir: $1"
  [ -f "$D/pids" ] || { log "nothing to stop in $D"; return 0; }
  node_vars; local N=$D/node pid name exe id ns i f l uids data
  ours() { [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ]; }
  stop() { ours "$1" "$2" || return 0; kill -TERM "$1" 2>/dev/null || true
    for i in $(seq 50); do ours "$1" "$2" || return 0; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; }
  # kubelet and scheduler first, then the pods, then containerd, then the control plane (apiserver before etcd).
  while read -r pid name exe; do case $name in kubelet|kube-scheduler|kube-proxy) stop "$pid" "$exe" ;; esac; done < "$D/pids"
  locked unproxy
  if [ -S "$SOCK" ]; then
    for id in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$SOCK" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true; done
  fi
  for ns in $(ip -o link show master "$BR" 2>/dev/null | grep -o 'link-netns [^ ]*' | cut -d' ' -f2); do ip netns delete "$ns" || true; done
  while read -r pid name exe; do [ "$name" != containerd ] || stop "$pid" "$exe"; done < "$D/pids"
  for pid in $(grep -lsaF -- "$SOCK" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */containerd-shim* ]] && kill -KILL "$pid" 2>/dev/null || true; done
  while read -r pid name exe; do ours "$pid" "$exe" && kill -TERM "$pid" 2>/dev/null || true; done < <(tac "$D/pids")
  for i in $(seq 50); do
    while read -r pid name exe; do ours "$pid" "$exe" && break; done < "$D/pids" || break
    sleep 0.1
  done
  while read -r pid name exe; do ours "$pid" "$exe" && kill -KILL "$pid" 2>/dev/null || true; done < "$D/pids"
  findmnt -rn -o TARGET | { grep -E "^($N|$RUN)/" || true; } | sort -r | while read -r f; do umount -l "$f" || true; done
  ! ip link show "$BR" >/dev/null 2>&1 || ip link del "$BR"
  { iptables -w -S FORWARD 2>/dev/null || true; } | { grep -- " -j $EGRESS\$" || true; } |
    while read -r _ _ f; do iptables -w -D FORWARD $f; done   # $f unquoted: the rule's own words
  ! iptables -w -F "$EGRESS" 2>/dev/null || iptables -w -X "$EGRESS" || log "could not delete chain $EGRESS"
  { iptables -w -t nat -S PREROUTING 2>/dev/null || true; } | { grep -- " -j $EGRESS\$" || true; } |
    while read -r _ _ f; do iptables -w -t nat -D PREROUTING $f; done
  ! iptables -w -t nat -F "$EGRESS" 2>/dev/null || iptables -w -t nat -X "$EGRESS" || log "could not delete nat chain $EGRESS"
  [ -z "$SVC" ] || [ -z "$(ip route show exact "$SVC" proto "$RT_PROTO")" ] || ip route del unreachable "$SVC" proto "$RT_PROTO"
  for f in $CGS unified; do [ -d "/sys/fs/cgroup/$f/$CG" ] && find "/sys/fs/cgroup/$f/$CG" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  if [ -f "$D/containerd.log" ]; then   # pod logs live in fixed paths in 1.20: remove ours
    uids=" $(grep -o 'PodSandboxMetadata{Name:[^,]*,Uid:[0-9a-f-]*' "$D/containerd.log" | sed 's/.*Uid://' | sort -u | xargs || true) "
    for id in $uids; do rm -rf /var/log/pods/*_"$id"; done
    for f in /var/log/containers/*; do l=$(readlink "$f") || continue; l=${l#/var/log/pods/}; l=${l%%/*}
      [[ $uids != *" ${l##*_} "* ]] || rm -f "$f"; done
  fi
  for f in /var/lib/cni/results/"kubetask-$ID"-*-eth0; do
    [ -e "$f" ] || continue; id=${f%-eth0}; id=${id##*-}; rm -f "$f" "/var/lib/cni/results/cni-loopback-$id-lo"; done
  locked unguard_shared; rm -f "$D/made-var-lib-kubelet"
  data=$(cat "$D/etcd-data-dir" 2>/dev/null || true)
  case "$data" in */kubetask-etcd.??????) rm -rf -- "$data" ;; esac
  rm -rf -- "$N/containerd" "$N/kubelet" "$N/ipam" "$RUN"
  rm -f -- "$D"/{pids,etcd-data-dir,etcd-port,kubeconfig,tokens.csv,ca.key,ca.crt,apiserver.key,apiserver.crt,sa.key,sysctl.orig,bridge,egress-chain,pod-subnet,service-range,no-proxy,kube-chains.before,route-localnet.orig} "$D"/.doc.*
  log "stopped; logs kept in $D/*.log"
}

load_api() {  # the apiserver's address, port and token from DIR/kubeconfig (for a command run after 'up')
  API_HOST=$(sed -n 's|.*server: "https://\([0-9.]*\):[0-9]*".*|\1|p' "$D/kubeconfig")
  P_API=$(sed -n 's|.*server: "https://[0-9.]*:\([0-9]*\)".*|\1|p' "$D/kubeconfig")
  TOKEN=$(sed -n 's/.*token: \([^ }]*\).*/\1/p' "$D/kubeconfig")
}

node_up() {
  D=$(cd "$1" && pwd)
  [ -f "$D/pids" ] || die "$D is not up (cluster.sh up $D first)"
  ! awk '$2 == "kubelet" {f=1} END {exit !f}' "$D/pids" || die "$D already has a node"
  load_api
  local t0=$SECONDS
  DEADLINE=$((SECONDS + TIMEOUT))
  node
  log "node ready in $((SECONDS - t0)) s"
}

restart_apiserver() {  # stop kube-apiserver and start it again with the same flags (fault tests)
  D=$(cd "$1" && pwd); local pid name exe args=() newpid i
  read -r pid name exe < <(awk '$2 == "kube-apiserver"' "$D/pids")
  [ -n "${pid:-}" ] || die "no kube-apiserver in $D/pids"
  mapfile -d '' args < "/proc/$pid/cmdline"
  kill -TERM "$pid"
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  setsid "${args[@]}" </dev/null >>"$D/kube-apiserver.log" 2>&1 &
  newpid=$!
  sed -i "s/^$pid kube-apiserver /$newpid kube-apiserver /" "$D/pids"
  load_api
  DEADLINE=$((SECONDS + TIMEOUT))
  wait_for "apiserver /readyz after restart" api /readyz
  log "kube-apiserver restarted (pid $newpid)"
}

restart_controller_manager() {  # same flags; --feature-gates=$GATES[,$KUBETASK_CM_GATES] (none: back to $GATES)
  D=$(cd "$1" && pwd); local pid name exe args=() newpid i
  read -r pid name exe < <(awk '$2 == "kube-controller-manager"' "$D/pids")
  [ -n "${pid:-}" ] || die "no kube-controller-manager in $D/pids"
  mapfile -d '' args < "/proc/$pid/cmdline"
  for i in "${!args[@]}"; do
    [[ ${args[$i]} != --feature-gates=* ]] || args[$i]=--feature-gates=$GATES${KUBETASK_CM_GATES:+,$KUBETASK_CM_GATES}
  done
  kill -TERM "$pid"
  for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  setsid "${args[@]}" </dev/null >>"$D/kube-controller-manager.log" 2>&1 &
  newpid=$!
  sed -i "s/^$pid kube-controller-manager /$newpid kube-controller-manager /" "$D/pids"
  log "kube-controller-manager restarted (pid $newpid, gates $GATES${KUBETASK_CM_GATES:+,$KUBETASK_CM_GATES})"
}

# Each node imports a given tar once: a stamp in its containerd root (so it goes with the images, at
# `down`) names the file by path, size and modification time, which every rebuild changes (images.sh and
# build.sh write a tar whole, then rename it). The suite's modules that need the operator and API images
# (~485 MB each) then pay for one import per session, not one per module.
import_once() {  # import_once TAR (N, SOCK set): into the node's containerd unless this very file already was
  local stamps=$N/containerd/kubetask-imported key
  key=$( { realpath "$1"; stat -Lc '%s %.9Y' "$1"; } | sha256sum | cut -c1-32)
  [ ! -e "$stamps/$key" ] || return 0
  ctr -a "$SOCK" -n k8s.io images import "$1" >/dev/null || return 1
  mkdir -p "$stamps"; printf '%s\n' "$(realpath "$1")" > "$stamps/$key"
}

import_images() {  # import DIR TAR...: into the node's containerd (images are never pulled here), each once
  D=$(cd "$1" && pwd); shift; node_vars; local f N=$D/node
  [ -S "$SOCK" ] || die "$D has no running node (no $SOCK)"
  for f in "$@"; do import_once "$f" || die "importing $f failed"; done
}

case "${1:-}" in
  import) [ $# -ge 3 ] || die "usage: $0 import DIR TAR..."; import_images "$2" "${@:3}" ;;
  up)   [ $# -eq 2 ] || die "usage: $0 up DIR"; up "$2" ;;
  node-up) [ $# -eq 2 ] || die "usage: $0 node-up DIR"; node_up "$2" ;;
  restart-apiserver) [ $# -eq 2 ] || die "usage: $0 restart-apiserver DIR"; restart_apiserver "$2" ;;
  restart-controller-manager) [ $# -eq 2 ] || die "usage: $0 restart-controller-manager DIR"; restart_controller_manager "$2" ;;
  down) [ $# -eq 2 ] || die "usage: $0 down DIR"; down "$2" ;;
  *)    die "usage: $0 up DIR | node-up DIR | import DIR TAR... | restart-apiserver DIR | restart-controller-manager DIR | down DIR" ;;
esac; exit  # 'exit' on the same line: editing this file while it runs cannot derail bash
