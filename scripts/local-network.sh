#!/usr/bin/env bash
# A small Nightjar network of real nightjar-node processes on loopback, for
# trying the `nightjar` CLI by hand (README, "Send messages"):
#
#   bash scripts/local-network.sh start [DIR] [NODES]   # default DIR=/tmp/nightjar-net, NODES=7
#   bash scripts/local-network.sh status [DIR]
#   bash scripts/local-network.sh stop [DIR]
#
# `start` installs what is missing, builds, starts one authority (epochs of 5
# seconds, swarms of 5 to 10 nodes) and NODES service nodes, each with its own
# data directory and log under DIR, waits until the directory lists them all,
# and prints the network file to give to `nightjar --network`. The processes
# keep running in the background; `stop` sends each of them SIGTERM (by the
# PIDs recorded in DIR/pids) and waits for it to exit. Ports: the authority
# listens on 127.0.0.1:BASE, node i on 127.0.0.1:BASE+i, metrics on
# 127.0.0.1:BASE+1000+i (BASE: $NIGHTJAR_BASE_PORT, default 7400).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
dir=${2:-/tmp/nightjar-net}
base=${NIGHTJAR_BASE_PORT:-7400}
bin=${BUILD_DIR:-build}/bin

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# GET http://127.0.0.1:PORT/metrics with bash's /dev/tcp (no curl needed).
metric() {
  local port=$1 name=$2 reply
  reply=$( (exec 3<>"/dev/tcp/127.0.0.1/$port" &&
            printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
            timeout 2 cat <&3) 2>/dev/null ) || return 1
  awk -v n="$name" '$1 == n { print $2; exit }' <<<"$reply"
}

stop_all() {
  [[ -f "$dir/pids" ]] || { echo "no network recorded in $dir"; return 0; }
  local pids=()
  while read -r pid _; do alive "$pid" && { kill -TERM "$pid"; pids+=("$pid"); }; done <"$dir/pids"
  for _ in $(seq 1 100); do
    local left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [[ $left == 0 ]] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && echo "warning: process $pid did not exit within 10 s" >&2; done
  rm -f "$dir/pids"
  echo "stopped ${#pids[@]} processes; data stays in $dir"
}

case "$cmd" in
  start)
    nodes=${3:-7}
    [[ "$nodes" =~ ^[0-9]+$ && "$nodes" -ge 5 && "$nodes" -le 100 ]] ||
      { echo "local-network: NODES must be a number from 5 to 100, not '$nodes'" >&2; exit 2; }
    if [[ -f "$dir/pids" ]]; then
      echo "local-network: $dir already has a running network; 'stop $dir' first" >&2; exit 2
    fi
    bash scripts/deps.sh
    bash scripts/build.sh
    mkdir -p "$dir"
    : >"$dir/pids"
    trap 'echo "start failed; stopping what was started" >&2; stop_all' ERR
    "$bin/nightjar-node" --authority --data-dir "$dir/auth" --listen "127.0.0.1:$base" \
      --metrics "127.0.0.1:$((base + 1000))" --epoch-seconds 5 --swarm-sizes 5,7,10 \
      --log-file "$dir/auth.log" >"$dir/auth.out" 2>&1 &
    echo "$! authority" >>"$dir/pids"
    for _ in $(seq 1 100); do [[ -f "$dir/auth/network.conf" ]] && break; sleep 0.1; done
    [[ -f "$dir/auth/network.conf" ]] || { echo "the authority did not start; see $dir/auth.out" >&2; false; }
    for i in $(seq 1 "$nodes"); do
      "$bin/nightjar-node" --network "$dir/auth/network.conf" --data-dir "$dir/node$i" \
        --listen "127.0.0.1:$((base + i))" --metrics "127.0.0.1:$((base + 1000 + i))" \
        --log-file "$dir/node$i.log" >"$dir/node$i.out" 2>&1 &
      echo "$! node$i" >>"$dir/pids"
    done
    echo "waiting until the directory lists all $nodes nodes (epochs of 5 s)..."
    listed=0
    for _ in $(seq 1 60); do
      listed=$(metric "$((base + 1000 + nodes))" nightjar_directory_nodes || echo 0)
      [[ "${listed:-0}" -ge "$nodes" ]] && break
      sleep 1
    done
    [[ "${listed:-0}" -ge "$nodes" ]] ||
      { echo "only ${listed:-0} of $nodes nodes listed after 60 s; logs in $dir" >&2; false; }
    trap - ERR
    echo "network up: 1 authority and $nodes nodes on 127.0.0.1:$base-$((base + nodes))"
    echo "network file: $dir/auth/network.conf"
    echo "stop it with: bash scripts/local-network.sh stop $dir"
    ;;
  status)
    [[ -f "$dir/pids" ]] || { echo "no network running in $dir"; exit 1; }
    while read -r pid name; do
      if alive "$pid"; then echo "$name pid $pid running"; else echo "$name pid $pid NOT running"; fi
    done <"$dir/pids"
    ;;
  stop) stop_all ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
