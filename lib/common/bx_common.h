/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small definitions every Bauxite module shares. Header only, no EAL.
 */
#ifndef BX_COMMON_H
#define BX_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#define BX_LIKELY(x) __builtin_expect(!!(x), 1)
#define BX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BX_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BX_CACHE_LINE 64
#define BX_CACHE_ALIGNED __attribute__((aligned(BX_CACHE_LINE)))

/*
 * BX_ASSERT is always on: it guards invariants whose violation would corrupt
 * state (a programming error, never bad input). BX_ASSERT_HOT sits on the
 * fast path and is compiled only into debug builds (-Ddebug_asserts=true).
 */
#define BX_ASSERT(cond)                                                       \
	do {                                                                  \
		if (BX_UNLIKELY(!(cond))) {                                   \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",      \
				__FILE__, __LINE__, #cond);                   \
			abort();                                              \
		}                                                             \
	} while (0)

#ifdef BX_DEBUG
#define BX_ASSERT_HOT(cond) BX_ASSERT(cond)
#else
#define BX_ASSERT_HOT(cond) ((void)0)
#endif

#endif /* BX_COMMON_H */
