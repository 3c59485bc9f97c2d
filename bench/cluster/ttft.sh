#!/usr/bin/env bash
# Time to first token, prefix routing vs round robin, on three replicas of a larger model (a benchmark, not a test).
#   bash bench/cluster/ttft.sh MODEL.gguf [COUNT] [TURNS] [FIRST_WORDS] [TURN_WORDS]
# Starts redis-server and three `suiron serve --cluster` nodes on loopback for each routing in turn, sends the same
# long multi-turn conversations (tests/cluster/conversations.mjs ttft) and prints mean and p95 TTFT of each.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${1:?model file}
COUNT=${2:-6}; TURNS=${3:-4}; FIRST=${4:-600}; TURN=${5:-150}
CLI=src/Suiron.Cli/bin/Release/net10.0/Suiron.Cli.dll
[ -f "$CLI" ] || dotnet build -c Release src/Suiron.Cli >/dev/null
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
BASE=$((20000 + RANDOM % 20000))
redis-server --port "$BASE" --bind 127.0.0.1 --save '' --appendonly no > "$WORK/redis.log" 2>&1 &
PIDS+=($!)
for routing in round-robin prefix; do
  NODES=(); URLS=""
  for i in 0 1 2; do
    dotnet "$CLI" serve -m "$MODEL" --port $((BASE + 10 + i)) -np 4 -t 1 -c 4096 --cluster "redis://127.0.0.1:$BASE" --cluster-name "$routing" \
      --cluster-routing "$routing" --silo-port $((BASE + 20 + i)) --gateway-port $((BASE + 30 + i)) > "$WORK/$routing-$i.log" 2>&1 &
    PIDS+=($!); NODES+=($!)
    URLS="$URLS${URLS:+,}http://127.0.0.1:$((BASE + 10 + i))"
  done
  node tests/cluster/conversations.mjs wait --nodes "$URLS" --members 3 --timeout 180
  echo "== $routing: $COUNT conversations x $TURNS turns, first turn $FIRST words, later turns $TURN words"
  node tests/cluster/conversations.mjs ttft --nodes "$URLS" --count "$COUNT" --turns "$TURNS" --concurrency 3 --first-words "$FIRST" --turn-words "$TURN"
  for pid in "${NODES[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${NODES[@]}"; do wait "$pid" 2>/dev/null || true; done
done
