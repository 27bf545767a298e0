#!/usr/bin/env bash
# Installs every Debian package Bauxite needs to build, test and run, and
# reserves hugepages. Idempotent: installs only what is missing.
#
#   deploy/install-deps.sh [--no-hugepages] [--pages N]
#
# Needs root (or sudo). Later components add their packages to the lists
# below; nothing else in the project installs packages.
set -euo pipefail

pages=256
do_hugepages=1
while [ $# -gt 0 ]; do
	case "$1" in
	--no-hugepages) do_hugepages=0 ;;
	--pages) pages="$2"; shift ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "install-deps: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done

# Build: compilers, meson, the required and optional libraries.
build_pkgs=(
	clang
	dpdk
	dpdk-dev
	gcc
	libbpf-dev
	libclang-rt-14-dev
	libcmocka-dev
	libdpdk-dev
	libgrpc-dev
	libipsec-mb-dev
	libjansson-dev
	libnice-dev
	libprotobuf-c-dev
	libsodium-dev
	libsqlite3-dev
	libssl-dev
	llvm
	meson
	ninja-build
	pkg-config
	protobuf-c-compiler
)
# Test and run: namespaces, traffic, captures.
test_pkgs=(
	coturn
	ethtool
	iperf3
	iproute2
	iptables
	iputils-ping
	kmod
	procps
	python3
	python3-scapy
	tcpdump
	# perf/e2e.sh's comparison: userspace WireGuard and its wg tool.
	wireguard-go
	wireguard-tools
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
	sudo_cmd=(sudo)
fi

missing=()
for p in "${build_pkgs[@]}" "${test_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	"${sudo_cmd[@]}" apt-get update -qq
	"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	echo "install-deps: all packages present"
fi

if [ "$do_hugepages" = 1 ]; then
	have=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
	if [ "$have" -lt "$pages" ]; then
		if echo "$pages" | "${sudo_cmd[@]}" tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1; then
			echo "install-deps: hugepages $(cat /proc/sys/vm/nr_hugepages) (asked $pages)"
		else
			echo "install-deps: could not reserve hugepages (tests that need them will skip)" >&2
		fi
	fi
fi
