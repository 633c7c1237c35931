/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A rule set in the kernel: compiling a struct sl_config into the tables of
 * the inactive generation, flipping to it in one update, and reading the
 * active generation back.
 */
#ifndef SLUICE_RULESET_H
#define SLUICE_RULESET_H

#include "config.h"

/* File descriptors of one interface's maps, pinned or freshly loaded. */
struct sl_maps {
	int cfg, l4, dport, src4, src6, rules, rtext, keys, rcnt, cnt;
	int flows, conns;
	int brkport, brk, brkcnt, probes;	/* circuit breakers */
	int bans;
	int topk;
};

/*
 * Makes cfg the active rule set: rules, allow and deny sets, malformed
 * policy, breakers (each on its own, not by generation: breakers__apply).
 * A rule whose name exists in the active set keeps its counters and its
 * keys' budgets; a new name gets fresh ones. Everything is written to the
 * inactive generation first, so a failure part-way changes nothing the data
 * path sees. Returns 0 or a negative errno with err filled.
 */
int ruleset__apply(const struct sl_maps *maps, const struct sl_config *cfg,
		   struct sl_error *err);

/* Reads the active rule set back into cfg (initialised by the caller). */
int ruleset__read(const struct sl_maps *maps, struct sl_config *cfg,
		  struct sl_error *err);

/*
 * Restarts the warm-up of the active rule `name` at now_ns (CLOCK_MONOTONIC,
 * the data path's clock): its rates drop to a third and ramp up again over
 * its warmup. For the breaker, when a service's breaker closes. Call with
 * the pins lock held (pins__open), like every writer of the rule set.
 * It moves the generation on by two (the same tables stay live), so the
 * data path forgets the refusals it remembered under the old stretch.
 * Returns 1 if restarted, 0 if the rule has no warm-up, -ENOENT if no
 * active rule has that name, or another negative errno.
 */
int ruleset__restart_warmup(const struct sl_maps *maps, const char *name,
			    __u64 now_ns);

/* Sets the dry-run flag (every limited frame passes, counted). */
int ruleset__set_dry_run(const struct sl_maps *maps, bool dry_run);

#endif /* SLUICE_RULESET_H */
