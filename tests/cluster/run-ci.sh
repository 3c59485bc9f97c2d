#!/usr/bin/env bash
# Replicas in a real cluster, as `suiron serve --cluster` runs them: redis-server (Debian's) for membership and three
# nodes on stories260K, all on loopback ports. Checks, with conversations.mjs as the client:
#  1. round robin (the baseline): share of follow-up turns that land on the replica holding their conversation;
#  2. prefix routing: that share is ≥ 90 %, every reply equals a single server's (temperature 0, fixed seed), no
#     request is lost;
#  3. one node SIGKILLed under load: every request completes or ends with an error event and [DONE], none hangs,
#     and the two left keep serving.
# Expects the solution built in Release (as `dotnet test Suiron.slnx -c Release` leaves it); builds the CLI otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
CLI=src/Suiron.Cli/bin/Release/net10.0/Suiron.Cli.dll
[ -f "$CLI" ] || dotnet build -c Release src/Suiron.Cli >/dev/null
MODEL=../shared/models/stories260K.gguf
CLIENT=tests/cluster/conversations.mjs
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "cluster test failed: $*" >&2; for log in "$WORK"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done; exit 1; }

BASE=$((20000 + RANDOM % 20000))
redis-server --port "$BASE" --bind 127.0.0.1 --save '' --appendonly no > "$WORK/redis.log" 2>&1 &
PIDS+=($!)

NODE_PIDS=()
URLS=""
start_cluster() { # name routing
  NODE_PIDS=()
  URLS=""
  for i in 0 1 2; do
    dotnet "$CLI" serve -m "$MODEL" --port $((BASE + 10 + i)) -np 6 -t 1 --cluster "redis://127.0.0.1:$BASE" --cluster-name "$1" \
      --cluster-routing "$2" --silo-port $((BASE + 20 + i)) --gateway-port $((BASE + 30 + i)) > "$WORK/$1-$i.log" 2>&1 &
    PIDS+=($!)
    NODE_PIDS+=($!)
    URLS="$URLS${URLS:+,}http://127.0.0.1:$((BASE + 10 + i))"
  done
  node "$CLIENT" wait --nodes "$URLS" --members 3 || fail "the cluster $1 did not form"
}
stop_cluster() {
  for pid in "${NODE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${NODE_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}

echo "== single server (the reference replies)"
dotnet "$CLI" serve -m "$MODEL" --port $((BASE + 9)) -np 6 -t 1 > "$WORK/single.log" 2>&1 &
SINGLE=$!
PIDS+=($SINGLE)
node "$CLIENT" wait --nodes "http://127.0.0.1:$((BASE + 9))" --members 0
node "$CLIENT" run --nodes "http://127.0.0.1:$((BASE + 9))" --count 40 --out "$WORK/single.json" || fail "single server lost requests"
kill "$SINGLE"; wait "$SINGLE" 2>/dev/null || true

echo "== round robin over 3 replicas (baseline)"
start_cluster rr round-robin
node "$CLIENT" run --nodes "$URLS" --count 40 --out "$WORK/rr.json" || fail "round robin lost requests"
node "$CLIENT" hits "$WORK/rr.json" 0
stop_cluster

echo "== prefix routing over 3 replicas"
start_cluster prefix prefix
node "$CLIENT" run --nodes "$URLS" --count 40 --out "$WORK/prefix.json" || fail "prefix routing lost requests"
node "$CLIENT" hits "$WORK/prefix.json" 0.9 || fail "hit rate under 90 %"
node "$CLIENT" compare "$WORK/prefix.json" "$WORK/single.json" || fail "replies differ from a single server's"
dotnet "$CLI" cluster status --url "http://127.0.0.1:$((BASE + 10))"

echo "== SIGKILL of one replica under load"
VICTIM_URL="http://127.0.0.1:$((BASE + 12))"
timeout 120 node "$CLIENT" kill --nodes "$URLS" --victim-pid "${NODE_PIDS[2]}" --victim-url "$VICTIM_URL" --requests 30 || fail "requests lost or hung under SIGKILL"
SURVIVORS="http://127.0.0.1:$((BASE + 10)),http://127.0.0.1:$((BASE + 11))"
node "$CLIENT" wait --nodes "$SURVIVORS" --members 2 --timeout 60 || fail "the dead node was not dropped"
node "$CLIENT" run --nodes "$SURVIVORS" --count 8 --out "$WORK/after.json" || fail "the two left lost requests"
dotnet "$CLI" cluster status --url "http://127.0.0.1:$((BASE + 11))"
stop_cluster
echo "cluster test passed"
