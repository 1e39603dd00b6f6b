#!/usr/bin/env bash
# Runs a local S3 server (the Versity S3 gateway, posix backend) for demos.
#
#   scripts/versitygw.sh start   start it on 127.0.0.1:7070 (once; waits until ready)
#   scripts/versitygw.sh stop    stop it
#   scripts/versitygw.sh env     print export lines for the demo's credentials
#   eval "$(scripts/versitygw.sh env)"
#
# S3SEAL_DEMO_PORT overrides the port, S3SEAL_DEMO_DIR the state directory
# (default .demo/ in the repository), which holds the buckets (data/), the
# credentials (created on first start, mode 0600), the pid file and the log.
# The binary is $VERSITYGW, else versitygw in PATH or $(go env GOPATH)/bin.
# The gateway keeps connections alive, as S3 does; S3SEAL_DEMO_KEEPALIVE=0
# starts it in its own default mode, which closes every connection after
# one request.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
port="${S3SEAL_DEMO_PORT:-7070}"
state="${S3SEAL_DEMO_DIR:-$repo/.demo}"
pid_file="$state/versitygw.pid"
log_file="$state/versitygw.log"
cred_file="$state/credentials"
endpoint="http://127.0.0.1:$port"

die() {
	echo "versitygw.sh: $*" >&2
	exit 1
}

find_binary() {
	if [[ -n "${VERSITYGW:-}" ]]; then
		echo "$VERSITYGW"
	elif command -v versitygw >/dev/null 2>&1; then
		command -v versitygw
	elif [[ -x "$(go env GOPATH | cut -d: -f1)/bin/versitygw" ]]; then
		echo "$(go env GOPATH | cut -d: -f1)/bin/versitygw"
	else
		die "versitygw not found; run scripts/install-deps.sh"
	fi
}

# running succeeds when the pid file names a live process.
running() {
	[[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

# ensure_credentials creates random demo credentials on first use.
ensure_credentials() {
	if [[ ! -f "$cred_file" ]]; then
		(
			umask 077
			printf 'ACCESS_KEY=demo%s\nSECRET_KEY=%s\n' \
				"$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" \
				"$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')" >"$cred_file"
		)
	fi
	# shellcheck disable=SC1090
	source "$cred_file"
}

# ready succeeds when the server answers HTTP on the port.
ready() {
	local code
	code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$endpoint/" 2>/dev/null || true)"
	[[ -n "$code" && "$code" != "000" ]]
}

start() {
	mkdir -p "$state/data"
	ensure_credentials
	if running; then
		echo "versitygw already running on $endpoint (pid $(cat "$pid_file"))"
		return 0
	fi
	if ready; then
		die "something else already answers on $endpoint; set S3SEAL_DEMO_PORT to another port"
	fi
	local binary
	binary="$(find_binary)"
	local keepalive=(--keep-alive)
	if [[ "${S3SEAL_DEMO_KEEPALIVE:-1}" == 0 ]]; then
		keepalive=()
	fi
	ROOT_ACCESS_KEY="$ACCESS_KEY" ROOT_SECRET_KEY="$SECRET_KEY" \
		nohup "$binary" --port "127.0.0.1:$port" "${keepalive[@]}" --quiet posix "$state/data" >>"$log_file" 2>&1 </dev/null &
	echo $! >"$pid_file"
	for _ in $(seq 1 200); do
		if ! running; then
			rm -f "$pid_file"
			tail -n 20 "$log_file" >&2 || true
			die "versitygw exited at start; log: $log_file"
		fi
		if ready && running; then
			echo "versitygw running on $endpoint (pid $(cat "$pid_file")); data in $state/data"
			return 0
		fi
		sleep 0.1
	done
	stop >/dev/null
	die "versitygw not ready after 20 s; log: $log_file"
}

stop() {
	if ! running; then
		rm -f "$pid_file"
		echo "versitygw not running"
		return 0
	fi
	local pid
	pid="$(cat "$pid_file")"
	kill "$pid"
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
	fi
	rm -f "$pid_file"
	echo "versitygw stopped"
}

print_env() {
	[[ -f "$cred_file" ]] || die "no demo credentials yet; run: scripts/versitygw.sh start"
	ensure_credentials
	cat <<EOT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=$endpoint
export S3SEAL_ENDPOINT=$endpoint
EOT
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env) print_env ;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
