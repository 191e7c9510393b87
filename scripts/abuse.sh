#!/usr/bin/env bash
# Fault-and-abuse run against a fresh natterd (release build) on loopback.
#
#   scripts/abuse.sh [SECONDS] [CHURN]     (defaults: 60 s, 1000 connections per churn round)
#
# See scripts/abuse.py for what it does and checks. Runs natterd with its default
# hardening (flood control, timeouts, queue caps) except the per-address limit, which
# loopback is exempt from anyway. Needs python3. Ends by itself; exit 0 when every
# check passed. The suite's short form is server/tests/abuse.rs.
secs=${1:-60}
churn=${2:-1000}
source "$(dirname "$0")/lib.sh"
# natterd's default hardening stays on: flood control, timeouts, queue caps.
start_natterd --max-clients 5000
python3 scripts/abuse.py "$PORT" "$SHARED" "$PID" "$secs" "$churn"
