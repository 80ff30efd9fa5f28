#!/usr/bin/env bash
# fuzz-all.sh [DURATION] — runs every go fuzz target in the module for
# DURATION each (default 10s). A finding fails the run and leaves the
# crashing input under the package's testdata/fuzz/ for a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-10s}
n=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target for $dur"
		# Minimisation of large inputs would eat the whole budget.
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$dur" -fuzzminimizetime 1s "$pkg"
		n=$((n + 1))
	done
done
echo "fuzz: $n targets ran for $dur each without a finding"
