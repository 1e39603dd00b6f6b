#!/usr/bin/env bash
# `make bench`: s3seal next to aws s3 sync (unencrypted reference), rclone
# sync to a crypt remote and restic backup, on the same generated workloads,
# against a Versity S3 gateway on 127.0.0.1. Prints a table and writes
# results.tsv and results.md under the work folder.
#
#   S3SEAL_BENCH_DIR    work folder (default /tmp/s3seal-bench; emptied first)
#   S3SEAL_BENCH_PORT   gateway port on 127.0.0.1 (default 7393)
#   S3SEAL_BENCH_SEED   workload seed (default 1)
#   S3SEAL_BENCH_SCALE  files of the scaling runs, one or more counts (default
#                       200000; 0 skips it; make bench-scale: 200000 2000000)
#   S3SEAL_BENCH_PEERS  tools besides s3seal (default "aws rclone restic"; empty: none)
#   S3SEAL_BENCH_REPS   samples of W1, W2-initial and W2-nochange per tool
#                       (default 3; the report gives the median and range)
#   S3SEAL_BENCH_KEEPALIVE  1 (default): the gateway keeps connections alive,
#                       as S3 does; 0: its own default, a new connection per
#                       request. W1 also runs (s3seal and aws) in the other
#                       mode, as W1-keepalive-0 (or -1).
#   S3SEAL_BENCH_WAN    1 (default): also run the WAN workloads through
#                       scripts/bench/wanproxy (S3SEAL_BENCH_WAN_DELAY one
#                       way, default 10ms; S3SEAL_BENCH_WAN_RATE up and down,
#                       default 100M bit/s); 0 skips them
#   S3SEAL_BENCH_ONLY   "scale": only the scaling run (make bench-scale)
#
# Every figure is one sample. Nothing leaves 127.0.0.1.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${S3SEAL_BENCH_DIR:-/tmp/s3seal-bench}"
port="${S3SEAL_BENCH_PORT:-7393}"
seed="${S3SEAL_BENCH_SEED:-1}"
scale="${S3SEAL_BENCH_SCALE:-200000}"
reps="${S3SEAL_BENCH_REPS:-3}"
read -r -a peers <<<"${S3SEAL_BENCH_PEERS-aws rclone restic}"
endpoint="http://127.0.0.1:$port"
results="$work/results.tsv"

"$repo/scripts/install-deps.sh"
"$repo/scripts/bench/install-peers.sh"

rm -rf "$work"
mkdir -p "$work"/{bin,data,logs,catalogs,restic-cache}
(cd "$repo" && go build -o "$work/bin/s3seal" ./cmd/s3seal && go build -o "$work/bin/putloop" ./scripts/bench/putloop &&
	go build -o "$work/bin/wanproxy" ./scripts/bench/wanproxy && go build -o "$work/bin/primitives" ./scripts/bench/primitives &&
	go build -o "$work/bin/listloop" ./scripts/bench/listloop)
wan="${S3SEAL_BENCH_WAN:-1}"
wan_delay="${S3SEAL_BENCH_WAN_DELAY:-10ms}"
wan_rate="${S3SEAL_BENCH_WAN_RATE:-100M}"
only="${S3SEAL_BENCH_ONLY:-}"
ep="$endpoint" # the endpoint the tools use: the gateway, or the WAN proxy in front of it

# Peers read their own configuration and CA variables; none may point
# anywhere but the local gateway.
unset AWS_CA_BUNDLE AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 \
	AWS_SESSION_TOKEN REQUESTS_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE \
	HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy \
	RESTIC_REPOSITORY RESTIC_PASSWORD RCLONE_CONFIG
export NO_PROXY=127.0.0.1 AWS_CONFIG_FILE="$work/aws-config" AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
: >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
export AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

keepalive="${S3SEAL_BENCH_KEEPALIVE:-1}"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
gw() { S3SEAL_DEMO_DIR="$work/gw" S3SEAL_DEMO_PORT="$port" S3SEAL_DEMO_KEEPALIVE="$keepalive" "$repo/scripts/versitygw.sh" "$@"; }
gw start
trap 'gw stop >/dev/null' EXIT
eval "$(gw env | grep -E 'AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY')"
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

awscli=/usr/bin/aws # Debian's awscli, whatever else is in PATH
for tool in s3seal "${peers[@]}"; do
	"$awscli" --endpoint-url "$endpoint" s3 mb "s3://b-$tool" >/dev/null
done

# Keys and repositories.
age-keygen -o "$work/key.txt" 2>/dev/null
recipient="$(grep -o 'age1[0-9a-z]*' "$work/key.txt" | head -1)"
export RCLONE_CONFIG="$work/rclone.conf"
: >"$RCLONE_CONFIG"
export RCLONE_CONFIG_PLAIN_TYPE=s3 RCLONE_CONFIG_PLAIN_PROVIDER=Other RCLONE_CONFIG_PLAIN_ENDPOINT="$endpoint" \
	RCLONE_CONFIG_PLAIN_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_PLAIN_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
	RCLONE_CONFIG_PLAIN_FORCE_PATH_STYLE=true RCLONE_CONFIG_PLAIN_REGION=us-east-1 \
	RCLONE_CONFIG_SECRET_TYPE=crypt RCLONE_CONFIG_SECRET_REMOTE=plain:b-rclone
if command -v rclone >/dev/null; then
	RCLONE_CONFIG_SECRET_PASSWORD="$(rclone obscure bench-password)"
	export RCLONE_CONFIG_SECRET_PASSWORD
fi
export RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR="$work/restic-cache"

stored() { du -sb "$work/gw/data/b-$1" | cut -f1; }

# settle SRC: start a first upload from the same state every time. Write
# back what the previous run (or the generator) left dirty, drop the page
# cache (the gateway's copies of earlier uploads fill it, and a run that
# needs memory would pay for reclaiming it), then read SRC back into it:
# the source is cached for every tool, the rest of memory is free. Re-runs
# (no change, modified, renamed) only write back: dropping the cache would
# also drop the gateway's metadata of the objects they list, and make a
# local gateway behave like a cold disk, which S3 is not.
can_drop=0
[[ -w /proc/sys/vm/drop_caches ]] && can_drop=1
settle() {
	sync
	if ((can_drop)); then
		echo 3 >/proc/sys/vm/drop_caches
	fi
	find "$1" -type f -exec cat {} + >/dev/null
}

# run TOOL WORKLOAD SRC NAME: one sync of SRC by TOOL into its bucket under
# NAME, timed, with a row appended to results.tsv.
run() {
	local tool="$1" workload="$2" src="$3" name="$4"
	local log="$work/logs/$workload-$tool.log" timing="$work/logs/$workload-$tool.time"
	local before cmd
	before="$(stored "$tool")"
	case "$tool" in
	s3seal) cmd=("$work/bin/s3seal" sync "$src" "s3://b-s3seal/$name" -r "$recipient" --endpoint "$ep"
		--catalog "$work/catalogs/$name.db") ;; # default output, as in a cron job: a summary line
	aws) cmd=("$awscli" --endpoint-url "$ep" s3 sync --only-show-errors "$src" "s3://b-aws/$name") ;;
	rclone) cmd=(env RCLONE_CONFIG_PLAIN_ENDPOINT="$ep" rclone sync "$src" "secret:$name") ;;
	restic)
		export RESTIC_REPOSITORY="s3:$ep/b-restic/$name"
		restic snapshots >/dev/null 2>&1 || restic init >/dev/null
		cmd=(restic backup -q "$src")
		;;
	esac
	case "$workload" in
	W1 | *-initial) settle "$src" ;;
	*) sync ;; # a re-run finds the server as the run before left it, as on S3
	esac
	if ! /usr/bin/time -f '%e %U %S %M' -o "$timing" "${cmd[@]}" >"$log" 2>&1; then
		echo "bench: $tool on $workload failed; log: $log" >&2
		tail -5 "$log" >&2
		return 1
	fi
	local sent="-"
	if [[ "$tool" == s3seal ]]; then # "... uploaded (1.7 MiB sent), ..." in bytes
		sent="$(tail -1 "$log" | python3 -c '
import re, sys
n, unit = re.search(r"\(([0-9.]+) (B|KiB|MiB|GiB|TiB) sent\)", sys.stdin.read()).groups()
print(round(float(n) * 1024 ** ["B", "KiB", "MiB", "GiB", "TiB"].index(unit)))')"
	fi
	read -r wall user sys rss <"$timing"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$tool" "$wall" "$user" "$sys" "$rss" \
		"$(($(stored "$tool") - before))" "$sent" | tee -a "$results"
}

# restore TOOL WORKLOAD SRC NAME: bring NAME back from TOOL's bucket into
# an empty folder, as on a new machine, timed like run, and check that the
# tree equals SRC. The page cache is dropped first, so the server reads
# what it stored from disk for every tool alike.
restore() {
	local tool="$1" workload="$2" src="$3" name="$4"
	local log="$work/logs/$workload-$tool.log" timing="$work/logs/$workload-$tool.time"
	local dest="$work/restored/$workload-$tool" tree cmd
	rm -rf "$dest"
	mkdir -p "$dest"
	tree="$dest"
	case "$tool" in
	s3seal) cmd=("$work/bin/s3seal" restore "s3://b-s3seal/$name" "$dest" -i "$work/key.txt" --endpoint "$ep") ;;
	aws) cmd=("$awscli" --endpoint-url "$ep" s3 sync --only-show-errors "s3://b-aws/$name" "$dest") ;;
	rclone) cmd=(env RCLONE_CONFIG_PLAIN_ENDPOINT="$ep" rclone copy "secret:$name" "$dest") ;;
	restic)
		export RESTIC_REPOSITORY="s3:$ep/b-restic/$name"
		cmd=(restic restore latest -q --target "$dest")
		tree="$dest$src" # restic restores the absolute path
		;;
	esac
	sync
	if ((can_drop)); then
		echo 3 >/proc/sys/vm/drop_caches
	fi
	if ! /usr/bin/time -f '%e %U %S %M' -o "$timing" "${cmd[@]}" >"$log" 2>&1; then
		echo "bench: $tool on $workload failed; log: $log" >&2
		tail -5 "$log" >&2
		return 1
	fi
	if ! diff -rq "$src" "$tree" >>"$log" 2>&1; then
		echo "bench: $tool on $workload restored a different tree; log: $log" >&2
		return 1
	fi
	read -r wall user sys rss <"$timing"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" "$tool" "$wall" "$user" "$sys" "$rss" 0 - | tee -a "$results"
	rm -rf "$dest"
}

# list_server WORKLOAD PREFIX: time a bare SDK listing of PREFIX in
# s3seal's bucket (scripts/bench/listloop), with a row like run's.
list_server() {
	local workload="$1" prefix="$2"
	local log="$work/logs/$workload-listloop.log" timing="$work/logs/$workload-listloop.time"
	sync
	/usr/bin/time -f '%e %U %S %M' -o "$timing" "$work/bin/listloop" -bucket b-s3seal -prefix "$prefix" -endpoint "$endpoint" >"$log" 2>&1
	read -r wall user sys rss <"$timing"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$workload" listloop "$wall" "$user" "$sys" "$rss" 0 - | tee -a "$results"
}

printf 'workload\ttool\twall_s\tuser_s\tsys_s\tmaxrss_kib\tstored_delta_bytes\ts3seal_bytes_sent\n' >"$results"
gen() { python3 "$repo/scripts/bench/gen.py" "$@"; }

# Repeated samples go round the tools (s3seal, aws, rclone, restic, then
# again), so a slow minute of the machine does not land on one tool only.
# Each sample of a first upload goes to a name of its own.
if [[ "$only" != scale ]]; then
	echo "== W1: four 256 MiB incompressible files"
	gen big "$work/data/w1" 4 256 "$seed"
	for rep in $(seq "$reps"); do
		for tool in s3seal "${peers[@]}"; do run "$tool" W1 "$work/data/w1" "w1-$rep"; done
	done
	for tool in s3seal "${peers[@]}"; do restore "$tool" W1-restore "$work/data/w1" "w1-$reps"; done
	if [[ " ${peers[*]} " == *" aws "* ]]; then
		# W1 once more with the gateway in the other connection mode (a new
		# connection per request, or kept alive), s3seal and aws only.
		other=$((1 - keepalive))
		echo "== W1 with the gateway's keep-alive $([[ "$other" == 0 ]] && echo off || echo on)"
		gw stop >/dev/null
		keepalive="$other"
		gw start >/dev/null
		for rep in $(seq "$reps"); do
			for tool in s3seal aws; do run "$tool" "W1-keepalive-$other" "$work/data/w1" "w1-ka$other-$rep"; done
		done
		keepalive=$((1 - other))
		gw stop >/dev/null
		gw start >/dev/null
	fi
	# W1's uploads are measured; their 1 GiB a sample would only fill the
	# disk the scaling runs need. The gateway keeps objects as files.
	rm -rf "$work"/gw/data/b-*/w1-*

	echo "== W2: 20,000 files of 1-16 KiB"
	gen small "$work/data/w2" 20000 "$seed"
	for rep in $(seq "$reps"); do
		for tool in s3seal "${peers[@]}"; do run "$tool" W2-initial "$work/data/w2" "w2-$rep"; done
	done
	for rep in $(seq "$reps"); do
		for tool in s3seal "${peers[@]}"; do run "$tool" W2-nochange "$work/data/w2" "w2-$reps"; done
	done
	for tool in s3seal "${peers[@]}"; do restore "$tool" W2-restore "$work/data/w2" "w2-$reps"; done
	gen modify "$work/data/w2" 1 "$((seed + 1))"
	for tool in s3seal "${peers[@]}"; do run "$tool" W2-modified "$work/data/w2" "w2-$reps"; done

	echo "== server limit: the same objects put by a bare loop, 16 in flight (s3seal: 4 jobs x 4)"
	"$awscli" --endpoint-url "$endpoint" s3 mb s3://b-putloop >/dev/null
	for client in sdk s3seal; do
		settle "$work/data/w2"
		"$work/bin/putloop" -client "$client" -bucket b-putloop -endpoint "$endpoint" -jobs 16 -overhead 250 \
			"$work/data/w2" | tee "$work/putloop-$client.txt"
	done

	echo "== W3: one 256 MiB file renamed"
	gen big "$work/data/w3" 1 256 "$((seed + 2))"
	for tool in s3seal "${peers[@]}"; do run "$tool" W3-initial "$work/data/w3" w3; done
	mv "$work/data/w3/big-00.bin" "$work/data/w3/renamed.bin"
	for tool in s3seal "${peers[@]}"; do run "$tool" W3-renamed "$work/data/w3" w3; done
fi

if [[ "$only" != scale ]] && ((wan)); then
	echo "== WAN: $wan_delay each way, $wan_rate bit/s up and down (scripts/bench/wanproxy)"
	wan_port=$((port + 1))
	"$work/bin/wanproxy" -listen "127.0.0.1:$wan_port" -target "127.0.0.1:$port" \
		-delay "$wan_delay" -up "$wan_rate" -down "$wan_rate" 2>"$work/logs/wanproxy.log" &
	wan_pid=$!
	trap 'kill "$wan_pid" 2>/dev/null || true; gw stop >/dev/null' EXIT
	for _ in $(seq 50); do # until it listens
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$wan_port/" && break
		sleep 0.1
	done
	ep="http://127.0.0.1:$wan_port"
	gen small "$work/data/wan-small" 2000 "$((seed + 3))"
	for tool in s3seal "${peers[@]}"; do run "$tool" WAN-small-initial "$work/data/wan-small" wan-small; done
	for tool in s3seal "${peers[@]}"; do restore "$tool" WAN-small-restore "$work/data/wan-small" wan-small; done
	gen big "$work/data/wan-large" 1 128 "$((seed + 4))"
	for tool in s3seal "${peers[@]}"; do run "$tool" WAN-large-initial "$work/data/wan-large" wan-large; done
	for tool in s3seal "${peers[@]}"; do restore "$tool" WAN-large-restore "$work/data/wan-large" wan-large; done
	ep="$endpoint"
	kill "$wan_pid"
fi

for count in $scale; do
	((count > 0)) || continue
	echo "== scaling: $count files, s3seal only"
	rm -rf "$work/data/scale"
	# The tree and the gateway's copy each take about 12 KiB a file on a
	# file system of 4 KiB blocks (files of 1-16 KiB, plus the gateway's
	# metadata): refuse a run the disk cannot hold rather than fill it.
	need_kib=$((count * 2 * 13))
	free_kib="$(df -Pk "$work" | awk 'NR == 2 {print $4}')"
	if ((free_kib < need_kib)); then
		echo "bench: $count files need about $((need_kib >> 20)) GiB free under $work, there are $((free_kib >> 20)) GiB; set S3SEAL_BENCH_DIR to a larger disk" >&2
		exit 1
	fi
	gen small "$work/data/scale" "$count" "$seed"
	run s3seal "S$count-initial" "$work/data/scale" "scale-$count"
	run s3seal "S$count-nochange" "$work/data/scale" "scale-$count"
	# The server's share of that run: the same listing by a bare SDK loop,
	# right after it, as the no-change run left the server.
	list_server "S$count-list" "scale-$count/"
done

{
	echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)"
	echo "load average at the start: $load_at_start; before the run's end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "gateway keep-alive: $([[ "$keepalive" == 0 ]] && echo "off (a new connection per request)" || echo on)"
	echo "before each first upload: sync, $([[ "$can_drop" == 1 ]] && echo "page cache dropped, " || echo "page cache NOT dropped (not root), ")source read back; before re-runs: sync"
	echo "s3seal: $("$work/bin/s3seal" version 2>&1 | head -1); $(go version)"
	echo "versitygw: $(gw_bin="$(command -v versitygw || echo "$(go env GOPATH)/bin/versitygw")"; "$gw_bin" --version 2>&1 | head -1)"
	echo "aws: $("$awscli" --version 2>&1)"
	command -v rclone >/dev/null && echo "rclone: $(rclone version 2>/dev/null | head -1)"
	command -v restic >/dev/null && echo "restic: $(restic version 2>/dev/null | head -1)"
	if [[ -f "$work/putloop-sdk.txt" ]]; then
		echo "server limit, bare AWS SDK PutObject loop (putloop -client sdk): $(cat "$work/putloop-sdk.txt")"
		echo "the same loop through s3seal's S3 client (putloop -client s3seal): $(cat "$work/putloop-s3seal.txt")"
	fi
	[[ "$only" != scale ]] && ((wan)) && echo "WAN: scripts/bench/wanproxy, $wan_delay each way, $wan_rate bit/s up and down, shared by all connections"
	echo "primitives, one core: $("$work/bin/primitives" | paste -sd ';' | sed 's/;/; /g')"
} | tee "$work/machine.txt"
python3 "$repo/scripts/bench/report.py" "$results" "$work/machine.txt" | tee "$work/results.md"
