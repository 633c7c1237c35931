/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus metrics: one interface's counters in the text exposition
 * format (version 0.0.4), served over HTTP by libmicrohttpd while the
 * daemon runs. Labels are the interface, the rule, the reason and the
 * verdict, never an address: per-address detail lives in `sluice top` and
 * `stats --json`, where it cannot blow up a time-series database.
 */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "cluster.h"
#include "config.h"
#include "stats.h"

/* Where metrics are served unless the command line or the config says. */
#define SL_DEFAULT_METRICS	"127.0.0.1:9477"

/* What the daemon itself counts, guarded by the daemon's lock. */
struct sl_daemon_stats {
	unsigned long long reloads_ok, reloads_failed;
	unsigned long long sweeps;
	unsigned long long released_half_open;	/* by sweeps, in total */
	unsigned long long released_idle;
	unsigned long long counts_corrected;
	unsigned long long keys_reclaimed;
	time_t start_time;			/* seconds since the epoch */
	struct sl_cluster_stats cluster;	/* written by the cluster sync */
};

/*
 * Writes st (and d, unless NULL) in the text exposition format, every
 * family with its HELP and TYPE lines and an interface label.
 */
void metrics__format(FILE *f, const char *ifname, const struct sl_stats *st,
		     const struct sl_daemon_stats *d);

struct sl_metrics;

/*
 * Serves GET /metrics on addr ("IPV4:PORT" or "[IPV6]:PORT", exactly that
 * address: [::] does not take IPv4) from a thread of its own. Each scrape
 * opens ifname's pins, reads the counters and closes them again, so the
 * pin lock is held only for one read; *d is copied under d_lock. d and
 * d_lock may be NULL: no daemon families then. d must outlive the server.
 * Returns 0, or a negative errno (-EINVAL for a bad address, -EADDRINUSE,
 * ...) with err filled.
 */
int metrics__start(struct sl_metrics **out, const char *addr,
		   const char *ifname, const struct sl_daemon_stats *d,
		   pthread_mutex_t *d_lock, struct sl_error *err);

/* Stops serving (waits for a scrape in progress) and frees m; NULL is fine. */
void metrics__stop(struct sl_metrics *m);

#endif /* SLUICE_METRICS_H */
