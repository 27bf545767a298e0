/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The classifier's rules at run time: the config's at start, the hub's
 * policy later (PolicyService). Workers read the current rule set through
 * one pointer once per burst; the control lcore publishes a new set with a
 * release store and frees the old one after an RCU grace period, so a
 * burst never sees a set freed under it. The config's own set belongs to
 * the config and is never freed here.
 *
 * Control lcore only (but app_policy_rules, which workers inline-read).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "app.h"

#define LOG_PREFIX "bauxite-app: "

void
app_policy_init(struct app_policy *p, const struct bx_config *cfg,
		struct rte_rcu_qsbr *qsbr)
{
	memset(p, 0, sizeof(*p));
	p->config_rules = cfg->rules;
	p->rules = cfg->rules;
	p->qsbr = qsbr;
}

/* Publishes @next, waits until no worker can hold the old set, frees it. */
static void
publish(struct app_policy *p, struct bx_classify_rules *next)
{
	struct bx_classify_rules *old = p->rules;

	__atomic_store_n(&p->rules, next, __ATOMIC_RELEASE);
	rte_rcu_qsbr_synchronize(p->qsbr, RTE_QSBR_THRID_INVALID);
	if (old != p->config_rules)
		bx_classify_rules_free(old);
}

int
app_policy_apply(struct app_policy *p, const char *rules_json,
		 uint64_t version, char *err, size_t errlen)
{
	struct bx_classify_rules *next = NULL;
	json_error_t jerr;
	json_t *arr;

	/* The hub is the authority: a lower version is a hub restored from
	 * an older database, and its policy is the one to run. */
	if (version == p->version) {
		snprintf(err, errlen, "policy version %" PRIu64 " applied already",
			 version);
		return -EALREADY;
	}
	if (version < p->version)
		printf(LOG_PREFIX "policy version went back from %" PRIu64 " to %"
		       PRIu64 " (a restored hub?)\n", p->version, version);
	/* Version 0 rules or an empty text: back to the config's. */
	if (rules_json[0] == '\0') {
		publish(p, p->config_rules);
		p->version = version;
		return 0;
	}
	arr = json_loads(rules_json, JSON_REJECT_DUPLICATES, &jerr);
	if (arr == NULL) {
		snprintf(err, errlen, "policy %" PRIu64 ": not JSON: %s (line "
			 "%d)", version, jerr.text, jerr.line);
		return -EINVAL;
	}
	next = bx_classify_rules_from_json(arr, err, errlen);
	json_decref(arr);
	if (next == NULL)
		return -errno;
	publish(p, next);
	p->version = version;
	printf(LOG_PREFIX "policy %" PRIu64 " applied: %u rule(s)\n", version,
	       bx_classify_rules_count(next));
	fflush(stdout);
	return 0;
}

void
app_policy_free(struct app_policy *p)
{
	/* The workers are stopped: no grace period to wait for. */
	if (p->rules != p->config_rules)
		bx_classify_rules_free(p->rules);
	p->rules = NULL;
}
