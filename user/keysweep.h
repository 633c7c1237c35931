/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The key sweep: deletes per-key limiter state that says nothing any more
 * (every bucket full, every window lapsed, for key-timeout) and state of
 * rules that no longer exist. The key map never evicts, so this is what
 * makes room for new keys; without it a full map stays full.
 */
#ifndef SLUICE_KEYSWEEP_H
#define SLUICE_KEYSWEEP_H

#include <stdbool.h>

#include "config.h"
#include "ruleset.h"

/*
 * Keys the daemon reads per sweep at most: 40 ms of one core, 150 ms if
 * every one of them is deleted (a million-key map, 2 CPUs), so a pass over
 * a million keys is spread over 16 sweeps instead of stalling one for two
 * seconds.
 */
#define SL_KEY_SWEEP_BUDGET	65536

/* Where a pass over the key map stands between calls. */
struct sl_key_sweep {
	/* Keys read per call at most (but one batch of 4096 at least);
	 * 0: a whole pass. */
	unsigned budget;
	bool in_pass;
	unsigned long long cursor;	/* the map's batch position */
	unsigned long long pass_read;	/* keys read so far in this pass */
	unsigned long long pass_reclaimed;
};

struct sl_key_sweep_result {
	unsigned long long read;	/* keys read by this call */
	unsigned long long reclaimed;	/* and deleted */
	bool pass_done;			/* this call finished a pass */
};

/*
 * Reads keys from where ks stands, up to ks->budget, at monotonic time
 * now_ns, and deletes those whose state has said nothing for the
 * interface's key-timeout. A call that finishes a pass rebuilds the key
 * filter through the control program ctl_fd (so deleted keys' bits go)
 * and records now_ns as sl_cfg.keys_swept_ns. The caller holds the pin
 * lock, so the rule set cannot change under the sweep. Returns 0 or a
 * negative errno with err filled.
 */
int keysweep__run(const struct sl_maps *maps, int ctl_fd, __u64 now_ns,
		  struct sl_key_sweep *ks, struct sl_key_sweep_result *res,
		  struct sl_error *err);

#endif /* SLUICE_KEYSWEEP_H */
