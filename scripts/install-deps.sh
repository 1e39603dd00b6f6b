#!/usr/bin/env bash
# Installs what the tests need when it is missing: the Versity S3 gateway
# (versitygw), the stock age CLI, and the AWS CLI (a test tries to delete a
# locked version with it, as another client would). Safe to run again: it
# does nothing when all are present, and prints one line per thing it
# installs.
set -euo pipefail

readonly VERSITYGW_MODULE="github.com/versity/versitygw/cmd/versitygw"
readonly VERSITYGW_VERSION="v1.8.0"

gobin="$(go env GOBIN)"
if [[ -z "$gobin" ]]; then
	gobin="$(go env GOPATH | cut -d: -f1)/bin"
fi

have_versitygw() {
	[[ -n "${VERSITYGW:-}" && -x "${VERSITYGW}" ]] ||
		command -v versitygw >/dev/null 2>&1 ||
		[[ -x "$gobin/versitygw" ]]
}

if ! have_versitygw; then
	# Build outside any module so the project's go.mod is neither read nor changed.
	(cd / && GOFLAGS=-buildvcs=false go install "${VERSITYGW_MODULE}@${VERSITYGW_VERSION}")
	echo "installed versitygw ${VERSITYGW_VERSION} in $gobin"
fi

if ! command -v age >/dev/null 2>&1; then
	if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "install-deps: the age CLI is missing; install it (Debian/Ubuntu: sudo apt-get install age), then run this again" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq age >/dev/null
	echo "installed age $(age --version)"
fi

if ! command -v aws >/dev/null 2>&1; then
	if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
		echo "install-deps: the AWS CLI is missing; install it (Debian/Ubuntu: sudo apt-get install awscli), then run this again" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq awscli >/dev/null
	echo "installed $(aws --version 2>&1)"
fi
