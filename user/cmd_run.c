// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* run: the daemon's command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "daemon.h"

#define DEFAULT_SWEEP_MS	1000

/* "500ms", "2s": a sweep interval from 10 ms to an hour. */
static int parse_interval(const char *s, unsigned *ms)
{
	char *end;
	unsigned long n = strtoul(s, &end, 10);

	if (end == s)
		return -1;
	if (!strcmp(end, "s"))
		n *= 1000;
	else if (strcmp(end, "ms"))
		return -1;
	if (n < 10 || n > 3600 * 1000)
		return -1;
	*ms = n;
	return 0;
}

int cmd_run(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "config", true }, { "metrics", true }, { "mode", true },
		{ "log-format", true }, { "detach-on-exit" }, { "sweep-interval", true },
		{ NULL },
	};
	struct sl_daemon_opts d = { .sweep_ms = DEFAULT_SWEEP_MS };
	int n_pos, ret;

	ret = cli_parse(path, argc, argv, opts, 0, 0, NULL, &n_pos);
	if (ret)
		return ret;
	if (!opts[0].set) {
		cli_error(path, NULL, "expected --config FILE");
		return SL_EXIT_USAGE;
	}
	d.config_path = opts[0].value;
	d.metrics = opts[1].set ? opts[1].value : NULL;
	if (opts[2].set) {
		if (!strcmp(opts[2].value, "native")) {
			d.mode = SL_MODE_NATIVE;
		} else if (!strcmp(opts[2].value, "generic")) {
			d.mode = SL_MODE_GENERIC;
		} else {
			cli_error(path, NULL, "--mode: expected native or generic, got \"%s\"",
				  opts[2].value);
			return SL_EXIT_USAGE;
		}
	}
	if (opts[3].set) {
		if (!strcmp(opts[3].value, "json")) {
			d.log_json = true;
		} else if (strcmp(opts[3].value, "text")) {
			cli_error(path, NULL, "--log-format: expected text or json, got \"%s\"",
				  opts[3].value);
			return SL_EXIT_USAGE;
		}
	}
	d.detach_on_exit = opts[4].set;
	if (opts[5].set && parse_interval(opts[5].value, &d.sweep_ms)) {
		cli_error(path, NULL, "--sweep-interval: expected 10ms..3600s like 500ms or 1s, got \"%s\"",
			  opts[5].value);
		return SL_EXIT_USAGE;
	}
	return daemon__run(&d);
}
