/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The policy as the store keeps it ({"rules": [...]}) and as nodes get it
 * (the rules array alone, PolicyUpdate.rules_json).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bx_classify.h"
#include "bx_dispatch.h"

/* Comments are allowed in rule files as in configs; classify refuses them. */
#define POLICY_COMMENT_KEY "$comment"

static int
say(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int
bx_dispatch_policy_make(const char *rules_json, char **policy_json,
			unsigned *n_rules, char *err, size_t errlen)
{
	struct bx_classify_rules *rules = NULL;
	json_t *arr = NULL, *obj = NULL, *rule;
	json_error_t jerr;
	char *text;
	size_t i;
	int rc;

	if (rules_json == NULL)
		return say(err, errlen, -EINVAL, "rules: missing");
	arr = json_loads(rules_json, JSON_REJECT_DUPLICATES, &jerr);
	if (arr == NULL)
		return say(err, errlen, -EINVAL,
			   "rules: not JSON: %s (line %d, column %d)",
			   jerr.text, jerr.line, jerr.column);
	if (!json_is_array(arr)) {
		rc = say(err, errlen, -EINVAL,
			 "rules: expected a JSON array of rule objects");
		goto out;
	}
	json_array_foreach(arr, i, rule) {
		if (json_is_object(rule))
			json_object_del(rule, POLICY_COMMENT_KEY);
	}
	rules = bx_classify_rules_from_json(arr, err, errlen);
	if (rules == NULL) {
		rc = errno == E2BIG || errno == ENOMEM ? -errno : -EINVAL;
		goto out;
	}
	obj = json_object();
	if (obj == NULL ||
	    json_object_set(obj, BX_DISPATCH_POLICY_RULES, arr) != 0) {
		rc = say(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	text = json_dumps(obj, JSON_COMPACT);
	if (text == NULL) {
		rc = say(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	*policy_json = text;
	if (n_rules != NULL)
		*n_rules = bx_classify_rules_count(rules);
	rc = 0;
out:
	bx_classify_rules_free(rules);
	json_decref(obj);
	json_decref(arr);
	return rc;
}

int
bx_dispatch_policy_rules(const char *policy_json, char **rules_json,
			 char *err, size_t errlen)
{
	json_t *obj, *arr;
	json_error_t jerr;
	char *text;
	int rc = 0;

	if (policy_json == NULL)
		return say(err, errlen, -EINVAL, "policy: missing");
	obj = json_loads(policy_json, 0, &jerr);
	if (obj == NULL)
		return say(err, errlen, -EINVAL, "policy: not JSON: %s",
			   jerr.text);
	arr = json_object_get(obj, BX_DISPATCH_POLICY_RULES);
	if (!json_is_object(obj) || !json_is_array(arr)) {
		rc = say(err, errlen, -EINVAL,
			 "policy: expected an object with a \"%s\" array",
			 BX_DISPATCH_POLICY_RULES);
		goto out;
	}
	text = json_dumps(arr, JSON_COMPACT);
	if (text == NULL) {
		rc = say(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	*rules_json = text;
out:
	json_decref(obj);
	return rc;
}
