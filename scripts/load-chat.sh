#!/usr/bin/env bash
# Chat load, two ways: CLIENTS `natter --batch` processes each sending MESSAGES lines
# (the way a user scripts it), then the same load from natter-load in one process.
#
#   scripts/load-chat.sh [CLIENTS] [MESSAGES]     (defaults 50 200)
source "$(dirname "$0")/lib.sh"
clients=${1:-50}
messages=${2:-200}
start_natterd --max-rate 0 --max-clients $((clients + 100))
echo "== $clients natter --batch processes x $messages messages"
start=$(date +%s.%N)
for i in $(seq 1 "$clients"); do
  seq 1 "$messages" | sed "s/^/bot$i says /" | "$NATTER" --batch "bot$i" 127.0.0.1 "$PORT" >/dev/null &
done
fails=0
for job in $(jobs -p); do [ "$job" = "$PID" ] && continue; wait "$job" || fails=$((fails + 1)); done
end=$(date +%s.%N)
python3 -c "import sys; n,m,t=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]); print(f'{n*m} messages sent in {t:.2f} s ({n*m/t:.0f}/s), every one acknowledged')" \
  "$clients" "$messages" "$(python3 -c "print($end - $start)")"
echo "natter processes that failed: $fails"
echo "== natter-load, same load in one process"
"$LOAD" --port "$PORT" --server-pid "$PID" fanout --clients "$clients" --messages "$messages"
