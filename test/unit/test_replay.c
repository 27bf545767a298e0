/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of lib/replay: table-driven scenarios run for several window
 * sizes, argument checks, and a randomized run against a reference model
 * (the set of every committed counter plus the top).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bx_common.h"
#include "bx_replay.h"

/* ---- table-driven scenarios ------------------------------------------- */

enum op {
	CHECK,  /* bx_replay_check(counter) must return expect */
	COMMIT, /* bx_replay_commit(counter) must return expect */
	FILL,   /* commit counter, counter + stride, ... up to counter2; each NONE */
	TOP,    /* bx_replay_top() must give counter */
	NO_TOP, /* bx_replay_top() must say nothing was committed */
	REKEY,  /* bx_replay_must_rekey() must equal expect */
};

/* Counters are written relative to the window size B: kb * B + off. */
struct step {
	enum op op;
	int64_t kb, off;
	int expect;
	int64_t kb2, off2; /* FILL only: last counter */
	uint64_t stride;   /* FILL only: 0 means 1 */
};

struct scenario {
	const char *name;
	uint32_t bits;      /* given to init */
	uint64_t limit;
	const struct step *steps;
	size_t n_steps;
};

#define NONE BX_DROP_NONE
#define DUP BX_DROP_REPLAY_DUPLICATE
#define OLD BX_DROP_REPLAY_TOO_OLD
#define LIM BX_DROP_REPLAY_LIMIT

static const struct step in_order[] = {
	{ NO_TOP, 0, 0, 0, 0, 0 },
	{ CHECK, 0, 0, NONE, 0, 0 },   /* counter 0 is a valid first packet */
	{ NO_TOP, 0, 0, 0, 0, 0 },     /* and check did not record it */
	{ COMMIT, 0, 0, NONE, 0, 0 },
	{ TOP, 0, 0, 0, 0, 0 },
	{ COMMIT, 0, 1, NONE, 0, 0 },
	{ COMMIT, 0, 2, NONE, 0, 0 },
	{ COMMIT, 0, 3, NONE, 0, 0 },
	{ TOP, 0, 3, 0, 0, 0 },
	{ FILL, 0, 4, 0, 3, 7 },       /* three whole windows, one at a time */
	{ TOP, 3, 7, 0, 0, 0 },
	{ CHECK, 3, 8, NONE, 0, 0 },
	{ CHECK, 3, 7, DUP, 0, 0 },
	{ CHECK, 2, 8, DUP, 0, 0 },    /* oldest counter still in the window */
	{ CHECK, 2, 7, OLD, 0, 0 },
};

static const struct step duplicates[] = {
	{ COMMIT, 0, 0, NONE, 0, 0 },
	{ COMMIT, 0, 0, DUP, 0, 0 },
	{ COMMIT, 0, 5, NONE, 0, 0 },
	{ COMMIT, 0, 5, DUP, 0, 0 },
	{ CHECK, 0, 5, DUP, 0, 0 },
	{ COMMIT, 0, 3, NONE, 0, 0 },  /* a gap filled late is fine once */
	{ COMMIT, 0, 3, DUP, 0, 0 },
	{ CHECK, 0, 0, DUP, 0, 0 },
	{ CHECK, 0, 4, NONE, 0, 0 },
	{ TOP, 0, 5, 0, 0, 0 },        /* duplicates and late ones leave top alone */
};

static const struct step out_of_order[] = {
	{ COMMIT, 0, 10, NONE, 0, 0 },
	{ COMMIT, 0, 5, NONE, 0, 0 },
	{ COMMIT, 0, 7, NONE, 0, 0 },
	{ COMMIT, 0, 9, NONE, 0, 0 },
	{ COMMIT, 0, 6, NONE, 0, 0 },
	{ COMMIT, 0, 8, NONE, 0, 0 },
	{ COMMIT, 1, 3, NONE, 0, 0 },  /* top B + 3: 10 still inside */
	{ COMMIT, 0, 10, DUP, 0, 0 },
	{ COMMIT, 0, 5, DUP, 0, 0 },
	{ COMMIT, 0, 11, NONE, 0, 0 },
	{ COMMIT, 0, 4, NONE, 0, 0 },  /* B + 3 - 4 < B: inside */
	{ COMMIT, 0, 3, OLD, 0, 0 },   /* top - B */
	{ COMMIT, 0, 63, NONE, 0, 0 }, /* word boundaries inside the window */
	{ COMMIT, 0, 64, NONE, 0, 0 },
	{ COMMIT, 0, 63, DUP, 0, 0 },
	{ COMMIT, 0, 64, DUP, 0, 0 },
	{ TOP, 1, 3, 0, 0, 0 },
};

/* The window's left edge: top - B + 1 is judged, top - B is too old. */
static const struct step edge[] = {
	{ COMMIT, 3, 5, NONE, 0, 0 },
	{ CHECK, 2, 6, NONE, 0, 0 },
	{ CHECK, 2, 5, OLD, 0, 0 },
	{ COMMIT, 2, 5, OLD, 0, 0 },
	{ COMMIT, 2, 6, NONE, 0, 0 },
	{ COMMIT, 2, 6, DUP, 0, 0 },
	{ CHECK, 3, 4, NONE, 0, 0 },
	{ COMMIT, 3, 6, NONE, 0, 0 },  /* top + 1: the edge moves by one */
	{ CHECK, 2, 6, OLD, 0, 0 },    /* seen, now out: too old wins */
	{ CHECK, 2, 7, NONE, 0, 0 },
	{ CHECK, 0, 0, OLD, 0, 0 },
};

/* Before top reaches B nothing is too old yet. */
static const struct step young[] = {
	{ COMMIT, 1, -1, NONE, 0, 0 },
	{ CHECK, 0, 0, NONE, 0, 0 },
	{ COMMIT, 0, 0, NONE, 0, 0 },
	{ COMMIT, 1, 0, NONE, 0, 0 },  /* top B: 0 is top - B */
	{ CHECK, 0, 0, OLD, 0, 0 },
	{ CHECK, 0, 1, NONE, 0, 0 },
};

/* A jump shorter than the window keeps what the window still covers. */
static const struct step jump_keeps[] = {
	{ COMMIT, 0, 0, NONE, 0, 0 },
	{ COMMIT, 0, 1, NONE, 0, 0 },
	{ FILL, 0, 70, 0, 0, 90 },
	{ COMMIT, 1, 80, NONE, 0, 0 }, /* window now [81, B + 80] */
	{ CHECK, 0, 80, OLD, 0, 0 },
	{ CHECK, 0, 81, DUP, 0, 0 },   /* seen before the jump, still inside */
	{ CHECK, 0, 90, DUP, 0, 0 },
	{ CHECK, 0, 91, NONE, 0, 0 },  /* skipped over: still acceptable */
	{ CHECK, 1, 79, NONE, 0, 0 },
	{ COMMIT, 0, 91, NONE, 0, 0 },
	{ COMMIT, 0, 91, DUP, 0, 0 },
};

/*
 * A jump of more than the window but less than the ring: the ring slots it
 * enters held counters seen a lap earlier (counter c and c + 2B share a
 * slot); they must read as unseen, while the window's own history survives.
 */
static const struct step jump_laps[] = {
	{ FILL, 0, 0, 0, 1, -1 },      /* every counter of the first window */
	{ COMMIT, 2, 5, NONE, 0, 0 },  /* window [B + 6, 2B + 5] */
	{ CHECK, 1, 5, OLD, 0, 0 },
	{ CHECK, 1, 6, NONE, 0, 0 },
	{ CHECK, 2, 0, NONE, 0, 0 },   /* slot and bit of counter 0 */
	{ CHECK, 2, 1, NONE, 0, 0 },
	{ CHECK, 2, 4, NONE, 0, 0 },
	{ CHECK, 2, 5, DUP, 0, 0 },
	/* A whole lap in order, leaving gaps: each word entered is cleared. */
	{ FILL, 2, 6, 0, 4, 6, 2 },    /* window [3B + 7, 4B + 6] */
	{ CHECK, 4, 5, NONE, 0, 0 },   /* slot and bit of seen 5 and 2B + 5 */
	{ CHECK, 4, 4, DUP, 0, 0 },
	{ CHECK, 3, 7, NONE, 0, 0 },
	{ CHECK, 3, 8, DUP, 0, 0 },
	{ CHECK, 3, 6, OLD, 0, 0 },
};

/* A jump of 2^40 clears everything at bounded cost and refuses the past. */
static const struct step jump_huge[] = {
	{ FILL, 0, 0, 0, 0, 200 },
	{ COMMIT, 0, INT64_C(1) << 40, NONE, 0, 0 },
	{ TOP, 0, INT64_C(1) << 40, 0, 0, 0 },
	{ CHECK, 0, 200, OLD, 0, 0 },
	{ CHECK, 0, 0, OLD, 0, 0 },
	{ CHECK, -1, (INT64_C(1) << 40) + 1, NONE, 0, 0 },
	{ CHECK, -1, INT64_C(1) << 40, OLD, 0, 0 },
	{ CHECK, 0, (INT64_C(1) << 40) - 1, NONE, 0, 0 },
	{ CHECK, 0, (INT64_C(1) << 40) - 2, NONE, 0, 0 },
	{ COMMIT, 0, INT64_C(1) << 40, DUP, 0, 0 },
	{ COMMIT, 0, (INT64_C(1) << 40) + 1, NONE, 0, 0 },
	{ COMMIT, 0, INT64_C(1) << 41, NONE, 0, 0 },
	{ CHECK, 0, (INT64_C(1) << 40) + 1, OLD, 0, 0 },
	{ CHECK, 0, (INT64_C(1) << 41) - 1, NONE, 0, 0 },
};

/* Two copies pass the pre-check in one burst; only the first commits. */
static const struct step check_then_commit[] = {
	{ CHECK, 0, 5, NONE, 0, 0 },
	{ CHECK, 0, 5, NONE, 0, 0 },
	{ COMMIT, 0, 5, NONE, 0, 0 },
	{ COMMIT, 0, 5, DUP, 0, 0 },
	{ CHECK, 0, 1, NONE, 0, 0 },
	{ COMMIT, 1, 10, NONE, 0, 0 }, /* window moved while 1 was decrypted */
	{ COMMIT, 0, 1, OLD, 0, 0 },
	{ CHECK, 0, 20, NONE, 0, 0 },
	{ COMMIT, 0, 20, NONE, 0, 0 },
	{ TOP, 1, 10, 0, 0, 0 },
};

/* Counter top only partly fills its word (B = 64, ring of two words). */
static const struct step partial_word[] = {
	{ FILL, 0, 0, 0, 0, 100 },     /* window [37, 100] */
	{ COMMIT, 0, 130, NONE, 0, 0 }, /* enters word 2 = slot of word 0 */
	{ CHECK, 0, 66, OLD, 0, 0 },
	{ CHECK, 0, 67, DUP, 0, 0 },   /* word 1 kept */
	{ CHECK, 0, 100, DUP, 0, 0 },
	{ CHECK, 0, 101, NONE, 0, 0 },
	{ CHECK, 0, 127, NONE, 0, 0 },
	{ CHECK, 0, 128, NONE, 0, 0 }, /* shares slot and bit with seen 0 */
	{ CHECK, 0, 129, NONE, 0, 0 },
	{ CHECK, 0, 131, NONE, 0, 0 },
	{ COMMIT, 0, 191, NONE, 0, 0 }, /* word 2 again: no clearing */
	{ CHECK, 0, 130, DUP, 0, 0 },
	{ CHECK, 0, 127, OLD, 0, 0 },
	{ COMMIT, 0, 192, NONE, 0, 0 }, /* word 3 = slot of word 1 */
	{ CHECK, 0, 130, DUP, 0, 0 },
	{ CHECK, 0, 128, OLD, 0, 0 },
	{ CHECK, 0, 129, NONE, 0, 0 },
	{ COMMIT, 0, 250, NONE, 0, 0 }, /* word 3 again: no clearing */
	{ CHECK, 0, 195, NONE, 0, 0 },  /* 67..100 were seen in that slot */
	{ CHECK, 0, 192, DUP, 0, 0 },
};

/* The hard limit, here 100: 99 is the last counter ever accepted. */
static const struct step limit_100[] = {
	{ COMMIT, 0, 98, NONE, 0, 0 },
	{ REKEY, 0, 0, 0, 0, 0 },
	{ CHECK, 0, 100, LIM, 0, 0 },
	{ COMMIT, 0, 100, LIM, 0, 0 },
	{ CHECK, 0, -1, LIM, 0, 0 },   /* UINT64_MAX */
	{ TOP, 0, 98, 0, 0, 0 },
	{ CHECK, 0, 99, NONE, 0, 0 },
	{ COMMIT, 0, 99, NONE, 0, 0 },
	{ REKEY, 0, 0, 1, 0, 0 },
	{ COMMIT, 0, 99, DUP, 0, 0 },
	{ COMMIT, 0, 97, NONE, 0, 0 }, /* late ones are still taken */
	{ COMMIT, 0, 98, DUP, 0, 0 },
	{ COMMIT, 0, 100, LIM, 0, 0 },
};

/* A limit of 1 leaves counter 0 alone. */
static const struct step limit_one[] = {
	{ CHECK, 0, 1, LIM, 0, 0 },
	{ REKEY, 0, 0, 0, 0, 0 },
	{ COMMIT, 0, 0, NONE, 0, 0 },
	{ REKEY, 0, 0, 1, 0, 0 },
	{ COMMIT, 0, 0, DUP, 0, 0 },
};

#define DEF_LIMIT BX_REPLAY_DEFAULT_LIMIT
#define SC(tbl, b, lim) { #tbl "/" #b, (b), (lim), tbl, sizeof(tbl) / sizeof(tbl[0]) }
#define SC_SIZES(tbl)                                                         \
	SC(tbl, 64, DEF_LIMIT), SC(tbl, 100, DEF_LIMIT),                      \
	SC(tbl, 2048, DEF_LIMIT), SC(tbl, 4096, DEF_LIMIT)

static const struct scenario scenarios[] = {
	SC_SIZES(in_order),
	SC_SIZES(duplicates),
	SC_SIZES(out_of_order),
	SC_SIZES(edge),
	SC_SIZES(young),
	SC_SIZES(jump_keeps),
	SC_SIZES(jump_laps),
	SC_SIZES(jump_huge),
	SC_SIZES(check_then_commit),
	SC(partial_word, 64, DEF_LIMIT),
	SC(limit_100, 64, 100),
	SC(limit_100, 2048, 100),
	SC(limit_one, 64, 1),
};

static uint64_t
counter_of(uint32_t window, int64_t kb, int64_t off)
{
	return (uint64_t)kb * window + (uint64_t)off;
}

static void
expect_reason(const struct scenario *sc, size_t i, uint64_t c,
	      enum bx_drop_reason got, int want)
{
	if (got != (enum bx_drop_reason)want)
		fail_msg("%s step %zu counter %llu: got %s, want %s", sc->name, i,
			 (unsigned long long)c, bx_drop_name(got),
			 bx_drop_name((enum bx_drop_reason)want));
}

static void
run_scenario(void **state)
{
	const struct scenario *sc = *state;
	struct bx_replay *w = bx_replay_create(sc->bits, sc->limit);
	uint32_t b;
	size_t i;

	assert_non_null(w);
	b = bx_replay_bits(w);
	for (i = 0; i < sc->n_steps; i++) {
		const struct step *s = &sc->steps[i];
		uint64_t c = counter_of(b, s->kb, s->off);
		uint64_t last, top = 0;

		switch (s->op) {
		case CHECK:
			expect_reason(sc, i, c, bx_replay_check(w, c), s->expect);
			break;
		case COMMIT:
			expect_reason(sc, i, c, bx_replay_commit(w, c), s->expect);
			break;
		case FILL:
			last = counter_of(b, s->kb2, s->off2);
			for (; c <= last; c += s->stride ? s->stride : 1)
				expect_reason(sc, i, c, bx_replay_commit(w, c), NONE);
			break;
		case TOP:
			if (!bx_replay_top(w, &top) || top != c)
				fail_msg("%s step %zu: top %llu, want %llu", sc->name,
					 i, (unsigned long long)top,
					 (unsigned long long)c);
			break;
		case NO_TOP:
			top = 12345;
			assert_false(bx_replay_top(w, &top));
			assert_int_equal(top, 12345);
			break;
		case REKEY:
			if (bx_replay_must_rekey(w) != (s->expect != 0))
				fail_msg("%s step %zu: must_rekey is %d", sc->name, i,
					 !s->expect);
			break;
		}
	}
	bx_replay_free(w);
}

/* ---- arguments and sizes ---------------------------------------------- */

static void
test_init_bits(void **state)
{
	static const struct {
		uint32_t bits;
		int rc;
		uint32_t window;
	} cases[] = {
		{ 0, -EINVAL, 0 },
		{ 1, -EINVAL, 0 },
		{ 63, -EINVAL, 0 },
		{ 64, 0, 64 },
		{ 65, 0, 128 },
		{ 100, 0, 128 },
		{ 128, 0, 128 },
		{ 2047, 0, 2048 },
		{ 2048, 0, 2048 },
		{ 2049, 0, 4096 },
		{ BX_REPLAY_MAX_BITS, 0, BX_REPLAY_MAX_BITS },
		{ BX_REPLAY_MAX_BITS + 1, -EINVAL, 0 },
		{ UINT32_MAX, -EINVAL, 0 },
	};
	size_t max = bx_replay_size(BX_REPLAY_MAX_BITS);
	unsigned char *mem = malloc(max);
	unsigned char *pristine = malloc(max);
	size_t i;

	(void)state;
	assert_non_null(mem);
	assert_non_null(pristine);
	memset(pristine, 0xa5, max);
	for (i = 0; i < BX_ARRAY_SIZE(cases); i++) {
		struct bx_replay *w = (struct bx_replay *)mem;
		size_t sz = bx_replay_size(cases[i].bits);

		memcpy(mem, pristine, max);
		assert_int_equal(bx_replay_init(w, cases[i].bits, 1000), cases[i].rc);
		if (cases[i].rc != 0) {
			assert_int_equal(sz, 0);
			assert_memory_equal(mem, pristine, max); /* untouched */
			errno = 0;
			assert_null(bx_replay_create(cases[i].bits, 1000));
			assert_int_equal(errno, EINVAL);
			continue;
		}
		/* The ring is twice the window: window / 4 bytes of bitmap. */
		assert_true(sz >= cases[i].window / 4);
		assert_true(sz <= cases[i].window / 4 + 64);
		assert_int_equal(bx_replay_bits(w), cases[i].window);
		assert_int_equal(bx_replay_size(cases[i].window), sz);
		/* Init wrote nothing past the size it asked for. */
		if (sz < max)
			assert_memory_equal(mem + sz, pristine + sz, max - sz);
		assert_int_equal(bx_replay_check(w, 0), BX_DROP_NONE);
	}
	free(pristine);
	free(mem);
}

static void
test_init_limit_and_reset(void **state)
{
	struct bx_replay *w;
	uint64_t top;

	(void)state;
	w = bx_replay_create(64, 1000);
	assert_non_null(w);
	assert_int_equal(bx_replay_init(w, 64, 0), -EINVAL);
	errno = 0;
	assert_null(bx_replay_create(64, 0));
	assert_int_equal(errno, EINVAL);

	/* A refused re-init left the old state in place. */
	assert_int_equal(bx_replay_commit(w, 7), BX_DROP_NONE);
	assert_int_equal(bx_replay_init(w, 10, 1000), -EINVAL);
	assert_true(bx_replay_top(w, &top));
	assert_int_equal(top, 7);

	/* Re-init is a reset: a new session starts from nothing. */
	assert_int_equal(bx_replay_init(w, 64, 1000), 0);
	assert_false(bx_replay_top(w, &top));
	assert_int_equal(bx_replay_commit(w, 7), BX_DROP_NONE);
	bx_replay_free(w);
	bx_replay_free(NULL);
}

/* ---- reference model --------------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rng(void)
{
	/* xorshift64*: deterministic, so a failure replays exactly. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

#define SET_SLOTS (1u << 18) /* > committed counters of one run */

struct model {
	uint64_t *slots; /* open addressing; counter + 1, 0 = empty */
	bool any;
	uint64_t top;
	uint64_t bits;
	uint64_t limit;
};

static uint64_t *
model_slot(struct model *m, uint64_t c)
{
	uint64_t h = (c + 1) * UINT64_C(0x9e3779b97f4a7c15);
	uint32_t i = (uint32_t)(h >> 46) & (SET_SLOTS - 1);

	while (m->slots[i] != 0 && m->slots[i] != c + 1)
		i = (i + 1) & (SET_SLOTS - 1);
	return &m->slots[i];
}

static enum bx_drop_reason
model_judge(struct model *m, uint64_t c)
{
	if (c >= m->limit)
		return BX_DROP_REPLAY_LIMIT;
	if (!m->any || c > m->top)
		return BX_DROP_NONE;
	if (m->top - c >= m->bits)
		return BX_DROP_REPLAY_TOO_OLD;
	if (*model_slot(m, c) != 0)
		return BX_DROP_REPLAY_DUPLICATE;
	return BX_DROP_NONE;
}

static void
model_commit(struct model *m, uint64_t c)
{
	*model_slot(m, c) = c + 1;
	if (!m->any || c > m->top)
		m->top = c;
	m->any = true;
}

/* A counter near what a real, reordering, lossy, attacked stream sends. */
static uint64_t
pick_counter(const struct model *m, const uint64_t recent[16])
{
	uint64_t r = rng() % 1000;
	uint64_t top = m->any ? m->top : 0;
	uint64_t back;

	if (r < 500)
		return top + 1 + rng() % 4;
	if (r < 800) {
		back = rng() % (m->bits + m->bits / 4 + 2);
		return back > top ? rng() % (top + 1) : top - back;
	}
	if (r < 900)
		return recent[rng() % 16];
	if (r < 980)
		return top + rng() % (4 * m->bits);
	return top + rng() % (UINT64_C(1) << 40);
}

static void
run_random(uint32_t bits, uint64_t limit, uint64_t seed, unsigned ops)
{
	struct model m = { .bits = bits, .limit = limit };
	struct bx_replay *w = bx_replay_create(bits, limit);
	uint64_t recent[16] = { 0 };
	unsigned outcomes[BX_DROP__COUNT] = { 0 };
	unsigned i;

	assert_non_null(w);
	assert_int_equal(bx_replay_bits(w), bits);
	m.slots = calloc(SET_SLOTS, sizeof(*m.slots));
	assert_non_null(m.slots);
	rng_state = seed;
	for (i = 0; i < ops; i++) {
		uint64_t c = pick_counter(&m, recent);
		enum bx_drop_reason want = model_judge(&m, c);
		enum bx_drop_reason got = bx_replay_check(w, c);
		uint64_t top;

		recent[i % 16] = c;
		if (got != want)
			fail_msg("op %u check %llu: got %s, want %s", i,
				 (unsigned long long)c, bx_drop_name(got),
				 bx_drop_name(want));
		/* One packet in ten fails authentication: never committed. */
		if (rng() % 10 == 0)
			continue;
		got = bx_replay_commit(w, c);
		outcomes[got]++;
		if (got != want)
			fail_msg("op %u commit %llu: got %s, want %s", i,
				 (unsigned long long)c, bx_drop_name(got),
				 bx_drop_name(want));
		if (want == BX_DROP_NONE)
			model_commit(&m, c);
		assert_true(bx_replay_top(w, &top) == m.any);
		if (m.any)
			assert_int_equal(top, m.top);
		assert_true(bx_replay_must_rekey(w) == (m.any && m.top == limit - 1));
	}
	/* The mix really exercised every outcome it was meant to. */
	assert_true(outcomes[BX_DROP_NONE] > ops / 10);
	assert_true(outcomes[BX_DROP_REPLAY_DUPLICATE] > 0);
	assert_true(outcomes[BX_DROP_REPLAY_TOO_OLD] > 0);
	assert_true(outcomes[BX_DROP_REPLAY_LIMIT] > 0 ||
		    limit == BX_REPLAY_DEFAULT_LIMIT);
	free(m.slots);
	bx_replay_free(w);
}

static void
test_random_64(void **state)
{
	(void)state;
	run_random(64, BX_REPLAY_DEFAULT_LIMIT, 1, 100000);
}

static void
test_random_2048(void **state)
{
	(void)state;
	run_random(2048, BX_REPLAY_DEFAULT_LIMIT, 2, 100000);
}

static void
test_random_small_limit(void **state)
{
	(void)state;
	run_random(128, 200000, 3, 20000);
}

/* check() must not change a single byte of the window, whatever it is asked. */
static void
test_check_does_not_modify(void **state)
{
	size_t sz = bx_replay_size(256);
	struct bx_replay *w = bx_replay_create(256, 10000);
	unsigned char *before = malloc(sz);
	static const uint64_t probes[] = {
		0, 1, 299, 300, 301, 555, 556, 557, 600, 811, 812, 813, 9999,
		10000, UINT64_MAX,
	};
	size_t i;
	uint64_t c;

	(void)state;
	assert_non_null(w);
	assert_non_null(before);
	for (c = 300; c <= 812; c += 3)
		assert_int_equal(bx_replay_commit(w, c), BX_DROP_NONE);
	memcpy(before, w, sz);
	for (i = 0; i < BX_ARRAY_SIZE(probes); i++)
		(void)bx_replay_check(w, probes[i]);
	assert_memory_equal(before, w, sz);
	/* And the answers agree with a commit made afterwards. */
	for (i = 0; i < BX_ARRAY_SIZE(probes); i++) {
		enum bx_drop_reason r = bx_replay_check(w, probes[i]);

		assert_int_equal(bx_replay_commit(w, probes[i]), r);
		memcpy(before, w, sz);
		assert_int_equal(bx_replay_check(w, probes[i]),
				 r == BX_DROP_NONE ? BX_DROP_REPLAY_DUPLICATE : r);
		assert_memory_equal(before, w, sz);
	}
	free(before);
	bx_replay_free(w);
}

int
main(void)
{
	struct CMUnitTest tests[BX_ARRAY_SIZE(scenarios) + 6];
	size_t n = 0, i;

	for (i = 0; i < BX_ARRAY_SIZE(scenarios); i++)
		tests[n++] = (struct CMUnitTest){
			.name = scenarios[i].name,
			.test_func = run_scenario,
			.initial_state = (void *)&scenarios[i],
		};
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_init_bits);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_init_limit_and_reset);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_check_does_not_modify);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_random_64);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_random_2048);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_random_small_limit);
	BX_ASSERT(n == BX_ARRAY_SIZE(tests));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
