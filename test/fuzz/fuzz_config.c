/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for control/config: the input is the text of a
 * bauxite-app config file. It must either load, or be refused with an
 * error that starts with the file name (every error names the file, then
 * the field).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "bx_common.h"
#include "bx_config.h"

#define FUZZ_NAME "fuzz.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bx_config *c = NULL;
	json_error_t jerr;
	char err[512];
	json_t *root;
	int rc;

	root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return 0;
	err[0] = '\0';
	rc = bx_config_from_json(root, FUZZ_NAME, &c, err, sizeof(err));
	if (rc == 0) {
		BX_ASSERT(c != NULL);
		bx_config_free(c);
	} else {
		BX_ASSERT(rc < 0);
		BX_ASSERT(c == NULL);
		BX_ASSERT(strncmp(err, FUZZ_NAME ": ", strlen(FUZZ_NAME) + 2) == 0);
	}
	json_decref(root);
	return 0;
}
