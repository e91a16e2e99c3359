/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpmd_main.c — the cpmd executable: `cpmd --data DIR --listen HOST:PORT`.
 */
#include "core/common.h"

#include "server/server.h"

int main(int argc, char **argv)
{
    return cpm_server_main(argc, argv, "cpmd");
}
