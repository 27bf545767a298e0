/* SPDX-License-Identifier: Apache-2.0 */
/*
 * EAL bring-up for unit suites that need DPDK: no hugepages, no PCI, no
 * shared config, no telemetry socket, so suites run in parallel and leave no
 * files behind. rte_eal_init works once per process: call it from the cmocka
 * group setup.
 */
#ifndef BX_TEST_EAL_H
#define BX_TEST_EAL_H

#include <rte_eal.h>
#include <rte_common.h>

static inline int
bx_test_eal_init(const char *lcores)
{
	char *argv[] = {
		(char *)"bx_test", (char *)"-l", (char *)lcores,
		(char *)"--no-pci", (char *)"--no-huge", (char *)"--no-shconf",
		(char *)"-m", (char *)"256", (char *)"--no-telemetry",
		(char *)"--log-level=*:error",
	};
	int argc = RTE_DIM(argv);

	return rte_eal_init(argc, argv) < 0 ? -1 : 0;
}

#endif /* BX_TEST_EAL_H */
