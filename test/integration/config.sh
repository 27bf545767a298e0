#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad configs are refused before the EAL starts: bauxite-app exits non-zero
# and its error names the field. A good config passes --check-config.
#
#   test/integration/config.sh BAUXITE_APP
. "$(dirname "$0")/lib.sh"

app=${1:?usage: config.sh BAUXITE_APP}
[ -x "$app" ] || bx_fail "$app is not executable"
bx_tmpdir
tmp=$bx_tmp
eal=(-l 0-1 --no-pci --in-memory --log-level='*:error')

# The peer's public key: any 32 random bytes pass the config checks (this
# test never reaches a handshake).
pubkey=$(head -c 32 /dev/urandom | base64)
base="$tmp/base.json"
bx_config "$BX_SRC/config/edge-a.json" "$base" \
	"peers.0.public_key=\"$pubkey\"" "state_dir=\"$tmp/state\""

failed=0
# expect_refused NAME FIELD CONFIG: non-zero exit, FIELD in stderr, and
# no sign of the EAL having started.
expect_refused() {
	local name=$1 field=$2 cfg=$3 rc=0
	"$app" "${eal[@]}" -- --config "$cfg" >"$tmp/out" 2>"$tmp/err" || rc=$?
	if [ "$rc" = 0 ]; then
		bx_log "not ok $name: exit 0"; failed=1; return
	fi
	if ! grep -qF -- "$field" "$tmp/err"; then
		bx_log "not ok $name: stderr does not name $field:"
		cat "$tmp/err" >&2; failed=1; return
	fi
	if grep -q 'EAL' "$tmp/err" "$tmp/out"; then
		bx_log "not ok $name: the EAL ran"; failed=1; return
	fi
	bx_log "ok $name (exit $rc): $(head -n1 "$tmp/err")"
}
# dump_has FIELD VALUE: --check-config printed the line "FIELD   VALUE".
dump_has() {
	awk -v f="$1" -v v="$2" '$1 == f && $2 == v { found = 1 } END { exit !found }' \
		"$tmp/out"
}

bx_config "$base" "$tmp/missing.json" "underlay.address=<delete>"
expect_refused "missing field" "underlay.address" "$tmp/missing.json"

bx_config "$base" "$tmp/type.json" 'mesh_port="7600"'
expect_refused "wrong type" "mesh_port" "$tmp/type.json"

bx_config "$base" "$tmp/unknown.json" 'inner.colour="blue"'
expect_refused "unknown key" 'unknown key "colour"' "$tmp/unknown.json"

bx_config "$base" "$tmp/fips.json" 'fips=true' 'cipher="chacha20-poly1305"'
expect_refused "fips with chacha" "cipher" "$tmp/fips.json"

bx_config "$base" "$tmp/badkey.json" 'peers.0.public_key="not a key"'
expect_refused "public key not base64" "peers[0].public_key" "$tmp/badkey.json"

bx_config "$base" "$tmp/short.json" \
	"peers.0.public_key=\"$(head -c 16 /dev/urandom | base64)\""
expect_refused "public key of 16 bytes" "peers[0].public_key" "$tmp/short.json"

bx_config "$base" "$tmp/long.json" \
	"peers.0.public_key=\"$(head -c 64 /dev/urandom | base64 -w0)\""
expect_refused "public key of 64 bytes" "peers[0].public_key" "$tmp/long.json"

bx_config "$base" "$tmp/zero.json" \
	"peers.0.public_key=\"$(head -c 32 /dev/zero | base64)\""
expect_refused "all-zero public key" "peers[0].public_key" "$tmp/zero.json"

# A config from the pre-shared key days says what replaces the key file.
bx_config "$base" "$tmp/psk.json" 'peers.0.public_key=<delete>' \
	'peers.0.psk_file="keys/edge-a--edge-b.psk"'
expect_refused "psk_file left over" \
	"peers[0].psk_file: pre-shared keys are gone" "$tmp/psk.json"

bx_config "$base" "$tmp/session.json" 'session={"handshake_timeout_s": 0}'
expect_refused "session field out of range" "session.handshake_timeout_s" \
	"$tmp/session.json"

bx_config "$base" "$tmp/reject.json" \
	'session={"rekey_after_s": 200, "reject_after_s": 150}'
expect_refused "session rejected before rekeyed" "session.reject_after_s" \
	"$tmp/reject.json"

# A port that does not exist is found only by the EAL: refused after it
# starts but before anything else, naming the field. No hugepages needed.
bx_config "$base" "$tmp/port.json" 'underlay.port="net_nosuch0"'
rc=0
"$app" -l 0-1 --no-pci --no-huge -m 256 --no-shconf --no-telemetry \
	--log-level='*:error' -- --config "$tmp/port.json" >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" = 0 ] || ! grep -qF 'underlay.port' "$tmp/err"; then
	bx_log "not ok unknown port (exit $rc)"
	cat "$tmp/err" >&2
	failed=1
else
	bx_log "ok unknown port (exit $rc): $(grep -F underlay.port "$tmp/err" | head -n1)"
fi

# An inner MTU whose datagrams would not fit the underlay's is refused once
# the port's MTU is known (net_null: 1500), naming inner.mtu.
bx_config "$base" "$tmp/mtu.json" 'underlay.port="net_null0"' 'inner.mtu=1460'
rc=0
"$app" -l 0-1 --no-pci --no-huge -m 256 --no-shconf --no-telemetry \
	--log-level='*:error' -- --config "$tmp/mtu.json" >"$tmp/out.mtu" 2>"$tmp/err" || rc=$?
if [ "$rc" = 0 ] || ! grep -qF 'inner.mtu: 1460' "$tmp/err"; then
	bx_log "not ok inner MTU too big for the underlay (exit $rc)"
	cat "$tmp/err" >&2
	failed=1
else
	bx_log "ok inner MTU too big (exit $rc): $(grep -F inner.mtu "$tmp/err" | head -n1)"
fi

# Identity: the run before the MTU one got past the config, so it made the node's keys
# in state_dir, private files mode 0600; the next start loads the same ones.
for f in identity.ed25519 identity.x25519; do
	mode=$(stat -c %a "$tmp/state/$f" 2>/dev/null || echo none)
	if [ "$mode" != 600 ]; then
		bx_log "not ok identity: $f has mode $mode, expected 600"; failed=1
	fi
done
grep -q 'identity generated' "$tmp/out" ||
	{ bx_log "not ok identity: the first start did not say it generated keys"; failed=1; }
first=$(grep -o 'x25519 [A-Za-z0-9+/=]*' "$tmp/out" || true)
"$app" -l 0-1 --no-pci --no-huge -m 256 --no-shconf --no-telemetry \
	--log-level='*:error' -- --config "$tmp/port.json" >"$tmp/out" 2>"$tmp/err" || true
again=$(grep -o 'x25519 [A-Za-z0-9+/=]*' "$tmp/out" || true)
if ! grep -q 'identity loaded' "$tmp/out" || [ -z "$first" ] || [ "$first" != "$again" ]; then
	bx_log "not ok identity: second start did not load the same keys ($first / $again)"
	failed=1
else
	bx_log "ok identity made once (0600) and loaded again: $again"
fi
grep -qF "$(cat "$tmp/state/identity.x25519")" "$tmp/out" "$tmp/err" &&
	{ bx_log "not ok identity: a private key was printed"; failed=1; }

# An identity key others can read is refused, naming the file, before the EAL.
mkdir -m 700 "$tmp/open-state"
(umask 077; head -c 32 /dev/urandom | base64 >"$tmp/open-state/identity.ed25519")
(umask 077; head -c 32 /dev/urandom | base64 >"$tmp/open-state/identity.x25519")
chmod 644 "$tmp/open-state/identity.x25519"
bx_config "$base" "$tmp/openid.json" "state_dir=\"$tmp/open-state\""
expect_refused "identity key mode 0644" "$tmp/open-state/identity.x25519" "$tmp/openid.json"

rc=0
"$app" "${eal[@]}" -- --config "$base" --check-config >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" != 0 ] || ! grep -q 'edge-a' "$tmp/out" || grep -q 'EAL' "$tmp/err"; then
	bx_log "not ok --check-config on a good config (exit $rc)"
	cat "$tmp/err" >&2
	failed=1
elif ! dump_has 'peers[0].public_key' "$pubkey"; then
	bx_log "not ok --check-config does not print the peer's public key $pubkey"
	failed=1
elif ! dump_has session.rekey_after_s 120 || ! dump_has session.reject_after_s 180; then
	bx_log "not ok --check-config does not print the session defaults"
	failed=1
else
	bx_log "ok --check-config on a good config"
fi

[ "$failed" = 0 ] || bx_fail "some bad configs were not refused properly"
