#!/usr/bin/env bash
# Installs the tools `make bench` compares s3seal with, from Debian, when
# they are missing: awscli (aws s3 sync, the unencrypted reference), rclone
# (sync to a crypt remote over s3) and restic. Not part of `make test`.
set -euo pipefail

missing=()
[[ -x /usr/bin/aws ]] || missing+=(awscli)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if ((${#missing[@]} == 0)); then
	exit 0
fi
if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-peers: missing ${missing[*]}; install them (Debian: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq "${missing[@]}" >/dev/null
echo "installed ${missing[*]}"
