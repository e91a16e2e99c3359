/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpm_main.c — the cpm executable: dispatches to a subcommand.
 */
#include "core/common.h"

#include "cli/cli.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cpm COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < cpm_cli_commands_count; i++)
        fprintf(out, "  %-13s %s\n", cpm_cli_commands[i].name, cpm_cli_commands[i].summary);
    fprintf(out, "\nRun `cpm COMMAND --help` for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CPM_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CPM_EXIT_OK;
    }
    for (size_t i = 0; i < cpm_cli_commands_count; i++)
        if (strcmp(argv[1], cpm_cli_commands[i].name) == 0)
            return cpm_cli_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cpm: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CPM_EXIT_USAGE;
}
