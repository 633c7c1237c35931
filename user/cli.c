// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>

#include "cli.h"
#include "pins.h"

void cli_error(const char *path, const char *ifname, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sluice: %s%s%s: ", path, ifname ? " " : "",
		ifname ? ifname : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f, const char *path, const struct cli_cmd *cmds)
{
	for (; cmds->name; cmds++)
		fprintf(f, "  sluice %s%s%s %s\n", path, *path ? " " : "",
			cmds->name, cmds->usage);
}

int cli_dispatch(const char *path, const struct cli_cmd *cmds, int argc,
		 char **argv)
{
	const struct cli_cmd *found = NULL, *c;
	char sub[256];
	int matches = 0;

	if (argc < 1) {
		cli_error(*path ? path : "usage", NULL, "expected a command:");
		usage(stderr, path, cmds);
		return SL_EXIT_USAGE;
	}
	if (!strcmp(argv[0], "help") || !strcmp(argv[0], "--help") ||
	    !strcmp(argv[0], "-h")) {
		printf("usage:\n");
		usage(stdout, path, cmds);
		return SL_EXIT_OK;
	}
	for (c = cmds; c->name; c++) {
		if (!strcmp(c->name, argv[0])) {
			found = c;
			matches = 1;
			break;
		}
		if (!strncmp(c->name, argv[0], strlen(argv[0]))) {
			found = c;
			matches++;
		}
	}
	if (matches != 1) {
		cli_error(*path ? path : "usage", NULL, "%s command \"%s\"; expected one of:",
			  matches ? "ambiguous" : "unknown", argv[0]);
		usage(stderr, path, cmds);
		return SL_EXIT_USAGE;
	}
	snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? " " : "", found->name);
	return found->run(sub, argc - 1, argv + 1);
}

int cli_parse(const char *path, int argc, char **argv, struct cli_opt *opts,
	      int min_pos, int max_pos, char **pos, int *n_pos)
{
	bool only_pos = false;
	int i;

	*n_pos = 0;
	for (i = 0; i < argc; i++) {
		struct cli_opt *o;
		const char *name;

		if (only_pos || strncmp(argv[i], "--", 2)) {
			if (*n_pos >= max_pos) {
				cli_error(path, NULL, "argument %d (\"%s\"): unexpected extra argument",
					  i + 1, argv[i]);
				return SL_EXIT_USAGE;
			}
			pos[(*n_pos)++] = argv[i];
			continue;
		}
		if (!argv[i][2]) {
			only_pos = true;
			continue;
		}
		name = argv[i] + 2;
		for (o = opts; o && o->name; o++)
			if (!strcmp(o->name, name))
				break;
		if (!o || !o->name) {
			cli_error(path, NULL, "argument %d: unknown option \"%s\"",
				  i + 1, argv[i]);
			return SL_EXIT_USAGE;
		}
		o->set = true;
		if (o->takes_value) {
			if (i + 1 >= argc) {
				cli_error(path, NULL, "argument %d: option \"%s\" needs a value",
					  i + 1, argv[i]);
				return SL_EXIT_USAGE;
			}
			o->value = argv[++i];
		}
	}
	if (*n_pos < min_pos) {
		cli_error(path, NULL, "expected %d argument%s, got %d", min_pos,
			  min_pos == 1 ? "" : "s", *n_pos);
		return SL_EXIT_USAGE;
	}
	return SL_EXIT_OK;
}

int cli_pins_exit(const char *ifname, int ret)
{
	if (ret == -ENOENT && !if_nametoindex(ifname))
		return SL_EXIT_USAGE;
	return SL_EXIT_FAIL;
}

void cli_pins_error(const char *path, const char *ifname, int ret,
		    const struct sl_error *err)
{
	if (cli_pins_exit(ifname, ret) == SL_EXIT_USAGE)
		cli_error(path, NULL, "argument IFACE (\"%s\"): no such interface, and sluice holds no state for it",
			  ifname);
	else
		cli_error(path, ifname, "%s", err->msg);
}

/* cli_edit and cli_apply: conf is the set to apply, read or not. */
static int change(const char *path, const char *ifname, struct sl_config *conf,
		  int (*edit)(struct sl_config *conf, void *arg, struct sl_error *err),
		  void *arg)
{
	struct sl_error err = {};
	struct sl_pins pins;
	int ret, code = SL_EXIT_FAIL;

	ret = pins__open(&pins, ifname, &err);
	if (ret) {
		cli_pins_error(path, ifname, ret, &err);
		return cli_pins_exit(ifname, ret);
	}
	if (edit) {
		ret = ruleset__read(&pins.maps, conf, &err);
		if (!ret) {
			ret = edit(conf, arg, &err);
			if (ret == -EINVAL)
				code = SL_EXIT_USAGE;
		}
	}
	if (!ret)
		ret = ruleset__apply(&pins.maps, conf, &err);
	if (ret)
		cli_error(path, ifname, "%s", err.msg);
	else
		code = SL_EXIT_OK;
	pins__close(&pins);
	return code;
}

int cli_edit(const char *path, const char *ifname,
	     int (*edit)(struct sl_config *conf, void *arg, struct sl_error *err),
	     void *arg)
{
	struct sl_config conf;
	int code;

	config_init(&conf);
	code = change(path, ifname, &conf, edit, arg);
	config_free(&conf);
	return code;
}

int cli_apply(const char *path, const char *ifname, struct sl_config *conf)
{
	return change(path, ifname, conf, NULL, NULL);
}

void cli_renumber_argument(struct sl_error *err, int offset)
{
	char rest[SL_ERR_LEN];
	unsigned n;
	int used;

	if (sscanf(err->msg, "argument %u:%n", &n, &used) != 1)
		return;
	snprintf(rest, sizeof(rest), "%s", err->msg + used);
	snprintf(err->msg, sizeof(err->msg), "argument %u:%s", n + offset, rest);
}
