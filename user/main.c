// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice: rate limiting in XDP. This file only dispatches. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct cli_cmd commands[] = {
	{ "attach", cmd_attach, "IFACE [--mode native|generic] [--config FILE] [--dry-run] [--force]" },
	{ "detach", cmd_detach, "IFACE" },
	{ "status", cmd_status, "[IFACE] [--json]" },
	{ "load", cmd_load, "IFACE FILE [--check]" },
	{ "rule", cmd_rule, "add IFACE NAME CLAUSE... | del IFACE NAME | list IFACE [--json]" },
	{ "allow", cmd_allow, "add|del IFACE CIDR | list IFACE [--json]" },
	{ "deny", cmd_deny, "add|del IFACE CIDR | list IFACE [--json]" },
	{ "ban", cmd_ban, "add IFACE ADDR [for DURATION] | del IFACE ADDR | list IFACE [--all] [--json]" },
	{ "stats", cmd_stats, "IFACE [--json]" },
	{ "sweep", cmd_sweep, "IFACE [--json]" },
	{ "top", cmd_top, "IFACE [--interval DUR] [--sort rate|limited] [--limit N] [--once [--json]]" },
	{ "run", cmd_run, "--config FILE [--metrics ADDR:PORT] [--mode native|generic] [--log-format text|json] [--detach-on-exit] [--sweep-interval DUR]" },
	{ NULL },
};

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))) {
		printf("sluice %s\n", SLUICE_VERSION);
		return SL_EXIT_OK;
	}
	return cli_dispatch("", commands, argc - 1, argv + 1);
}
