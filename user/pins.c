// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>

#include "pins.h"

#define BPFFS_ROOT	"/sys/fs/bpf"

const char *pins__path(char *buf, size_t len, const char *ifname,
		       const char *name)
{
	if (name)
		snprintf(buf, len, "%s/%s/%s", SL_PIN_ROOT, ifname, name);
	else
		snprintf(buf, len, "%s/%s", SL_PIN_ROOT, ifname);
	return buf;
}

int pins__ensure_bpffs(struct sl_error *err)
{
	struct statfs st;

	if (!statfs(BPFFS_ROOT, &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS_ROOT, "bpf", 0, "mode=0700")) {
		int ret = -errno;

		snprintf(err->msg, sizeof(err->msg),
			 "mounting bpffs on %s: %s", BPFFS_ROOT, strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * Whoever owns a directory may unlink what is in it, whatever the modes of
 * the pins: one owned by someone else could have its link pin removed, and
 * enforcement with it. A bpffs mounted without options is world-writable,
 * so an existing directory is trusted only if it is ours; it is never
 * taken over, since its owner may already hold a way into it.
 */
static int make_private_dir(const char *path, struct sl_error *err)
{
	struct stat st;
	int fd, ret = 0;

	if (mkdir(path, 0700) && errno != EEXIST) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "creating %s: %s", path,
			 strerror(-ret));
		return ret;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (st.st_uid != geteuid()) {
		ret = -EPERM;
		snprintf(err->msg, sizeof(err->msg),
			 "%s belongs to uid %u, not to us: refusing to pin there (its owner could remove the pins); remove it, or mount bpffs with mode=0700",
			 path, (unsigned)st.st_uid);
		goto out;
	}
	/* Ours, but perhaps made before with looser permissions. */
	if ((st.st_mode & 077) && fchmod(fd, 0700)) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "chmod %s: %s", path,
			 strerror(-ret));
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

int pins__make_dir(const char *ifname, struct sl_error *err)
{
	char path[PATH_MAX];
	int ret;

	ret = make_private_dir(SL_PIN_ROOT, err);
	if (ret)
		return ret;
	return make_private_dir(pins__path(path, sizeof(path), ifname, NULL), err);
}

int pins__exists(const char *ifname)
{
	char path[PATH_MAX];
	struct stat st;

	return !stat(pins__path(path, sizeof(path), ifname, NULL), &st) &&
	       S_ISDIR(st.st_mode);
}

static int open_map(const struct sl_pins *pins, const char *name, int *fd,
		    struct sl_error *err)
{
	char path[PATH_MAX];

	*fd = bpf_obj_get(pins__path(path, sizeof(path), pins->ifname, name));
	if (*fd < 0) {
		int ret = -errno;

		snprintf(err->msg, sizeof(err->msg), "%s: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

int pins__open(struct sl_pins *pins, const char *ifname, struct sl_error *err)
{
	struct { const char *name; int *fd; } maps[] = {
		{ SL_MAP_CFG, &pins->maps.cfg },
		{ SL_MAP_L4, &pins->maps.l4 },
		{ SL_MAP_DPORT, &pins->maps.dport },
		{ SL_MAP_SRC4, &pins->maps.src4 },
		{ SL_MAP_SRC6, &pins->maps.src6 },
		{ SL_MAP_RULES, &pins->maps.rules },
		{ SL_MAP_RTEXT, &pins->maps.rtext },
		{ SL_MAP_KEYS, &pins->maps.keys },
		{ SL_MAP_RCNT, &pins->maps.rcnt },
		{ SL_MAP_CNT, &pins->maps.cnt },
		{ SL_MAP_FLOWS, &pins->maps.flows },
		{ SL_MAP_CONNS, &pins->maps.conns },
		{ SL_MAP_BRKPORT, &pins->maps.brkport },
		{ SL_MAP_BRK, &pins->maps.brk },
		{ SL_MAP_BRKCNT, &pins->maps.brkcnt },
		{ SL_MAP_PROBES, &pins->maps.probes },
		{ SL_MAP_BANS, &pins->maps.bans },
		{ SL_MAP_TOPK, &pins->maps.topk },
	};
	size_t i;
	int ret;

	memset(pins, 0, sizeof(*pins));
	pins->dir_fd = -1;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		*maps[i].fd = -1;
	snprintf(pins->ifname, sizeof(pins->ifname), "%s", ifname);
	pins__path(pins->dir, sizeof(pins->dir), ifname, NULL);

	pins->dir_fd = open(pins->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pins->dir_fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			snprintf(err->msg, sizeof(err->msg),
				 "%s: sluice is not attached (no %s)", ifname,
				 pins->dir);
		else
			snprintf(err->msg, sizeof(err->msg), "%s: %s", pins->dir,
				 strerror(-ret));
		return ret;
	}
	if (flock(pins->dir_fd, LOCK_EX)) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "locking %s: %s", pins->dir,
			 strerror(-ret));
		goto fail;
	}
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		ret = open_map(pins, maps[i].name, maps[i].fd, err);
		if (ret)
			goto fail;
	}
	return 0;
fail:
	pins__close(pins);
	return ret;
}

void pins__close(struct sl_pins *pins)
{
	int *fds = (int *)&pins->maps;
	size_t i;

	for (i = 0; i < sizeof(pins->maps) / sizeof(int); i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	if (pins->dir_fd >= 0)
		close(pins->dir_fd);
	pins->dir_fd = -1;
}

static int for_each_pin(const char *ifname, int (*fn)(const char *path),
			struct sl_error *err)
{
	char dir[PATH_MAX], path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(pins__path(dir, sizeof(dir), ifname, NULL));
	if (!d) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", dir, strerror(-ret));
		return ret;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (fn(path)) {
			ret = -errno;
			snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
				 strerror(-ret));
			break;
		}
	}
	closedir(d);
	return ret;
}

static int restrict_one(const char *path)
{
	return chmod(path, 0600);
}

int pins__restrict(const char *ifname, struct sl_error *err)
{
	return for_each_pin(ifname, restrict_one, err);
}

int pins__remove(const char *ifname, struct sl_error *err)
{
	char dir[PATH_MAX];
	int ret;

	ret = for_each_pin(ifname, unlink, err);
	if (ret)
		return ret;
	if (rmdir(pins__path(dir, sizeof(dir), ifname, NULL))) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", dir, strerror(-ret));
		return ret;
	}
	/* The root stays: removing it would let anyone who can write to the
	 * bpffs create it again as theirs. */
	return 0;
}
