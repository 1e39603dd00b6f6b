#!/usr/bin/env bash
# `make interop`: the end-to-end round trip of the built s3seal against S3
# servers other than the one the tests use, each started on 127.0.0.1 with a
# temporary data folder and random free ports:
#
#   scripts/interop/run.sh [SERVER...]    versitygw, minio, seaweedfs (default: all)
#
# Per server: sync with hidden names, stock `age -d` of every object, a
# no-change sync, a sync killed (SIGKILL) mid multipart upload and resumed,
# a rename that becomes a server-side copy, --delete, audit, catalog pull
# into a fresh catalog, plain names, passphrase mode, and restores compared
# byte for byte. It prints a result line per step and server, then a table,
# and exits 1 if any step failed. Servers are built and installed when
# missing (scripts/interop/servers.sh says how). S3SEAL_INTEROP_DIR names
# the work folder, kept; by default it is a new temporary one, removed at
# the end unless S3SEAL_INTEROP_KEEP=1. Not part of `make test`: building
# the servers takes long.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/interop/servers.sh
source "$repo/scripts/interop/servers.sh"
# shellcheck source=scripts/interop/s3.sh
source "$repo/scripts/interop/s3.sh"

servers=("$@")
if [[ ${#servers[@]} -eq 0 ]]; then
	servers=(versitygw minio seaweedfs)
fi
for s in "${servers[@]}"; do
	case "$s" in
	versitygw | minio | seaweedfs) ;;
	*)
		echo "usage: $0 [versitygw|minio|seaweedfs]..." >&2
		exit 2
		;;
	esac
done

# Nothing may point the tools anywhere but the local servers.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN \
	AWS_CA_BUNDLE HTTP_PROXY HTTPS_PROXY http_proxy https_proxy ALL_PROXY all_proxy S3SEAL_ENDPOINT

# Only a work folder made here is removed at the end.
if [[ -n "${S3SEAL_INTEROP_DIR:-}" ]]; then
	work="$S3SEAL_INTEROP_DIR" made_work=0
	mkdir -p "$work"
else
	work="$(mktemp -d "${TMPDIR:-/tmp}/s3seal-interop-XXXXXX")" made_work=1
fi
cleanup() {
	stop_server
	if [[ "$made_work" == 1 && "${S3SEAL_INTEROP_KEEP:-0}" != 1 ]]; then
		rm -rf "$work"
	else
		echo "interop: work folder kept: $work" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$repo/scripts/install-deps.sh" >&2 || exit 1
(cd "$repo" && go build -o "$work/s3seal" ./cmd/s3seal) || exit 1
s3seal="$work/s3seal"

readonly bucket="interop"
declare -A result # result[server/step] = PASS, WARN (works, with a gap the server causes) or FAIL
steps=(sync-hidden age-decrypt no-change kill-resume rename-copy delete audit stale-upload pull-fresh plain-names passphrase restore)
failed=0

# report prints a step's result line and records it.
report() {
	local status="$1" step="$2"
	shift 2
	result["$server/$step"]="$status"
	[[ "$status" != FAIL ]] || failed=1
	printf '%-4s %-10s %-12s %s\n' "$status" "$server" "$step" "$*"
}

# seal runs s3seal as a user of this server would: its credentials in the
# environment, the home of the current machine ($home), no AWS config.
seal() {
	(seal_exec "$@")
}

# seal_exec replaces the current (sub)shell with s3seal, so that a run
# started with `(seal_exec ...) &` has $! for its pid, to be killed.
seal_exec() {
	HOME="$home" XDG_DATA_HOME="$home/data" AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" \
		AWS_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		AWS_EC2_METADATA_DISABLED=true exec "$s3seal" "$@"
}

# sync_json runs a sync with --json into $out (stdout) and $err (stderr)
# and returns its exit code.
sync_json() {
	seal sync "$src" "$@" --endpoint "$endpoint" --json >"$out" 2>"$err"
}

# summary prints a number from the --json summary in $out.
summary() {
	tail -n 1 "$out" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# counts prints the summary fields a step checks, for its result line.
counts() {
	printf 'uploaded %s, copied %s, deleted %s, unchanged %s, failed %s, bytes_sent %s' \
		"$(summary uploaded)" "$(summary copied)" "$(summary deleted)" "$(summary unchanged)" \
		"$(summary failed)" "$(summary bytes_sent)"
}

# why prints the last lines of the run's stderr, for a failure line.
why() {
	tail -n 3 "$err" | tr '\n' ' '
}

# file_objects lists the file objects under prefix: not the internal ones.
file_objects() {
	list_objects "$bucket" "$1/" | grep -v "^$1/\.s3seal/"
}

random_file() {
	mkdir -p "$(dirname "$1")"
	head -c "$2" /dev/urandom >"$1"
}

# make_source writes the source folder: small, empty and odd-named files,
# a multipart one, a large one for the rename, and one to delete.
make_source() {
	mkdir -p "$src/notes" "$src/names with spaces" "$src/old"
	printf 'my card number is 4111 1111 1111 1111\n' >"$src/notes/hello.txt"
	printf 'héllo\n' >"$src/names with spaces/naïve café – 日本語.txt"
	: >"$src/empty"
	random_file "$src/photos/big.bin" $((24 << 20))
	random_file "$src/docs/report.pdf" $((2 << 20))
	printf 'soon gone\n' >"$src/old/gone.txt"
}

source_files() { find "$src" -type f | wc -l; }

step_sync_hidden() {
	make_source
	sync_json "$hidden" -r "$recipient" -c --catalog "$catalog" --part-size 5M || {
		report FAIL sync-hidden "exit $?: $(why)"
		return
	}
	# No segment of any key may be the name of a source file or folder. (A
	# substring test would fail by chance: "big" turns up in random keys.)
	local keys leaked
	keys="$(file_objects "$hidden_prefix")"
	leaked="$(cut -d' ' -f1 <<<"$keys" | tr '/' '\n' | grep -c -x -F -f <(find "$src" -mindepth 1 -printf '%f\n'))"
	if [[ "$(summary uploaded)" == 6 && "$(summary failed)" == 0 && "$(wc -l <<<"$keys")" == 6 && "$leaked" == 0 ]]; then
		report PASS sync-hidden "$(counts); 6 objects, no file name in their keys"
	else
		report FAIL sync-hidden "$(counts); keys: $(tr '\n' ' ' <<<"$keys")"
	fi
}

# step_age_decrypt decrypts every file object with the stock age CLI and
# checks that each gives back one source file and all are covered.
step_age_decrypt() {
	local want got key
	want="$(find "$src" -type f -exec md5sum {} + | cut -d' ' -f1 | sort)"
	got="$(file_objects "$hidden_prefix" | while read -r key _; do
		s3_get "$bucket/$key" | age -d -i "$keyfile" | md5sum | cut -d' ' -f1
	done | sort)"
	if [[ -n "$got" && "$got" == "$want" ]]; then
		report PASS age-decrypt "age $(age --version) decrypts all $(wc -l <<<"$got") objects to the source files"
	else
		report FAIL age-decrypt "plaintext MD5s $(tr '\n' ' ' <<<"$got"); want $(tr '\n' ' ' <<<"$want")"
	fi
}

step_no_change() {
	if sync_json "$hidden" -r "$recipient" --catalog "$catalog" && [[ "$(summary uploaded)" == 0 && "$(summary bytes_sent)" == 0 ]]; then
		report PASS no-change "$(counts)"
	else
		report FAIL no-change "$(counts) $(why)"
	fi
}

# step_kill_resume starts a sync of a 60 MiB file (12 parts, 10 MiB/s),
# SIGKILLs it once the server lists two of its parts, and checks that the
# next sync resumes the upload: it sends only what the server lacked.
step_kill_resume() {
	random_file "$src/photos/video.bin" $((60 << 20))
	(seal_exec sync "$src" "$hidden" -r "$recipient" --catalog "$catalog" --endpoint "$endpoint" --json \
		--part-size 5M -j 2 --bwlimit 10M >"$out" 2>"$err") &
	local pid=$! upload="" parts=0 size
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || break
		upload="$(list_uploads "$bucket" "$hidden_prefix/" | head -n 1)"
		if [[ -n "$upload" ]]; then
			read -r parts size <<<"$(parts_size "$bucket" $upload)"
			parts="${parts:-0}"
			((parts >= 2)) && break
		fi
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || {
		wait "$pid"
		report FAIL kill-resume "the sync ended (exit $?) before two parts were on the server: $(why)"
		return
	}
	wait "$pid" 2>/dev/null
	if ((parts < 2)); then
		report FAIL kill-resume "no upload with two parts appeared within 60 s"
		return
	fi
	sync_json "$hidden" -r "$recipient" --catalog "$catalog" || {
		report FAIL kill-resume "the sync after the kill: exit $?: $(why)"
		return
	}
	local key="${upload%% *}" resumed object
	resumed="$(grep '"reason":"resumed"' "$out" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p')"
	object="$(list_objects "$bucket" "$key" | awk -v k="$key" '$1 == k {print $2}')"
	if [[ -n "$resumed" && "$resumed" -ge "$size" && -n "$object" && "$(summary bytes_sent)" == $((object - resumed)) &&
		-z "$(list_uploads "$bucket" "$hidden_prefix/")" ]]; then
		report PASS kill-resume "killed with $parts parts ($size B) on the server; resumed with $resumed B there, sent $(summary bytes_sent) B of $object"
	else
		report FAIL kill-resume "killed with $size B on the server; resumed '$resumed', object $object B, $(counts), uploads left: $(list_uploads "$bucket" "$hidden_prefix/" | wc -l)"
	fi
}

step_rename_copy() {
	mv "$src/docs/report.pdf" "$src/docs/report-final.pdf"
	if sync_json "$hidden" -r "$recipient" --catalog "$catalog" &&
		[[ "$(summary copied)" == 1 && "$(summary uploaded)" == 0 && "$(summary bytes_sent)" == 0 ]]; then
		report PASS rename-copy "$(counts)"
	else
		report FAIL rename-copy "$(counts) $(why)"
	fi
}

# step_delete removes a file: --delete removes its object and the one the
# renamed file left behind, so objects and files match again.
step_delete() {
	rm -r "$src/old" # restore brings back files, not empty folders
	sync_json "$hidden" -r "$recipient" --catalog "$catalog" --delete || {
		report FAIL delete "exit $?: $(why)"
		return
	}
	local objects files
	objects="$(file_objects "$hidden_prefix" | wc -l)"
	files="$(source_files)"
	if [[ "$(summary deleted)" == 2 && "$objects" == "$files" ]]; then
		report PASS delete "$(counts); $objects objects for $files files"
	else
		report FAIL delete "$(counts); $objects objects for $files files"
	fi
}

step_audit() {
	if seal audit "$src" "$hidden" --catalog "$catalog" --endpoint "$endpoint" >"$out" 2>"$err"; then
		report PASS audit "no difference between the source, the catalog and the bucket"
	else
		report FAIL audit "exit $?: $(tail -n 3 "$out" | tr '\n' ' ') $(why)"
	fi
}

# step_stale_upload leaves a multipart upload that s3seal never started
# under the prefix: audit must report it (exit 4). A server that ignores
# ListMultipartUploads' prefix hides it from audit and from sync's sweep of
# stale uploads; that is a gap of the server, reported as WARN.
step_stale_upload() {
	local key="$hidden_prefix/interop-stale-upload" id code
	id="$(create_upload "$bucket" "$key")"
	if [[ -z "$id" ]]; then
		report FAIL stale-upload "could not start an upload to leave behind"
		return
	fi
	seal audit "$src" "$hidden" --catalog "$catalog" --endpoint "$endpoint" >"$out" 2>"$err"
	code=$?
	if [[ "$code" == 4 ]] && grep -q '^upload-unfinished' "$out"; then
		report PASS stale-upload "audit (exit 4): $(grep '^upload-unfinished' "$out" | head -n 1 | tr -s ' \t' ' ')"
	elif [[ "$code" == 0 && -z "$(server_uploads "$bucket" "$hidden_prefix/")" && -n "$(list_uploads "$bucket" "$key")" ]]; then
		report WARN stale-upload "the server lists no upload under a prefix (only by exact key), so audit and sync cannot see uploads s3seal did not start"
	else
		report FAIL stale-upload "audit: exit $code: $(tr '\n' ' ' <"$out") $(why)"
	fi
	abort_upload "$bucket" "$key" "$id" || report FAIL stale-upload "could not abort the upload left behind"
}

# step_pull_fresh pulls the mirror into a new catalog on a new machine (a
# new home) and syncs with it: nothing is uploaded again.
step_pull_fresh() {
	fingerprint="$(seal target info "$src" "$hidden" --catalog "$catalog" | sed -n 's/^signing key: *//p')"
	local fresh="$run/fresh.db" home="$run/home2"
	mkdir -p "$home"
	seal catalog pull "$src" "$hidden" -i "$keyfile" --fingerprint "$fingerprint" --catalog "$fresh" \
		--endpoint "$endpoint" >"$out" 2>"$err" || {
		report FAIL pull-fresh "catalog pull: exit $?: $(why)"
		return
	}
	if sync_json "$hidden" -r "$recipient" --catalog "$fresh" &&
		[[ "$(summary uploaded)" == 0 && "$(summary copied)" == 0 && "$(summary bytes_sent)" == 0 ]]; then
		report PASS pull-fresh "signer $fingerprint; then sync: $(counts)"
	else
		report FAIL pull-fresh "sync with the pulled catalog: $(counts) $(why)"
	fi
}

# restore_same restores target into a new folder of a new machine and
# compares it with the source; extra arguments say how to decrypt.
restores=0
restore_same() {
	local target="$1"
	shift
	restores=$((restores + 1))
	local dest="$run/restored-$restores" home="$run/restore-home-$restores"
	mkdir -p "$home"
	seal restore "$target" "$dest" "$@" --endpoint "$endpoint" >"$out" 2>"$err" || return 1
	diff -r "$src" "$dest" >"$err" 2>&1
}

step_plain_names() {
	local keys
	sync_json "$plain" -r "$recipient" -c --plain-names --catalog "$run/plain.db" --part-size 5M || {
		report FAIL plain-names "exit $?: $(why)"
		return
	}
	keys="$(file_objects "$plain_prefix")"
	local synced uploaded
	synced="$(counts)" uploaded="$(summary uploaded)"
	if [[ "$(summary failed)" == 0 && "$uploaded" == "$(source_files)" ]] &&
		grep -q "^$plain_prefix/notes/hello.txt " <<<"$keys" && grep -q "^$plain_prefix/photos/video.bin " <<<"$keys" &&
		restore_same "$plain" -i "$keyfile" --catalog "$run/plain.db"; then
		report PASS plain-names "$synced; keys read $plain_prefix/notes/hello.txt ...; restore identical"
	else
		report FAIL plain-names "$synced; keys: $(head -n 3 <<<"$keys" | tr '\n' ' ') $(why)"
	fi
}

# step_passphrase backs the source up in passphrase mode and restores it on
# a new machine with nothing but the passphrase.
step_passphrase() {
	export S3SEAL_PASSPHRASE
	S3SEAL_PASSPHRASE="interop $(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
	sync_json "$pass" -S -c --catalog "$run/pass.db" || {
		report FAIL passphrase "exit $?: $(why)"
		unset S3SEAL_PASSPHRASE
		return
	}
	local uploaded
	uploaded="$(summary uploaded)"
	if [[ "$uploaded" == "$(source_files)" ]] && restore_same "$pass" -S; then
		report PASS passphrase "uploaded $uploaded with -S and S3SEAL_PASSPHRASE; restore with the passphrase alone identical"
	else
		report FAIL passphrase "uploaded $uploaded; $(why)"
	fi
	unset S3SEAL_PASSPHRASE
}

step_restore() {
	if restore_same "$hidden" -i "$keyfile" --fingerprint "$fingerprint"; then
		report PASS restore "a new machine restores all $(source_files) files byte for byte (diff -r)"
	else
		report FAIL restore "$(why)"
	fi
}

# run_server runs every step against one server.
declare -A versions
run_server() {
	server="$1"
	run="$work/$server"
	mkdir -p "$run"
	# A port found free can be taken by another process before the server
	# binds it: a failed start is tried again on new ports.
	local started=0 attempt
	if "install_$server"; then
		for attempt in 1 2 3; do
			if "start_$server" "$run/server-$attempt"; then
				started=1
				break
			fi
			stop_server
		done
	fi
	if [[ "$started" == 0 ]]; then
		for step in "${steps[@]}"; do
			report FAIL "$step" "the server did not start"
		done
		return
	fi
	versions[$server]="$server_version"
	echo "== $server_version on $endpoint" >&2
	src="$run/src" home="$run/home" catalog="$run/catalog.db" keyfile="$run/key.txt"
	out="$run/out" err="$run/err" fingerprint=""
	hidden_prefix="hidden" plain_prefix="plain" pass_prefix="pass"
	hidden="s3://$bucket/$hidden_prefix" plain="s3://$bucket/$plain_prefix" pass="s3://$bucket/$pass_prefix"
	mkdir -p "$src" "$home"
	age-keygen -o "$keyfile" 2>/dev/null
	recipient="$(age-keygen -y "$keyfile")"
	for step in "${steps[@]}"; do
		"step_${step//-/_}"
	done
	stop_server
}

for server in "${servers[@]}"; do
	run_server "$server"
done

echo
printf '%-12s' step
for server in "${servers[@]}"; do printf ' %-10s' "$server"; done
echo
for step in "${steps[@]}"; do
	printf '%-12s' "$step"
	for server in "${servers[@]}"; do printf ' %-10s' "${result[$server/$step]:-FAIL}"; done
	echo
done
for server in "${servers[@]}"; do
	echo "$server: ${versions[$server]:-not started}"
done
exit "$failed"
