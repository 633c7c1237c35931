// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "pins.h"
#include "ruleset.h"
#include "sluice.skel.h"

/* Fills err with "WHAT: strerror(ret)" and returns ret. */
static int errf(struct sl_error *err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int errf(struct sl_error *err, int ret, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(-ret));
	return ret;
}

/* The pinned link of ifname, or -ENOENT. */
static int open_link(const char *ifname)
{
	char path[PATH_MAX];
	int fd = bpf_obj_get(pins__path(path, sizeof(path), ifname,
					SL_PIN_LINK_XDP));

	return fd < 0 ? -errno : fd;
}

/*
 * The pinned link if it still holds ifindex. An interface deleted and
 * created again under the same name leaves a defunct link behind: drop it,
 * so the attach makes a new one instead of updating a dead one.
 */
static int open_live_link(const char *ifname, int ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd = open_link(ifname);

	if (fd < 0)
		return fd;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex == (__u32)ifindex)
		return fd;
	close(fd);
	unlink(pins__path(path, sizeof(path), ifname, SL_PIN_LINK_XDP));
	return -ENOENT;
}

static const char *mode_name(__u8 attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	default:
		return "detached";
	}
}

static int pinned_key_capacity(const char *ifname)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, ret;

	fd = bpf_obj_get(pins__path(path, sizeof(path), ifname, SL_MAP_KEYS));
	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : (int)info.max_entries;
	close(fd);
	return ret;
}

/*
 * Sets each map's pin path so that libbpf reuses what is pinned and pins
 * what it creates: the maps outlive every controller.
 */
static int prepare_maps(struct sluice *skel, const struct sl_attach_opts *opts,
			struct sl_error *err)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int cap, ret;

	bpf_object__for_each_map(map, skel->obj) {
		const char *name = bpf_map__name(map);

		/* .rodata and .bss belong to one program instance. */
		if (strchr(name, '.'))
			continue;
		ret = bpf_map__set_pin_path(map, pins__path(path, sizeof(path),
							     opts->ifname, name));
		if (ret)
			return errf(err, ret, "pin path for %s", name);
	}

	cap = pinned_key_capacity(opts->ifname);
	if (cap > 0) {
		if (opts->conf && opts->conf->keys && opts->conf->keys != (unsigned)cap) {
			snprintf(err->msg, sizeof(err->msg),
				 "key map holds %d keys; its size is fixed while attached, detach first to change it",
				  cap);
			return -EINVAL;
		}
		return bpf_map__set_max_entries(skel->maps.sl_keys, cap);
	}
	if (opts->conf && opts->conf->keys)
		return bpf_map__set_max_entries(skel->maps.sl_keys, opts->conf->keys);
	return 0;
}

static __u32 xdp_flags(int mode)
{
	switch (mode) {
	case SL_MODE_NATIVE:
		return XDP_FLAGS_DRV_MODE;
	case SL_MODE_GENERIC:
		return XDP_FLAGS_SKB_MODE;
	default:
		return 0;
	}
}

/*
 * Refuses to take an interface from a program sluice did not attach, and
 * to change the mode of its own attachment in place (a link cannot).
 */
static int check_current(const struct sl_attach_opts *opts, int ifindex,
			 int link_fd, struct sl_error *err)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ret;

	ret = bpf_xdp_query(ifindex, 0, &q);
	if (ret)
		return errf(err, ret, "querying XDP");
	if (q.attach_mode == XDP_ATTACHED_NONE)
		return 0;
	if (link_fd < 0) {
		if (!opts->force) {
			snprintf(err->msg, sizeof(err->msg),
				 "an XDP program sluice did not attach is there (prog id %u); use --force to replace it",
				  q.prog_id ? q.prog_id :
				 q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id);
			return -EEXIST;
		}
		ret = bpf_xdp_detach(ifindex, q.attach_mode == XDP_ATTACHED_SKB ?
				     XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE, NULL);
		if (ret)
			return errf(err, ret, "removing the foreign XDP program%s",
				     " (attached through a link of its own?)");
		return 0;
	}
	if ((opts->mode == SL_MODE_NATIVE && q.attach_mode != XDP_ATTACHED_DRV) ||
	    (opts->mode == SL_MODE_GENERIC && q.attach_mode != XDP_ATTACHED_SKB)) {
		snprintf(err->msg, sizeof(err->msg),
			 "attached in %s mode; detach first to change the mode",
			  mode_name(q.attach_mode));
		return -EINVAL;
	}
	return 0;
}

int attach__run(const struct sl_attach_opts *opts, struct sl_error *err)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	struct sluice *skel = NULL;
	struct sl_pins pins = { .dir_fd = -1 };
	char path[PATH_MAX];
	bool fresh;
	int ifindex, link_fd = -1, ret;

	ifindex = if_nametoindex(opts->ifname);
	if (!ifindex) {
		ret = -errno;
		return errf(err, ret, "%s", opts->ifname);
	}
	ret = pins__ensure_bpffs(err);
	if (ret)
		return ret;
	ret = pins__make_dir(opts->ifname, err);
	if (ret)
		return ret;
	fresh = pinned_key_capacity(opts->ifname) < 0;

	link_fd = open_live_link(opts->ifname, ifindex);
	ret = check_current(opts, ifindex, link_fd, err);
	if (ret)
		goto out;

	skel = sluice__open();
	if (!skel) {
		ret = -errno;
		errf(err, ret, "opening the BPF object");
		goto out;
	}
	ret = prepare_maps(skel, opts, err);
	if (ret) {
		if (!err->msg[0])
			errf(err, ret, "sizing the key map");
		goto out;
	}
	ret = sluice__load(skel);
	if (ret) {
		errf(err, ret, "loading the BPF program (see libbpf's messages above)");
		goto out;
	}
	ret = pins__restrict(opts->ifname, err);
	if (ret)
		goto out;

	/* Rules before the program: it must never run against empty tables
	 * it was not meant to see. */
	ret = pins__open(&pins, opts->ifname, err);
	if (ret)
		goto out;
	if (opts->conf || fresh) {
		struct sl_config empty;

		config_init(&empty);
		ret = ruleset__apply(&pins.maps, opts->conf ? opts->conf : &empty, err);
		config_free(&empty);
		if (ret)
			goto out;
	}
	ret = ruleset__set_dry_run(&pins.maps, opts->dry_run);
	if (ret) {
		errf(err, ret, "setting dry run");
		goto out;
	}

	if (link_fd >= 0) {
		ret = bpf_link_update(link_fd, bpf_program__fd(skel->progs.sluice_xdp),
				      NULL);
		if (ret)
			errf(err, -errno, "switching the link to the new program");
		goto out;
	}
	lopts.flags = xdp_flags(opts->mode);
	link_fd = bpf_link_create(bpf_program__fd(skel->progs.sluice_xdp), ifindex,
				  BPF_XDP, &lopts);
	if (link_fd < 0) {
		ret = -errno;
		errf(err, ret, "attaching XDP%s",
		     opts->mode == SL_MODE_NATIVE ? " in native mode" : "");
		goto out;
	}
	pins__path(path, sizeof(path), opts->ifname, SL_PIN_LINK_XDP);
	if (bpf_obj_pin(link_fd, path) || chmod(path, 0600)) {
		ret = -errno;
		errf(err, ret, "pinning %s", path);
	}
out:
	if (link_fd >= 0)
		close(link_fd);
	pins__close(&pins);
	sluice__destroy(skel);
	/* A first attach that failed leaves nothing behind. */
	if (ret && fresh) {
		struct sl_error ignored;

		pins__remove(opts->ifname, &ignored);
	}
	return ret;
}

int attach__detach(const char *ifname, struct sl_error *err)
{
	struct sl_pins pins;
	int ret;

	/* Locked, so a controller mid-update finishes before the maps go. */
	ret = pins__open(&pins, ifname, err);
	if (ret == -ENOENT)
		return ret;
	/* Unpinning the link drops its last reference: the program detaches. */
	ret = pins__remove(ifname, err);
	pins__close(&pins);
	return ret;
}

int attach__status(const char *ifname, struct sl_iface_status *st,
		   struct sl_error *err)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	struct sl_pins pins;
	struct sl_cfg cfg;
	__u32 zero = 0;
	int link_fd, ret;

	memset(st, 0, sizeof(*st));
	snprintf(st->ifname, sizeof(st->ifname), "%s", ifname);
	st->mode = "detached";
	ret = pins__open(&pins, ifname, err);
	if (ret)
		return ret;
	if (bpf_map_lookup_elem(pins.maps.cfg, &zero, &cfg)) {
		ret = errf(err, -errno, "reading %s", SL_MAP_CFG);
		goto out;
	}
	st->generation = cfg.gen;
	st->n_rules = cfg.hdr[cfg.gen & 1].n_rules;
	st->dry_run = cfg.dry_run;
	ret = pinned_key_capacity(ifname);
	st->keys_capacity = ret > 0 ? ret : 0;
	ret = 0;

	link_fd = open_link(ifname);
	if (link_fd >= 0) {
		if (!bpf_obj_get_info_by_fd(link_fd, &info, &len)) {
			st->link_id = info.id;
			st->prog_id = info.prog_id;
			st->ifindex = info.xdp.ifindex;
		}
		close(link_fd);
	}
	if (st->ifindex && !bpf_xdp_query(st->ifindex, 0, &q))
		st->mode = mode_name(q.attach_mode);
out:
	pins__close(&pins);
	return ret;
}
