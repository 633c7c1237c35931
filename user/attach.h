/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef SLUICE_ATTACH_H
#define SLUICE_ATTACH_H

#include <stdbool.h>

#include "breaker.h"
#include "config.h"

struct sl_attach_opts {
	const char *ifname;
	int mode;			/* enum sl_xdp_mode */
	const struct sl_config *conf;	/* NULL: keep the pinned rule set */
	bool dry_run;
	bool force;			/* replace an XDP program sluice did not attach */
};

/*
 * Loads the XDP program against the pinned maps (creating them the first
 * time) and attaches it with a pinned bpf_link. On an interface sluice
 * already holds, the link is switched to the new program in place: no
 * packet meets an interface without enforcement.
 */
int attach__run(const struct sl_attach_opts *opts, struct sl_error *err);

struct sluice;

/*
 * Sizes the refusal memory of an opened object: slots per CPU (a power of
 * two in SL_REFUSAL_MIN_SLOTS..SL_REFUSAL_MAX_SLOTS; 0: the default).
 */
int attach__size_refusals(struct sluice *skel, __u32 slots);

/* Sizes the key filter of an opened object for a key map of keys entries. */
int attach__size_keyfilter(struct sluice *skel, __u32 keys);

/* Detaches and removes every pin; state is gone afterwards. */
int attach__detach(const char *ifname, struct sl_error *err);

/* What status prints about one interface. */
struct sl_iface_status {
	char ifname[16];
	int ifindex;			/* 0 if the interface is gone */
	unsigned prog_id, link_id;
	const char *mode;		/* "native", "generic", or "detached" */
	unsigned generation, n_rules;
	bool dry_run;
	unsigned keys_capacity;
	unsigned refusal_slots;		/* per CPU, of the attached program */
	unsigned n_breakers;
	struct sl_breaker_stats breakers[SL_MAX_BREAKERS];
	__u64 read_ns;			/* CLOCK_MONOTONIC when read */
	unsigned long long bans_active;	/* bans in force now */
	/* Seconds since a sweep last finished a pass over the key map;
	 * -1: never, so nothing has reclaimed idle keys. */
	long long keys_swept_ago_s;
};

int attach__status(const char *ifname, struct sl_iface_status *st,
		   struct sl_error *err);

#endif /* SLUICE_ATTACH_H */
