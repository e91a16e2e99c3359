/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serve.c — `cpm serve`: the server, with cpmd's options.
 */
#include "core/common.h"

#include "cli/cli.h"
#include "server/server.h"

int cpm_cli_serve(int argc, char **argv)
{
    return cpm_server_main(argc, argv, "cpm serve");
}
