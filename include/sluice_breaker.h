/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Circuit breakers: the maps both sides share and the one piece of parsing
 * both do, recognising an HTTP/1.x status line. TC egress counts a
 * service's errors and judges probes; XDP refuses new connections while a
 * breaker is open; the controller decides every transition.
 */
#ifndef SLUICE_BREAKER_H
#define SLUICE_BREAKER_H

#include <linux/types.h>

#include "sluice_abi.h"

#define SL_MAX_BREAKERS		32
/* Probe connections one half-open breaker lets through at most. */
#define SL_MAX_PROBES		1000
#define SL_BRK_TEXT_LEN		160

#define SL_MAP_BRKPORT		"sl_brkport"
#define SL_MAP_BRK		"sl_brk"
#define SL_MAP_BRKCNT		"sl_brkcnt"
#define SL_MAP_PROBES		"sl_probes"

enum sl_breaker_state {
	SL_BRK_CLOSED = 0,	/* connections pass; errors are counted */
	SL_BRK_OPEN = 1,	/* new connections are refused with a RST */
	SL_BRK_HALF_OPEN = 2,	/* up to `probes` connections pass, to test */
	SL_BRK_STATES,
};

/*
 * sl_brk[slot]. The data path reads state and port, and XDP takes probes
 * from the budget with an atomic add; everything is written by the
 * controller, and only when a breaker changes state or definition, so the
 * budget is never overwritten while probes spend it.
 */
struct sl_breaker {
	__u32 state;		/* enum sl_breaker_state */
	__u32 port;		/* the service, tcp/port; 0: slot unused */
	__s64 probes;		/* half-open: SYNs XDP may still let through */
	/* The controller's bookkeeping; never read by the data path. */
	__u32 uid;		/* new whenever the definition changes */
	__u32 errors;		/* the definition: errors N within D open O probes K */
	__u64 within_ns;
	__u64 open_ns;
	__u32 probes_max;
	__u32 pad;
	__u64 since_ns;		/* CLOCK_MONOTONIC of the last transition */
	/* What the per-CPU counters said on entering half-open: the probes
	 * judged since are the difference. */
	__u64 probes_ok_base;
	__u64 probes_failed_base;
	__u64 probes_timed_out;	/* probes with no answer in time, ever */
	__u64 transitions[SL_BRK_STATES];	/* into each state, ever */
	char name[SL_NAME_LEN];
	char text[SL_BRK_TEXT_LEN];	/* canonical statement, to read back */
};

/* sl_brkcnt[slot], per CPU: what the data path saw of the service. */
struct sl_breaker_counter {
	__u64 rsts;		/* RSTs the service sent */
	__u64 http_5xx;		/* HTTP/1.x status lines 500..599 */
	__u64 responses;	/* HTTP/1.x status lines, any status */
	__u64 probes_ok;
	__u64 probes_failed;
	__u64 refused;		/* SYNs refused while open or half-open */
};

/*
 * sl_probes: a connection let through as a probe, keyed as the client
 * sees it (struct sl_flow_key). Whoever deletes the entry gives the
 * verdict, so each probe is judged exactly once.
 */
struct sl_probe {
	__u64 admitted_ns;
	__u32 slot;
	__u32 pad;
};

/* "HTTP/1.x ddd": all a status line must have for its code to be read. */
#define SL_HTTP_STATUS_LEN	12

/*
 * The status code of an HTTP/1.0 or HTTP/1.1 status line starting at b
 * (SL_HTTP_STATUS_LEN bytes), or 0 if b does not start one. RFC 9112: the
 * version, one space, three digits, the first 1..5.
 */
static inline __u32 sl_http_status(const __u8 *b)
{
	__u32 i, code = 0;

	if (b[0] != 'H' || b[1] != 'T' || b[2] != 'T' || b[3] != 'P' ||
	    b[4] != '/' || b[5] != '1' || b[6] != '.' ||
	    (b[7] != '0' && b[7] != '1') || b[8] != ' ')
		return 0;
	for (i = 9; i < SL_HTTP_STATUS_LEN; i++) {
		if (b[i] < '0' || b[i] > '9')
			return 0;
		code = code * 10 + (b[i] - '0');
	}
	return code >= 100 && code <= 599 ? code : 0;
}

#endif /* SLUICE_BREAKER_H */
