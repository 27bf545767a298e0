#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The operator CLI against real files: `bauxite keys generate` makes an
# identity (0600), refuses to overwrite it, `keys show` prints the same
# public keys from the directory and from a config's state_dir, a key file
# others can read is refused naming it, and the keys bauxite-app made on
# its first start are the ones `keys show --config` prints.
#
#   test/integration/cli.sh BAUXITE
. "$(dirname "$0")/lib.sh"

cli=${1:?usage: cli.sh BAUXITE}
[ -x "$cli" ] || bx_fail "$cli is not executable"
bx_tmpdir
tmp=$bx_tmp

"$cli" keys generate --dir "$tmp/id" >"$tmp/gen" 2>"$tmp/gen.err" ||
	{ cat "$tmp/gen.err" >&2; bx_fail "keys generate failed"; }
for f in identity.ed25519 identity.x25519; do
	[ "$(stat -c %a "$tmp/id/$f")" = 600 ] || bx_fail "$f is not mode 0600"
done
[ "$(stat -c %a "$tmp/id")" = 700 ] || bx_fail "the key directory is not mode 0700"
grep -q '^ed25519_public ' "$tmp/gen" && grep -q '^x25519_public ' "$tmp/gen" ||
	{ cat "$tmp/gen" >&2; bx_fail "keys generate printed no public keys"; }
grep -qF "$(cat "$tmp/id/identity.x25519")" "$tmp/gen" "$tmp/gen.err" &&
	bx_fail "keys generate printed a private key"

rc=0
"$cli" keys generate --dir "$tmp/id" >/dev/null 2>"$tmp/again.err" || rc=$?
[ "$rc" != 0 ] || bx_fail "keys generate overwrote an existing identity"
bx_log "ok generate refuses to overwrite: $(head -n1 "$tmp/again.err")"

"$cli" keys show --dir "$tmp/id" >"$tmp/show" || bx_fail "keys show failed"
diff -u "$tmp/gen" "$tmp/show" >&2 || bx_fail "keys show prints other keys than generate"

bx_config "$BX_SRC/config/edge-a.json" "$tmp/a.json" "state_dir=\"$tmp/id\"" 'peers=[]'
"$cli" keys show --config "$tmp/a.json" >"$tmp/showc" || bx_fail "keys show --config failed"
diff -u "$tmp/gen" "$tmp/showc" >&2 || bx_fail "keys show --config prints other keys"

chmod 644 "$tmp/id/identity.ed25519"
rc=0
"$cli" keys show --dir "$tmp/id" >/dev/null 2>"$tmp/open.err" || rc=$?
[ "$rc" != 0 ] && grep -qF "$tmp/id/identity.ed25519" "$tmp/open.err" ||
	{ cat "$tmp/open.err" >&2; bx_fail "a 0644 key was not refused by name"; }
bx_log "ok readable key refused: $(head -n1 "$tmp/open.err")"

rc=0
"$cli" no-such-command >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || bx_fail "an unknown command exited $rc, expected 2"
bx_log "ok: generate, show (dir and config), no overwrite, readable key refused"
