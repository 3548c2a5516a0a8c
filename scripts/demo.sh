#!/usr/bin/env bash
# The demo: migrate a SQLite database, start the bundled sample feed, sync it, show the queues.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export IKDOEMEE_DATABASE_URL="${IKDOEMEE_DATABASE_URL:-sqlite:///data/ikdoemee.sqlite3}"
export IKDOEMEE_UITDATABANK_CLIENT_ID="${IKDOEMEE_UITDATABANK_CLIENT_ID:-demo-client}"
PORT=8765
mkdir -p data

echo "== 1. database: $IKDOEMEE_DATABASE_URL"
$BIN/ikdoemee-sync db upgrade

echo "== 2. sample feed on http://127.0.0.1:$PORT (300 Westhoek events)"
$BIN/python -m samplefeed --port "$PORT" --events 300 --seed 1 --edge-cases \
  --client-id "$IKDOEMEE_UITDATABANK_CLIENT_ID" > data/samplefeed.log 2>&1 &
FEED=$!
trap 'kill $FEED 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  grep -q "http://" data/samplefeed.log 2>/dev/null && break
  kill -0 $FEED 2>/dev/null || { cat data/samplefeed.log; echo "sample feed did not start" >&2; exit 1; }
  sleep 0.2
done

echo "== 3. sync"
$BIN/ikdoemee-sync --log-level WARNING sync

echo "== 4. the regional team approves what is outside Ieper (Ieper's moderator gets the rest)"
for m in Poperinge Diksmuide Veurne Heuvelland Koksijde Nieuwpoort Zonnebeke; do
  $BIN/ikdoemee-sync --log-level WARNING queue approve --all --municipality "$m" --as demo@ikdoemee.local
done

echo "== 5. what is left in the queues"
$BIN/ikdoemee-sync queue list > data/queue.txt
head -n 16 data/queue.txt
echo "…"
tail -n 1 data/queue.txt
echo
$BIN/ikdoemee-sync runs list --limit 3
echo
echo "Try: $BIN/ikdoemee-sync queue list --municipality Ieper   (add --json for scripts)"
echo "     $BIN/ikdoemee-sync web, then open http://127.0.0.1:8080/activiteiten (the public catalogue)"
