// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <time.h>
#include <sys/stat.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "bans.h"
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

/*
 * The TCX attach types, which Debian 12's UAPI headers predate; the
 * running kernel (6.6 and later) knows them.
 */
#define SL_BPF_TCX_INGRESS	46
#define SL_BPF_TCX_EGRESS	47

/* A pinned link of ifname, or -ENOENT. */
static int open_link(const char *ifname, const char *pin)
{
	char path[PATH_MAX];
	int fd = bpf_obj_get(pins__path(path, sizeof(path), ifname, pin));

	return fd < 0 ? -errno : fd;
}

/*
 * The pinned link if it still holds ifindex. An interface deleted and
 * created again under the same name leaves a defunct link behind: drop it,
 * so the attach makes a new one instead of updating a dead one.
 */
static int open_live_link(const char *ifname, const char *pin, int ifindex)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd = open_link(ifname, pin);

	if (fd < 0)
		return fd;
	/* XDP and TCX link info both start with the ifindex. */
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex == (__u32)ifindex)
		return fd;
	close(fd);
	unlink(pins__path(path, sizeof(path), ifname, pin));
	return -ENOENT;
}

/*
 * Points the pinned link `pin` at prog, creating and pinning the link if
 * there is none: an update swaps the program in place, with no moment
 * without one.
 */
static int attach_link(const char *ifname, int ifindex, const char *pin,
		       int prog_fd, enum bpf_attach_type type, __u32 flags,
		       struct sl_error *err)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	char path[PATH_MAX];
	int fd, ret = 0;

	fd = open_live_link(ifname, pin, ifindex);
	if (fd >= 0) {
		if (bpf_link_update(fd, prog_fd, NULL))
			ret = errf(err, -errno, "switching %s to the new program", pin);
		close(fd);
		return ret;
	}
	lopts.flags = flags;
	fd = bpf_link_create(prog_fd, ifindex, type, &lopts);
	if (fd < 0)
		return errf(err, -errno, "creating %s%s", pin,
			    flags & XDP_FLAGS_DRV_MODE ? " in native mode" : "");
	pins__path(path, sizeof(path), ifname, pin);
	if (bpf_obj_pin(fd, path) || chmod(path, 0600))
		ret = errf(err, -errno, "pinning %s", path);
	close(fd);
	return ret;
}

/* The syscall program the sweep runs, pinned afresh with each attach. */
static int pin_ctl(const char *ifname, int prog_fd, struct sl_error *err)
{
	char path[PATH_MAX];

	pins__path(path, sizeof(path), ifname, SL_PIN_PROG_CTL);
	if (unlink(path) && errno != ENOENT)
		return errf(err, -errno, "replacing %s", path);
	if (bpf_obj_pin(prog_fd, path) || chmod(path, 0600))
		return errf(err, -errno, "pinning %s", path);
	return 0;
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

		/* .rodata and .bss belong to one program instance, and so
		 * does the refusal memory (see size_refusals()). */
		if (strchr(name, '.') || map == skel->maps.sl_refusals ||
		    map == skel->maps.sl_refkeys)
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
	} else {
		cap = opts->conf && opts->conf->keys ? (int)opts->conf->keys : SL_DEFAULT_KEYS;
	}
	ret = bpf_map__set_max_entries(skel->maps.sl_keys, cap);
	return ret ? ret : attach__size_keyfilter(skel, cap);
}

int attach__size_keyfilter(struct sluice *skel, __u32 keys)
{
	__u64 words = (__u64)keys * SL_KEYFILTER_BITS_PER_KEY / 64;
	__u32 bits = SL_KEYFILTER_MIN_BITS;

	while ((1ull << bits) < words)
		bits++;
	skel->rodata->sl_keyfilter_bits = bits;
	return bpf_map__set_max_entries(skel->maps.sl_keyfilter, 2u << bits);
}

int attach__size_refusals(struct sluice *skel, __u32 slots)
{
	int ncpus = libbpf_num_possible_cpus();
	__u32 bits = 0, entries;

	if (!slots)
		slots = SL_REFUSAL_DEFAULT_SLOTS;
	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	while ((__u32)SL_REFUSAL_WAYS << bits < slots)
		bits++;
	if ((__u32)SL_REFUSAL_WAYS << bits != slots || slots < SL_REFUSAL_MIN_SLOTS ||
	    slots > SL_REFUSAL_MAX_SLOTS || (__u64)ncpus << bits > UINT32_MAX)
		return -EINVAL;
	entries = (__u32)ncpus << bits;
	skel->rodata->sl_refusal_bits = bits;
	return bpf_map__set_max_entries(skel->maps.sl_refusals, entries);
}

/*
 * The refusal memory's size: the configuration's, else what the pinned
 * rule set recorded at its last attach, else the default. The memory is
 * not pinned: it holds nothing a fresh one would not relearn from the
 * next packets, so each attach makes its own, sized anew.
 */
static int size_refusals(struct sluice *skel, const struct sl_attach_opts *opts,
			 struct sl_error *err)
{
	__u32 slots = opts->conf ? opts->conf->refusals : 0;
	char path[PATH_MAX];
	struct sl_cfg cfg;
	__u32 zero = 0;
	int fd, ret;

	if (!opts->conf) {
		fd = bpf_obj_get(pins__path(path, sizeof(path), opts->ifname, SL_MAP_CFG));
		if (fd >= 0) {
			if (!bpf_map_lookup_elem(fd, &zero, &cfg))
				slots = cfg.refusal_slots;
			close(fd);
		}
	}
	ret = attach__size_refusals(skel, slots);
	if (ret)
		errf(err, ret, "sizing the refusal memory for %u slots per CPU", slots);
	return ret;
}

/*
 * A pinned map this build would shape otherwise (another build made it)
 * cannot be reused; say which and what to do, rather than leave it to
 * libbpf's messages.
 */
static int check_pinned_maps(struct sluice *skel, const char *ifname,
			     struct sl_error *err)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, skel->obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		const char *path = bpf_map__pin_path(map);
		bool same;
		int fd;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		same = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		       info.type == bpf_map__type(map) &&
		       info.key_size == bpf_map__key_size(map) &&
		       info.value_size == bpf_map__value_size(map) &&
		       info.max_entries == bpf_map__max_entries(map) &&
		       info.map_flags == bpf_map__map_flags(map);
		close(fd);
		if (!same) {
			snprintf(err->msg, sizeof(err->msg),
				 "pinned map %s was made by another build of sluice; \"sluice detach %s\" (its state is lost) and attach again",
				 bpf_map__name(map), ifname);
			return -EINVAL;
		}
	}
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
	struct sluice *skel = NULL;
	struct sl_pins pins = { .dir_fd = -1 };
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

	link_fd = open_live_link(opts->ifname, SL_PIN_LINK_XDP, ifindex);
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
	/* The pins first: size_refusals() reads the pinned sl_cfg. */
	ret = check_pinned_maps(skel, opts->ifname, err);
	if (!ret)
		ret = size_refusals(skel, opts, err);
	if (ret)
		goto out;
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

	/* TC first: whatever XDP marks or admits from now on has a consumer. */
	ret = attach_link(opts->ifname, ifindex, SL_PIN_LINK_TC_IN,
			  bpf_program__fd(skel->progs.sluice_tc_in), SL_BPF_TCX_INGRESS,
			  0, err);
	if (!ret)
		ret = attach_link(opts->ifname, ifindex, SL_PIN_LINK_TC_OUT,
				  bpf_program__fd(skel->progs.sluice_tc_out),
				  SL_BPF_TCX_EGRESS, 0, err);
	if (!ret)
		ret = pin_ctl(opts->ifname, bpf_program__fd(skel->progs.sluice_ctl), err);
	if (!ret)
		ret = attach_link(opts->ifname, ifindex, SL_PIN_LINK_XDP,
				  bpf_program__fd(skel->progs.sluice_xdp), BPF_XDP,
				  xdp_flags(opts->mode), err);
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

/* Slots per CPU of the refusal memory the attached program uses; 0 if none. */
static unsigned live_refusal_slots(__u32 prog_id)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), ids[64], i, n;
	int ncpus = libbpf_num_possible_cpus();
	unsigned slots = 0;
	int fd, map_fd;

	fd = bpf_prog_get_fd_by_id(prog_id);
	if (fd < 0 || ncpus <= 0)
		goto out;
	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (unsigned long)ids;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		goto out;
	n = info.nr_map_ids < sizeof(ids) / sizeof(ids[0]) ? info.nr_map_ids :
							      sizeof(ids) / sizeof(ids[0]);
	for (i = 0; i < n && !slots; i++) {
		struct bpf_map_info m = {};
		__u32 mlen = sizeof(m);

		map_fd = bpf_map_get_fd_by_id(ids[i]);
		if (map_fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(map_fd, &m, &mlen) &&
		    !strcmp(m.name, SL_MAP_REFUSALS))
			slots = m.max_entries / ncpus * SL_REFUSAL_WAYS;
		close(map_fd);
	}
out:
	if (fd >= 0)
		close(fd);
	return slots;
}

int attach__status(const char *ifname, struct sl_iface_status *st,
		   struct sl_error *err)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	struct sl_ban_counts bans;
	struct sl_pins pins;
	struct timespec ts;
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
	st->keys_swept_ago_s = -1;
	if (cfg.keys_swept_ns) {
		struct timespec ts;
		__u64 now;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
		st->keys_swept_ago_s = now > cfg.keys_swept_ns ?
				       (now - cfg.keys_swept_ns) / 1000000000ull : 0;
	}
	ret = pinned_key_capacity(ifname);
	st->keys_capacity = ret > 0 ? ret : 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	st->read_ns = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	ret = breakers__read(&pins.maps, &cfg, st->breakers, &st->n_breakers, err);
	if (ret)
		goto out;
	ret = bans__count(&pins.maps, st->read_ns, &bans);
	if (ret) {
		errf(err, ret, "counting bans");
		goto out;
	}
	st->bans_active = bans.active;

	link_fd = open_link(ifname, SL_PIN_LINK_XDP);
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
	if (st->prog_id)
		st->refusal_slots = live_refusal_slots(st->prog_id);
out:
	pins__close(&pins);
	return ret;
}
