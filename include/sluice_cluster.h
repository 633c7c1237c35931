/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cluster mode's contract between the data path and the daemon: several
 * gateway hosts share one quota through Redis. The data path counts, per
 * key of a `scope cluster` rule, what this host offered and admitted; the
 * daemon reports that to Redis, reads the other hosts' figures and writes
 * back the limits this host may spend. Rules without scope cluster never
 * touch these maps.
 */
#ifndef SLUICE_CLUSTER_H
#define SLUICE_CLUSTER_H

#include <linux/types.h>

#include "sluice_abi.h"

#define SL_MAP_CLU_COUNT	"sl_clucnt"
#define SL_MAP_CLU_LIMITS	"sl_clulim"
#define SL_MAP_CLU_STATUS	"sl_clustat"

/* Keys of scope cluster rules a host tracks and syncs at once. */
#define SL_CLUSTER_KEYS		65536

/* sl_rule.cluster */
#define SL_CLUSTER_ON		(1u << 0)
/* Demand is counted in bytes: the rule's first rate is a byte rate. */
#define SL_CLUSTER_BYTES	(1u << 1)

/*
 * Per key, per CPU: cost units (packets, or bytes for SL_CLUSTER_BYTES)
 * the rule saw, and those its limits let through. Only ever grows; the
 * daemon reports differences.
 */
struct sl_clu_count {
	__u64 offered;
	__u64 admitted;
};

/*
 * Per key: the limits this host spends instead of the rule's, written whole
 * by the daemon. limits[i] replaces the rule's limit i only if its kind is
 * the same, so a reload that reorders limits never applies one limit's
 * share to another; kind 0 keeps the rule's own.
 */
struct sl_clu_limits {
	struct sl_limit limits[SL_MAX_LIMITS];
};

enum sl_cluster_state {
	SL_CLUSTER_OFF = 0,	/* no daemon has synced this interface */
	SL_CLUSTER_SYNCED = 1,	/* the last sync reached Redis */
	SL_CLUSTER_FALLBACK = 2,	/* Redis unreachable: limit / hosts */
};

#define SL_CLUSTER_NODE_LEN	64
#define SL_CLUSTER_TEXT_LEN	160

/*
 * What the daemon last knew, for `sluice status`; never read by the data
 * path. Times are CLOCK_MONOTONIC.
 */
struct sl_cluster_status {
	__u32 state;		/* enum sl_cluster_state */
	__u32 pid;		/* the daemon writing it */
	__u32 hosts;		/* hosts seen within the TTL at the last good sync */
	__u32 keys;		/* keys in the last sync */
	__u64 updated_ns;	/* last write */
	__u64 since_ns;		/* when state began */
	__u64 last_ok_ns;	/* last sync that reached Redis; 0: none yet */
	__u64 sync_ns;		/* the sync interval */
	__u64 ttl_ns;
	__u64 syncs_ok;
	__u64 syncs_failed;
	char node[SL_CLUSTER_NODE_LEN];
	char server[SL_CLUSTER_TEXT_LEN];	/* the URL, password masked */
	char error[SL_CLUSTER_TEXT_LEN];	/* why the last sync failed */
};

#endif /* SLUICE_CLUSTER_H */
