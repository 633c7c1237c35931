/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Circuit breakers, the controller's half: writing their definitions into
 * the pinned maps (keeping the state of those that stay), reading them
 * back, and the daemon's decisions. The data path only counts and obeys
 * (bpf/breaker.bpf.h); every transition is decided here.
 */
#ifndef SLUICE_BREAKER_USER_H
#define SLUICE_BREAKER_USER_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "ruleset.h"

/* How often the daemon looks at its breakers. */
#define SL_BREAKER_TICK_MS	100

/* One breaker as status, stats and metrics show it. */
struct sl_breaker_stats {
	char name[SL_NAME_LEN];
	__u32 port;
	__u32 state;			/* enum sl_breaker_state */
	__u64 since_ns;			/* CLOCK_MONOTONIC of the last transition */
	__u32 errors, probes;		/* the definition */
	__u64 within_ns, open_ns;
	__s64 probes_left;		/* half-open: the budget, never below 0 */
	__u64 probes_timed_out;
	__u64 transitions[SL_BRK_STATES];
	struct sl_breaker_counter c;	/* per-CPU counters, summed */
};

const char *breaker_state_name(__u32 state);

/*
 * Makes conf's breakers the pinned ones, called by ruleset__apply with the
 * sl_cfg it is about to write (cfg->breakers and cfg->next_uid change). A
 * breaker that keeps its name and service keeps its state and counters;
 * new thresholds apply from the next decision. One with a new name or
 * another service starts closed with zero counters. Returns 0 or a
 * negative errno with err filled.
 */
int breakers__apply(const struct sl_maps *maps, const struct sl_config *conf,
		    struct sl_cfg *cfg, __u64 now_ns, struct sl_error *err);

/* Adds the pinned breakers' statements to conf (ruleset__read). */
int breakers__read_config(const struct sl_maps *maps, const struct sl_cfg *cfg,
			  struct sl_config *conf, struct sl_error *err);

/* Reads every pinned breaker, in slot order. */
int breakers__read(const struct sl_maps *maps, const struct sl_cfg *cfg,
		   struct sl_breaker_stats *out, unsigned *n, struct sl_error *err);

/* "breakers":[...] for status and stats --json; now_ns for "for_s". */
void breakers__print_json(FILE *f, const struct sl_breaker_stats *b, unsigned n,
			  __u64 now_ns);
/* One indented line per breaker, for status and stats. */
void breakers__print_text(FILE *f, const struct sl_breaker_stats *b, unsigned n,
			  __u64 now_ns);

/*
 * The errors of the last `within` as the daemon sees them: the service's
 * cumulative error count sampled at its ticks. Errors are the difference
 * between now and the oldest sample still inside the window, so errors
 * spread over more than `within` never add up, and the window is short by
 * at most one sample step (one tick, or within / 60 when that is longer).
 */
#define SL_BRK_SAMPLES		64

struct sl_error_window {
	__u64 within_ns, step_ns;
	unsigned head, n;		/* ring: newest at head - 1 */
	struct {
		__u64 t, errors;
	} s[SL_BRK_SAMPLES];
};

/* Starts counting afresh at now, with the cumulative count `errors`. */
void sl_error_window_reset(struct sl_error_window *w, __u64 within_ns,
			   __u64 now_ns, __u64 errors);
/* Records the cumulative count at now; returns the errors within the window. */
__u64 sl_error_window_count(struct sl_error_window *w, __u64 now_ns,
			    __u64 errors);

/* What one decision looks at. */
struct sl_breaker_view {
	__u32 state;
	__u64 since_ns;
	__u32 errors, probes;		/* thresholds: N errors, K probes */
	__u64 open_ns;
	__u64 window_errors;		/* closed: errors within the window */
	__u64 probes_ok;		/* half-open: probes judged since it began */
	__u64 probes_failed;
	__u64 probes_timed_out;
};

/*
 * The state machine: closed opens at N errors within the window; open
 * turns half-open after the open time; half-open reopens when a probe
 * fails or gets no answer in time, and closes when K probes succeeded.
 */
__u32 sl_breaker_next(const struct sl_breaker_view *v, __u64 now_ns);

/* A transition the daemon made, for its log and for what follows a close. */
struct sl_breaker_change {
	const struct sl_breaker_stats *b;	/* after the transition */
	__u32 from;
	__u64 window_errors;			/* to open from closed */
	__u64 probes_ok, probes_failed, probes_timed_out;	/* from half-open */
};

struct sl_breaker_watch {
	__u32 uid[SL_MAX_BREAKERS];	/* whose window each slot holds; 0: none */
	struct sl_error_window window[SL_MAX_BREAKERS];
};

/*
 * One round of decisions at now_ns: reads every breaker's counters, makes
 * the transitions that are due, and calls changed() once per transition
 * made. Returns 0 or a negative errno with err filled.
 */
int breakers__tick(struct sl_breaker_watch *w, const struct sl_maps *maps,
		   __u64 now_ns,
		   void (*changed)(void *arg, const struct sl_breaker_change *c),
		   void *arg, struct sl_error *err);

#endif /* SLUICE_BREAKER_USER_H */
