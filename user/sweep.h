/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The connection sweep: releases tracked connections that went idle
 * without a FIN or RST sluice could see, and reconciles the per-key counts
 * against the flow table, so no count leaks whatever clients do.
 */
#ifndef SLUICE_SWEEP_H
#define SLUICE_SWEEP_H

#include "config.h"
#include "ruleset.h"

struct sl_sweep_result {
	unsigned long long flows;		/* tracked after the sweep */
	unsigned long long released_half_open;	/* handshake never completed */
	unsigned long long released_idle;	/* established, then silent */
	unsigned long long adjusted;		/* counts corrected */
	unsigned long long dropped;		/* zero counts removed */
};

/*
 * One sweep at monotonic time now_ns. ctl_fd is the pinned sluice_ctl
 * program, through which every change is made with the data path's own
 * atomic operations. Returns 0 or a negative errno with err filled.
 */
int sweep__run(const struct sl_maps *maps, int ctl_fd, __u64 now_ns,
	       struct sl_sweep_result *res, struct sl_error *err);

/* Runs one request through the sluice_ctl program; 0 or -errno. */
int sweep__ctl(int ctl_fd, struct sl_ctl *ctl);

#endif /* SLUICE_SWEEP_H */
