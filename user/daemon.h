/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICE_DAEMON_H
#define SLUICE_DAEMON_H

#include <stdbool.h>

struct sl_daemon_opts {
	const char *config_path;
	const char *metrics;		/* ADDR:PORT; NULL: the config's, or the default */
	int mode;			/* enum sl_xdp_mode; 0: the config's */
	bool log_json;
	bool detach_on_exit;
	unsigned sweep_ms;		/* sweep interval: connections and keys */
};

/*
 * Runs the daemon until SIGTERM or SIGINT: attaches (or adopts what is
 * pinned) with the config, sweeps connections and keys, reloads the config on
 * SIGHUP, serves metrics. Returns an exit code.
 */
int daemon__run(const struct sl_daemon_opts *opts);

#endif /* SLUICE_DAEMON_H */
