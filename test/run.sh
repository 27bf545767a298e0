#!/usr/bin/env bash
# THE test command: installs what is missing, configures and builds, runs
# every suite, and prints as its last line "N passed, N failed" (", N
# skipped" when any), counted from meson's test results.
#
#   test/run.sh                     everything: unit suites (ASan+UBSan), fuzzers
#   test/run.sh --suite NAME        one suite (repeatable): wire, crypto, ...,
#                                   unit, fuzz, perf
#   test/run.sh --fuzz-seconds N    fuzzer run time each (default 30)
#   test/run.sh --no-fuzz           skip the fuzz build
#
# Build trees: build/test (gcc, -Db_sanitize=address,undefined), build/fuzz
# (clang, -Dfuzz=enabled) and, on a full run, build/release (-O3, counted as
# one result). Exit status is 0 only if nothing failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

suites=()
fuzz=1
fuzz_seconds=30
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) suites+=("$2"); shift ;;
	--suite=*) suites+=("${1#--suite=}") ;;
	--fuzz-seconds) fuzz_seconds="$2"; shift ;;
	--no-fuzz) fuzz=0 ;;
	-h|--help) sed -n '2,14p' "$0"; exit 0 ;;
	*) echo "test/run.sh: unknown option '$1'" >&2; exit 2 ;;
	esac
	shift
done

want_fuzz=$fuzz
want_main=1
if [ ${#suites[@]} -gt 0 ]; then
	want_fuzz=0
	want_main=0
	for s in "${suites[@]}"; do
		if [ "$s" = fuzz ]; then want_fuzz=$fuzz; else want_main=1; fi
	done
fi

log() { printf 'test/run.sh: %s\n' "$*" >&2; }

# 1. Dependencies (idempotent; quiet when all is present).
if ! deploy/install-deps.sh >build-deps.log 2>&1; then
	cat build-deps.log >&2
	log "installing dependencies failed"
	echo "0 passed, 1 failed"
	exit 1
fi
rm -f build-deps.log

py=/usr/bin/python3
[ -x "$py" ] || py=python3

status=0
logs=()

# configure DIR ARGS...: set up once, reconfigure when options change.
configure() {
	local dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null || return 1
	else
		meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log" >&2; return 1; }
		rm -f "$dir.setup.log"
	fi
}

# run_tests DIR SUITE...: build and run; the JSON log is counted at the end.
run_tests() {
	local dir=$1; shift
	local args=()
	for s in "$@"; do args+=(--suite "$s"); done
	rm -f "$dir/meson-logs/testlog.json"
	if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
		cat "$dir.build.log" >&2
		log "build failed in $dir"
		return 1
	fi
	meson test -C "$dir" --print-errorlogs --num-processes 2 "${args[@]}" >&2
	logs+=("$dir/meson-logs/testlog.json")
}

mkdir -p build
if [ "$want_main" = 1 ]; then
	main_suites=()
	for s in "${suites[@]+"${suites[@]}"}"; do [ "$s" = fuzz ] || main_suites+=("$s"); done
	if configure build/test -Db_sanitize=address,undefined -Db_lundef=false \
		-Dwerror=true -Dtests=enabled; then
		run_tests build/test "${main_suites[@]+"${main_suites[@]}"}" || status=1
	else
		log "configure failed (build/test)"; status=1
	fi
fi

# The release build (-O3, warnings are errors) that deploy/demo.sh and the
# benchmarks use: -O3 sees warnings the test build does not. One result.
if [ "$want_main" = 1 ] && [ ${#suites[@]} -eq 0 ]; then
	if configure build/release --buildtype=release -Dtests=disabled &&
		ninja -C build/release >build/release.build.log 2>&1; then
		release_ok=1
	else
		cat build/release.build.log >&2 2>/dev/null
		log "release build failed (build/release)"
		release_ok=0
	fi
fi

if [ "$want_fuzz" = 1 ]; then
	if CC=clang BX_FUZZ_SECONDS=$fuzz_seconds configure build/fuzz \
		-Dfuzz=enabled -Dtests=disabled -Db_lundef=false \
		-Db_sanitize=address,undefined; then
		BX_FUZZ_SECONDS=$fuzz_seconds run_tests build/fuzz fuzz || status=1
	else
		log "configure failed (build/fuzz)"; status=1
	fi
fi

# Count from meson's own results: each cmocka case of a TAP suite (its
# "ok"/"not ok" lines in meson's log), and every other test as one. A suite
# that crashed or timed out also counts one failure of its own.
read -r passed failed skipped < <("$py" - "${logs[@]+"${logs[@]}"}" <<'PY'
import json, re, sys
p = f = s = 0
tap = re.compile(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|skip))?")
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        f += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        r = t.get("result")
        cases = [tap.match(l) for l in (t.get("stdout") or "").splitlines()]
        cases = [m for m in cases if m]
        for m in cases:
            if m.group(2):
                s += 1
            elif m.group(1) == "ok":
                p += 1
            else:
                f += 1
        bad = r not in ("OK", "EXPECTEDFAIL", "SKIP")
        if not cases:
            if r == "SKIP":
                s += 1
            elif bad:
                f += 1
            else:
                p += 1
        elif bad and not any(m.group(1) == "not ok" for m in cases):
            f += 1
print(p, f, s)
PY
)
case "${release_ok:-}" in
1) passed=$((passed + 1)) ;;
0) failed=$((failed + 1)) ;;
esac
[ "$status" = 0 ] || [ "$failed" -gt 0 ] || failed=1
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" = 0 ] && [ "$status" = 0 ]
