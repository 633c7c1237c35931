/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cluster mode in the daemon: a thread that shares this host's scope
 * cluster budgets with the other hosts through Redis (see cluster.c).
 */
#ifndef SLUICE_CLUSTER_USER_H
#define SLUICE_CLUSTER_USER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sluice_cluster.h"

/* Per scope cluster rule, for the metrics. */
struct sl_cluster_rule_stats {
	char name[SL_NAME_LEN];
	bool has_rate, has_conns;
	unsigned keys;			/* keys synced */
	double share;			/* this host's share of the limit, mean over keys */
	double admitted_host;		/* units per second over the window */
	double admitted_cluster;	/* the same for every live host; < 0: unknown */
	long long conns_host, conns_cluster;	/* conns_cluster < 0: unknown */
};

/* What the sync thread tells the metrics, under the daemon's stats lock. */
struct sl_cluster_stats {
	bool enabled;
	bool fallback;
	unsigned hosts;			/* seen within the TTL */
	unsigned keys;			/* synced in the last round */
	unsigned long long syncs_ok, syncs_failed, fallbacks;
	double last_ok_time;		/* seconds since the epoch; 0: never */
	unsigned n_rules;
	struct sl_cluster_rule_stats rules[SL_MAX_RULES];
};

struct sl_cluster;

typedef void (*sl_cluster_log_fn)(void *ctx, const char *level, const char *msg);

struct sl_cluster_opts {
	const char *ifname;
	const struct sl_cluster_conf *conf;
	const char *node;		/* conf's, or the host name */
	bool leave_on_stop;		/* stop: withdraw this host's reports */
	sl_cluster_log_fn log;
	void *log_ctx;
	struct sl_cluster_stats *stats;	/* written under lock */
	pthread_mutex_t *lock;
};

/*
 * Start-up check: connects, authenticates and selects the database once.
 * 0 if Redis answered; -EINVAL with err filled when the settings are wrong
 * (a host name that does not resolve, a wrong password, a database Redis
 * does not have): retrying cannot help; any other negative errno, with
 * err filled, when Redis cannot be reached now (the daemon starts in
 * fallback and keeps trying).
 */
int cluster__probe(const struct sl_cluster_conf *conf, struct sl_error *err);

/* Starts the sync thread for opts->ifname, whose pins must exist. */
int cluster__start(struct sl_cluster **out, const struct sl_cluster_opts *opts,
		   struct sl_error *err);

/* Stops the thread (waits at most one Redis timeout) and frees c; NULL is fine. */
void cluster__stop(struct sl_cluster *c);

/* The pinned status of ifname's cluster sync; -ENOENT if it has none. */
int cluster__read_status(const char *ifname, struct sl_cluster_status *st);

/* The host name, as the default node name; 0 or -errno. */
int cluster__default_node(char *buf, size_t len);

#endif /* SLUICE_CLUSTER_USER_H */
