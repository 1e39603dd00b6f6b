#!/usr/bin/env bash
# Runs every fuzz target in the repository for a fixed number of executions,
# one `go test -fuzz` per target, and stops at the first failure. Targets are
# the `func FuzzXxx` declarations in *_test.go files.
#
# Budgets are counts (-fuzztime Nx), not durations: with a duration, Go 1.26's
# fuzz coordinator can report a spurious "context deadline exceeded" failure
# when the deadline fires while a worker is mid-input (go.dev/issue/75804).
# A count has no deadline to race. Each count below is at most about five seconds of
# work on a two-core machine; FUZZTIME overrides all of them (a count such as
# 100000x, or a duration for long local runs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

budget() {
	if [[ -n "${FUZZTIME:-}" ]]; then
		echo "$FUZZTIME"
		return
	fi
	case "$1" in
	FuzzAuditListing) echo 300x ;;       # a catalog and a listing per input
	FuzzReplaceFrom) echo 2000x ;;       # two SQLite files per input
	FuzzParseIdentityFile) echo 5000x ;;
	FuzzRestorePath) echo 4000x ;;
	FuzzImportCatalog) echo 5000x ;;
	FuzzParseRecipients) echo 8000x ;;
	FuzzCiphertextReadAt) echo 50000x ;;
	FuzzCopySource) echo 80000x ;;
	*) echo 2000x ;;
	esac
}

grep -r --include='*_test.go' -e '^func Fuzz' . | grep -v '^\./\.' |
	sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*$|\1 \2|' |
	sort -u |
	while read -r pkg target; do
		n="$(budget "$target")"
		echo "fuzz $pkg $target ($n)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$n" "$pkg"
	done
