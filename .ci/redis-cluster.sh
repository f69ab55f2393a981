#!/usr/bin/env bash
# A local Redis Cluster for mfa-store's tests: three masters and three replicas on
# 127.0.0.1:7000-7005 (Debian's redis-server with cluster-enabled yes), data under a
# temporary directory. Idempotent: a cluster already at cluster_state:ok is left alone,
# stopped nodes are started again from their nodes.conf, and a cluster is created only
# when the nodes know no cluster yet.
#
#   .ci/redis-cluster.sh [start]   start (or keep) the cluster, wait for cluster_state:ok
#   .ci/redis-cluster.sh stop      stop the six nodes (data kept)
#   .ci/redis-cluster.sh recreate  stop, wipe the data and create a fresh cluster
#
# The tests read its address from MFA_TEST_REDIS_CLUSTER_URL, printed at the end
# (redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002).
set -euo pipefail

HOST=127.0.0.1
PORTS=(7000 7001 7002 7003 7004 7005)
DIR=${MFA_REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/mfa-redis-cluster}

cli() { redis-cli -h "$HOST" -p "$1" "${@:2}"; }
up() { cli "$1" ping >/dev/null 2>&1; }
state_ok() { cli "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }
all_ok() {
    for p in "${PORTS[@]}"; do state_ok "$p" || return 1; done
}

stop() {
    for p in "${PORTS[@]}"; do
        if up "$p"; then cli "$p" shutdown nosave >/dev/null 2>&1 || true; fi
    done
    for p in "${PORTS[@]}"; do
        for _ in $(seq 1 50); do up "$p" || break; sleep 0.1; done
    done
}

start_nodes() {
    for p in "${PORTS[@]}"; do
        up "$p" && continue
        mkdir -p "$DIR/$p"
        redis-server --daemonize yes --bind "$HOST" --port "$p" \
            --cluster-enabled yes --cluster-config-file "$DIR/$p/nodes.conf" \
            --cluster-node-timeout 2000 --dir "$DIR/$p" --save "" --appendonly no \
            --logfile "$DIR/$p/redis.log" --pidfile "$DIR/$p/redis.pid"
    done
    for p in "${PORTS[@]}"; do
        for _ in $(seq 1 50); do up "$p" && break; sleep 0.1; done
        up "$p" || { echo "redis node $p did not start; see $DIR/$p/redis.log" >&2; exit 1; }
    done
}

wait_ok() {
    for _ in $(seq 1 120); do all_ok && return 0; sleep 0.5; done
    echo "the cluster did not reach cluster_state:ok" >&2
    for p in "${PORTS[@]}"; do echo "--- $p"; cli "$p" cluster info | head -n 3 || true; done >&2
    exit 1
}

start() {
    if all_ok; then return 0; fi
    start_nodes
    # A node that knows only itself has never joined a cluster: create one.
    if cli "${PORTS[0]}" cluster info | grep -q '^cluster_known_nodes:1\b'; then
        local nodes=()
        for p in "${PORTS[@]}"; do nodes+=("$HOST:$p"); done
        redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
    fi
    wait_ok
}

case "${1:-start}" in
    start) start ;;
    stop) stop; exit 0 ;;
    recreate) stop; rm -rf "$DIR"; start ;;
    *) echo "usage: $0 [start|stop|recreate]" >&2; exit 2 ;;
esac
echo "redis cluster ok: redis+cluster://$HOST:${PORTS[0]},$HOST:${PORTS[1]},$HOST:${PORTS[2]} (data in $DIR)"
