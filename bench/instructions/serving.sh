#!/bin/bash
# Instructions a request in a measured window (valgrind callgrind; the counts do not move with the load).
# usage: bash bench/instructions/serving.sh <batched|bare|floor|promise> [warm-up requests] [measured requests]
# The window is the dump callgrind writes at process.geteuid() (the last numbered dump); its
# functions: callgrind_annotate on that file (JIT frames are addresses; PERF_MAP=1 runs node with
# --perf-basic-prof, which names them in /tmp/perf-<pid>.map and leaves isolate-*.log here).
set -euo pipefail
mode=${1:?mode: batched, bare, floor or promise}
warm=${2:-100000}
measured=${3:-50000}
out=$(mktemp -d)
valgrind --tool=callgrind --dump-before=getegid --dump-before=geteuid --callgrind-out-file="$out/cg.%p" \
  node ${PERF_MAP:+--perf-basic-prof} --import tsx "$(dirname "$0")/serving-window.ts" "$mode" "$warm" "$measured" 2>&1 | grep -v '^==' || true
window=$(ls "$out"/cg.*.* | awk -F. '{ print $NF " " $0 }' | sort -n | tail -1 | cut -d' ' -f2)
instructions=$(awk '/^summary:/ { print $2 }' "$window")
echo "$mode: $((instructions / measured)) instructions a request ($instructions in the window, $window)"
