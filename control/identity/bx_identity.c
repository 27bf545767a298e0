/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node identity: key files checked on one descriptor, written atomically,
 * private keys in guarded memory. See bx_identity.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "bx_common.h"
#include "bx_identity.h"

_Static_assert(crypto_sign_SEEDBYTES == BX_IDENTITY_KEY_LEN, "Ed25519 seed");
_Static_assert(crypto_sign_PUBLICKEYBYTES == BX_IDENTITY_KEY_LEN,
	       "Ed25519 public key");
_Static_assert(crypto_sign_BYTES == BX_IDENTITY_SIG_LEN, "Ed25519 signature");
_Static_assert(crypto_scalarmult_SCALARBYTES == BX_IDENTITY_KEY_LEN,
	       "X25519 private key");
_Static_assert(crypto_scalarmult_BYTES == BX_IDENTITY_KEY_LEN,
	       "X25519 public key");
_Static_assert(sodium_base64_ENCODED_LEN(BX_IDENTITY_KEY_LEN,
					 sodium_base64_VARIANT_ORIGINAL) ==
		       BX_IDENTITY_KEY_B64_LEN + 1,
	       "base64 length");

/* Bytes read from a key file at most: a key, a newline, and enough more to
 * tell "too long" from "exactly right". */
#define KEY_FILE_MAX (BX_IDENTITY_KEY_B64_LEN + 2u)
/* Random hex digits in a temporary file's name. */
#define TMP_RANDOM_BYTES 8u
#define KEY_HINT "a 32-byte key in standard base64 (44 characters)"

/* Everything secret, in one sodium_malloc'd block. */
struct secrets {
	uint8_t ed_sk[crypto_sign_SECRETKEYBYTES]; /* libsodium: seed || public */
	uint8_t x_sk[BX_IDENTITY_KEY_LEN];
	uint8_t seed[BX_IDENTITY_KEY_LEN];         /* scratch, zero when idle */
};

struct bx_identity {
	uint8_t ed_pk[BX_IDENTITY_KEY_LEN];
	uint8_t x_pk[BX_IDENTITY_KEY_LEN];
	struct secrets *sec; /* noaccess except inside this module's calls */
	bool wiped;
};

/* A key file being written: its final and temporary names in the dir. */
struct pending {
	const char *name;
	char tmp[NAME_MAX + 1];
	bool created;   /* tmp exists */
	bool published; /* renamed to name */
};

static int
fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * The protection toggles cannot fail where sodium_malloc works (both are
 * mprotect on the same pages), so their results carry no information.
 */
static void
sec_readonly(const struct bx_identity *id)
{
	(void)sodium_mprotect_readonly(id->sec);
}

static void
sec_readwrite(const struct bx_identity *id)
{
	(void)sodium_mprotect_readwrite(id->sec);
}

static void
sec_close(const struct bx_identity *id)
{
	(void)sodium_mprotect_noaccess(id->sec);
}

static int
lib_init(char *err, size_t errlen)
{
	if (sodium_init() < 0)
		return fail(err, errlen, -EIO, "libsodium failed to initialise");
	return 0;
}

static int
key_path(char *buf, size_t size, const char *dir, const char *name,
	 char *err, size_t errlen)
{
	int n;

	/* "" would name files in the root directory. */
	if (dir[0] == '\0')
		return fail(err, errlen, -EINVAL, "empty state directory name");
	n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		return fail(err, errlen, -ENAMETOOLONG, "%s/%s: path too long",
			    dir, name);
	return 0;
}

/* A new identity with zeroed, writable secrets (the caller closes them). */
static struct bx_identity *
identity_new(void)
{
	struct bx_identity *id = calloc(1, sizeof(*id));

	if (id == NULL)
		return NULL;
	id->sec = sodium_malloc(sizeof(*id->sec));
	if (id->sec == NULL) {
		free(id);
		errno = ENOMEM;
		return NULL;
	}
	sodium_memzero(id->sec, sizeof(*id->sec));
	return id;
}

/*
 * Reads the key file @path into @key: open, then fstat and read that same
 * descriptor, so what was checked is what is read. The text is wiped on
 * every path; @key is wiped on failure.
 */
static int
read_key_file(const char *path, uint8_t key[BX_IDENTITY_KEY_LEN], char *err,
	      size_t errlen)
{
	char text[KEY_FILE_MAX + 1];
	size_t n = 0, bin_len = 0;
	struct stat st;
	ssize_t r;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO must not hang the caller before fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		return fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, -EINVAL,
			  "%s is not a regular file; expected %s", path,
			  KEY_HINT);
		goto out;
	}
	if ((st.st_mode & 077) != 0) {
		rc = fail(err, errlen, -EPERM,
			  "%s has mode %04o; a private key must not be accessible by group or others (chmod 600)",
			  path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (n < sizeof(text)) {
		r = read(fd, text + n, sizeof(text) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == sizeof(text)) {
		rc = fail(err, errlen, -EINVAL,
			  "%s: more than %u characters; expected %s", path,
			  KEY_FILE_MAX, KEY_HINT);
		goto out;
	}
	if (n > 0 && text[n - 1] == '\n')
		n--;
	if (n != BX_IDENTITY_KEY_B64_LEN) {
		rc = fail(err, errlen, -EINVAL, "%s: %zu characters; expected %s",
			  path, n, KEY_HINT);
		goto out;
	}
	/* b64_end NULL: the whole text must decode, padding included. */
	if (sodium_base642bin(key, BX_IDENTITY_KEY_LEN, text, n, NULL,
			      &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != BX_IDENTITY_KEY_LEN) {
		sodium_memzero(key, BX_IDENTITY_KEY_LEN);
		rc = fail(err, errlen, -EINVAL, "%s: not valid base64; expected %s",
			  path, KEY_HINT);
		goto out;
	}
out:
	sodium_memzero(text, sizeof(text));
	close(fd);
	return rc;
}

int
bx_identity_load(const char *dir, struct bx_identity **out, char *err,
		 size_t errlen)
{
	char ed_path[PATH_MAX], x_path[PATH_MAX];
	struct bx_identity *id;
	int rc;

	rc = lib_init(err, errlen);
	if (rc == 0)
		rc = key_path(ed_path, sizeof(ed_path), dir,
			      BX_IDENTITY_ED25519_FILE, err, errlen);
	if (rc == 0)
		rc = key_path(x_path, sizeof(x_path), dir,
			      BX_IDENTITY_X25519_FILE, err, errlen);
	if (rc < 0)
		return rc;
	id = identity_new();
	if (id == NULL)
		return fail(err, errlen, -ENOMEM, "%s: out of memory", dir);

	rc = read_key_file(ed_path, id->sec->seed, err, errlen);
	if (rc < 0)
		goto fail;
	/* Cannot fail: every 32-byte string is an Ed25519 seed. */
	crypto_sign_seed_keypair(id->ed_pk, id->sec->ed_sk, id->sec->seed);
	sodium_memzero(id->sec->seed, sizeof(id->sec->seed));

	rc = read_key_file(x_path, id->sec->x_sk, err, errlen);
	if (rc < 0)
		goto fail;
	if (crypto_scalarmult_base(id->x_pk, id->sec->x_sk) != 0) {
		rc = fail(err, errlen, -EINVAL, "%s: not a usable X25519 key",
			  x_path);
		goto fail;
	}
	sec_close(id);
	*out = id;
	return 0;
fail:
	bx_identity_free(id);
	return rc;
}

/* Creates @dir and its missing parents, each new one with mode 0700. */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir), i;
	int rc;

	if (len == 0)
		return fail(err, errlen, -EINVAL, "empty state directory name");
	if (len >= sizeof(buf))
		return fail(err, errlen, -ENAMETOOLONG, "%s: path too long", dir);
	memcpy(buf, dir, len + 1);
	/* Each prefix ending before a '/', then the whole path. */
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, BX_IDENTITY_DIR_MODE) < 0 && errno != EEXIST) {
			rc = -errno;
			return fail(err, errlen, rc, "%s: cannot create directory: %s",
				    buf, strerror(-rc));
		}
		buf[i] = dir[i];
	}
	return 0;
}

/*
 * Writes @key as one base64 line to a new temporary file in @dirfd, made
 * O_EXCL with mode 0600, and fsyncs it. The name is random, so a stale one
 * left by a crash never blocks the next attempt.
 */
static int
write_temp(int dirfd, const char *dir, struct pending *p,
	   const uint8_t key[BX_IDENTITY_KEY_LEN], char *err, size_t errlen)
{
	uint8_t rnd[TMP_RANDOM_BYTES];
	char hex[2 * TMP_RANDOM_BYTES + 1];
	char text[BX_IDENTITY_KEY_B64_LEN + 2];
	size_t len = BX_IDENTITY_KEY_B64_LEN + 1, done = 0;
	ssize_t w;
	int fd, rc = 0;

	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(p->tmp, sizeof(p->tmp), ".%s.tmp-%s", p->name, hex);
	fd = openat(dirfd, p->tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    BX_IDENTITY_FILE_MODE);
	if (fd < 0) {
		rc = -errno;
		return fail(err, errlen, rc, "%s/%s: %s", dir, p->tmp,
			    strerror(-rc));
	}
	p->created = true;
	sodium_bin2base64(text, sizeof(text), key, BX_IDENTITY_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
	text[BX_IDENTITY_KEY_B64_LEN] = '\n';
	/* fchmod: the umask must not decide a private key's mode. */
	if (fchmod(fd, BX_IDENTITY_FILE_MODE) < 0) {
		rc = -errno;
		goto out;
	}
	while (done < len) {
		w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			rc = -errno;
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0)
		rc = -errno;
out:
	sodium_memzero(text, sizeof(text));
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		fail(err, errlen, rc, "%s/%s: %s", dir, p->tmp, strerror(-rc));
	return rc;
}

/*
 * Renames the temporary file over its final name. Without @force the
 * rename must not replace a file (RENAME_NOREPLACE, or link + unlink on
 * file systems without it): a key appearing since the caller's check is
 * kept, not overwritten.
 */
static int
publish(int dirfd, const char *dir, struct pending *p, bool force, char *err,
	size_t errlen)
{
	int rc;

	if (force)
		rc = renameat(dirfd, p->tmp, dirfd, p->name);
	else
		rc = renameat2(dirfd, p->tmp, dirfd, p->name, RENAME_NOREPLACE);
	if (rc < 0 && !force && (errno == EINVAL || errno == ENOSYS)) {
		rc = linkat(dirfd, p->tmp, dirfd, p->name, 0);
		if (rc == 0)
			(void)unlinkat(dirfd, p->tmp, 0);
	}
	if (rc < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			return fail(err, errlen, rc,
				    "%s/%s exists; refusing to replace an existing identity",
				    dir, p->name);
		return fail(err, errlen, rc, "%s/%s: %s", dir, p->name,
			    strerror(-rc));
	}
	p->created = false;
	p->published = true;
	return 0;
}

int
bx_identity_generate(const char *dir, bool force, struct bx_identity **out,
		     char *err, size_t errlen)
{
	struct pending files[2] = {
		{ .name = BX_IDENTITY_ED25519_FILE },
		{ .name = BX_IDENTITY_X25519_FILE },
	};
	char path[PATH_MAX];
	struct bx_identity *id = NULL;
	struct stat st;
	unsigned i;
	int dirfd = -1, rc;

	rc = lib_init(err, errlen);
	/* Both names must fit before anything is created. */
	for (i = 0; rc == 0 && i < BX_ARRAY_SIZE(files); i++)
		rc = key_path(path, sizeof(path), dir, files[i].name, err,
			      errlen);
	if (rc == 0)
		rc = make_dirs(dir, err, errlen);
	if (rc < 0)
		return rc;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		return fail(err, errlen, rc, "%s: %s", dir, strerror(-rc));
	}
	/* Both checked before anything is written: no half-made identity. */
	for (i = 0; !force && i < BX_ARRAY_SIZE(files); i++) {
		if (fstatat(dirfd, files[i].name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			rc = fail(err, errlen, -EEXIST,
				  "%s/%s exists; refusing to replace an existing identity",
				  dir, files[i].name);
			goto out;
		}
		if (errno != ENOENT) {
			rc = -errno;
			fail(err, errlen, rc, "%s/%s: %s", dir, files[i].name,
			     strerror(-rc));
			goto out;
		}
	}

	id = identity_new();
	if (id == NULL) {
		rc = fail(err, errlen, -ENOMEM, "%s: out of memory", dir);
		goto out;
	}
	randombytes_buf(id->sec->seed, sizeof(id->sec->seed));
	crypto_sign_seed_keypair(id->ed_pk, id->sec->ed_sk, id->sec->seed);
	randombytes_buf(id->sec->x_sk, sizeof(id->sec->x_sk));
	if (crypto_scalarmult_base(id->x_pk, id->sec->x_sk) != 0) {
		rc = fail(err, errlen, -EIO, "%s: X25519 key generation failed",
			  dir);
		goto out;
	}
	rc = write_temp(dirfd, dir, &files[0], id->sec->seed, err, errlen);
	sodium_memzero(id->sec->seed, sizeof(id->sec->seed));
	if (rc == 0)
		rc = write_temp(dirfd, dir, &files[1], id->sec->x_sk, err,
				errlen);
	for (i = 0; rc == 0 && i < BX_ARRAY_SIZE(files); i++)
		rc = publish(dirfd, dir, &files[i], force, err, errlen);
	if (rc == 0 && fsync(dirfd) < 0) {
		rc = -errno;
		fail(err, errlen, rc, "%s: %s", dir, strerror(-rc));
	}
out:
	for (i = 0; i < BX_ARRAY_SIZE(files); i++) {
		if (files[i].created)
			(void)unlinkat(dirfd, files[i].tmp, 0);
		/* Made by this call without replacing anything: undo it. */
		if (rc < 0 && files[i].published && !force)
			(void)unlinkat(dirfd, files[i].name, 0);
	}
	close(dirfd);
	if (rc < 0) {
		bx_identity_free(id);
		return rc;
	}
	sec_close(id);
	*out = id;
	return 0;
}

/* True unless @path is known not to exist: a dangling link exists. */
static bool
may_exist(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 || errno != ENOENT;
}

int
bx_identity_load_or_generate(const char *dir, struct bx_identity **out,
			     bool *generated, char *err, size_t errlen)
{
	char ed_path[PATH_MAX], x_path[PATH_MAX];
	bool ed, x;
	int rc;

	rc = bx_identity_load(dir, out, err, errlen);
	if (rc != -ENOENT) {
		if (rc == 0 && generated != NULL)
			*generated = false;
		return rc;
	}
	/* load succeeded in building both paths before it failed. */
	snprintf(ed_path, sizeof(ed_path), "%s/%s", dir,
		 BX_IDENTITY_ED25519_FILE);
	snprintf(x_path, sizeof(x_path), "%s/%s", dir, BX_IDENTITY_X25519_FILE);
	ed = may_exist(ed_path);
	x = may_exist(x_path);
	if (ed != x)
		return fail(err, errlen, -ENOENT,
			    "%s: missing while %s exists; restore it, or replace both (bauxite keys generate --force)",
			    ed ? x_path : ed_path, ed ? ed_path : x_path);
	if (ed)
		return rc; /* both there, yet one vanished: keep load's error */
	rc = bx_identity_generate(dir, false, out, err, errlen);
	if (rc == 0 && generated != NULL)
		*generated = true;
	return rc;
}

const uint8_t *
bx_identity_ed25519_public(const struct bx_identity *id)
{
	return id->ed_pk;
}

const uint8_t *
bx_identity_x25519_public(const struct bx_identity *id)
{
	return id->x_pk;
}

void
bx_identity_key_to_b64(const uint8_t key[BX_IDENTITY_KEY_LEN],
		       char out[BX_IDENTITY_KEY_B64_LEN + 1])
{
	sodium_bin2base64(out, BX_IDENTITY_KEY_B64_LEN + 1, key,
			  BX_IDENTITY_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
}

int
bx_identity_key_from_b64(const char *s, uint8_t out[BX_IDENTITY_KEY_LEN])
{
	uint8_t key[BX_IDENTITY_KEY_LEN];
	size_t bin_len = 0;

	if (sodium_init() < 0 || strlen(s) != BX_IDENTITY_KEY_B64_LEN)
		return -EINVAL;
	if (sodium_base642bin(key, sizeof(key), s, BX_IDENTITY_KEY_B64_LEN,
			      NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != sizeof(key))
		return -EINVAL;
	memcpy(out, key, sizeof(key));
	return 0;
}

int
bx_identity_sign(const struct bx_identity *id,
		 uint8_t sig[BX_IDENTITY_SIG_LEN], const uint8_t *msg,
		 size_t len)
{
	if (id->wiped)
		return -ENOKEY;
	sec_readonly(id);
	crypto_sign_detached(sig, NULL, msg, len, id->sec->ed_sk);
	sec_close(id);
	return 0;
}

int
bx_identity_join_message(const char *token, const char *node_id,
			 const uint8_t *csr, size_t csr_len,
			 const uint8_t x25519_public[BX_IDENTITY_KEY_LEN],
			 uint8_t **msg, size_t *len)
{
	size_t dl = sizeof(BX_IDENTITY_JOIN_DOMAIN), tl = strlen(token) + 1;
	size_t nl = strlen(node_id) + 1, n = dl + tl + nl + csr_len +
					      BX_IDENTITY_KEY_LEN;
	uint8_t *m, *p;

	/* Each string with its NUL: no field can run into the next. */
	m = malloc(n);
	if (m == NULL)
		return -ENOMEM;
	p = m;
	memcpy(p, BX_IDENTITY_JOIN_DOMAIN, dl);
	p += dl;
	memcpy(p, token, tl);
	p += tl;
	memcpy(p, node_id, nl);
	p += nl;
	if (csr_len != 0)
		memcpy(p, csr, csr_len);
	p += csr_len;
	memcpy(p, x25519_public, BX_IDENTITY_KEY_LEN);
	*msg = m;
	*len = n;
	return 0;
}

int
bx_identity_join_sign(const struct bx_identity *id, const char *token,
		      const char *node_id, const uint8_t *csr, size_t csr_len,
		      uint8_t sig[BX_IDENTITY_SIG_LEN])
{
	uint8_t *msg;
	size_t len;
	int rc;

	rc = bx_identity_join_message(token, node_id, csr, csr_len,
				      bx_identity_x25519_public(id), &msg, &len);
	if (rc != 0)
		return rc;
	rc = bx_identity_sign(id, sig, msg, len);
	sodium_memzero(msg, len); /* it holds the token */
	free(msg);
	return rc;
}

int
bx_identity_join_verify(const uint8_t ed25519_public[BX_IDENTITY_KEY_LEN],
			const char *token, const char *node_id,
			const uint8_t *csr, size_t csr_len,
			const uint8_t x25519_public[BX_IDENTITY_KEY_LEN],
			const uint8_t sig[BX_IDENTITY_SIG_LEN])
{
	uint8_t *msg;
	size_t len;
	int rc;

	rc = bx_identity_join_message(token, node_id, csr, csr_len,
				      x25519_public, &msg, &len);
	if (rc != 0)
		return rc;
	rc = crypto_sign_verify_detached(sig, msg, len, ed25519_public) == 0 ?
		     0 : -EBADMSG;
	sodium_memzero(msg, len); /* it holds the token */
	free(msg);
	return rc;
}

int
bx_identity_dh(const struct bx_identity *id, uint8_t out[BX_IDENTITY_KEY_LEN],
	       const uint8_t peer_public[BX_IDENTITY_KEY_LEN])
{
	int rc = 0;

	if (id->wiped)
		return -ENOKEY;
	sec_readonly(id);
	/* Fails exactly when the result is all zero (a low-order point). */
	if (crypto_scalarmult(out, id->sec->x_sk, peer_public) != 0) {
		sodium_memzero(out, BX_IDENTITY_KEY_LEN);
		rc = -EINVAL;
	}
	sec_close(id);
	return rc;
}

int
bx_identity_x25519_private(const struct bx_identity *id,
			   uint8_t out[BX_IDENTITY_KEY_LEN])
{
	if (id->wiped)
		return -ENOKEY;
	sec_readonly(id);
	memcpy(out, id->sec->x_sk, BX_IDENTITY_KEY_LEN);
	sec_close(id);
	return 0;
}

void
bx_identity_wipe(struct bx_identity *id)
{
	if (id == NULL)
		return;
	sec_readwrite(id);
	sodium_memzero(id->sec, sizeof(*id->sec));
	sec_close(id);
	id->wiped = true;
}

bool
bx_identity_is_wiped(const struct bx_identity *id)
{
	bool zero;

	sec_readonly(id);
	zero = sodium_is_zero((const unsigned char *)id->sec,
			      sizeof(*id->sec)) == 1;
	sec_close(id);
	return zero;
}

void
bx_identity_free(struct bx_identity *id)
{
	if (id == NULL)
		return;
	/* sodium_free wipes too; the explicit wipe states the intent. */
	bx_identity_wipe(id);
	sec_readwrite(id);
	sodium_free(id->sec);
	free(id);
}
