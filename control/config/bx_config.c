/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bauxite-app configuration: JSON -> struct bx_config, every field checked,
 * every error naming the file, the field path and what was expected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "bx_classify.h"
#include "bx_common.h"
#include "bx_config.h"
#include "bx_crypto.h"

#define COMMENT_KEY "$comment"
#define PATH_LEN 128     /* field paths: "peers[1023].allowed_prefixes[15]" */
#define MSG_LEN 2048     /* one error message before it is copied to err */
#define SHOWN_MAX 64     /* bytes of an offending string quoted in a message */
#define GOT_LEN (SHOWN_MAX * 4 + 8) /* quoted, escaped, "..." */
#define ADDR_LEN 24      /* "255.255.255.255/32", with room for any uint8_t length */
#define IPV4_PORT_MAX_DIGITS 5
#define PREFIX_MAX_DIGITS 2

#define ID_HINT "1..63 characters of [A-Za-z0-9._-]"
#define IFNAME_HINT "an interface name of 1..15 characters without '/', ':' or blanks"
#define DEVARGS_HINT                                                          \
	"DPDK devargs \"name[,key=value...]\" or a PCI address \"0000:01:00.0\""
#define PREFIX_HINT "\"IPv4/prefix\""
#define NET_HINT "\"IPv4/prefix\" with no host bits set"
#define IPV4_HINT "an IPv4 address"
#define ENDPOINT_HINT "\"IPv4:port\"" /* port 1..65535 */
#define KEY_HINT "the base64 of a 32-byte X25519 public key (44 characters)"
#define KEY_SOURCE "bauxite keys show --dir STATE_DIR on that node"
#define HOST_HINT                                                             \
	"a unicast or loopback IPv4 address or a DNS name (1..253 characters of " \
	"[A-Za-z0-9.-], labels of 1..63 without '-' at either end)"
#define URL_HINT "\"host:port\" (host an IPv4 address or a DNS name, port 1..65535)"
#define URL_PORT_HINT "\"host:port\" with port 1..65535"
#define URL_HOST_HINT "\"host:port\" with host " HOST_HINT
#define FILE_HINT "a file path, absolute or relative to state_dir"
#define UL_NAME_HINT "1..15 characters of [A-Za-z0-9._-]"
#define MODE_HINT "\"redundant\", \"preferred\" or \"stripe\""
#define DNS_LABEL_MAX 63

/* Where errors go and how the file and its fields are called in them. */
struct ctx {
	const char *name;
	char *err;
	size_t errlen;
	bool ul_array; /* "underlay" is an array: its fields are underlay[i].x */
};

static int fail(struct ctx *c, int rc, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Writes "NAME: PATH: message" (or "NAME: message" at the top) and
 * returns @rc, so callers can `return fail(...)`. */
static int
fail(struct ctx *c, int rc, const char *path, const char *fmt, ...)
{
	char msg[MSG_LEN];
	va_list ap;

	if (c->err == NULL || c->errlen == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path[0] != '\0')
		snprintf(c->err, c->errlen, "%s: %s: %s", c->name, path, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->name, msg);
	return rc;
}

static void bprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* snprintf for field paths, addresses and hints, whose buffers are sized
 * for the longest value they can take: truncation is not expected, and
 * would only shorten a message. */
static void
bprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* ---- showing what was found ------------------------------------------ */

/* Quotes @s for a message: printable ASCII as is, the rest escaped, at most
 * SHOWN_MAX bytes of it, so a hostile value cannot flood or garble a log.
 * @size must be at least GOT_LEN. */
static void
quote(char *buf, size_t size, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	BX_ASSERT(size >= GOT_LEN);
	buf[o++] = '"';
	for (i = 0; i < n && i < SHOWN_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)ch;
		} else if (ch < 0x20 || ch > 0x7e) {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[ch >> 4];
			buf[o++] = hex[ch & 0xf];
		} else {
			buf[o++] = (char)ch;
		}
	}
	if (n > SHOWN_MAX) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* What @v is, for "got ..." in messages. */
static const char *
describe(const json_t *v, char *buf, size_t size)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		quote(buf, size, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		bprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		bprintf(buf, size, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		bprintf(buf, size, "true");
		break;
	case JSON_FALSE:
		bprintf(buf, size, "false");
		break;
	case JSON_NULL:
		bprintf(buf, size, "null");
		break;
	case JSON_OBJECT:
		bprintf(buf, size, "an object");
		break;
	case JSON_ARRAY:
		bprintf(buf, size, "an array");
		break;
	}
	return buf;
}

static int
bad_value(struct ctx *c, const char *path, const json_t *v, const char *hint)
{
	char got[GOT_LEN];

	return fail(c, -EINVAL, path, "expected %s, got %s", hint,
		    describe(v, got, sizeof(got)));
}

static int
missing(struct ctx *c, const char *path, const char *hint)
{
	return fail(c, -EINVAL, path, "missing (expected %s)", hint);
}

static const char *
fmt_addr(uint32_t addr, char *buf)
{
	struct in_addr a = {.s_addr = addr};

	inet_ntop(AF_INET, &a, buf, ADDR_LEN);
	return buf;
}

static const char *
fmt_prefix(const struct bx_config_prefix *p, char *buf)
{
	char a[ADDR_LEN];

	bprintf(buf, ADDR_LEN, "%s/%u", fmt_addr(p->addr, a), p->len);
	return buf;
}

/* ---- objects and typed values ---------------------------------------- */

/* Looks up @key of @obj and writes its path below @parent to @path. */
static const json_t *
field(const json_t *obj, const char *parent, const char *key, char *path)
{
	if (parent[0] != '\0')
		bprintf(path, PATH_LEN, "%s.%s", parent, key);
	else
		bprintf(path, PATH_LEN, "%s", key);
	return json_object_get(obj, key);
}

/*
 * Refuses any key of @obj not in @known (nor "$comment"), naming it and
 * listing the known ones. Done before reading the fields, so a misspelt
 * required key is reported as the typo it is rather than as missing.
 */
static int
check_keys(struct ctx *c, const json_t *obj, const char *parent,
	   const char *const known[], size_t n)
{
	char got[GOT_LEN], list[MSG_LEN / 2];
	const char *key;
	json_t *val;
	size_t i, o;

	/* Iterating does not modify the object; jansson's iterator is not const. */
	json_object_foreach((json_t *)obj, key, val) {
		bool ok = strcmp(key, COMMENT_KEY) == 0;

		for (i = 0; !ok && i < n; i++)
			ok = strcmp(key, known[i]) == 0;
		if (ok)
			continue;
		list[0] = '\0';
		for (i = 0; i < n; i++) {
			o = strlen(list);
			bprintf(list + o, sizeof(list) - o, "%s, ", known[i]);
		}
		o = strlen(list);
		bprintf(list + o, sizeof(list) - o, "%s", COMMENT_KEY);
		/* Quoted: the key may hold anything. */
		quote(got, sizeof(got), key, strlen(key));
		return fail(c, -EINVAL, parent,
			    "unknown key %s (expected one of: %s)", got, list);
	}
	return 0;
}

static int
want_object(struct ctx *c, const char *path, const json_t *v)
{
	if (json_is_object(v))
		return 0;
	return bad_value(c, path, v, "an object");
}

/* A string of 1..@max bytes without NUL; @hint says what it should be. */
static int
want_string(struct ctx *c, const char *path, const json_t *v, size_t max,
	    const char *hint, const char **out)
{
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return bad_value(c, path, v, hint);
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > max || strlen(s) != n)
		return bad_value(c, path, v, hint);
	*out = s;
	return 0;
}

/* An integer in @min..@max (@min >= 0); @hint NULL says the range. */
static int
want_int64(struct ctx *c, const char *path, const json_t *v, json_int_t min,
	   json_int_t max, const char *hint, uint64_t *out)
{
	char h[96];
	json_int_t x;

	if (hint == NULL) {
		bprintf(h, sizeof(h), "an integer %" JSON_INTEGER_FORMAT
			 "..%" JSON_INTEGER_FORMAT, min, max);
		hint = h;
	}
	if (!json_is_integer(v))
		return bad_value(c, path, v, hint);
	x = json_integer_value(v);
	if (x < min || x > max)
		return bad_value(c, path, v, hint);
	*out = (uint64_t)x;
	return 0;
}

/* The same for the fields that fit 32 bits (@max <= UINT32_MAX). */
static int
want_int(struct ctx *c, const char *path, const json_t *v, json_int_t min,
	 json_int_t max, const char *hint, uint32_t *out)
{
	uint64_t x = 0;

	BX_ASSERT(max <= UINT32_MAX);
	if (want_int64(c, path, v, min, max, hint, &x) < 0)
		return -EINVAL;
	*out = (uint32_t)x;
	return 0;
}

/* An optional integer of the object @obj at @sect (NULL: the section is
 * absent): @def when absent. */
static int
sect_int(struct ctx *c, const json_t *obj, const char *sect, const char *key,
	 json_int_t min, json_int_t max, uint32_t def, uint32_t *out)
{
	char path[PATH_LEN];
	const json_t *v = obj != NULL ? field(obj, sect, key, path) : NULL;

	*out = def;
	if (v == NULL)
		return 0;
	return want_int(c, path, v, min, max, NULL, out);
}

static int
want_bool(struct ctx *c, const char *path, const json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return bad_value(c, path, v, "true or false");
	*out = json_is_true(v);
	return 0;
}

/* Copies a checked string into a fixed array of @size > strlen(@s). */
static void
copy_str(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	BX_ASSERT(n < size);
	memcpy(dst, s, n + 1);
}

/* ---- value shapes ------------------------------------------------------ */

static bool
is_id_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

static int
want_id(struct ctx *c, const char *path, const json_t *v, char *out)
{
	const char *s = NULL;
	size_t i;

	if (want_string(c, path, v, BX_CONFIG_ID_MAX, ID_HINT, &s) < 0)
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (!is_id_char(s[i]))
			return bad_value(c, path, v, ID_HINT);
	}
	copy_str(out, BX_CONFIG_ID_MAX + 1, s);
	return 0;
}

/* What the kernel accepts as an interface name (dev_valid_name). */
static int
want_ifname(struct ctx *c, const char *path, const json_t *v, char *out)
{
	const char *s = NULL;
	size_t i;

	if (want_string(c, path, v, BX_CONFIG_IFNAME_MAX, IFNAME_HINT, &s) < 0)
		return -EINVAL;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return bad_value(c, path, v, IFNAME_HINT);
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '/' || ch == ':' || ch <= 0x20 || ch >= 0x7f)
			return bad_value(c, path, v, IFNAME_HINT);
	}
	copy_str(out, BX_CONFIG_IFNAME_MAX + 1, s);
	return 0;
}

static bool
hex_run(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
		      (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

/* "[DDDD:]BB:DD.F", the forms DPDK's PCI bus parses. */
static bool
is_pci_addr(const char *s, size_t n)
{
	if (n == 12) {
		if (s[4] != ':' || !hex_run(s, 4))
			return false;
		s += 5;
		n -= 5;
	}
	return n == 7 && hex_run(s, 2) && s[2] == ':' && hex_run(s + 3, 2) &&
	       s[5] == '.' && s[6] >= '0' && s[6] <= '7';
}

static bool
is_vdev_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_'))
			return false;
	}
	return true;
}

/* One "key" or "key=value" of a devargs list: a word key, a value of
 * printable non-blank characters other than ','. */
static bool
is_kvarg(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t klen = eq != NULL ? (size_t)(eq - s) : n, i;

	if (klen == 0 || (eq != NULL && klen + 1 == n))
		return false;
	for (i = 0; i < klen; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	for (i = klen; i < n; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	}
	return true;
}

/* The shape of devargs only: whether the device exists is the EAL's call. */
static int
want_devargs(struct ctx *c, const char *path, const json_t *v, char *out)
{
	const char *s = NULL, *p, *comma;
	size_t n;

	if (want_string(c, path, v, BX_CONFIG_DEVARGS_MAX, DEVARGS_HINT, &s) < 0)
		return -EINVAL;
	comma = strchr(s, ',');
	n = comma != NULL ? (size_t)(comma - s) : strlen(s);
	if (!is_pci_addr(s, n) && !is_vdev_name(s, n))
		return bad_value(c, path, v, DEVARGS_HINT);
	for (p = comma; p != NULL; p = comma) {
		p++;
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (!is_kvarg(p, n))
			return bad_value(c, path, v, DEVARGS_HINT);
	}
	copy_str(out, BX_CONFIG_DEVARGS_MAX + 1, s);
	return 0;
}

/* Two devargs name the same device: their names (before ',') match. */
static bool
same_device(const char *a, const char *b)
{
	size_t na = strcspn(a, ","), nb = strcspn(b, ",");

	return na == nb && strncasecmp(a, b, na) == 0;
}

static bool
parse_dec(const char *s, size_t n, size_t max_digits, unsigned *out)
{
	unsigned x = 0;
	size_t i;

	if (n == 0 || n > max_digits || (n > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (unsigned)(s[i] - '0');
	}
	*out = x;
	return true;
}

/* Dotted quad only (inet_pton: no shorthand, no leading zeros). */
static bool
parse_ipv4(const char *s, size_t n, uint32_t *out)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;

	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*out = a.s_addr;
	return true;
}

static uint32_t
mask_of(unsigned len)
{
	return len == 0 ? 0 : htonl(UINT32_MAX << (32 - len));
}

static bool
in_prefix(uint32_t addr, const struct bx_config_prefix *p)
{
	return ((addr ^ p->addr) & mask_of(p->len)) == 0;
}

/* A host address a node or an endpoint can have: not 0/8, loopback,
 * multicast, reserved or broadcast. */
static bool
is_unicast(uint32_t addr)
{
	uint32_t first = ntohl(addr) >> 24;

	return first != 0 && first != 127 && first < 224;
}

static int
want_ipv4(struct ctx *c, const char *path, const json_t *v, uint32_t *out)
{
	const char *s = NULL;

	if (want_string(c, path, v, INET_ADDRSTRLEN, IPV4_HINT, &s) < 0)
		return -EINVAL;
	if (!parse_ipv4(s, strlen(s), out))
		return bad_value(c, path, v, IPV4_HINT);
	if (!is_unicast(*out))
		return bad_value(c, path, v, "a unicast IPv4 address");
	return 0;
}

/*
 * "a.b.c.d/len". A node's own address (@host) keeps its host bits, must be
 * unicast, neither the network nor the broadcast address of a prefix that
 * has them, and len >= 1; a network prefix must have no host bits.
 */
static int
want_prefix(struct ctx *c, const char *path, const json_t *v, bool host,
	    struct bx_config_prefix *out)
{
	const char *hint = host ? PREFIX_HINT : NET_HINT;
	struct bx_config_prefix p;
	const char *s = NULL, *slash;
	char got[GOT_LEN];
	uint32_t hostmask;
	unsigned len;

	if (want_string(c, path, v, ADDR_LEN, hint, &s) < 0)
		return -EINVAL;
	slash = strchr(s, '/');
	if (slash == NULL || !parse_ipv4(s, (size_t)(slash - s), &p.addr) ||
	    !parse_dec(slash + 1, strlen(slash + 1), PREFIX_MAX_DIGITS, &len) ||
	    len > 32)
		return bad_value(c, path, v, hint);
	p.len = (uint8_t)len;
	hostmask = ~mask_of(len);
	describe(v, got, sizeof(got));
	if (!host) {
		if ((p.addr & hostmask) != 0) {
			char net[ADDR_LEN];

			p.addr &= mask_of(len);
			return fail(c, -EINVAL, path,
				    "%s has host bits set (expected a network prefix, e.g. \"%s\")",
				    got, fmt_prefix(&p, net));
		}
	} else {
		if (len == 0 || !is_unicast(p.addr))
			return fail(c, -EINVAL, path,
				    "expected a unicast IPv4 address with a prefix length 1..32, got %s",
				    got);
		if (len <= 30 && ((p.addr & hostmask) == 0 ||
				  (p.addr & hostmask) == hostmask))
			return fail(c, -EINVAL, path,
				    "%s is the network or broadcast address of its prefix (expected a host address)",
				    got);
	}
	*out = p;
	return 0;
}

static int
want_endpoint(struct ctx *c, const char *path, const json_t *v, uint32_t *ip,
	      uint16_t *port)
{
	const char *s = NULL, *colon;
	unsigned p;

	if (want_string(c, path, v, INET_ADDRSTRLEN + 1 + IPV4_PORT_MAX_DIGITS,
			ENDPOINT_HINT, &s) < 0)
		return -EINVAL;
	colon = strrchr(s, ':');
	if (colon == NULL || !parse_ipv4(s, (size_t)(colon - s), ip) ||
	    !parse_dec(colon + 1, strlen(colon + 1), IPV4_PORT_MAX_DIGITS, &p) ||
	    p == 0 || p > UINT16_MAX)
		return bad_value(c, path, v, ENDPOINT_HINT);
	if (!is_unicast(*ip))
		return bad_value(c, path, v, ENDPOINT_HINT " with a unicast address");
	*port = (uint16_t)p;
	return 0;
}

static bool
is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

/* RFC 1123 host names: dot-separated labels of letters, digits and
 * hyphens, no empty label, no hyphen at either end of one. */
static bool
is_dns_name(const char *s)
{
	size_t i, label = 0, n = strlen(s);

	if (n == 0 || n > BX_CONFIG_HOST_MAX)
		return false;
	for (i = 0; i <= n; i++) {
		char ch = i < n ? s[i] : '.';

		if (ch == '.') {
			if (label == 0 || label > DNS_LABEL_MAX || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(ch) || (ch == '-' && label > 0)) {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

/*
 * A host to connect to or to find in a certificate. A name of digits and
 * dots only would be taken for an address by the resolver (inet_aton
 * reads "10.1" as 10.0.0.1), so it must be a whole dotted quad. An
 * address no host has (0/8, multicast, reserved) is refused; loopback is
 * not: a hub may run on the node itself.
 */
static bool
is_host(const char *s)
{
	size_t n = strlen(s);
	uint32_t a, first;

	if (n == 0 || strspn(s, "0123456789.") != n)
		return is_dns_name(s);
	if (!parse_ipv4(s, n, &a))
		return false;
	first = ntohl(a) >> 24;
	return first != 0 && first < 224;
}

/* ---- sections ---------------------------------------------------------- */

/* How the file spells underlay @i: "underlay" in the object form,
 * "underlay[i]" in the array form. */
static const char *
ul_path(const struct ctx *c, unsigned i, char *buf)
{
	if (c->ul_array)
		bprintf(buf, PATH_LEN, "underlay[%u]", i);
	else
		bprintf(buf, PATH_LEN, "underlay");
	return buf;
}

/* An underlay's name: what peers' paths refer to it by, and how logs and
 * counters show it. */
static int
want_ul_name(struct ctx *c, const char *path, const json_t *v, char *out)
{
	const char *s = NULL;
	size_t i;

	if (want_string(c, path, v, BX_CONFIG_UL_NAME_MAX, UL_NAME_HINT, &s) < 0)
		return -EINVAL;
	for (i = 0; s[i] != '\0'; i++) {
		if (!is_id_char(s[i]))
			return bad_value(c, path, v, UL_NAME_HINT);
	}
	copy_str(out, BX_CONFIG_UL_NAME_MAX + 1, s);
	return 0;
}

/*
 * Underlay @idx from @obj (an object: parse_underlay checked), and what
 * must differ from the underlays before it: two uplinks with one name,
 * TAP, device or address could not be told apart by the kernel or by the
 * paths that name them.
 */
static int
parse_one_underlay(struct ctx *c, const json_t *obj, unsigned idx,
		   struct bx_config *cfg)
{
	static const char *const known[] = {
		"port", "address", "gateway", "exception_iface", "name",
		"rate_mbps",
	};
	struct bx_config_underlay *u = &cfg->underlays[idx];
	char parent[PATH_LEN], path[PATH_LEN], other[PATH_LEN];
	char a[ADDR_LEN], p[ADDR_LEN];
	const json_t *v;
	bool given;
	unsigned j;

	ul_path(c, idx, parent);
	if (check_keys(c, obj, parent, known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;

	v = field(obj, parent, "name", path);
	given = v != NULL;
	if (!given)
		bprintf(u->name, sizeof(u->name), BX_CONFIG_DEFAULT_UL_NAME_FMT, idx);
	else if (want_ul_name(c, path, v, u->name) < 0)
		return -EINVAL;
	for (j = 0; j < idx; j++) {
		if (strcmp(u->name, cfg->underlays[j].name) == 0)
			return fail(c, -EINVAL, path,
				    "\"%s\"%s is already the name of %s (expected unique names)",
				    u->name, given ? "" : " (the default)",
				    ul_path(c, j, other));
	}

	v = field(obj, parent, "port", path);
	if (v == NULL)
		return missing(c, path, DEVARGS_HINT);
	if (want_devargs(c, path, v, u->port) < 0)
		return -EINVAL;
	for (j = 0; j < idx; j++) {
		if (same_device(u->port, cfg->underlays[j].port))
			return fail(c, -EINVAL, path,
				    "same device as %s.port (expected one device per underlay)",
				    ul_path(c, j, other));
	}

	v = field(obj, parent, "address", path);
	if (v == NULL)
		return missing(c, path, PREFIX_HINT);
	if (want_prefix(c, path, v, true, &u->address) < 0)
		return -EINVAL;
	for (j = 0; j < idx; j++) {
		if (u->address.addr == cfg->underlays[j].address.addr)
			return fail(c, -EINVAL, path,
				    "%s is already %s.address (expected one address per underlay)",
				    fmt_addr(u->address.addr, a), ul_path(c, j, other));
	}

	v = field(obj, parent, "gateway", path);
	if (v != NULL) {
		if (want_ipv4(c, path, v, &u->gateway) < 0)
			return -EINVAL;
		if (!in_prefix(u->gateway, &u->address) ||
		    u->gateway == u->address.addr)
			return fail(c, -EINVAL, path,
				    "expected an IPv4 address inside %s.address %s other than the node's own, got \"%s\"",
				    parent, fmt_prefix(&u->address, p),
				    fmt_addr(u->gateway, a));
		u->has_gateway = true;
	}

	v = field(obj, parent, "exception_iface", path);
	given = v != NULL;
	if (!given)
		bprintf(u->exception_iface, sizeof(u->exception_iface),
			BX_CONFIG_DEFAULT_EXCEPTION_IFACE_FMT, idx);
	else if (want_ifname(c, path, v, u->exception_iface) < 0)
		return -EINVAL;
	for (j = 0; j < idx; j++) {
		if (strcmp(u->exception_iface, cfg->underlays[j].exception_iface) == 0)
			return fail(c, -EINVAL, path,
				    "\"%s\"%s is already %s.exception_iface (expected one interface per underlay)",
				    u->exception_iface, given ? "" : " (the default)",
				    ul_path(c, j, other));
	}

	return sect_int(c, obj, parent, "rate_mbps", 0, BX_CONFIG_RATE_MBPS_MAX, 0,
			&u->rate_mbps);
}

/*
 * "underlay": one object (one uplink, as configs always had it) or an
 * array of 1..BX_CONFIG_MAX_UNDERLAYS objects. An array is reported as a
 * whole when it is not made of objects, so that the object form's "expected
 * an object" stays what an operator sees for a stray array.
 */
static int
parse_underlay(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	char path[PATH_LEN], hint[96], got[GOT_LEN + 32];
	const json_t *arr, *v;
	size_t i, n;

	arr = field(root, "", "underlay", path);
	if (arr == NULL)
		return missing(c, path, "an object with port and address");
	bprintf(hint, sizeof(hint), "an array of 1..%u underlay objects",
		BX_CONFIG_MAX_UNDERLAYS);
	if (json_is_object(arr)) {
		c->ul_array = false;
		n = 1;
		if (parse_one_underlay(c, arr, 0, cfg) < 0)
			return -EINVAL;
	} else if (json_is_array(arr)) {
		c->ul_array = true;
		n = json_array_size(arr);
		if (n == 0 || n > BX_CONFIG_MAX_UNDERLAYS)
			return fail(c, -EINVAL, path,
				    "expected an object, got an array of %zu (or %s)",
				    n, hint);
		json_array_foreach(arr, i, v) {
			if (!json_is_object(v)) {
				describe(v, got, sizeof(got));
				return fail(c, -EINVAL, path,
					    "expected an object, got an array with %s at [%zu] (or %s)",
					    got, i, hint);
			}
		}
		/* A relay is reached at the one address the hub gives out. */
		if (n > 1 && cfg->role == BX_CONFIG_ROLE_RELAY)
			return fail(c, -EINVAL, path,
				    "%zu underlays with \"role\": \"relay\" (expected one: a relay has one uplink)",
				    n);
		json_array_foreach(arr, i, v) {
			if (parse_one_underlay(c, v, (unsigned)i, cfg) < 0)
				return -EINVAL;
		}
	} else {
		return fail(c, -EINVAL, path, "expected an object (or %s), got %s",
			    hint, describe(arr, got, sizeof(got)));
	}
	cfg->n_underlays = (unsigned)n;
	cfg->underlay = cfg->underlays[0];
	return 0;
}

static int
parse_inner(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"type", "iface", "port", "mtu", "address",
	};
	static const char type_hint[] = "\"tap\" or \"dpdk\"";
	struct bx_config_inner *in = &cfg->inner;
	char path[PATH_LEN], ul[PATH_LEN];
	const json_t *obj, *v;
	unsigned i;
	uint32_t mtu;

	obj = field(root, "", "inner", path);
	/* A relay forwards others' datagrams: it needs no inner side. */
	if (obj == NULL && cfg->role == BX_CONFIG_ROLE_RELAY) {
		in->type = BX_CONFIG_INNER_NONE;
		return 0;
	}
	if (obj == NULL)
		return missing(c, path, "an object with address");
	if (want_object(c, path, obj) < 0 ||
	    check_keys(c, obj, "inner", known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;

	v = field(obj, "inner", "type", path);
	in->type = BX_CONFIG_INNER_TAP;
	if (v != NULL) {
		const char *s = NULL;

		if (want_string(c, path, v, 8, type_hint, &s) < 0)
			return -EINVAL;
		if (strcmp(s, "dpdk") == 0)
			in->type = BX_CONFIG_INNER_DPDK;
		else if (strcmp(s, "tap") != 0)
			return bad_value(c, path, v, type_hint);
	}

	v = field(obj, "inner", "iface", path);
	if (in->type == BX_CONFIG_INNER_TAP) {
		if (v == NULL)
			copy_str(in->iface, sizeof(in->iface),
				 BX_CONFIG_DEFAULT_INNER_IFACE);
		else if (want_ifname(c, path, v, in->iface) < 0)
			return -EINVAL;
		for (i = 0; i < cfg->n_underlays; i++) {
			if (strcmp(in->iface, cfg->underlays[i].exception_iface) == 0)
				return fail(c, -EINVAL, path,
					    "\"%s\" is also %s.exception_iface (expected another interface name)",
					    in->iface, ul_path(c, i, ul));
		}
	} else if (v != NULL) {
		return fail(c, -EINVAL, path,
			    "only valid with inner.type \"tap\" (inner.type is \"dpdk\")");
	}

	v = field(obj, "inner", "port", path);
	if (in->type == BX_CONFIG_INNER_DPDK) {
		if (v == NULL)
			return missing(c, path, DEVARGS_HINT " with inner.type \"dpdk\"");
		if (want_devargs(c, path, v, in->port) < 0)
			return -EINVAL;
		for (i = 0; i < cfg->n_underlays; i++) {
			if (same_device(in->port, cfg->underlays[i].port))
				return fail(c, -EINVAL, path,
					    "same device as %s.port (expected a port of its own)",
					    ul_path(c, i, ul));
		}
	} else if (v != NULL) {
		return fail(c, -EINVAL, path,
			    "only valid with inner.type \"dpdk\" (inner.type is \"tap\")");
	}

	v = field(obj, "inner", "mtu", path);
	mtu = BX_CONFIG_DEFAULT_MTU;
	if (v != NULL &&
	    want_int(c, path, v, BX_CONFIG_MTU_MIN, BX_CONFIG_MTU_MAX, NULL, &mtu) < 0)
		return -EINVAL;
	in->mtu = (uint16_t)mtu;

	v = field(obj, "inner", "address", path);
	if (v == NULL)
		return missing(c, path, PREFIX_HINT);
	return want_prefix(c, path, v, true, &in->address);
}

/* Which list an lcore id is in. */
enum lcore_owner {
	LCORE_FREE = 0,
	LCORE_RX,
	LCORE_WORKER,
};

/* One list of lcore ids; @role marks the ids it takes in @owner so the
 * workers list, read second, can name lcores.rx on overlap. */
static int
parse_lcore_list(struct ctx *c, const json_t *obj, const char *key,
		 uint8_t owner[], enum lcore_owner role, uint16_t ids[], unsigned *n)
{
	char hint[64], path[PATH_LEN], elem[PATH_LEN];
	const json_t *arr, *v;
	uint32_t id = 0;
	size_t i;

	bprintf(hint, sizeof(hint), "an array of lcore ids 0..%u",
		 BX_CONFIG_MAX_LCORES - 1);
	arr = field(obj, "lcores", key, path);
	*n = 0;
	if (arr == NULL) {
		if (role == LCORE_RX)
			return 0; /* rx: none, the workers run to completion */
		return missing(c, path, hint);
	}
	if (!json_is_array(arr) || json_array_size(arr) > BX_CONFIG_MAX_LCORES ||
	    (role == LCORE_WORKER && json_array_size(arr) == 0))
		return bad_value(c, path, arr, hint);
	json_array_foreach(arr, i, v) {
		bprintf(elem, sizeof(elem), "%s[%zu]", path, i);
		if (want_int(c, elem, v, 0, BX_CONFIG_MAX_LCORES - 1, NULL, &id) < 0)
			return -EINVAL;
		if (owner[id] == role)
			return fail(c, -EINVAL, elem, "lcore %u is listed twice", id);
		if (owner[id] != LCORE_FREE)
			return fail(c, -EINVAL, elem,
				    "lcore %u is already in lcores.rx (expected disjoint lists)",
				    id);
		owner[id] = (uint8_t)role;
		ids[(*n)++] = (uint16_t)id;
	}
	return 0;
}

static int
parse_lcores(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {"rx", "workers"};
	uint8_t owner[BX_CONFIG_MAX_LCORES] = {LCORE_FREE};
	struct bx_config_lcores *l = &cfg->lcores;
	char path[PATH_LEN];
	const json_t *obj;

	obj = field(root, "", "lcores", path);
	if (obj == NULL)
		return 0;
	if (want_object(c, path, obj) < 0 ||
	    check_keys(c, obj, "lcores", known, BX_ARRAY_SIZE(known)) < 0 ||
	    parse_lcore_list(c, obj, "rx", owner, LCORE_RX, l->rx, &l->n_rx) < 0 ||
	    parse_lcore_list(c, obj, "workers", owner, LCORE_WORKER, l->workers,
			     &l->n_workers) < 0)
		return -EINVAL;
	l->set = true;
	return 0;
}

/*
 * The rules go to lib/classify as they are, except that "$comment" keys of
 * the rule objects are dropped from a copy first: comments are allowed in
 * every object of this file, and classify refuses keys it does not know.
 */
static int
parse_rules(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	char path[PATH_LEN], msg[MSG_LEN / 2];
	json_t *copy = NULL, *rule;
	const json_t *arr;
	size_t i;
	int rc = 0;

	arr = field(root, "", "rules", path);
	if (arr == NULL)
		return 0;
	if (json_is_array(arr)) {
		copy = json_deep_copy(arr);
		if (copy == NULL)
			return fail(c, -ENOMEM, path, "out of memory");
		json_array_foreach(copy, i, rule) {
			if (json_is_object(rule))
				json_object_del(rule, COMMENT_KEY);
		}
	}
	msg[0] = '\0';
	cfg->rules = bx_classify_rules_from_json(copy != NULL ? copy : arr, msg,
						 sizeof(msg));
	if (cfg->rules == NULL) {
		/* classify names the field from "rules" on: add the file only. */
		rc = errno == ENOMEM ? -ENOMEM : -EINVAL;
		fail(c, rc, "", "%s", msg);
	}
	json_decref(copy);
	return rc;
}

/* The lanes' keys in "bonding", by enum bx_wire_lane. */
static const char *const lane_key[BX_LANE_COUNT] = {
	[BX_LANE_CRITICAL] = "critical",
	[BX_LANE_TELEMETRY] = "telemetry",
	[BX_LANE_BULK] = "bulk",
};

static const char *const bond_mode_name[] = {
	[BX_CONFIG_BOND_REDUNDANT] = "redundant",
	[BX_CONFIG_BOND_PREFERRED] = "preferred",
	[BX_CONFIG_BOND_STRIPE] = "stripe",
};

/* The lane keys of @obj (at @parent) that are given, over @modes. */
static int
parse_lane_modes(struct ctx *c, const json_t *obj, const char *parent,
		 enum bx_config_bond_mode modes[BX_LANE_COUNT])
{
	char path[PATH_LEN];
	const json_t *v;
	const char *s = NULL;
	unsigned lane, m;

	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		v = field(obj, parent, lane_key[lane], path);
		if (v == NULL)
			continue;
		if (want_string(c, path, v, 16, MODE_HINT, &s) < 0)
			return -EINVAL;
		for (m = 0; m < BX_ARRAY_SIZE(bond_mode_name); m++) {
			if (strcmp(s, bond_mode_name[m]) == 0)
				break;
		}
		if (m == BX_ARRAY_SIZE(bond_mode_name))
			return bad_value(c, path, v, MODE_HINT);
		modes[lane] = (enum bx_config_bond_mode)m;
	}
	return 0;
}

/*
 * "public_key": a peer's static X25519 public key, in the base64 that
 * `bauxite keys show` prints. The whole string must decode to exactly
 * BX_CONFIG_KEY_LEN bytes (no blanks, padding included); libsodium also
 * refuses non-zero padding bits, so each key has one spelling. All zero
 * is the key a forgotten placeholder would have, and no peer's.
 */
static int
want_public_key(struct ctx *c, const char *path, const json_t *v,
		uint8_t out[BX_CONFIG_KEY_LEN])
{
	uint8_t key[BX_CONFIG_KEY_LEN];
	char got[GOT_LEN];
	size_t bin_len = 0, n;
	const char *s;

	if (!json_is_string(v))
		return bad_value(c, path, v, KEY_HINT);
	s = json_string_value(v);
	n = json_string_length(v);
	/* A longer string cannot fit @key: base642bin refuses it. */
	if (n != BX_CONFIG_KEY_B64_LEN || strlen(s) != n ||
	    sodium_base642bin(key, sizeof(key), s, n, NULL, &bin_len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin_len != sizeof(key))
		return bad_value(c, path, v, KEY_HINT);
	if (sodium_is_zero(key, sizeof(key)))
		return fail(c, -EINVAL, path,
			    "%s is the all-zero key (expected the peer's X25519 public key: " KEY_SOURCE ")",
			    describe(v, got, sizeof(got)));
	memcpy(out, key, sizeof(key));
	return 0;
}

static int
parse_allowed(struct ctx *c, const json_t *obj, const char *parent,
	      struct bx_config_peer *p)
{
	char path[PATH_LEN], elem[PATH_LEN], hint[96], a[ADDR_LEN];
	const json_t *arr, *v;
	bool covered = false;
	size_t i;

	arr = field(obj, parent, "allowed_prefixes", path);
	if (arr == NULL) {
		p->allowed[0].addr = p->virtual_ip;
		p->allowed[0].len = 32;
		p->n_allowed = 1;
		return 0;
	}
	bprintf(hint, sizeof(hint), "an array of 1..%u " NET_HINT,
		 BX_CONFIG_MAX_PREFIXES);
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return bad_value(c, path, arr, hint);
	if (json_array_size(arr) > BX_CONFIG_MAX_PREFIXES)
		return fail(c, -EINVAL, path, "%zu prefixes, at most %u",
			    json_array_size(arr), BX_CONFIG_MAX_PREFIXES);
	json_array_foreach(arr, i, v) {
		bprintf(elem, sizeof(elem), "%s[%zu]", path, i);
		if (want_prefix(c, elem, v, false, &p->allowed[i]) < 0)
			return -EINVAL;
		covered = covered || in_prefix(p->virtual_ip, &p->allowed[i]);
	}
	p->n_allowed = (unsigned)json_array_size(arr);
	/* Without it the peer's own packets would be refused as spoofed. */
	if (!covered)
		return fail(c, -EINVAL, path,
			    "no prefix covers virtual_ip %s (expected one, e.g. \"%s/32\")",
			    fmt_addr(p->virtual_ip, a), a);
	return 0;
}

/* "underlay" of a peer's path: the name of one of this node's underlays,
 * into its index. */
static int
want_ul_ref(struct ctx *c, const char *path, const json_t *v,
	    const struct bx_config *cfg, unsigned *out)
{
	char hint[64 + BX_CONFIG_MAX_UNDERLAYS * (BX_CONFIG_UL_NAME_MAX + 2)];
	const char *s = NULL;
	size_t o;
	unsigned i;

	bprintf(hint, sizeof(hint), "the name of an underlay of this node (");
	for (i = 0; i < cfg->n_underlays; i++) {
		o = strlen(hint);
		bprintf(hint + o, sizeof(hint) - o, "%s%s", i > 0 ? ", " : "",
			cfg->underlays[i].name);
	}
	o = strlen(hint);
	bprintf(hint + o, sizeof(hint) - o, ")");
	if (want_string(c, path, v, BX_CONFIG_UL_NAME_MAX, hint, &s) < 0)
		return -EINVAL;
	for (i = 0; i < cfg->n_underlays; i++) {
		if (strcmp(s, cfg->underlays[i].name) == 0) {
			*out = i;
			return 0;
		}
	}
	return bad_value(c, path, v, hint);
}

/*
 * An endpoint must be someone else's, and the underlay that sends to it
 * must reach it: on its subnet, or through its gateway. No uplink of this
 * node can be the peer's, whichever one the path leaves by.
 */
static int
check_endpoint(struct ctx *c, const char *path, const struct bx_config *cfg,
	       unsigned ul, uint32_t ip)
{
	const struct bx_config_underlay *u = &cfg->underlays[ul];
	char a[ADDR_LEN], b[ADDR_LEN], up[PATH_LEN];
	unsigned i;

	for (i = 0; i < cfg->n_underlays; i++) {
		if (ip == cfg->underlays[i].address.addr)
			return fail(c, -EINVAL, path,
				    "%s is this node's own %s.address (expected the peer's)",
				    fmt_addr(ip, a), ul_path(c, i, up));
	}
	ul_path(c, ul, up);
	if (!u->has_gateway && !in_prefix(ip, &u->address))
		return fail(c, -EINVAL, path,
			    "%s is outside %s.address %s and %s.gateway is not set (expected a reachable endpoint)",
			    fmt_addr(ip, a), up, fmt_prefix(&u->address, b), up);
	return 0;
}

/* One element of "paths". */
static int
parse_path(struct ctx *c, const json_t *obj, const char *parent,
	   const struct bx_config *cfg, struct bx_config_path *out)
{
	static const char *const known[] = {"underlay", "endpoint"};
	char path[PATH_LEN];
	const json_t *v;

	if (want_object(c, parent, obj) < 0 ||
	    check_keys(c, obj, parent, known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;
	v = field(obj, parent, "underlay", path);
	if (v == NULL)
		return missing(c, path, "the name of an underlay of this node");
	if (want_ul_ref(c, path, v, cfg, &out->underlay) < 0)
		return -EINVAL;
	v = field(obj, parent, "endpoint", path);
	if (v == NULL)
		return missing(c, path, ENDPOINT_HINT);
	if (want_endpoint(c, path, v, &out->endpoint_ip, &out->endpoint_port) < 0)
		return -EINVAL;
	return check_endpoint(c, path, cfg, out->underlay, out->endpoint_ip);
}

/*
 * How the peer is reached: "endpoint" (one path, on the first underlay, as
 * configs always had it) or "paths" (1..BX_CONFIG_MAX_PATHS, each pair of
 * underlay and endpoint once), never both. endpoint_ip/_port are paths[0]
 * for the code that knows one path.
 */
static int
parse_peer_paths(struct ctx *c, const json_t *obj, const char *parent,
		 const struct bx_config *cfg, struct bx_config_peer *p)
{
	char epath[PATH_LEN], ppath[PATH_LEN], elem[PATH_LEN], other[PATH_LEN];
	char hint[96], a[ADDR_LEN], up[PATH_LEN];
	const json_t *ev, *pv, *v;
	size_t i, j, n;

	ev = field(obj, parent, "endpoint", epath);
	pv = field(obj, parent, "paths", ppath);
	if (ev != NULL && pv != NULL)
		return fail(c, -EINVAL, ppath,
			    "given with %s too (expected one of them: \"endpoint\" for one path on the first underlay, or \"paths\")",
			    epath);
	if (ev == NULL && pv == NULL)
		return missing(c, parent, "\"endpoint\" or \"paths\"");
	if (ev != NULL) {
		p->paths[0].underlay = 0;
		if (want_endpoint(c, epath, ev, &p->paths[0].endpoint_ip,
				  &p->paths[0].endpoint_port) < 0 ||
		    check_endpoint(c, epath, cfg, 0, p->paths[0].endpoint_ip) < 0)
			return -EINVAL;
		n = 1;
	} else {
		bprintf(hint, sizeof(hint),
			"an array of 1..%u objects {\"underlay\", \"endpoint\"}",
			BX_CONFIG_MAX_PATHS);
		n = json_is_array(pv) ? json_array_size(pv) : 0;
		if (n == 0)
			return bad_value(c, ppath, pv, hint);
		if (n > BX_CONFIG_MAX_PATHS)
			return fail(c, -EINVAL, ppath, "%zu paths, at most %u", n,
				    BX_CONFIG_MAX_PATHS);
		json_array_foreach(pv, i, v) {
			struct bx_config_path *pa = &p->paths[i];

			bprintf(elem, sizeof(elem), "%s[%zu]", ppath, i);
			if (parse_path(c, v, elem, cfg, pa) < 0)
				return -EINVAL;
			for (j = 0; j < i; j++) {
				const struct bx_config_path *pb = &p->paths[j];

				if (pa->underlay != pb->underlay ||
				    pa->endpoint_ip != pb->endpoint_ip ||
				    pa->endpoint_port != pb->endpoint_port)
					continue;
				bprintf(other, sizeof(other), "%s.endpoint", elem);
				return fail(c, -EINVAL, other,
					    "%s:%u from %s (\"%s\") is already %s[%zu] (expected each path once)",
					    fmt_addr(pa->endpoint_ip, a),
					    pa->endpoint_port,
					    ul_path(c, pa->underlay, up),
					    cfg->underlays[pa->underlay].name,
					    ppath, j);
			}
		}
	}
	p->n_paths = (unsigned)n;
	p->endpoint_ip = p->paths[0].endpoint_ip;
	p->endpoint_port = p->paths[0].endpoint_port;
	return 0;
}

/* "bonding" of a peer: the node's lane modes unless overridden here. */
static int
parse_peer_bonding(struct ctx *c, const json_t *obj, const char *parent,
		   const struct bx_config *cfg, struct bx_config_peer *p)
{
	static const char *const known[] = {"critical", "telemetry", "bulk"};
	char path[PATH_LEN];
	const json_t *v;

	memcpy(p->lane_mode, cfg->bonding.lane_mode, sizeof(p->lane_mode));
	v = field(obj, parent, "bonding", path);
	if (v == NULL)
		return 0;
	if (want_object(c, path, v) < 0 ||
	    check_keys(c, v, path, known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;
	return parse_lane_modes(c, v, path, p->lane_mode);
}

static int
parse_peer(struct ctx *c, const json_t *obj, size_t idx, struct bx_config *cfg)
{
	static const char *const known[] = {
		"id", "virtual_ip", "allowed_prefixes", "endpoint", "paths",
		"bonding", "public_key",
	};
	struct bx_config_peer *p = &cfg->peers[idx];
	char parent[PATH_LEN], path[PATH_LEN], a[ADDR_LEN], b[ADDR_LEN];
	const json_t *v;
	size_t j;

	bprintf(parent, sizeof(parent), "peers[%zu]", idx);
	if (want_object(c, parent, obj) < 0)
		return -EINVAL;
	/* Unknown like any other key, but an old config deserves the way on. */
	if (field(obj, parent, "psk_file", path) != NULL)
		return fail(c, -EINVAL, path,
			    "pre-shared keys are gone; give the peer's \"public_key\" (bauxite keys show on that node)");
	if (check_keys(c, obj, parent, known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;

	v = field(obj, parent, "id", path);
	if (v == NULL)
		return missing(c, path, ID_HINT);
	if (want_id(c, path, v, p->id) < 0)
		return -EINVAL;
	if (strcmp(p->id, cfg->node_id) == 0)
		return fail(c, -EINVAL, path,
			    "\"%s\" is this node's own node_id (expected another node)",
			    p->id);
	for (j = 0; j < idx; j++) {
		if (strcmp(p->id, cfg->peers[j].id) == 0)
			return fail(c, -EINVAL, path,
				    "\"%s\" is already the id of peers[%zu] (expected unique ids)",
				    p->id, j);
	}

	v = field(obj, parent, "virtual_ip", path);
	if (v == NULL)
		return missing(c, path, IPV4_HINT);
	if (want_ipv4(c, path, v, &p->virtual_ip) < 0)
		return -EINVAL;
	/* A gateway's inner.address is its LAN address: peers' virtual IPs
	 * live in the mesh prefix, not there. */
	if (cfg->inner.type == BX_CONFIG_INNER_TAP &&
	    (!in_prefix(p->virtual_ip, &cfg->inner.address) ||
	     p->virtual_ip == cfg->inner.address.addr))
		return fail(c, -EINVAL, path,
			    "expected an address inside inner.address %s other than the node's own, got \"%s\"",
			    fmt_prefix(&cfg->inner.address, b),
			    fmt_addr(p->virtual_ip, a));
	for (j = 0; j < idx; j++) {
		if (p->virtual_ip == cfg->peers[j].virtual_ip)
			return fail(c, -EINVAL, path,
				    "%s is already the virtual_ip of peers[%zu] (expected unique addresses)",
				    fmt_addr(p->virtual_ip, a), j);
	}

	if (parse_allowed(c, obj, parent, p) < 0 ||
	    parse_peer_paths(c, obj, parent, cfg, p) < 0 ||
	    parse_peer_bonding(c, obj, parent, cfg, p) < 0)
		return -EINVAL;

	v = field(obj, parent, "public_key", path);
	if (v == NULL)
		return missing(c, path, KEY_HINT ": " KEY_SOURCE);
	if (want_public_key(c, path, v, p->public_key) < 0)
		return -EINVAL;
	/* One key, one peer: the handshake finds the peer by its key. */
	for (j = 0; j < idx; j++) {
		if (memcmp(p->public_key, cfg->peers[j].public_key,
			   BX_CONFIG_KEY_LEN) == 0)
			return fail(c, -EINVAL, path, "same key as peers[%zu] (%s)",
				    j, cfg->peers[j].id);
	}
	return 0;
}

/* An allowed prefix and where it was written, to find one given twice. */
struct prefix_ref {
	uint32_t addr; /* host order, so the sort is numeric */
	uint8_t len;
	uint16_t peer;
	uint8_t idx;
};

static int
cmp_prefix_ref(const void *pa, const void *pb)
{
	const struct prefix_ref *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	if (a->peer != b->peer)
		return a->peer < b->peer ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * The same prefix twice -- in one peer or in two -- leaves routing to chance:
 * refuse it. Nested prefixes are fine (longest match decides). Sorting keeps
 * this O(n log n) at BX_CONFIG_MAX_PEERS * BX_CONFIG_MAX_PREFIXES entries.
 */
static int
check_prefix_dups(struct ctx *c, const struct bx_config *cfg)
{
	struct prefix_ref *refs;
	char path[PATH_LEN], net[ADDR_LEN];
	size_t n = 0, i;
	unsigned p, k;
	int rc = 0;

	for (p = 0; p < cfg->n_peers; p++)
		n += cfg->peers[p].n_allowed;
	if (n < 2)
		return 0;
	refs = calloc(n, sizeof(*refs));
	if (refs == NULL)
		return fail(c, -ENOMEM, "peers", "out of memory");
	n = 0;
	for (p = 0; p < cfg->n_peers; p++) {
		for (k = 0; k < cfg->peers[p].n_allowed; k++) {
			refs[n].addr = ntohl(cfg->peers[p].allowed[k].addr);
			refs[n].len = cfg->peers[p].allowed[k].len;
			refs[n].peer = (uint16_t)p;
			refs[n].idx = (uint8_t)k;
			n++;
		}
	}
	qsort(refs, n, sizeof(*refs), cmp_prefix_ref);
	for (i = 1; i < n; i++) {
		const struct prefix_ref *a = &refs[i - 1], *b = &refs[i];

		if (a->addr != b->addr || a->len != b->len)
			continue;
		bprintf(path, sizeof(path), "peers[%u].allowed_prefixes[%u]",
			 b->peer, b->idx);
		/* An absent list is virtual_ip/32: say so rather than [0]. */
		rc = fail(c, -EINVAL, path,
			  "%s is already allowed for peers[%u] (\"%s\"); expected each prefix once",
			  fmt_prefix(&cfg->peers[b->peer].allowed[b->idx], net),
			  a->peer, cfg->peers[a->peer].id);
		break;
	}
	free(refs);
	return rc;
}

static int
parse_peers(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	char path[PATH_LEN], hint[64];
	const json_t *arr, *v;
	size_t i, n;
	int rc;

	arr = field(root, "", "peers", path);
	if (arr == NULL)
		return 0;
	if (cfg->inner.type == BX_CONFIG_INNER_NONE)
		return fail(c, -EINVAL, path,
			    "a relay without an \"inner\" section has no traffic of its own (expected no peers, or an \"inner\" section)");
	bprintf(hint, sizeof(hint), "an array of at most %u peer objects",
		 BX_CONFIG_MAX_PEERS);
	if (!json_is_array(arr))
		return bad_value(c, path, arr, hint);
	n = json_array_size(arr);
	if (n > BX_CONFIG_MAX_PEERS)
		return fail(c, -EINVAL, path, "%zu peers, at most %u", n,
			    BX_CONFIG_MAX_PEERS);
	if (n == 0)
		return 0;
	cfg->peers = calloc(n, sizeof(*cfg->peers));
	if (cfg->peers == NULL)
		return fail(c, -ENOMEM, path, "out of memory");
	json_array_foreach(arr, i, v) {
		rc = parse_peer(c, v, i, cfg);
		if (rc < 0)
			return rc;
	}
	cfg->n_peers = (unsigned)n;
	return check_prefix_dups(c, cfg);
}

static int
parse_cipher(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char hint[] = "\"chacha20-poly1305\" or \"aes-256-gcm\"";
	char cpath[PATH_LEN], fpath[PATH_LEN];
	const json_t *cv, *fv;
	const char *s = NULL;

	cfg->cipher = BX_CONFIG_DEFAULT_CIPHER;
	cv = field(root, "", "cipher", cpath);
	if (cv != NULL) {
		if (want_string(c, cpath, cv, 32, hint, &s) < 0)
			return -EINVAL;
		if (bx_crypto_cipher_parse(s, &cfg->cipher) < 0)
			return bad_value(c, cpath, cv, hint);
	}
	fv = field(root, "", "fips", fpath);
	if (fv != NULL && want_bool(c, fpath, fv, &cfg->fips) < 0)
		return -EINVAL;
	if (!cfg->fips || cfg->cipher == BX_CRYPTO_AES256_GCM)
		return 0;
	/* Only an explicit choice conflicts; the default yields to FIPS. */
	if (cv != NULL)
		return fail(c, -EINVAL, cpath,
			    "%s is not allowed in FIPS mode (fips: true); expected \"%s\" or fips: false",
			    bx_crypto_cipher_name(cfg->cipher),
			    bx_crypto_cipher_name(BX_CRYPTO_AES256_GCM));
	cfg->cipher = BX_CRYPTO_AES256_GCM;
	return 0;
}

/* An optional integer of "session" (@obj NULL: the section is absent):
 * @out keeps its default when the field is absent; *@given (if not NULL)
 * says which. */
static int
session_int(struct ctx *c, const json_t *obj, const char *key, json_int_t min,
	    json_int_t max, uint64_t *out, bool *given)
{
	char path[PATH_LEN];
	const json_t *v = obj != NULL ? field(obj, "session", key, path) : NULL;

	if (given != NULL)
		*given = v != NULL;
	if (v == NULL)
		return 0;
	return want_int64(c, path, v, min, max, NULL, out);
}

/* The reject limit must lie beyond the rekey limit, or a session would be
 * refused before it is replaced. */
static int
check_reject(struct ctx *c, const char *reject_key, uint64_t reject,
	     const char *rekey_key, uint64_t rekey, bool rekey_given)
{
	char path[PATH_LEN];

	if (reject > rekey)
		return 0;
	bprintf(path, sizeof(path), "session.%s", reject_key);
	return fail(c, -EINVAL, path,
		    "%" PRIu64 " is not greater than session.%s (%" PRIu64 "%s); expected more: a session is rekeyed before it is refused",
		    reject, rekey_key, rekey, rekey_given ? "" : ", the default");
}

static int
parse_session(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"rekey_after_s", "reject_after_s", "rekey_after_messages",
		"reject_after_messages", "keep_previous_s", "handshake_timeout_s",
		"max_clock_skew_s", "initiations_per_sec", "initiations_burst",
	};
	struct bx_config_session *ss = &cfg->session;
	uint64_t rekey_s = BX_CONFIG_DEFAULT_REKEY_AFTER_S, reject_s;
	uint64_t rekey_m = BX_CONFIG_DEFAULT_REKEY_AFTER_MESSAGES, reject_m;
	uint64_t keep = BX_CONFIG_DEFAULT_KEEP_PREVIOUS_S;
	uint64_t timeout = BX_CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_S;
	uint64_t skew = BX_CONFIG_DEFAULT_MAX_CLOCK_SKEW_S;
	uint64_t rate = BX_CONFIG_DEFAULT_INITIATIONS_PER_SEC;
	uint64_t burst = BX_CONFIG_DEFAULT_INITIATIONS_BURST;
	bool rekey_given;
	char path[PATH_LEN];
	const json_t *obj;

	obj = field(root, "", "session", path);
	if (obj != NULL &&
	    (want_object(c, path, obj) < 0 ||
	     check_keys(c, obj, "session", known, BX_ARRAY_SIZE(known)) < 0))
		return -EINVAL;

	/* Absent reject limits follow the rekey limits (bx_config.h). */
	if (session_int(c, obj, "rekey_after_s", 1, BX_CONFIG_REKEY_AFTER_MAX_S,
			&rekey_s, &rekey_given) < 0)
		return -EINVAL;
	reject_s = rekey_s + BX_CONFIG_REJECT_MARGIN_S;
	if (reject_s < BX_CONFIG_DEFAULT_REJECT_AFTER_S)
		reject_s = BX_CONFIG_DEFAULT_REJECT_AFTER_S;
	if (reject_s > BX_CONFIG_SESSION_AGE_MAX_S)
		reject_s = BX_CONFIG_SESSION_AGE_MAX_S;
	if (session_int(c, obj, "reject_after_s", 2, BX_CONFIG_SESSION_AGE_MAX_S,
			&reject_s, NULL) < 0 ||
	    check_reject(c, "reject_after_s", reject_s, "rekey_after_s", rekey_s,
			 rekey_given) < 0)
		return -EINVAL;

	if (session_int(c, obj, "rekey_after_messages", 1,
			BX_CONFIG_REKEY_MESSAGES_MAX, &rekey_m, &rekey_given) < 0)
		return -EINVAL;
	reject_m = BX_CONFIG_MESSAGES_MAX - rekey_m > BX_CONFIG_REJECT_MARGIN_MESSAGES ?
			   rekey_m + BX_CONFIG_REJECT_MARGIN_MESSAGES :
			   BX_CONFIG_MESSAGES_MAX;
	if (session_int(c, obj, "reject_after_messages", 2,
			BX_CONFIG_MESSAGES_MAX, &reject_m, NULL) < 0 ||
	    check_reject(c, "reject_after_messages", reject_m,
			 "rekey_after_messages", rekey_m, rekey_given) < 0)
		return -EINVAL;

	if (session_int(c, obj, "keep_previous_s", 0,
			BX_CONFIG_KEEP_PREVIOUS_MAX_S, &keep, NULL) < 0 ||
	    session_int(c, obj, "handshake_timeout_s", 1,
			BX_CONFIG_HANDSHAKE_TIMEOUT_MAX_S, &timeout, NULL) < 0 ||
	    session_int(c, obj, "max_clock_skew_s", 0, BX_CONFIG_CLOCK_SKEW_MAX_S,
			&skew, NULL) < 0 ||
	    session_int(c, obj, "initiations_per_sec", 1,
			BX_CONFIG_INITIATIONS_MAX, &rate, NULL) < 0 ||
	    session_int(c, obj, "initiations_burst", 1, BX_CONFIG_INITIATIONS_MAX,
			&burst, NULL) < 0)
		return -EINVAL;

	/* Every value is within its 32-bit range by now. */
	ss->rekey_after_s = (uint32_t)rekey_s;
	ss->reject_after_s = (uint32_t)reject_s;
	ss->rekey_after_messages = rekey_m;
	ss->reject_after_messages = reject_m;
	ss->keep_previous_s = (uint32_t)keep;
	ss->handshake_timeout_s = (uint32_t)timeout;
	ss->max_clock_skew_s = (uint32_t)skew;
	ss->initiations_per_sec = (uint32_t)rate;
	ss->initiations_burst = (uint32_t)burst;
	return 0;
}

/* "host:port": the host into @host, checked, and the port. */
static int
want_hub_url(struct ctx *c, const char *path, const json_t *v,
	     char host[BX_CONFIG_HOST_MAX + 1], uint16_t *port)
{
	const char *s = NULL, *colon;
	size_t hlen;
	unsigned p;

	if (want_string(c, path, v, BX_CONFIG_HUB_URL_MAX, URL_HINT, &s) < 0)
		return -EINVAL;
	colon = strrchr(s, ':');
	if (colon == NULL)
		return bad_value(c, path, v, URL_HINT);
	if (!parse_dec(colon + 1, strlen(colon + 1), IPV4_PORT_MAX_DIGITS, &p) ||
	    p == 0 || p > UINT16_MAX)
		return bad_value(c, path, v, URL_PORT_HINT);
	hlen = (size_t)(colon - s);
	if (hlen > BX_CONFIG_HOST_MAX)
		return bad_value(c, path, v, URL_HOST_HINT);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (!is_host(host))
		return bad_value(c, path, v, URL_HOST_HINT);
	*port = (uint16_t)p;
	return 0;
}

/*
 * A file of section @sect (@def when absent) into @out: absolute as given,
 * relative under @state_dir. The file itself is not looked at
 * (bx_config.h, struct bx_config_hub).
 */
static int
sect_file(struct ctx *c, const json_t *obj, const char *sect, const char *key,
	  const char *def, const char *state_dir, char out[BX_CONFIG_PATH_MAX + 1])
{
	char path[PATH_LEN], got[GOT_LEN];
	const json_t *v = obj != NULL ? field(obj, sect, key, path) : NULL;
	const char *s = def;
	size_t dlen, slen;

	if (v == NULL)
		bprintf(path, sizeof(path), "%s.%s", sect, key);

	if (v != NULL &&
	    want_string(c, path, v, BX_CONFIG_PATH_MAX, FILE_HINT, &s) < 0)
		return -EINVAL;
	if (s[0] == '/') {
		copy_str(out, BX_CONFIG_PATH_MAX + 1, s);
		return 0;
	}
	BX_ASSERT(state_dir[0] == '/'); /* parse_top: absolute, so not empty */
	dlen = strlen(state_dir);
	if (state_dir[dlen - 1] == '/')
		dlen--; /* "/" + "node.key" is "/node.key", not "//node.key" */
	slen = strlen(s);
	if (dlen + 1 + slen > BX_CONFIG_PATH_MAX) {
		quote(got, sizeof(got), s, slen);
		return fail(c, -EINVAL, path,
			    "%s%s under state_dir makes a path longer than %u characters (expected a shorter or an absolute path)",
			    got, v == NULL ? " (the default)" : "",
			    BX_CONFIG_PATH_MAX);
	}
	memcpy(out, state_dir, dlen);
	out[dlen] = '/';
	memcpy(out + dlen + 1, s, slen + 1);
	return 0;
}

static int
parse_hub(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"url", "server_name", "ca_file", "cert_file", "key_file",
		"max_peers", "metrics_interval_s", "reconnect_max_s",
	};
	struct bx_config_hub *h = &cfg->hub;
	char path[PATH_LEN];
	const json_t *obj, *v;
	const char *s = NULL;

	obj = field(root, "", "hub", path);
	if (obj == NULL)
		return 0;
	if (cfg->inner.type == BX_CONFIG_INNER_NONE)
		return fail(c, -EINVAL, path,
			    "a relay without an \"inner\" section takes no peers from a hub (expected no hub, or an \"inner\" section)");
	if (want_object(c, path, obj) < 0 ||
	    check_keys(c, obj, "hub", known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;

	v = field(obj, "hub", "url", path);
	if (v == NULL)
		return missing(c, path, URL_HINT);
	if (want_hub_url(c, path, v, h->host, &h->port) < 0)
		return -EINVAL;
	copy_str(h->url, sizeof(h->url), json_string_value(v));

	v = field(obj, "hub", "server_name", path);
	if (v == NULL) {
		copy_str(h->server_name, sizeof(h->server_name), h->host);
	} else {
		if (want_string(c, path, v, BX_CONFIG_HOST_MAX, HOST_HINT, &s) < 0)
			return -EINVAL;
		if (!is_host(s))
			return bad_value(c, path, v, HOST_HINT);
		copy_str(h->server_name, sizeof(h->server_name), s);
	}

	if (sect_file(c, obj, "hub", "ca_file", BX_CONFIG_DEFAULT_HUB_CA_FILE,
		     cfg->state_dir, h->ca_file) < 0 ||
	    sect_file(c, obj, "hub", "cert_file", BX_CONFIG_DEFAULT_HUB_CERT_FILE,
		     cfg->state_dir, h->cert_file) < 0 ||
	    sect_file(c, obj, "hub", "key_file", BX_CONFIG_DEFAULT_HUB_KEY_FILE,
		     cfg->state_dir, h->key_file) < 0)
		return -EINVAL;

	if (sect_int(c, obj, "hub", "max_peers", 1, BX_CONFIG_HUB_PEERS_MAX,
		    BX_CONFIG_DEFAULT_HUB_MAX_PEERS, &h->max_peers) < 0 ||
	    sect_int(c, obj, "hub", "metrics_interval_s", 1, BX_CONFIG_HUB_INTERVAL_MAX_S,
		    BX_CONFIG_DEFAULT_HUB_METRICS_INTERVAL_S,
		    &h->metrics_interval_s) < 0 ||
	    sect_int(c, obj, "hub", "reconnect_max_s", 1, BX_CONFIG_HUB_INTERVAL_MAX_S,
		    BX_CONFIG_DEFAULT_HUB_RECONNECT_MAX_S, &h->reconnect_max_s) < 0)
		return -EINVAL;
	h->set = true;
	return 0;
}

/* A list of "IPv4:port" strings, at most @max, into @out. */
static int
want_endpoints(struct ctx *c, const char *path, const json_t *v,
	       struct bx_config_endpoint out[], unsigned max, unsigned *n)
{
	char ipath[PATH_LEN];
	size_t i;

	if (!json_is_array(v) || json_array_size(v) > max) {
		char hint[64];

		bprintf(hint, sizeof(hint), "an array of at most %u " ENDPOINT_HINT " strings", max);
		return bad_value(c, path, v, hint);
	}
	for (i = 0; i < json_array_size(v); i++) {
		bprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (want_endpoint(c, ipath, json_array_get(v, i), &out[i].ip,
				  &out[i].port) < 0)
			return -EINVAL;
	}
	*n = (unsigned)i;
	return 0;
}

/*
 * "ice": NAT traversal for peers without a known endpoint. It needs the
 * hub (signaling goes through it), so it is on by default exactly when
 * there is a "hub" section.
 */
static int
parse_ice(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"enabled", "stun_servers", "port_min", "port_max", "retry_min_s",
		"retry_max_s",
	};
	struct bx_config_ice *ice = &cfg->ice;
	char path[PATH_LEN];
	const json_t *obj, *v;
	uint32_t lo, hi;

	obj = field(root, "", "ice", path);
	if (obj != NULL && (want_object(c, path, obj) < 0 ||
			    check_keys(c, obj, "ice", known, BX_ARRAY_SIZE(known)) < 0))
		return -EINVAL;
	ice->enabled = cfg->hub.set && cfg->role == BX_CONFIG_ROLE_EDGE;
	v = obj != NULL ? field(obj, "ice", "enabled", path) : NULL;
	if (v != NULL) {
		if (want_bool(c, path, v, &ice->enabled) < 0)
			return -EINVAL;
		if (ice->enabled && !cfg->hub.set)
			return fail(c, -EINVAL, path,
				    "ICE needs a \"hub\" section: its signaling goes through the hub (expected false, or add \"hub\")");
		if (ice->enabled && cfg->role == BX_CONFIG_ROLE_RELAY)
			return fail(c, -EINVAL, path,
				    "a relay is reached at its own public address; it does no NAT traversal (expected false with \"role\": \"relay\")");
	}
	v = obj != NULL ? field(obj, "ice", "stun_servers", path) : NULL;
	ice->n_stun = 0;
	if (v != NULL && want_endpoints(c, path, v, ice->stun, BX_CONFIG_MAX_STUN,
					&ice->n_stun) < 0)
		return -EINVAL;
	if (sect_int(c, obj, "ice", "port_min", 1024, UINT16_MAX,
		     BX_CONFIG_DEFAULT_ICE_PORT_MIN, &lo) < 0 ||
	    sect_int(c, obj, "ice", "port_max", 1024, UINT16_MAX,
		     BX_CONFIG_DEFAULT_ICE_PORT_MAX, &hi) < 0 ||
	    sect_int(c, obj, "ice", "retry_min_s", 1, BX_CONFIG_ICE_RETRY_MAX_S,
		     BX_CONFIG_DEFAULT_ICE_RETRY_MIN_S, &ice->retry_min_s) < 0 ||
	    sect_int(c, obj, "ice", "retry_max_s", 1, BX_CONFIG_ICE_RETRY_MAX_S,
		     BX_CONFIG_DEFAULT_ICE_RETRY_MAX_S, &ice->retry_max_s) < 0)
		return -EINVAL;
	if (lo > hi)
		return fail(c, -EINVAL, "ice.port_max",
			    "%u is below ice.port_min %u (expected port_min <= port_max)",
			    hi, lo);
	if (cfg->mesh_port >= lo && cfg->mesh_port <= hi)
		return fail(c, -EINVAL, "ice.port_min",
			    "the agents' ports %u-%u include mesh_port %u (expected a range without it: the fast path owns the mesh port)",
			    lo, hi, cfg->mesh_port);
	if (ice->retry_min_s > ice->retry_max_s)
		return fail(c, -EINVAL, "ice.retry_max_s",
			    "%u is below ice.retry_min_s %u", ice->retry_max_s,
			    ice->retry_min_s);
	ice->port_min = (uint16_t)lo;
	ice->port_max = (uint16_t)hi;
	return 0;
}

/*
 * "relay": a relay's secret and limits (role relay), or how often an edge
 * registers with its relay (role edge). Relays and credentials for edges
 * come from the hub.
 */
static int
parse_relay(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"secret_file", "max_nodes", "lease_s", "register_interval_s",
	};
	struct bx_config_relay *r = &cfg->relay;
	char path[PATH_LEN];
	const json_t *obj;

	obj = field(root, "", "relay", path);
	if (obj != NULL && (want_object(c, path, obj) < 0 ||
			    check_keys(c, obj, "relay", known, BX_ARRAY_SIZE(known)) < 0))
		return -EINVAL;
	/* Only a relay reads the secret: an edge's state_dir need not fit it. */
	if (cfg->role == BX_CONFIG_ROLE_RELAY &&
	    sect_file(c, obj, "relay", "secret_file",
		      BX_CONFIG_DEFAULT_RELAY_SECRET_FILE, cfg->state_dir,
		      r->secret_file) < 0)
		return -EINVAL;
	if (sect_int(c, obj, "relay", "max_nodes", 1, BX_CONFIG_RELAY_NODES_MAX,
		     BX_CONFIG_DEFAULT_RELAY_MAX_NODES, &r->max_nodes) < 0 ||
	    sect_int(c, obj, "relay", "lease_s", BX_CONFIG_RELAY_LEASE_MIN_S,
		     BX_CONFIG_RELAY_LEASE_MAX_S, BX_CONFIG_DEFAULT_RELAY_LEASE_S,
		     &r->lease_s) < 0 ||
	    sect_int(c, obj, "relay", "register_interval_s", 1,
		     BX_CONFIG_RELAY_LEASE_MIN_S - 1,
		     BX_CONFIG_DEFAULT_RELAY_REGISTER_INTERVAL_S,
		     &r->register_interval_s) < 0)
		return -EINVAL;
	return 0;
}

#ifdef BX_SAFETY_CRITICAL
#define SAFETY_BUILT true
#else
#define SAFETY_BUILT false
#endif

/* "listen" of "safety": a unix socket path (absolute, or relative to
 * state_dir) or a loopback "127.0.0.1:PORT" -- the services have no TLS. */
static int
safety_listen(struct ctx *c, const json_t *obj, struct bx_config *cfg)
{
#define LISTEN_HINT "\"unix:PATH\" or \"127.0.0.1:PORT\""
	static const char hint[] = LISTEN_HINT;
	struct bx_config_safety *sf = &cfg->safety;
	char path[PATH_LEN], file[BX_CONFIG_PATH_MAX + 1];
	const json_t *v = obj != NULL ? field(obj, "safety", "listen", path) : NULL;
	const char *s = NULL;
	uint32_t ip;
	uint16_t port;

	if (v == NULL) {
		/* The default socket in state_dir, unless its path would not
		 * fit a unix socket address: then none (said at start). */
		size_t dlen = strlen(cfg->state_dir);

		sf->listen[0] = '\0';
		if (dlen + 1 + strlen(BX_CONFIG_DEFAULT_SAFETY_LISTEN_FILE) <
		    BX_CONFIG_UNIX_PATH_MAX) {
			bprintf(file, sizeof(file), "%s%s%s", cfg->state_dir,
				cfg->state_dir[dlen - 1] == '/' ? "" : "/",
				BX_CONFIG_DEFAULT_SAFETY_LISTEN_FILE);
			bprintf(sf->listen, sizeof(sf->listen), "unix:%s", file);
		}
		return 0;
	}
	if (want_string(c, path, v, BX_CONFIG_LISTEN_MAX, hint, &s) < 0)
		return -EINVAL;
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/' || strlen(s + 5) >= BX_CONFIG_UNIX_PATH_MAX)
			return bad_value(c, path, v,
					 "\"unix:\" and an absolute path of at most 107 characters");
		copy_str(sf->listen, sizeof(sf->listen), s);
		return 0;
	}
	if (want_endpoint(c, path, v, &ip, &port) < 0)
		return -EINVAL;
	if ((ntohl(ip) >> 24) != 127)
		return bad_value(c, path, v,
				 LISTEN_HINT " (loopback only: the services have no TLS)");
	copy_str(sf->listen, sizeof(sf->listen), s);
	return 0;
}

static int
parse_safety(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"enabled", "probe_interval_ms", "probe_window", "probe_timeout_ms",
		"warn_rtt_ms", "sever_rtt_ms", "sever_loss_pct", "healthy_loss_pct",
		"hold_down_s", "recovery_s", "critical_copies", "congestion",
		"listen",
	};
	static const char cong_hint[] = "\"ewma\" or \"null\"";
	struct bx_config_safety *sf = &cfg->safety;
	char path[PATH_LEN];
	const json_t *obj, *v;
	const char *s = NULL;

	obj = field(root, "", "safety", path);
	if (obj != NULL && (want_object(c, path, obj) < 0 ||
			    check_keys(c, obj, "safety", known, BX_ARRAY_SIZE(known)) < 0))
		return -EINVAL;
	sf->enabled = SAFETY_BUILT;
	v = obj != NULL ? field(obj, "safety", "enabled", path) : NULL;
	if (v != NULL) {
		if (want_bool(c, path, v, &sf->enabled) < 0)
			return -EINVAL;
		if (sf->enabled && !SAFETY_BUILT)
			return fail(c, -EINVAL, path,
				    "this bauxite-app is built without the safety layer (meson -Dsafety_critical=true)");
	}
	if (sect_int(c, obj, "safety", "probe_interval_ms",
		     BX_CONFIG_PROBE_INTERVAL_MIN_MS, BX_CONFIG_PROBE_INTERVAL_MAX_MS,
		     BX_CONFIG_DEFAULT_PROBE_INTERVAL_MS, &sf->probe_interval_ms) < 0 ||
	    sect_int(c, obj, "safety", "probe_window", 1, BX_CONFIG_PROBE_WINDOW_MAX,
		     BX_CONFIG_DEFAULT_PROBE_WINDOW, &sf->probe_window) < 0 ||
	    sect_int(c, obj, "safety", "probe_timeout_ms", 1,
		     BX_CONFIG_PROBE_INTERVAL_MAX_MS, BX_CONFIG_DEFAULT_PROBE_TIMEOUT_MS,
		     &sf->probe_timeout_ms) < 0 ||
	    sect_int(c, obj, "safety", "warn_rtt_ms", 1, BX_CONFIG_SAFETY_RTT_MAX_MS,
		     BX_CONFIG_DEFAULT_WARN_RTT_MS, &sf->warn_rtt_ms) < 0 ||
	    sect_int(c, obj, "safety", "sever_rtt_ms", 1, BX_CONFIG_SAFETY_RTT_MAX_MS,
		     BX_CONFIG_DEFAULT_SEVER_RTT_MS, &sf->sever_rtt_ms) < 0 ||
	    sect_int(c, obj, "safety", "sever_loss_pct", 1, 100,
		     BX_CONFIG_DEFAULT_SEVER_LOSS_PCT, &sf->sever_loss_pct) < 0 ||
	    sect_int(c, obj, "safety", "healthy_loss_pct", 1, 100,
		     BX_CONFIG_DEFAULT_HEALTHY_LOSS_PCT, &sf->healthy_loss_pct) < 0 ||
	    sect_int(c, obj, "safety", "hold_down_s", 1, BX_CONFIG_SAFETY_TIME_MAX_S,
		     BX_CONFIG_DEFAULT_HOLD_DOWN_S, &sf->hold_down_s) < 0 ||
	    sect_int(c, obj, "safety", "recovery_s", 1, BX_CONFIG_SAFETY_TIME_MAX_S,
		     BX_CONFIG_DEFAULT_RECOVERY_S, &sf->recovery_s) < 0 ||
	    sect_int(c, obj, "safety", "critical_copies", 1,
		     BX_CONFIG_CRITICAL_COPIES_MAX, BX_CONFIG_DEFAULT_CRITICAL_COPIES,
		     &sf->critical_copies) < 0)
		return -EINVAL;
	if (sf->sever_rtt_ms <= sf->warn_rtt_ms)
		return fail(c, -EINVAL, "safety.sever_rtt_ms",
			    "%u is not above safety.warn_rtt_ms %u (a warning comes before a severance)",
			    sf->sever_rtt_ms, sf->warn_rtt_ms);
	if (sf->healthy_loss_pct >= sf->sever_loss_pct)
		return fail(c, -EINVAL, "safety.healthy_loss_pct",
			    "%u is not below safety.sever_loss_pct %u",
			    sf->healthy_loss_pct, sf->sever_loss_pct);
	if (sf->probe_timeout_ms / sf->probe_interval_ms >= BX_CONFIG_PROBE_WINDOW_MAX)
		return fail(c, -EINVAL, "safety.probe_timeout_ms",
			    "%u ms is %u probe intervals or more (expected under %u intervals of %u ms)",
			    sf->probe_timeout_ms, BX_CONFIG_PROBE_WINDOW_MAX,
			    BX_CONFIG_PROBE_WINDOW_MAX, sf->probe_interval_ms);
	sf->congestion = BX_CONFIG_CONGESTION_EWMA;
	v = obj != NULL ? field(obj, "safety", "congestion", path) : NULL;
	if (v != NULL) {
		if (want_string(c, path, v, 8, cong_hint, &s) < 0)
			return -EINVAL;
		if (strcmp(s, "null") == 0)
			sf->congestion = BX_CONFIG_CONGESTION_NULL;
		else if (strcmp(s, "ewma") != 0)
			return bad_value(c, path, v, cong_hint);
	}
	return safety_listen(c, obj, cfg);
}

/*
 * "bonding": always filled, defaults when absent. Read after "safety" (its
 * probe interval is the default here when the safety layer is on: one
 * probe engine serves both) and before "peers" (their lane modes start
 * from the node's).
 */
static int
parse_bonding(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"critical", "telemetry", "bulk", "probe_interval_ms", "down_after",
		"up_after", "redundant_copies", "reorder", "reorder_slots",
		"reorder_timeout_max_ms", "stripe_exclude_loss_pct",
		"stripe_readmit_loss_pct", "readmit_s", "preferred_hysteresis_pct",
		"preferred_hold_ms", "link_poll_ms",
	};
	struct bx_config_bonding *b = &cfg->bonding;
	char path[PATH_LEN], hint[128];
	const json_t *obj, *v;
	uint32_t x;

	obj = field(root, "", "bonding", path);
	if (obj != NULL && (want_object(c, path, obj) < 0 ||
			    check_keys(c, obj, "bonding", known, BX_ARRAY_SIZE(known)) < 0))
		return -EINVAL;
	b->lane_mode[BX_LANE_CRITICAL] = BX_CONFIG_BOND_REDUNDANT;
	b->lane_mode[BX_LANE_TELEMETRY] = BX_CONFIG_BOND_PREFERRED;
	b->lane_mode[BX_LANE_BULK] = BX_CONFIG_BOND_STRIPE;
	if (obj != NULL && parse_lane_modes(c, obj, "bonding", b->lane_mode) < 0)
		return -EINVAL;
	if (sect_int(c, obj, "bonding", "probe_interval_ms",
		     BX_CONFIG_PROBE_INTERVAL_MIN_MS, BX_CONFIG_PROBE_INTERVAL_MAX_MS,
		     cfg->safety.enabled ? cfg->safety.probe_interval_ms :
					   BX_CONFIG_DEFAULT_BOND_PROBE_INTERVAL_MS,
		     &b->probe_interval_ms) < 0 ||
	    sect_int(c, obj, "bonding", "down_after", 1,
		     BX_CONFIG_BOND_DOWN_AFTER_MAX, BX_CONFIG_DEFAULT_BOND_DOWN_AFTER,
		     &b->down_after) < 0 ||
	    sect_int(c, obj, "bonding", "up_after", 1, BX_CONFIG_BOND_UP_AFTER_MAX,
		     BX_CONFIG_DEFAULT_BOND_UP_AFTER, &b->up_after) < 0 ||
	    sect_int(c, obj, "bonding", "redundant_copies", 1,
		     BX_CONFIG_BOND_COPIES_MAX, BX_CONFIG_DEFAULT_REDUNDANT_COPIES,
		     &b->redundant_copies) < 0 ||
	    sect_int(c, obj, "bonding", "reorder_timeout_max_ms", 1,
		     BX_CONFIG_REORDER_TIMEOUT_MAX_MS,
		     BX_CONFIG_DEFAULT_REORDER_TIMEOUT_MAX_MS,
		     &b->reorder_timeout_max_ms) < 0 ||
	    sect_int(c, obj, "bonding", "stripe_exclude_loss_pct", 1, 100,
		     BX_CONFIG_DEFAULT_STRIPE_EXCLUDE_LOSS_PCT,
		     &b->stripe_exclude_loss_pct) < 0 ||
	    sect_int(c, obj, "bonding", "stripe_readmit_loss_pct", 0, 99,
		     BX_CONFIG_DEFAULT_STRIPE_READMIT_LOSS_PCT,
		     &b->stripe_readmit_loss_pct) < 0 ||
	    sect_int(c, obj, "bonding", "readmit_s", 0, BX_CONFIG_BOND_READMIT_MAX_S,
		     BX_CONFIG_DEFAULT_READMIT_S, &b->readmit_s) < 0 ||
	    sect_int(c, obj, "bonding", "preferred_hysteresis_pct", 0, 100,
		     BX_CONFIG_DEFAULT_PREFERRED_HYSTERESIS_PCT,
		     &b->preferred_hysteresis_pct) < 0 ||
	    sect_int(c, obj, "bonding", "preferred_hold_ms", 0,
		     BX_CONFIG_BOND_HOLD_MAX_MS, BX_CONFIG_DEFAULT_PREFERRED_HOLD_MS,
		     &b->preferred_hold_ms) < 0 ||
	    sect_int(c, obj, "bonding", "link_poll_ms", BX_CONFIG_LINK_POLL_MIN_MS,
		     BX_CONFIG_LINK_POLL_MAX_MS, BX_CONFIG_DEFAULT_LINK_POLL_MS,
		     &b->link_poll_ms) < 0)
		return -EINVAL;
	if (b->stripe_readmit_loss_pct >= b->stripe_exclude_loss_pct)
		return fail(c, -EINVAL, "bonding.stripe_readmit_loss_pct",
			    "%u is not below bonding.stripe_exclude_loss_pct %u (a path comes back into the stripe set only once it is better than when it left)",
			    b->stripe_readmit_loss_pct, b->stripe_exclude_loss_pct);

	b->reorder = true;
	v = obj != NULL ? field(obj, "bonding", "reorder", path) : NULL;
	if (v != NULL && want_bool(c, path, v, &b->reorder) < 0)
		return -EINVAL;

	/* A packet held for reordering must still be inside the replay window
	 * when it is released; a small window makes a small default. */
	b->reorder_slots = cfg->replay_window < BX_CONFIG_DEFAULT_REORDER_SLOTS ?
				   cfg->replay_window : BX_CONFIG_DEFAULT_REORDER_SLOTS;
	v = obj != NULL ? field(obj, "bonding", "reorder_slots", path) : NULL;
	if (v != NULL) {
		bprintf(hint, sizeof(hint),
			"a power of two between %u and %u, at most replay_window %u",
			BX_CONFIG_REORDER_SLOTS_MIN, BX_CONFIG_REORDER_SLOTS_MAX,
			cfg->replay_window);
		if (want_int(c, path, v, BX_CONFIG_REORDER_SLOTS_MIN,
			     BX_CONFIG_REORDER_SLOTS_MAX, hint, &x) < 0)
			return -EINVAL;
		if ((x & (x - 1)) != 0)
			return bad_value(c, path, v, hint);
		if (x > cfg->replay_window)
			return fail(c, -EINVAL, path,
				    "%u is above replay_window %u (expected %s: a packet held for reordering must still be inside the replay window)",
				    x, cfg->replay_window, hint);
		b->reorder_slots = x;
	}
	return 0;
}

/*
 * With the safety layer on, the probes that measure a path for the safety
 * monitor are the ones that tell bonding whether it is alive: one probe
 * engine, one interval. Config peers with several paths are what puts
 * bonding to work (run after "peers").
 */
static int
check_probe_engine(struct ctx *c, const struct bx_config *cfg)
{
	unsigned i;

	if (!cfg->safety.enabled ||
	    cfg->safety.probe_interval_ms == cfg->bonding.probe_interval_ms)
		return 0;
	for (i = 0; i < cfg->n_peers; i++) {
		if (cfg->peers[i].n_paths < 2)
			continue;
		return fail(c, -EINVAL, "bonding.probe_interval_ms",
			    "%u differs from safety.probe_interval_ms %u: with the safety layer on and peers[%u] (\"%s\") on %u paths, one probe engine measures the paths for both (expected the same interval)",
			    cfg->bonding.probe_interval_ms,
			    cfg->safety.probe_interval_ms, i, cfg->peers[i].id,
			    cfg->peers[i].n_paths);
	}
	return 0;
}

static int
parse_top(struct ctx *c, const json_t *root, struct bx_config *cfg)
{
	static const char *const known[] = {
		"node_id", "role", "state_dir", "underlay", "inner", "mesh_port",
		"cipher", "fips", "lcores", "idle_sleep_us", "replay_window",
		"stats_interval_s", "rules", "session", "hub", "ice", "relay",
		"safety", "bonding", "peers",
	};
	static const char role_hint[] = "\"edge\" or \"relay\"";
	static const char dir_hint[] = "an absolute path";
	char path[PATH_LEN], hint[96];
	const json_t *v;
	const char *s = NULL;
	uint32_t x;

	if (!json_is_object(root))
		return fail(c, -EINVAL, "", "expected a JSON object at the top level");
	if (check_keys(c, root, "", known, BX_ARRAY_SIZE(known)) < 0)
		return -EINVAL;

	v = field(root, "", "node_id", path);
	if (v == NULL)
		return missing(c, path, ID_HINT);
	if (want_id(c, path, v, cfg->node_id) < 0)
		return -EINVAL;

	v = field(root, "", "role", path);
	cfg->role = BX_CONFIG_ROLE_EDGE;
	if (v != NULL) {
		if (want_string(c, path, v, 8, role_hint, &s) < 0)
			return -EINVAL;
		if (strcmp(s, "relay") == 0)
			cfg->role = BX_CONFIG_ROLE_RELAY;
		else if (strcmp(s, "edge") != 0)
			return bad_value(c, path, v, role_hint);
	}

	v = field(root, "", "state_dir", path);
	if (v == NULL) {
		copy_str(cfg->state_dir, sizeof(cfg->state_dir),
			 BX_CONFIG_DEFAULT_STATE_DIR);
	} else {
		if (want_string(c, path, v, BX_CONFIG_PATH_MAX, dir_hint, &s) < 0)
			return -EINVAL;
		if (s[0] != '/')
			return bad_value(c, path, v, dir_hint);
		copy_str(cfg->state_dir, sizeof(cfg->state_dir), s);
	}

	if (parse_underlay(c, root, cfg) < 0 || parse_inner(c, root, cfg) < 0)
		return -EINVAL;

	v = field(root, "", "mesh_port", path);
	x = BX_CONFIG_DEFAULT_MESH_PORT;
	if (v != NULL && want_int(c, path, v, 1, UINT16_MAX, NULL, &x) < 0)
		return -EINVAL;
	cfg->mesh_port = (uint16_t)x;

	if (parse_cipher(c, root, cfg) < 0 || parse_lcores(c, root, cfg) < 0)
		return -EINVAL;

	v = field(root, "", "idle_sleep_us", path);
	cfg->idle_sleep_us = 0;
	if (v != NULL && want_int(c, path, v, 0, BX_CONFIG_IDLE_SLEEP_MAX_US, NULL,
				  &cfg->idle_sleep_us) < 0)
		return -EINVAL;

	v = field(root, "", "replay_window", path);
	cfg->replay_window = BX_CONFIG_DEFAULT_REPLAY;
	if (v != NULL) {
		bprintf(hint, sizeof(hint), "a power of two between %u and %u",
			 BX_CONFIG_REPLAY_MIN, BX_CONFIG_REPLAY_MAX);
		if (want_int(c, path, v, BX_CONFIG_REPLAY_MIN, BX_CONFIG_REPLAY_MAX,
			     hint, &x) < 0)
			return -EINVAL;
		/* Explicit: lib/replay would silently round up. */
		if ((x & (x - 1)) != 0)
			return bad_value(c, path, v, hint);
		cfg->replay_window = x;
	}

	v = field(root, "", "stats_interval_s", path);
	cfg->stats_interval_s = 0;
	if (v != NULL && want_int(c, path, v, 0, BX_CONFIG_STATS_INTERVAL_MAX_S,
				  NULL, &cfg->stats_interval_s) < 0)
		return -EINVAL;
	return 0;
}

/* ---- public ------------------------------------------------------------ */

int
bx_config_from_json(const json_t *root, const char *name,
		    struct bx_config **out, char *err, size_t errlen)
{
	struct ctx c = {
		.name = name != NULL ? name : "config",
		.err = err,
		.errlen = errlen,
	};
	struct bx_config *cfg = NULL;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (root == NULL || out == NULL) {
		rc = fail(&c, -EINVAL, "", "no document to read");
		goto out;
	}
	if (sodium_init() < 0) {
		rc = fail(&c, -EIO, "", "libsodium failed to initialise");
		goto out;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		rc = fail(&c, -ENOMEM, "", "out of memory");
		goto out;
	}
	rc = parse_top(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_rules(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_session(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_hub(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_ice(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_relay(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_safety(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_bonding(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = parse_peers(&c, root, cfg);
	if (rc < 0)
		goto out;
	rc = check_probe_engine(&c, cfg);
	if (rc < 0)
		goto out;
	*out = cfg;
	cfg = NULL;
out:
	bx_config_free(cfg);
	return rc;
}

int
bx_config_load(const char *path, struct bx_config **out, char *err,
	       size_t errlen)
{
	struct ctx c = {
		.name = path != NULL ? path : "config",
		.err = err,
		.errlen = errlen,
	};
	json_t *root = NULL;
	json_error_t je;
	struct stat st;
	int fd = -1, rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || out == NULL) {
		rc = fail(&c, -EINVAL, "", "no file to read");
		goto out;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		fail(&c, rc, "", "%s", strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		fail(&c, rc, "", "%s", strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(&c, -EINVAL, "", "not a regular file (expected a JSON config file)");
		goto out;
	}
	root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		rc = -EINVAL;
		if (je.line > 0 && c.err != NULL && c.errlen > 0)
			snprintf(c.err, c.errlen, "%s:%d:%d: %s", path, je.line,
				 je.column, je.text);
		else
			fail(&c, rc, "", "%s", je.text);
		goto out;
	}
	rc = bx_config_from_json(root, path, out, err, errlen);
out:
	json_decref(root);
	if (fd >= 0)
		close(fd);
	return rc;
}

void
bx_config_free(struct bx_config *c)
{
	if (c == NULL)
		return;
	bx_classify_rules_free(c->rules);
	free(c->peers);
	free(c);
}

const char *
bx_config_role_name(enum bx_config_role r)
{
	return r == BX_CONFIG_ROLE_RELAY ? "relay" : "edge";
}

const char *
bx_config_inner_type_name(enum bx_config_inner_type t)
{
	return t == BX_CONFIG_INNER_DPDK ? "dpdk" :
	       t == BX_CONFIG_INNER_NONE ? "none" : "tap";
}

const char *
bx_config_bond_mode_name(enum bx_config_bond_mode m)
{
	return (unsigned)m < BX_ARRAY_SIZE(bond_mode_name) ? bond_mode_name[m] :
							     "unknown";
}

unsigned
bx_config_underlay_for(const struct bx_config *c, uint32_t ip, unsigned i)
{
	unsigned u, n_gw = 0, gw[BX_CONFIG_MAX_UNDERLAYS];

	for (u = 0; u < c->n_underlays; u++) {
		if (in_prefix(ip, &c->underlays[u].address))
			return u;
		if (c->underlays[u].has_gateway)
			gw[n_gw++] = u;
	}
	return n_gw > 0 ? gw[i % n_gw] : 0;
}

#define DUMP_FMT "%-36s %s\n"

static void
dump_uint(FILE *f, const char *key, uint64_t v, const char *note)
{
	fprintf(f, "%-36s %" PRIu64 "%s\n", key, v, note);
}

static void
dump_lcores(FILE *f, const char *key, const uint16_t *ids, unsigned n)
{
	unsigned i;

	fprintf(f, "%-36s [", key);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%u", i > 0 ? ", " : "", ids[i]);
	fprintf(f, "]\n");
}

static void
dump_session(FILE *f, const struct bx_config_session *s)
{
	dump_uint(f, "session.rekey_after_s", s->rekey_after_s, "");
	dump_uint(f, "session.reject_after_s", s->reject_after_s, "");
	dump_uint(f, "session.rekey_after_messages", s->rekey_after_messages, "");
	dump_uint(f, "session.reject_after_messages", s->reject_after_messages, "");
	dump_uint(f, "session.keep_previous_s", s->keep_previous_s, "");
	dump_uint(f, "session.handshake_timeout_s", s->handshake_timeout_s, "");
	dump_uint(f, "session.max_clock_skew_s", s->max_clock_skew_s,
		  s->max_clock_skew_s == 0 ? " (no bound)" : "");
	dump_uint(f, "session.initiations_per_sec", s->initiations_per_sec, "");
	dump_uint(f, "session.initiations_burst", s->initiations_burst, "");
}

static void
dump_hub(FILE *f, const struct bx_config_hub *h)
{
	if (!h->set) {
		fprintf(f, DUMP_FMT, "hub", "(none: static peers only)");
		return;
	}
	fprintf(f, DUMP_FMT, "hub.url", h->url);
	fprintf(f, DUMP_FMT, "hub.server_name", h->server_name);
	fprintf(f, DUMP_FMT, "hub.ca_file", h->ca_file);
	fprintf(f, DUMP_FMT, "hub.cert_file", h->cert_file);
	fprintf(f, DUMP_FMT, "hub.key_file", h->key_file);
	dump_uint(f, "hub.max_peers", h->max_peers, "");
	dump_uint(f, "hub.metrics_interval_s", h->metrics_interval_s, "");
	dump_uint(f, "hub.reconnect_max_s", h->reconnect_max_s, "");
}

static void
dump_endpoints(FILE *f, const char *key, const struct bx_config_endpoint *e,
	       unsigned n)
{
	char line[BX_CONFIG_MAX_STUN * 24 + 8] = "", a[ADDR_LEN];
	size_t len = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		fmt_addr(e[i].ip, a);
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s:%u",
					i > 0 ? ", " : "", a, e[i].port);
	}
	fprintf(f, DUMP_FMT, key, n > 0 ? line : "(from the hub)");
}

static void
dump_ice_relay(FILE *f, const struct bx_config *c)
{
	const struct bx_config_ice *ice = &c->ice;
	const struct bx_config_relay *r = &c->relay;
	char ports[16];

	fprintf(f, DUMP_FMT, "ice.enabled", ice->enabled ? "true" : "false");
	if (ice->enabled) {
		dump_endpoints(f, "ice.stun_servers", ice->stun, ice->n_stun);
		snprintf(ports, sizeof(ports), "%u-%u", ice->port_min, ice->port_max);
		fprintf(f, DUMP_FMT, "ice.ports", ports);
		dump_uint(f, "ice.retry_min_s", ice->retry_min_s, "");
		dump_uint(f, "ice.retry_max_s", ice->retry_max_s, "");
	}
	fprintf(f, DUMP_FMT, "safety.enabled", c->safety.enabled ? "true" : "false");
	if (c->safety.enabled) {
		const struct bx_config_safety *sf = &c->safety;

		dump_uint(f, "safety.probe_interval_ms", sf->probe_interval_ms, "");
		dump_uint(f, "safety.probe_window", sf->probe_window, "");
		dump_uint(f, "safety.probe_timeout_ms", sf->probe_timeout_ms, "");
		dump_uint(f, "safety.warn_rtt_ms", sf->warn_rtt_ms, "");
		dump_uint(f, "safety.sever_rtt_ms", sf->sever_rtt_ms, "");
		dump_uint(f, "safety.sever_loss_pct", sf->sever_loss_pct, "");
		dump_uint(f, "safety.healthy_loss_pct", sf->healthy_loss_pct, "");
		dump_uint(f, "safety.hold_down_s", sf->hold_down_s, "");
		dump_uint(f, "safety.recovery_s", sf->recovery_s, "");
		dump_uint(f, "safety.critical_copies", sf->critical_copies, "");
		fprintf(f, DUMP_FMT, "safety.congestion",
			sf->congestion == BX_CONFIG_CONGESTION_NULL ? "null" : "ewma");
		fprintf(f, DUMP_FMT, "safety.listen", sf->listen[0] ? sf->listen :
			"(none: the default path in state_dir is too long for a unix socket)");
	}
	if (c->role == BX_CONFIG_ROLE_RELAY) {
		fprintf(f, DUMP_FMT, "relay.secret_file", r->secret_file);
		dump_uint(f, "relay.max_nodes", r->max_nodes, "");
		dump_uint(f, "relay.lease_s", r->lease_s, "");
	} else {
		dump_uint(f, "relay.register_interval_s", r->register_interval_s, "");
	}
}

/* One underlay: "underlay.x" lines as ever with one, "underlay[i].x"
 * with several. */
static void
dump_underlay(FILE *f, const struct bx_config *c, unsigned i)
{
	const struct bx_config_underlay *u = &c->underlays[i];
	char pre[PATH_LEN], key[PATH_LEN], a[ADDR_LEN];

	if (c->n_underlays == 1)
		bprintf(pre, sizeof(pre), "underlay");
	else
		bprintf(pre, sizeof(pre), "underlay[%u]", i);
	bprintf(key, sizeof(key), "%s.name", pre);
	fprintf(f, DUMP_FMT, key, u->name);
	bprintf(key, sizeof(key), "%s.port", pre);
	fprintf(f, DUMP_FMT, key, u->port);
	bprintf(key, sizeof(key), "%s.address", pre);
	fprintf(f, DUMP_FMT, key, fmt_prefix(&u->address, a));
	bprintf(key, sizeof(key), "%s.gateway", pre);
	fprintf(f, DUMP_FMT, key,
		u->has_gateway ? fmt_addr(u->gateway, a) :
				 "(none: on-link endpoints only)");
	bprintf(key, sizeof(key), "%s.exception_iface", pre);
	fprintf(f, DUMP_FMT, key, u->exception_iface);
	bprintf(key, sizeof(key), "%s.rate_mbps", pre);
	dump_uint(f, key, u->rate_mbps, u->rate_mbps == 0 ? " (measured)" : "");
}

static void
dump_bonding(FILE *f, const struct bx_config_bonding *b)
{
	char key[PATH_LEN];
	unsigned lane;

	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		bprintf(key, sizeof(key), "bonding.%s", lane_key[lane]);
		fprintf(f, DUMP_FMT, key, bx_config_bond_mode_name(b->lane_mode[lane]));
	}
	dump_uint(f, "bonding.probe_interval_ms", b->probe_interval_ms, "");
	dump_uint(f, "bonding.down_after", b->down_after, "");
	dump_uint(f, "bonding.up_after", b->up_after, "");
	dump_uint(f, "bonding.redundant_copies", b->redundant_copies, "");
	fprintf(f, DUMP_FMT, "bonding.reorder", b->reorder ? "true" : "false");
	dump_uint(f, "bonding.reorder_slots", b->reorder_slots, "");
	dump_uint(f, "bonding.reorder_timeout_max_ms", b->reorder_timeout_max_ms, "");
	dump_uint(f, "bonding.stripe_exclude_loss_pct", b->stripe_exclude_loss_pct, "");
	dump_uint(f, "bonding.stripe_readmit_loss_pct", b->stripe_readmit_loss_pct, "");
	dump_uint(f, "bonding.readmit_s", b->readmit_s, "");
	dump_uint(f, "bonding.preferred_hysteresis_pct", b->preferred_hysteresis_pct, "");
	dump_uint(f, "bonding.preferred_hold_ms", b->preferred_hold_ms, "");
	dump_uint(f, "bonding.link_poll_ms", b->link_poll_ms, "");
}

/* A peer's paths: the one "endpoint" line as ever when it has one path
 * on the first underlay; else "paths[k]  ulname IPv4:port". Its lane
 * modes where they differ from the node's. */
static void
dump_peer_paths(FILE *f, const struct bx_config *c, unsigned i)
{
	const struct bx_config_peer *p = &c->peers[i];
	char key[PATH_LEN], a[ADDR_LEN];
	unsigned k, lane;

	if (p->n_paths == 1 && p->paths[0].underlay == 0) {
		bprintf(key, sizeof(key), "peers[%u].endpoint", i);
		fprintf(f, "%-36s %s:%u\n", key, fmt_addr(p->endpoint_ip, a),
			p->endpoint_port);
	} else {
		for (k = 0; k < p->n_paths; k++) {
			const struct bx_config_path *pa = &p->paths[k];

			bprintf(key, sizeof(key), "peers[%u].paths[%u]", i, k);
			fprintf(f, "%-36s %s %s:%u\n", key,
				c->underlays[pa->underlay].name,
				fmt_addr(pa->endpoint_ip, a), pa->endpoint_port);
		}
	}
	for (lane = 0; lane < BX_LANE_COUNT; lane++) {
		if (p->lane_mode[lane] == c->bonding.lane_mode[lane])
			continue;
		bprintf(key, sizeof(key), "peers[%u].bonding.%s", i, lane_key[lane]);
		fprintf(f, DUMP_FMT, key, bx_config_bond_mode_name(p->lane_mode[lane]));
	}
}

void
bx_config_dump(const struct bx_config *c, FILE *f)
{
	char key[PATH_LEN], a[ADDR_LEN], b64[BX_CONFIG_KEY_B64_LEN + 1];
	unsigned i, k;

	if (c == NULL || f == NULL)
		return;
	fprintf(f, DUMP_FMT, "node_id", c->node_id);
	fprintf(f, DUMP_FMT, "role", bx_config_role_name(c->role));
	fprintf(f, DUMP_FMT, "state_dir", c->state_dir);
	for (i = 0; i < c->n_underlays; i++)
		dump_underlay(f, c, i);
	fprintf(f, DUMP_FMT, "inner.type", bx_config_inner_type_name(c->inner.type));
	if (c->inner.type == BX_CONFIG_INNER_TAP)
		fprintf(f, DUMP_FMT, "inner.iface", c->inner.iface);
	else if (c->inner.type == BX_CONFIG_INNER_DPDK)
		fprintf(f, DUMP_FMT, "inner.port", c->inner.port);
	if (c->inner.type != BX_CONFIG_INNER_NONE) {
		dump_uint(f, "inner.mtu", c->inner.mtu, "");
		fprintf(f, DUMP_FMT, "inner.address", fmt_prefix(&c->inner.address, a));
	}
	dump_uint(f, "mesh_port", c->mesh_port, "");
	fprintf(f, DUMP_FMT, "cipher", bx_crypto_cipher_name(c->cipher));
	fprintf(f, DUMP_FMT, "fips", c->fips ? "true" : "false");
	if (c->lcores.set) {
		dump_lcores(f, "lcores.rx", c->lcores.rx, c->lcores.n_rx);
		dump_lcores(f, "lcores.workers", c->lcores.workers,
			    c->lcores.n_workers);
	} else {
		fprintf(f, DUMP_FMT, "lcores", "(from the EAL lcore list)");
	}
	dump_uint(f, "idle_sleep_us", c->idle_sleep_us,
		  c->idle_sleep_us == 0 ? " (busy poll)" : "");
	dump_uint(f, "replay_window", c->replay_window, "");
	dump_uint(f, "stats_interval_s", c->stats_interval_s,
		  c->stats_interval_s == 0 ? " (off)" : "");
	if (c->rules != NULL)
		dump_uint(f, "rules", bx_classify_rules_count(c->rules),
			  " rule(s), then the default policy");
	else
		fprintf(f, DUMP_FMT, "rules", "(none: default policy only)");
	dump_session(f, &c->session);
	dump_hub(f, &c->hub);
	dump_ice_relay(f, c);
	dump_bonding(f, &c->bonding);
	dump_uint(f, "peers", c->n_peers, "");
	for (i = 0; i < c->n_peers; i++) {
		const struct bx_config_peer *p = &c->peers[i];

		bprintf(key, sizeof(key), "peers[%u].id", i);
		fprintf(f, DUMP_FMT, key, p->id);
		bprintf(key, sizeof(key), "peers[%u].virtual_ip", i);
		fprintf(f, DUMP_FMT, key, fmt_addr(p->virtual_ip, a));
		for (k = 0; k < p->n_allowed; k++) {
			bprintf(key, sizeof(key), "peers[%u].allowed_prefixes[%u]",
				 i, k);
			fprintf(f, DUMP_FMT, key, fmt_prefix(&p->allowed[k], a));
		}
		dump_peer_paths(f, c, i);
		sodium_bin2base64(b64, sizeof(b64), p->public_key,
				  sizeof(p->public_key),
				  sodium_base64_VARIANT_ORIGINAL);
		bprintf(key, sizeof(key), "peers[%u].public_key", i);
		fprintf(f, DUMP_FMT, key, b64);
	}
}
