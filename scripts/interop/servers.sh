# Sourced by scripts/interop/run.sh: installs and starts the S3 servers of
# the interop run. Each start_<server> starts one on 127.0.0.1 with its data
# under $1 and random free ports, waits until a signed request succeeds and
# sets endpoint, access_key, secret_key, server_pid and server_version; it
# fails when the server does not come up (a port taken in the meantime, say).
#
# The servers come from the Go module proxy, built outside this module so
# that the project's go.mod is neither read nor changed, into $(go env GOBIN)
# (else the first GOPATH's bin), and only when missing: $MINIO, $WEED and
# $VERSITYGW name binaries to use instead. MinIO is AGPL-3.0; it runs here
# only as a separate process, as a test peer, and nothing of it is linked
# into s3seal or shipped with it.

readonly MINIO_MODULE="github.com/minio/minio"
readonly MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
# SeaweedFS's go.mod has replace directives, which `go install module@version`
# refuses: it is built inside its downloaded module instead.
readonly WEED_MODULE="github.com/seaweedfs/seaweedfs"
readonly WEED_VERSION="v0.0.0-20261109003541-7506e5f91cd6"

gobin="$(go env GOBIN)"
if [[ -z "$gobin" ]]; then
	gobin="$(go env GOPATH | cut -d: -f1)/bin"
fi

# find_server prints the binary for a server: the variable that names it,
# else the command in PATH, else the one in $gobin; nothing when missing.
find_server() {
	local var="$1" name="$2"
	if [[ -n "${!var:-}" ]]; then
		echo "${!var}"
	elif command -v "$name" >/dev/null 2>&1; then
		command -v "$name"
	elif [[ -x "$gobin/$name" ]]; then
		echo "$gobin/$name"
	fi
}

install_versitygw() {
	"$repo/scripts/install-deps.sh" >&2
}

install_minio() {
	[[ -n "$(find_server MINIO minio)" ]] && return
	echo "interop: building MinIO $MINIO_VERSION (several minutes)" >&2
	(cd / && GOFLAGS=-buildvcs=false go install "$MINIO_MODULE@$MINIO_VERSION") >&2
}

install_seaweedfs() {
	[[ -n "$(find_server WEED weed)" ]] && return
	echo "interop: building SeaweedFS $WEED_VERSION (several minutes)" >&2
	local dir
	dir="$(cd / && go mod download -json "$WEED_MODULE@$WEED_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
	[[ -d "$dir" ]] || {
		echo "interop: go mod download $WEED_MODULE@$WEED_VERSION gave no folder" >&2
		return 1
	}
	mkdir -p "$gobin"
	(cd "$dir" && GOFLAGS=-buildvcs=false go build -o "$gobin/weed" ./weed) >&2
}

# free_port prints a port on 127.0.0.1 that nothing listens on now and that
# no earlier call printed.
taken_ports=" "
free_port() {
	local port
	for _ in $(seq 1 200); do
		port=$((20000 + RANDOM % 30000))
		[[ "$taken_ports" == *" $port "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			taken_ports+="$port "
			echo "$port"
			return
		fi
	done
	echo "interop: no free port found" >&2
	return 1
}

# module_version prints the module version a Go binary was built from, as
# its build information records it ("(devel)" for one built inside its
# module, such as weed).
module_version() {
	go version -m "$1" 2>/dev/null | awk '$1 == "mod" {print $3; exit}'
}

new_credentials() {
	access_key="interop$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	secret_key="$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')"
}

# wait_ready waits up to a minute for a signed ListBuckets to succeed,
# failing early when the server's process is gone; the log is shown then.
wait_ready() {
	local log="$1"
	for _ in $(seq 1 600); do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "interop: the server exited at start; its log ($log) ends with:" >&2
			tail -n 20 "$log" >&2
			return 1
		fi
		if [[ "$(s3_status "")" == 200 ]]; then
			return 0
		fi
		sleep 0.1
	done
	echo "interop: the server did not answer within 60 s; log: $log" >&2
	return 1
}

start_versitygw() {
	local data="$1" binary port
	binary="$(find_server VERSITYGW versitygw)"
	port="$(free_port)" || return 1
	new_credentials
	mkdir -p "$data/posix"
	ROOT_ACCESS_KEY="$access_key" ROOT_SECRET_KEY="$secret_key" \
		"$binary" --port "127.0.0.1:$port" --keep-alive --quiet posix "$data/posix" >"$data/server.log" 2>&1 </dev/null &
	server_pid=$!
	endpoint="http://127.0.0.1:$port"
	server_version="versitygw $(module_version "$binary")"
	wait_ready "$data/server.log"
}

start_minio() {
	local data="$1" binary port console
	binary="$(find_server MINIO minio)"
	port="$(free_port)" || return 1
	console="$(free_port)" || return 1
	new_credentials
	mkdir -p "$data/drive"
	# No console, no update check: nothing but the S3 API on loopback.
	MINIO_ROOT_USER="$access_key" MINIO_ROOT_PASSWORD="$secret_key" MINIO_BROWSER=off MINIO_UPDATE=off \
		"$binary" server --quiet --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" \
		"$data/drive" >"$data/server.log" 2>&1 </dev/null &
	server_pid=$!
	endpoint="http://127.0.0.1:$port"
	server_version="minio $(module_version "$binary")"
	wait_ready "$data/server.log"
}

start_seaweedfs() {
	local data="$1" binary master master_grpc volume volume_grpc filer filer_grpc s3 s3_grpc
	binary="$(find_server WEED weed)"
	for p in master master_grpc volume volume_grpc filer filer_grpc s3 s3_grpc; do
		printf -v "$p" '%s' "$(free_port)" || return 1
	done
	new_credentials
	mkdir -p "$data/weed"
	cat >"$data/s3.json" <<EOT
{"identities": [{"name": "interop", "credentials": [{"accessKey": "$access_key", "secretKey": "$secret_key"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOT
	# One process runs master, volume server, filer and S3 gateway, every
	# port chosen here; telemetry and the Iceberg and Lance listeners off.
	"$binary" server -dir="$data/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
		-master.port="$master" -master.port.grpc="$master_grpc" -master.telemetry=false \
		-volume.port="$volume" -volume.port.grpc="$volume_grpc" -volume.max=50 -master.volumeSizeLimitMB=1024 \
		-filer -filer.port="$filer" -filer.port.grpc="$filer_grpc" \
		-s3 -s3.port="$s3" -s3.port.grpc="$s3_grpc" -s3.port.iceberg=0 -s3.port.lance=0 \
		-s3.config="$data/s3.json" >"$data/server.log" 2>&1 </dev/null &
	server_pid=$!
	endpoint="http://127.0.0.1:$s3"
	# Built inside its module, weed records no module version; its own says.
	server_version="seaweedfs $("$binary" version 2>&1 | sed -n 's/^version [^ ]* \([^ ]*\).*/\1/p' | head -n 1)"
	wait_ready "$data/server.log"
}

# stop_server ends the server this script started, by its pid.
stop_server() {
	[[ -n "${server_pid:-}" ]] || return 0
	kill "$server_pid" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$server_pid" 2>/dev/null
	wait "$server_pid" 2>/dev/null
	server_pid=""
}
