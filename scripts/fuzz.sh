#!/usr/bin/env bash
# Runs every fuzz target in the repository for a short while (FUZZTIME,
# default 5s each), one `go test -fuzz` per target, and stops at the first
# failure. Targets are the `func FuzzXxx` declarations in *_test.go files.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-5s}"

grep -r --include='*_test.go' -e '^func Fuzz' . | grep -v '^\./\.' |
	sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$|\1 \2|' |
	sort -u |
	while read -r pkg target; do
		echo "fuzz $pkg $target ($fuzztime)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
	done
