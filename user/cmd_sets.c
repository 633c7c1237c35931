// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* allow|deny add|del|list: the source sets checked before any rule. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "stats.h"

struct set_edit {
	bool deny;
	const char *cidr;
};

static const char *set_name(bool deny)
{
	return deny ? "deny" : "allow";
}

static int add_cidr(struct sl_config *conf, void *arg, struct sl_error *err)
{
	const struct set_edit *e = arg;
	char line[128];
	int ret;

	/* The statement parser gives the same checks and messages as a file. */
	snprintf(line, sizeof(line), "%s %s", set_name(e->deny), e->cidr);
	ret = config_parse_line(conf, line, NULL, 0, err);
	/* allow(1) add(2) IFACE(3) CIDR(4) is statement token 2. */
	if (ret)
		cli_renumber_argument(err, 2);
	return ret;
}

static int del_cidr(struct sl_config *conf, void *arg, struct sl_error *err)
{
	const struct set_edit *e = arg;
	struct sl_cidr cidr;

	if (config_parse_cidr(e->cidr, &cidr)) {
		snprintf(err->msg, sizeof(err->msg), "argument 4 (\"%s\"): expected an address or CIDR like 192.0.2.0/24 or 2001:db8::/32",
			 e->cidr);
		return -EINVAL;
	}
	if (config_del_cidr(conf, e->deny, &cidr)) {
		snprintf(err->msg, sizeof(err->msg), "%s is not in the %s list",
			 e->cidr, set_name(e->deny));
		return -EINVAL;
	}
	return 0;
}

static int set_change(const char *path, int argc, char **argv, bool deny,
		      int (*edit)(struct sl_config *, void *, struct sl_error *))
{
	struct set_edit e = { .deny = deny };
	char *pos[2];
	int n_pos, code;

	code = cli_parse(path, argc, argv, NULL, 2, 2, pos, &n_pos);
	if (code)
		return code;
	e.cidr = pos[1];
	return cli_edit(path, pos[0], edit, &e);
}

static int set_list(const char *path, int argc, char **argv, bool deny)
{
	struct cli_opt opts[] = { { "json" }, { NULL } };
	const struct sl_cidr *v;
	struct sl_config conf;
	char buf[64], *pos[1];
	size_t n, i;
	int n_pos, code;

	code = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (code)
		return code;
	config_init(&conf);
	code = cli_read_active(path, pos[0], &conf);
	if (code)
		goto out;
	v = deny ? conf.deny : conf.allow;
	n = deny ? conf.n_deny : conf.n_allow;
	if (opts[0].set)
		printf("{\"%s\":[", set_name(deny));
	for (i = 0; i < n; i++) {
		config_format_cidr(&v[i], buf, sizeof(buf));
		if (opts[0].set)
			printf("%s\"%s\"", i ? "," : "", buf);
		else
			printf("%s\n", buf);
	}
	if (opts[0].set)
		printf("]}\n");
out:
	config_free(&conf);
	return code;
}

#define SET_COMMANDS(set, deny)							\
static int set##_add(const char *path, int argc, char **argv)		\
{									\
	return set_change(path, argc, argv, deny, add_cidr);		\
}									\
static int set##_del(const char *path, int argc, char **argv)		\
{									\
	return set_change(path, argc, argv, deny, del_cidr);		\
}									\
static int set##_list(const char *path, int argc, char **argv)		\
{									\
	return set_list(path, argc, argv, deny);			\
}									\
int cmd_##set(const char *path, int argc, char **argv)			\
{									\
	static const struct cli_cmd sub[] = {				\
		{ "add", set##_add, "IFACE CIDR" },			\
		{ "del", set##_del, "IFACE CIDR" },			\
		{ "list", set##_list, "IFACE [--json]" },		\
		{ NULL },						\
	};								\
	return cli_dispatch(path, sub, argc, argv);			\
}

SET_COMMANDS(allow, false)
SET_COMMANDS(deny, true)
