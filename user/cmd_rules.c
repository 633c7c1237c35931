// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* load, rule add|del|list: whole rule sets and single rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "cli.h"
#include "pins.h"
#include "stats.h"

int cmd_load(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = { { "check" }, { NULL } };
	struct sl_error err = {};
	struct sl_iface_status st;
	struct sl_config conf;
	char *pos[2];
	int n_pos, ret, code;

	ret = cli_parse(path, argc, argv, opts, 2, 2, pos, &n_pos);
	if (ret)
		return ret;
	config_init(&conf);
	if (config_parse_file(&conf, pos[1], &err)) {
		cli_error(path, pos[0], "%s", err.msg);
		code = SL_EXIT_USAGE;
		goto out;
	}
	if (conf.iface[0] && strcmp(conf.iface, pos[0])) {
		cli_error(path, pos[0], "%s: written for interface %s, not %s", pos[1],
			  conf.iface, pos[0]);
		code = SL_EXIT_USAGE;
		goto out;
	}
	if (opts[0].set) {
		printf("%s: ok, %u rule%s, %zu allow, %zu deny\n", pos[1], conf.n_rules,
		       conf.n_rules == 1 ? "" : "s", conf.n_allow, conf.n_deny);
		code = SL_EXIT_OK;
		goto out;
	}
	ret = attach__status(pos[0], &st, &err);
	if (ret) {
		cli_pins_error(path, pos[0], ret, &err);
		code = cli_pins_exit(pos[0], ret);
		goto out;
	}
	if (conf.keys && conf.keys != st.keys_capacity) {
		cli_error(path, pos[0], "%s: keys %u: the key map holds %u keys; its size is fixed while attached, detach first to change it",
			  pos[1], conf.keys, st.keys_capacity);
		code = SL_EXIT_USAGE;
		goto out;
	}
	code = cli_apply(path, pos[0], &conf);
	if (code == SL_EXIT_OK && conf.refusals && conf.refusals != st.refusal_slots)
		fprintf(stderr, "%s: refusals %u: recorded; the refusal memory keeps %u slots per CPU until the next attach\n",
			pos[0], conf.refusals, st.refusal_slots);
out:
	config_free(&conf);
	return code;
}

struct rule_add {
	const char *text;
	int word_offset;	/* statement token k is command word k + offset */
};

static int add_rule(struct sl_config *conf, void *arg, struct sl_error *err)
{
	const struct rule_add *add = arg;
	int ret = config_parse_line(conf, add->text, NULL, 0, err);

	if (ret)
		cli_renumber_argument(err, add->word_offset);
	return ret;
}

static int del_rule(struct sl_config *conf, void *arg, struct sl_error *err)
{
	const char *name = arg;
	int i = config_find_rule(conf, name);

	if (i < 0) {
		snprintf(err->msg, sizeof(err->msg), "no rule named \"%s\"", name);
		return -EINVAL;
	}
	memmove(&conf->rules[i], &conf->rules[i + 1],
		(conf->n_rules - i - 1) * sizeof(conf->rules[0]));
	conf->n_rules--;
	return 0;
}

static int rule_add(const char *path, int argc, char **argv)
{
	struct rule_add add;
	size_t len = sizeof("rule");
	char *text;
	int i, first, code;

	if (argc < 2) {
		cli_error(path, NULL, "expected IFACE NAME CLAUSE...");
		return SL_EXIT_USAGE;
	}
	/* "rule add eth0 rule x ..." reads like a config line; accept it. */
	first = strcmp(argv[1], "rule") ? 1 : 2;
	if (first >= argc) {
		cli_error(path, argv[0], "expected a rule name after \"rule\"");
		return SL_EXIT_USAGE;
	}
	for (i = first; i < argc; i++)
		len += strlen(argv[i]) + 1;
	text = malloc(len);
	if (!text)
		return SL_EXIT_FAIL;
	strcpy(text, "rule");
	for (i = first; i < argc; i++) {
		strcat(text, " ");
		strcat(text, argv[i]);
	}
	/* Words after "sluice": rule(1) add(2) IFACE(3), then the rule. */
	add.text = text;
	add.word_offset = first == 1 ? 2 : 3;
	code = cli_edit(path, argv[0], add_rule, &add);
	free(text);
	return code;
}

static int rule_del(const char *path, int argc, char **argv)
{
	char *pos[2];
	int n_pos, ret;

	ret = cli_parse(path, argc, argv, NULL, 2, 2, pos, &n_pos);
	if (ret)
		return ret;
	return cli_edit(path, pos[0], del_rule, pos[1]);
}

/* Opens ifname's pins and reads its active set; returns an exit code. */
static int read_active(const char *path, const char *ifname,
		       struct sl_config *conf)
{
	struct sl_error err = {};
	struct sl_pins pins;
	int ret;

	ret = pins__open(&pins, ifname, &err);
	if (ret) {
		cli_pins_error(path, ifname, ret, &err);
		return cli_pins_exit(ifname, ret);
	}
	ret = ruleset__read(&pins.maps, conf, &err);
	pins__close(&pins);
	if (ret) {
		cli_error(path, ifname, "%s", err.msg);
		return SL_EXIT_FAIL;
	}
	return SL_EXIT_OK;
}

static int rule_list(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = { { "json" }, { NULL } };
	struct sl_config conf;
	char *pos[1];
	unsigned i;
	int n_pos, code;

	code = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (code)
		return code;
	config_init(&conf);
	code = read_active(path, pos[0], &conf);
	if (code)
		goto out;
	if (opts[0].set)
		fputs("{\"rules\":[", stdout);
	for (i = 0; i < conf.n_rules; i++) {
		if (!opts[0].set) {
			printf("%s\n", conf.rules[i].text);
			continue;
		}
		fputs(i ? ",{\"name\":" : "{\"name\":", stdout);
		json_string(stdout, conf.rules[i].name);
		fputs(",\"text\":", stdout);
		json_string(stdout, conf.rules[i].text);
		fputs("}", stdout);
	}
	if (opts[0].set)
		fputs("]}\n", stdout);
out:
	config_free(&conf);
	return code;
}

int cmd_rule(const char *path, int argc, char **argv)
{
	static const struct cli_cmd sub[] = {
		{ "add", rule_add, "IFACE NAME CLAUSE..." },
		{ "del", rule_del, "IFACE NAME" },
		{ "list", rule_list, "IFACE [--json]" },
		{ NULL },
	};

	return cli_dispatch(path, sub, argc, argv);
}

int cli_read_active(const char *path, const char *ifname, struct sl_config *conf)
{
	return read_active(path, ifname, conf);
}
