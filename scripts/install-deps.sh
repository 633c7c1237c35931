#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Installs what sluice needs to build, test and demo on Debian 12, and mounts
# bpffs. Idempotent: when everything is there it prints one line and changes
# nothing. Run as root (`make deps` calls it).
set -euo pipefail

# Debian 12 package names. Add new needs here, one group per purpose.
PACKAGES=(
	# build: BPF objects and skeletons, the controller. libc6-dev and
	# linux-libc-dev (UAPI and asm/ headers for -target bpf) are only
	# Recommends of gcc, and we install without recommends.
	clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make
	gcc libc6-dev linux-libc-dev libmicrohttpd-dev
	# cluster mode: the Redis client, and the real server the tests start
	libhiredis-dev redis-server
	# unit and bpf tests; the metrics test parses with the real client
	libcmocka-dev python3-prometheus-client
	# the config fuzzer: libFuzzer and clang's sanitizer runtimes (only a
	# Recommends of clang, and we install without recommends)
	libclang-rt-14-dev
	# e2e tests and the demo: namespaces, veth, traffic, real servers.
	# python3 is Debian's /usr/bin/python3, the one python3-scapy serves.
	iproute2 nftables xdp-tools iputils-ping python3 python3-scapy tmux
	curl procps util-linux netcat-openbsd nginx-light
)

BPFFS=/sys/fs/bpf

die() {
	echo "install-deps: $*" >&2
	exit 1
}

if [[ $(id -u) -ne 0 ]]; then
	die "must run as root: it installs packages with apt-get and mounts bpffs at $BPFFS (try: sudo $0)"
fi
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	die "needs a Debian system (dpkg-query and apt-get not found)"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$pkg")
done

did=0
if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}"
	did=1
fi

# Tests and the demo call /usr/bin/python3 by path so a python3 elsewhere
# on PATH (a venv, /usr/local) cannot hide the Debian scapy.
[[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 is missing after installing python3"

# Pins live under bpffs; without it every attach fails. It is machine setup,
# like the packages, so it is done here and not by each command.
if [[ $(stat -f -c %T "$BPFFS" 2>/dev/null || true) != bpf_fs ]]; then
	mkdir -p "$BPFFS" || die "cannot create $BPFFS"
	mount -t bpf bpf "$BPFFS" ||
		die "cannot mount bpffs at $BPFFS (in a container: run it privileged, or mount it on the host)"
	echo "deps: mounted bpffs at $BPFFS"
	did=1
fi

if ((did)); then
	echo "deps: ready"
else
	echo "deps: all present"
fi
