#!/usr/bin/env bash
# Brings up a local Bauxite mesh in network namespaces.
#
# The fast path that carries the mesh (bauxite-app) lands with the next
# issue; until then this script builds the project and shows what already
# runs on this machine: the crypto ceiling the fast path will be measured
# against (perf/crypto-bench).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

deploy/install-deps.sh
if [ ! -f build/release/build.ninja ]; then
	meson setup build/release --buildtype=release -Dtests=disabled >/dev/null
fi
ninja -C build/release >/dev/null

echo
echo "bauxite demo: the two-node mesh in namespaces arrives with bauxite-app (next issue)."
echo "bauxite demo: crypto ceiling on this machine, one core:"
echo
build/release/perf/crypto-bench --quick
