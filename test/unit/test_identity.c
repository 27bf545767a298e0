/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suite "identity": generation writes two 0600 base64 key files atomically
 * and never overwrites unless forced, loading gives back the same public
 * keys, bad key files (mode, shape, content, type) are refused naming the
 * file, the keys sign and agree, and wiping zeroes the key memory. No EAL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "bx_common.h"
#include "bx_identity.h"

#define ERR_LEN 512
#define KEY_LINE_LEN (BX_IDENTITY_KEY_B64_LEN + 1) /* with its newline */

static char tmpdir[] = "/tmp/bx_identity_XXXXXX";

/* ---- helpers ------------------------------------------------------------ */

/* A fresh directory path under tmpdir per call: tests never share state. */
static const char *
fresh_dir(char *buf, size_t size)
{
	static unsigned seq;

	snprintf(buf, size, "%s/d%u", tmpdir, seq++);
	return buf;
}

static void
file_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	assert_true(n > 0 && (size_t)n < size);
}

/* Writes @text to @dir/@name with exactly @mode (fchmod: not the umask). */
static void
put_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	int fd;

	file_path(p, sizeof(p), dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(close(fd), 0);
}

/* Reads @dir/@name into @buf (terminated); returns its length. */
static size_t
get_file(const char *dir, const char *name, char *buf, size_t size)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	file_path(p, sizeof(p), dir, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return (size_t)n;
}

static mode_t
mode_of(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	file_path(p, sizeof(p), dir, name);
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 07777;
}

static bool
exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	file_path(p, sizeof(p), dir, name);
	return lstat(p, &st) == 0;
}

/* Entries in @dir: a generation must leave no temporary file behind. */
static unsigned
count_entries(const char *dir)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static struct bx_identity *
generate(const char *dir)
{
	struct bx_identity *id = NULL;
	char err[ERR_LEN] = "";
	int rc;

	rc = bx_identity_generate(dir, false, &id, err, sizeof(err));
	if (rc != 0)
		fail_msg("generate %s: %d %s", dir, rc, err);
	assert_non_null(id);
	return id;
}

static void
assert_contains(const char *haystack, const char *needle)
{
	if (strstr(haystack, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* Decodes one key file's base64 line (the format is part of the contract). */
static void
decode_key_file(const char *dir, const char *name,
		uint8_t key[BX_IDENTITY_KEY_LEN])
{
	char text[128];
	size_t n, bin_len = 0;

	n = get_file(dir, name, text, sizeof(text));
	assert_int_equal(n, KEY_LINE_LEN);
	assert_int_equal(text[BX_IDENTITY_KEY_B64_LEN], '\n');
	assert_int_equal(sodium_base642bin(key, BX_IDENTITY_KEY_LEN, text,
					   BX_IDENTITY_KEY_B64_LEN, NULL,
					   &bin_len, NULL,
					   sodium_base64_VARIANT_ORIGINAL),
			 0);
	assert_int_equal(bin_len, BX_IDENTITY_KEY_LEN);
	sodium_memzero(text, sizeof(text));
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0 || mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- generation --------------------------------------------------------- */

/* Files exist with mode 0600 in a new 0700 directory, hold the keys whose
 * public halves the identity reports, and nothing else is left there. */
static void
test_generate_files(void **state)
{
	uint8_t seed[BX_IDENTITY_KEY_LEN], x_sk[BX_IDENTITY_KEY_LEN];
	uint8_t pk[BX_IDENTITY_KEY_LEN], sk[crypto_sign_SECRETKEYBYTES];
	char base[PATH_MAX], dir[PATH_MAX];
	struct bx_identity *id;
	struct stat st;

	(void)state;
	fresh_dir(base, sizeof(base));
	/* Two missing levels: both are made, each 0700. */
	assert_true(snprintf(dir, sizeof(dir), "%s/state/node", base) <
		    (int)sizeof(dir));
	id = generate(dir);

	assert_int_equal(stat(base, &st), 0);
	assert_int_equal(st.st_mode & 07777, BX_IDENTITY_DIR_MODE);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, BX_IDENTITY_DIR_MODE);
	assert_int_equal(mode_of(dir, BX_IDENTITY_ED25519_FILE), 0600);
	assert_int_equal(mode_of(dir, BX_IDENTITY_X25519_FILE), 0600);
	assert_int_equal(count_entries(dir), 2);

	decode_key_file(dir, BX_IDENTITY_ED25519_FILE, seed);
	crypto_sign_seed_keypair(pk, sk, seed);
	assert_memory_equal(pk, bx_identity_ed25519_public(id), sizeof(pk));
	decode_key_file(dir, BX_IDENTITY_X25519_FILE, x_sk);
	assert_int_equal(crypto_scalarmult_base(pk, x_sk), 0);
	assert_memory_equal(pk, bx_identity_x25519_public(id), sizeof(pk));

	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(x_sk, sizeof(x_sk));
	bx_identity_free(id);
}

/* The mode is set explicitly: a restrictive umask (0277 would give 0400)
 * or an open one (0 would still give 0600 here) does not decide it. */
static void
test_generate_mode_ignores_umask(void **state)
{
	char dir[PATH_MAX];
	struct bx_identity *id;
	mode_t old;

	(void)state;
	fresh_dir(dir, sizeof(dir));
	assert_int_equal(mkdir(dir, 0700), 0);
	old = umask(0277);
	id = generate(dir);
	umask(old);
	assert_int_equal(mode_of(dir, BX_IDENTITY_ED25519_FILE), 0600);
	assert_int_equal(mode_of(dir, BX_IDENTITY_X25519_FILE), 0600);
	bx_identity_free(id);
}

static void
test_load_gives_same_keys(void **state)
{
	struct bx_identity *a, *b = NULL;
	char dir[PATH_MAX], err[ERR_LEN] = "";

	(void)state;
	a = generate(fresh_dir(dir, sizeof(dir)));
	assert_int_equal(bx_identity_load(dir, &b, err, sizeof(err)), 0);
	assert_non_null(b);
	assert_memory_equal(bx_identity_ed25519_public(a),
			    bx_identity_ed25519_public(b), BX_IDENTITY_KEY_LEN);
	assert_memory_equal(bx_identity_x25519_public(a),
			    bx_identity_x25519_public(b), BX_IDENTITY_KEY_LEN);
	bx_identity_free(a);
	bx_identity_free(b);
}

static void
test_generations_differ(void **state)
{
	struct bx_identity *a, *b;
	char d1[PATH_MAX], d2[PATH_MAX];

	(void)state;
	a = generate(fresh_dir(d1, sizeof(d1)));
	b = generate(fresh_dir(d2, sizeof(d2)));
	assert_memory_not_equal(bx_identity_ed25519_public(a),
				bx_identity_ed25519_public(b),
				BX_IDENTITY_KEY_LEN);
	assert_memory_not_equal(bx_identity_x25519_public(a),
				bx_identity_x25519_public(b),
				BX_IDENTITY_KEY_LEN);
	/* Separate keys, not one derived from the other. */
	assert_memory_not_equal(bx_identity_ed25519_public(a),
				bx_identity_x25519_public(a),
				BX_IDENTITY_KEY_LEN);
	bx_identity_free(a);
	bx_identity_free(b);
}

/* Without force nothing is replaced, even when only one file exists; with
 * force both are, and loading then gives the new keys. */
static void
test_generate_refuses_overwrite(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN] = "";
	char before_ed[128], before_x[128], after[128];
	struct bx_identity *a, *b = NULL, *c = NULL;

	(void)state;
	a = generate(fresh_dir(dir, sizeof(dir)));
	get_file(dir, BX_IDENTITY_ED25519_FILE, before_ed, sizeof(before_ed));
	get_file(dir, BX_IDENTITY_X25519_FILE, before_x, sizeof(before_x));

	assert_int_equal(bx_identity_generate(dir, false, &b, err, sizeof(err)),
			 -EEXIST);
	assert_null(b);
	file_path(path, sizeof(path), dir, BX_IDENTITY_ED25519_FILE);
	assert_contains(err, path);
	get_file(dir, BX_IDENTITY_ED25519_FILE, after, sizeof(after));
	assert_string_equal(after, before_ed);
	get_file(dir, BX_IDENTITY_X25519_FILE, after, sizeof(after));
	assert_string_equal(after, before_x);
	assert_int_equal(count_entries(dir), 2);

	/* Only the X25519 file: refused by its name, no Ed25519 file made. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bx_identity_generate(dir, false, &b, err, sizeof(err)),
			 -EEXIST);
	file_path(path, sizeof(path), dir, BX_IDENTITY_X25519_FILE);
	assert_contains(err, path);
	assert_false(exists(dir, BX_IDENTITY_ED25519_FILE));
	assert_int_equal(count_entries(dir), 1);

	assert_int_equal(bx_identity_generate(dir, true, &b, err, sizeof(err)), 0);
	get_file(dir, BX_IDENTITY_X25519_FILE, after, sizeof(after));
	assert_string_not_equal(after, before_x);
	assert_memory_not_equal(bx_identity_x25519_public(a),
				bx_identity_x25519_public(b),
				BX_IDENTITY_KEY_LEN);
	assert_int_equal(bx_identity_load(dir, &c, err, sizeof(err)), 0);
	assert_memory_equal(bx_identity_ed25519_public(b),
			    bx_identity_ed25519_public(c), BX_IDENTITY_KEY_LEN);
	assert_memory_equal(bx_identity_x25519_public(b),
			    bx_identity_x25519_public(c), BX_IDENTITY_KEY_LEN);
	assert_int_equal(count_entries(dir), 2);
	bx_identity_free(a);
	bx_identity_free(b);
	bx_identity_free(c);
}

static void
test_generate_dir_is_file(void **state)
{
	struct bx_identity *id = NULL;
	char dir[PATH_MAX], err[ERR_LEN] = "";
	int fd;

	(void)state;
	fresh_dir(dir, sizeof(dir));
	fd = open(dir, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(bx_identity_generate(dir, false, &id, err, sizeof(err)),
			 -ENOTDIR);
	assert_null(id);
	assert_contains(err, dir);
}

/* ---- load: refused files ------------------------------------------------ */

static const mode_t open_modes[] = { 0644, 0640, 0604, 0660, 0606, 0601, 0610 };

/* Any group or other bit refuses either file, naming it and its mode. */
static void
test_load_refuses_open_mode(void **state)
{
	static const char *const names[] = { BX_IDENTITY_ED25519_FILE,
					     BX_IDENTITY_X25519_FILE };
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN], mode[8];
	struct bx_identity *id;
	unsigned i, j;

	(void)state;
	bx_identity_free(generate(fresh_dir(dir, sizeof(dir))));
	for (i = 0; i < BX_ARRAY_SIZE(names); i++) {
		file_path(path, sizeof(path), dir, names[i]);
		for (j = 0; j < BX_ARRAY_SIZE(open_modes); j++) {
			assert_int_equal(chmod(path, open_modes[j]), 0);
			id = NULL;
			err[0] = '\0';
			assert_int_equal(bx_identity_load(dir, &id, err,
							  sizeof(err)),
					 -EPERM);
			assert_null(id);
			snprintf(mode, sizeof(mode), "%04o",
				 (unsigned)open_modes[j]);
			assert_contains(err, path);
			assert_contains(err, mode);
		}
		/* Owner-only modes other than 0600 are fine. */
		assert_int_equal(chmod(path, 0400), 0);
		assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), 0);
		bx_identity_free(id);
		assert_int_equal(chmod(path, 0600), 0);
	}
}

struct bad_file {
	const char *what;
	const char *text;
	const char *msg;
};

/* A valid key line to cut and spoil. */
#define GOOD_B64 "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k="

static const struct bad_file bad_files[] = {
	{ "empty", "", "0 characters" },
	{ "newline only", "\n", "0 characters" },
	{ "truncated", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k\n",
	  "43 characters" },
	{ "half", "q83vASNFZ4mrze8BI0VniavN7wEj\n", "28 characters" },
	{ "one too many", GOOD_B64 "A\n", "45 characters" },
	{ "two newlines", GOOD_B64 "\n\n", "45 characters" },
	{ "two keys", GOOD_B64 "\n" GOOD_B64 "\n", "more than 46 characters" },
	{ "bad character", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASN!Z4k=\n",
	  "not valid base64" },
	{ "url-safe alphabet", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASN_Z4k=\n",
	  "not valid base64" },
	{ "no padding, one more", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4kA\n",
	  "not valid base64" },
	{ "spaces", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNF Z4=\n",
	  "not valid base64" },
	{ "33 bytes of base64", "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mr\n",
	  "not valid base64" },
};

static void
test_load_refuses_bad_content(void **state)
{
	static const char *const names[] = { BX_IDENTITY_ED25519_FILE,
					     BX_IDENTITY_X25519_FILE };
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN], good[128];
	struct bx_identity *id;
	unsigned i, j;

	(void)state;
	bx_identity_free(generate(fresh_dir(dir, sizeof(dir))));
	for (i = 0; i < BX_ARRAY_SIZE(names); i++) {
		file_path(path, sizeof(path), dir, names[i]);
		get_file(dir, names[i], good, sizeof(good));
		for (j = 0; j < BX_ARRAY_SIZE(bad_files); j++) {
			put_file(dir, names[i], bad_files[j].text, 0600);
			id = NULL;
			err[0] = '\0';
			if (bx_identity_load(dir, &id, err, sizeof(err)) != -EINVAL)
				fail_msg("%s in %s: not refused: %s",
					 bad_files[j].what, names[i], err);
			assert_null(id);
			assert_contains(err, path);
			assert_contains(err, bad_files[j].msg);
		}
		put_file(dir, names[i], good, 0600);
	}
	/* The spoiled files were restored: the identity loads again, and a
	 * key without its newline is fine too. */
	good[BX_IDENTITY_KEY_B64_LEN] = '\0';
	put_file(dir, BX_IDENTITY_X25519_FILE, good, 0600);
	assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), 0);
	bx_identity_free(id);
}

static void
test_load_refuses_non_regular(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN] = "";
	struct bx_identity *id = NULL;

	(void)state;
	bx_identity_free(generate(fresh_dir(dir, sizeof(dir))));
	file_path(path, sizeof(path), dir, BX_IDENTITY_ED25519_FILE);
	/* A directory. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), -EINVAL);
	assert_null(id);
	assert_contains(err, path);
	assert_contains(err, "not a regular file");
	/* A FIFO (mode 0600): refused, and opening it does not hang. */
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), -EINVAL);
	assert_contains(err, path);
	assert_contains(err, "not a regular file");
	/* /dev/null through a link: fstat sees the character device. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/dev/null", path), 0);
	assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), -EINVAL);
	assert_contains(err, "not a regular file");
	assert_null(id);
}

static void
test_load_missing(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN] = "";
	struct bx_identity *id = NULL;

	(void)state;
	fresh_dir(dir, sizeof(dir));
	assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), -ENOENT);
	assert_null(id);
	file_path(path, sizeof(path), dir, BX_IDENTITY_ED25519_FILE);
	assert_contains(err, path);

	bx_identity_free(generate(dir));
	file_path(path, sizeof(path), dir, BX_IDENTITY_X25519_FILE);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(bx_identity_load(dir, &id, err, sizeof(err)), -ENOENT);
	assert_contains(err, path);
	assert_null(id);

	/* "" is not the root directory. */
	assert_int_equal(bx_identity_load("", &id, err, sizeof(err)), -EINVAL);
	assert_int_equal(bx_identity_generate("", false, &id, err, sizeof(err)),
			 -EINVAL);
	assert_contains(err, "empty state directory name");
	assert_null(id);
}

/* ---- first start -------------------------------------------------------- */

static void
test_load_or_generate(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX], err[ERR_LEN] = "";
	struct bx_identity *a = NULL, *b = NULL, *c = NULL;
	bool generated = false;

	(void)state;
	fresh_dir(dir, sizeof(dir));
	assert_int_equal(bx_identity_load_or_generate(dir, &a, &generated, err,
						      sizeof(err)),
			 0);
	assert_true(generated);
	assert_int_equal(bx_identity_load_or_generate(dir, &b, &generated, err,
						      sizeof(err)),
			 0);
	assert_false(generated);
	assert_memory_equal(bx_identity_ed25519_public(a),
			    bx_identity_ed25519_public(b), BX_IDENTITY_KEY_LEN);
	assert_memory_equal(bx_identity_x25519_public(a),
			    bx_identity_x25519_public(b), BX_IDENTITY_KEY_LEN);

	/* Half an identity: refused naming the missing file, nothing made. */
	file_path(path, sizeof(path), dir, BX_IDENTITY_ED25519_FILE);
	assert_int_equal(unlink(path), 0);
	generated = true;
	assert_int_equal(bx_identity_load_or_generate(dir, &c, &generated, err,
						      sizeof(err)),
			 -ENOENT);
	assert_null(c);
	assert_contains(err, path);
	assert_false(exists(dir, BX_IDENTITY_ED25519_FILE));

	/* A bad file is reported, never replaced by a new identity. */
	bx_identity_free(generate(fresh_dir(dir, sizeof(dir))));
	file_path(path, sizeof(path), dir, BX_IDENTITY_X25519_FILE);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(bx_identity_load_or_generate(dir, &c, NULL, err,
						      sizeof(err)),
			 -EPERM);
	assert_null(c);
	assert_contains(err, path);
	bx_identity_free(a);
	bx_identity_free(b);
}

/* ---- using the keys ----------------------------------------------------- */

/* The join proof verifies only for exactly what was signed. */
static void
test_join_proof(void **state)
{
	static const uint8_t csr[] = { 0x30, 0x82, 0x01, 0x00, 0x42 };
	static const char token[] = "0123456789abcdef.c2VjcmV0";
	uint8_t sig[BX_IDENTITY_SIG_LEN], other_csr[sizeof(csr)];
	const uint8_t *ed, *x;
	char d1[PATH_MAX], d2[PATH_MAX];
	struct bx_identity *a, *b;
	uint8_t *msg;
	size_t len;

	(void)state;
	a = generate(fresh_dir(d1, sizeof(d1)));
	b = generate(fresh_dir(d2, sizeof(d2)));
	ed = bx_identity_ed25519_public(a);
	x = bx_identity_x25519_public(a);
	assert_int_equal(bx_identity_join_sign(a, token, "edge-a", csr,
					       sizeof(csr), sig), 0);
	assert_int_equal(bx_identity_join_verify(ed, token, "edge-a", csr,
						 sizeof(csr), x, sig), 0);

	/* The documented layout: domain, token, id (each with its NUL),
	 * CSR, X25519 key. */
	assert_int_equal(bx_identity_join_message(token, "edge-a", csr,
						  sizeof(csr), x, &msg, &len), 0);
	assert_int_equal(len, sizeof(BX_IDENTITY_JOIN_DOMAIN) + sizeof(token) +
				      sizeof("edge-a") + sizeof(csr) +
				      BX_IDENTITY_KEY_LEN);
	assert_memory_equal(msg, BX_IDENTITY_JOIN_DOMAIN,
			    sizeof(BX_IDENTITY_JOIN_DOMAIN));
	assert_memory_equal(msg + len - BX_IDENTITY_KEY_LEN, x,
			    BX_IDENTITY_KEY_LEN);
	free(msg);

	/* Any field changed: refused. */
	assert_int_equal(bx_identity_join_verify(ed, "0123456789abcdef.b3RoZXI=",
						 "edge-a", csr, sizeof(csr), x, sig),
			 -EBADMSG);
	assert_int_equal(bx_identity_join_verify(ed, token, "edge-b", csr,
						 sizeof(csr), x, sig),
			 -EBADMSG);
	memcpy(other_csr, csr, sizeof(csr));
	other_csr[4] ^= 1;
	assert_int_equal(bx_identity_join_verify(ed, token, "edge-a", other_csr,
						 sizeof(csr), x, sig),
			 -EBADMSG);
	assert_int_equal(bx_identity_join_verify(ed, token, "edge-a", csr,
						 sizeof(csr),
						 bx_identity_x25519_public(b), sig),
			 -EBADMSG);
	/* Someone else's Ed25519 key: not their signature. */
	assert_int_equal(bx_identity_join_verify(bx_identity_ed25519_public(b),
						 token, "edge-a", csr, sizeof(csr),
						 x, sig),
			 -EBADMSG);
	/* A token and id that shift a byte between them differ too. */
	assert_int_equal(bx_identity_join_verify(ed, "0123456789abcdef.c2VjcmV0e",
						 "dge-a", csr, sizeof(csr), x, sig),
			 -EBADMSG);
	bx_identity_free(a);
	bx_identity_free(b);
}

static void
test_sign_and_dh(void **state)
{
	uint8_t sig[BX_IDENTITY_SIG_LEN], ab[BX_IDENTITY_KEY_LEN];
	uint8_t ba[BX_IDENTITY_KEY_LEN], sk[BX_IDENTITY_KEY_LEN];
	uint8_t pk[BX_IDENTITY_KEY_LEN], zero[BX_IDENTITY_KEY_LEN] = { 0 };
	static const uint8_t msg[] = "join request of edge-a";
	char d1[PATH_MAX], d2[PATH_MAX];
	struct bx_identity *a, *b;

	(void)state;
	a = generate(fresh_dir(d1, sizeof(d1)));
	b = generate(fresh_dir(d2, sizeof(d2)));

	assert_int_equal(bx_identity_sign(a, sig, msg, sizeof(msg)), 0);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg),
						     bx_identity_ed25519_public(a)),
			 0);
	assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg),
							 bx_identity_ed25519_public(b)),
			     0);

	assert_int_equal(bx_identity_dh(a, ab, bx_identity_x25519_public(b)), 0);
	assert_int_equal(bx_identity_dh(b, ba, bx_identity_x25519_public(a)), 0);
	assert_memory_equal(ab, ba, sizeof(ab));
	assert_memory_not_equal(ab, zero, sizeof(ab));

	/* A low-order point: refused, the output wiped. */
	memset(ab, 0xa5, sizeof(ab));
	assert_int_equal(bx_identity_dh(a, ab, zero), -EINVAL);
	assert_memory_equal(ab, zero, sizeof(ab));

	/* The exported private key is the one behind the public key. */
	assert_int_equal(bx_identity_x25519_private(a, sk), 0);
	assert_int_equal(crypto_scalarmult_base(pk, sk), 0);
	assert_memory_equal(pk, bx_identity_x25519_public(a), sizeof(pk));
	sodium_memzero(sk, sizeof(sk));
	bx_identity_free(a);
	bx_identity_free(b);
}

static void
test_wipe_zeroes(void **state)
{
	uint8_t pk[BX_IDENTITY_KEY_LEN], out[BX_IDENTITY_KEY_LEN];
	uint8_t sig[BX_IDENTITY_SIG_LEN];
	char dir[PATH_MAX];
	struct bx_identity *id;

	(void)state;
	id = generate(fresh_dir(dir, sizeof(dir)));
	memcpy(pk, bx_identity_x25519_public(id), sizeof(pk));
	assert_false(bx_identity_is_wiped(id));
	bx_identity_wipe(id);
	assert_true(bx_identity_is_wiped(id));
	assert_int_equal(bx_identity_sign(id, sig, pk, sizeof(pk)), -ENOKEY);
	assert_int_equal(bx_identity_dh(id, out, pk), -ENOKEY);
	assert_int_equal(bx_identity_x25519_private(id, out), -ENOKEY);
	/* Public keys stay: the node can still say who it was. */
	assert_memory_equal(bx_identity_x25519_public(id), pk, sizeof(pk));
	bx_identity_free(id);
	bx_identity_wipe(NULL);
	bx_identity_free(NULL);
}

/* ---- base64 ------------------------------------------------------------- */

static void
test_b64(void **state)
{
	static const char *const bad[] = {
		"",
		"q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k",
		GOOD_B64 "\n",
		" " GOOD_B64,
		GOOD_B64 "=",
		"q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASN!Z4k=",
		"q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mr",
	};
	uint8_t key[BX_IDENTITY_KEY_LEN], back[BX_IDENTITY_KEY_LEN];
	uint8_t canary[BX_IDENTITY_KEY_LEN];
	char b64[BX_IDENTITY_KEY_B64_LEN + 1];
	unsigned i;

	(void)state;
	randombytes_buf(key, sizeof(key));
	bx_identity_key_to_b64(key, b64);
	assert_int_equal(strlen(b64), BX_IDENTITY_KEY_B64_LEN);
	assert_int_equal(bx_identity_key_from_b64(b64, back), 0);
	assert_memory_equal(key, back, sizeof(key));
	assert_int_equal(bx_identity_key_from_b64(GOOD_B64, back), 0);
	assert_int_equal(back[0], 0xab);
	assert_int_equal(back[31], 0x89);

	memset(canary, 0x5a, sizeof(canary));
	for (i = 0; i < BX_ARRAY_SIZE(bad); i++) {
		memcpy(back, canary, sizeof(back));
		if (bx_identity_key_from_b64(bad[i], back) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_memory_equal(back, canary, sizeof(back));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_files),
		cmocka_unit_test(test_generate_mode_ignores_umask),
		cmocka_unit_test(test_load_gives_same_keys),
		cmocka_unit_test(test_generations_differ),
		cmocka_unit_test(test_generate_refuses_overwrite),
		cmocka_unit_test(test_generate_dir_is_file),
		cmocka_unit_test(test_load_refuses_open_mode),
		cmocka_unit_test(test_load_refuses_bad_content),
		cmocka_unit_test(test_load_refuses_non_regular),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_load_or_generate),
		cmocka_unit_test(test_sign_and_dh),
		cmocka_unit_test(test_join_proof),
		cmocka_unit_test(test_wipe_zeroes),
		cmocka_unit_test(test_b64),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
