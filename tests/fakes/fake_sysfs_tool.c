/* ipw-fake-sysfs: builds the fake sysfs trees of tests/support/fake_sysfs.c from the command
 * line, for integration tests and benchmarks that run the real ipw program against them.
 *   ipw-fake-sysfs standard ROOT           two packages with core+dram, psys, an mmio duplicate
 *   ipw-fake-sysfs zone ROOT ID NAME UJ [RANGE]
 *   ipw-fake-sysfs set ROOT ID UJ */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_sysfs.h"

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "standard") == 0) {
        ipw_fake_rapl_standard(argv[2]);
        return 0;
    }
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "zone") == 0) {
        ipw_fake_rapl_zone(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10),
                           argc == 7 ? strtoull(argv[6], NULL, 10) : IPW_FAKE_RAPL_RANGE);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "set") == 0) {
        ipw_fake_rapl_set(argv[2], argv[3], strtoull(argv[4], NULL, 10));
        return 0;
    }
    fprintf(stderr, "usage: ipw-fake-sysfs standard ROOT | zone ROOT ID NAME UJ [RANGE] | "
                    "set ROOT ID UJ\n");
    return 2;
}
