/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pinned state of one interface under /sys/fs/bpf/sluice/<ifname>/: what
 * lets any sluice process, now or after a restart, see and change the same
 * maps the data path uses.
 */
#ifndef SLUICE_PINS_H
#define SLUICE_PINS_H

#include <limits.h>
#include <net/if.h>

#include "config.h"
#include "ruleset.h"

struct sl_pins {
	char ifname[IF_NAMESIZE];
	char dir[PATH_MAX];
	int dir_fd;		/* holds the flock that serialises controllers */
	struct sl_maps maps;
};

/* Path of one pinned object of ifname; returns buf. */
const char *pins__path(char *buf, size_t len, const char *ifname,
		       const char *name);

/* Makes sure a bpffs is mounted at the pin root's parent. */
int pins__ensure_bpffs(struct sl_error *err);

/* Creates the interface's pin directory (0700) if needed. */
int pins__make_dir(const char *ifname, struct sl_error *err);

/*
 * Opens every pinned map of ifname and takes the exclusive lock, so two
 * controllers changing the same interface take turns. -ENOENT (with a
 * message saying so) if sluice is not attached there.
 */
int pins__open(struct sl_pins *pins, const char *ifname, struct sl_error *err);
void pins__close(struct sl_pins *pins);

/* Gives every pin in the directory mode 0600 (libbpf creates them 0600 only
 * under a restrictive umask). */
int pins__restrict(const char *ifname, struct sl_error *err);

/* Removes the directory and everything pinned in it. */
int pins__remove(const char *ifname, struct sl_error *err);

/* Returns 1 if a pin directory exists for ifname, 0 if not. */
int pins__exists(const char *ifname);

#endif /* SLUICE_PINS_H */
