#!/usr/bin/env bash
# The quick start, end to end: installs and starts a local S3 server on
# 127.0.0.1, makes an age key, syncs a sample folder, syncs it again (nothing
# to upload), restores it elsewhere and compares. Everything lives in .demo/
# (S3SEAL_DEMO_DIR); `scripts/versitygw.sh stop` stops the server.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
state="${S3SEAL_DEMO_DIR:-$repo/.demo}"
export S3SEAL_DEMO_DIR="$state"
PATH="$PATH:$(go env GOPATH | cut -d: -f1)/bin"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing what the demo needs (versitygw, age) when missing"
scripts/install-deps.sh
go build -o bin/s3seal ./cmd/s3seal
s3seal="$repo/bin/s3seal"

say "Starting a local S3 server (versitygw) on 127.0.0.1"
scripts/versitygw.sh start
eval "$(scripts/versitygw.sh env)"
endpoint="$AWS_ENDPOINT_URL"

work="$state/run"
rm -rf "$work"
mkdir -p "$work/photos/2024" "$work/taxes"
export XDG_DATA_HOME="$work/data" # keep the demo's catalog out of the user's data directory

say "Making an age key and a sample folder"
age-keygen -o "$work/key.txt" 2>/dev/null
recipient="$(age-keygen -y "$work/key.txt")"
echo "recipient: $recipient"
src="$work/photos"
head -c 3000000 /dev/urandom >"$src/2024/beach.raw"
head -c 40000000 /dev/urandom >"$src/2024/holiday video.mp4" # large: a multipart upload
printf 'my card number is 4111 1111 1111 1111\n' >"$src/my-credit-card-number.txt"
: >"$src/empty"
find "$src" -type f | sed "s|^$src/|  |"

bucket="s3seal-demo"
say "s3seal sync $src s3://$bucket/photos -r $recipient -c"
"$s3seal" sync "$src" "s3://$bucket/photos" -r "$recipient" --endpoint "$endpoint" -c -v

say "What the server stores (hidden names, age ciphertext, no metadata)"
find "$state/data/$bucket" -type f -not -path '*/.vgwlocks/*' | sed "s|^$state/data/||"

say "A second sync: nothing changed, nothing uploaded"
"$s3seal" sync "$src" "s3://$bucket/photos" -r "$recipient" --endpoint "$endpoint"

say "s3seal restore s3://$bucket/photos $work/restored -i key.txt"
"$s3seal" restore "s3://$bucket/photos" "$work/restored" -i "$work/key.txt" --endpoint "$endpoint" -v

say "Comparing the restored folder with the original"
diff -r "$src" "$work/restored"
echo "identical: every file restored byte for byte"
