// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sweep: release idle connections, reconcile connection counts and delete
 * idle keys, once: what the daemon does every second.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "cli.h"
#include "keysweep.h"
#include "pins.h"
#include "stats.h"
#include "sweep.h"

int cmd_sweep(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = { { "json" }, { NULL } };
	struct sl_key_sweep keys = {};
	struct sl_key_sweep_result kres;
	struct sl_sweep_result res;
	struct sl_error err = {};
	char ctl_path[PATH_MAX];
	struct sl_pins pins;
	struct timespec ts;
	__u64 now;
	char *pos[1];
	int n_pos, ret, ctl_fd;

	ret = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (ret)
		return ret;
	ret = pins__open(&pins, pos[0], &err);
	if (ret) {
		cli_error(path, pos[0], "%s", err.msg);
		return cli_pins_exit(pos[0], ret);
	}
	ctl_fd = bpf_obj_get(pins__path(ctl_path, sizeof(ctl_path), pos[0],
					SL_PIN_PROG_CTL));
	if (ctl_fd < 0) {
		cli_error(path, pos[0], "%s: %s", ctl_path, strerror(errno));
		pins__close(&pins);
		return SL_EXIT_FAIL;
	}
	/* The data path stamps flows with bpf_ktime_get_ns: CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	ret = sweep__run(&pins.maps, ctl_fd, now, &res, &err);
	if (!ret)
		ret = keysweep__run(&pins.maps, ctl_fd, now, &keys, &kres, &err);
	close(ctl_fd);
	pins__close(&pins);
	if (ret) {
		cli_error(path, pos[0], "%s", err.msg);
		return SL_EXIT_FAIL;
	}
	if (opts[0].set)
		printf("{\"interface\":\"%s\",\"flows\":%llu,\"released_half_open\":%llu,"
		       "\"released_idle\":%llu,\"adjusted\":%llu,\"dropped\":%llu,"
		       "\"keys\":%llu,\"keys_reclaimed\":%llu}\n",
		       pos[0], res.flows, res.released_half_open, res.released_idle,
		       res.adjusted, res.dropped, kres.read - kres.reclaimed,
		       kres.reclaimed);
	else
		printf("%s: %llu connections tracked; released %llu half-open and %llu idle; %llu counts corrected; %llu keys keep state, %llu idle keys reclaimed\n",
		       pos[0], res.flows, res.released_half_open, res.released_idle,
		       res.adjusted, kres.read - kres.reclaimed, kres.reclaimed);
	return SL_EXIT_OK;
}
