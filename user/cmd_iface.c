// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach, detach, status: an interface's life under sluice. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <net/if.h>

#include "attach.h"
#include "cli.h"
#include "cluster.h"
#include "pins.h"
#include "stats.h"

int cmd_attach(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "mode", true }, { "config", true }, { "dry-run" }, { "force" }, { NULL },
	};
	struct sl_attach_opts aopts = {};
	struct sl_error err = {};
	struct sl_config conf;
	char *pos[1];
	int n_pos, ret;

	ret = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (ret)
		return ret;
	aopts.ifname = pos[0];
	if (strlen(pos[0]) >= IF_NAMESIZE || !if_nametoindex(pos[0])) {
		cli_error(path, NULL, "argument IFACE (\"%s\"): no such interface", pos[0]);
		return SL_EXIT_USAGE;
	}
	if (opts[0].set) {
		if (!strcmp(opts[0].value, "native")) {
			aopts.mode = SL_MODE_NATIVE;
		} else if (!strcmp(opts[0].value, "generic")) {
			aopts.mode = SL_MODE_GENERIC;
		} else {
			cli_error(path, pos[0], "--mode: expected native or generic, got \"%s\"",
				  opts[0].value);
			return SL_EXIT_USAGE;
		}
	}
	aopts.dry_run = opts[2].set;
	aopts.force = opts[3].set;

	config_init(&conf);
	if (opts[1].set) {
		if (config_parse_file(&conf, opts[1].value, &err)) {
			cli_error(path, pos[0], "%s", err.msg);
			config_free(&conf);
			return SL_EXIT_USAGE;
		}
		if (conf.iface[0] && strcmp(conf.iface, pos[0])) {
			cli_error(path, pos[0], "%s: written for interface %s, not %s",
				  opts[1].value, conf.iface, pos[0]);
			config_free(&conf);
			return SL_EXIT_USAGE;
		}
		if (!aopts.mode)
			aopts.mode = conf.mode;
		aopts.conf = &conf;
	}
	ret = attach__run(&aopts, &err);
	config_free(&conf);
	if (ret) {
		cli_error(path, pos[0], "%s", err.msg);
		return ret == -EINVAL ? SL_EXIT_USAGE : SL_EXIT_FAIL;
	}
	return SL_EXIT_OK;
}

int cmd_detach(const char *path, int argc, char **argv)
{
	struct sl_error err = {};
	char *pos[1];
	int n_pos, ret;

	ret = cli_parse(path, argc, argv, NULL, 1, 1, pos, &n_pos);
	if (ret)
		return ret;
	ret = attach__detach(pos[0], &err);
	if (ret) {
		cli_pins_error(path, pos[0], ret, &err);
		return cli_pins_exit(pos[0], ret);
	}
	return SL_EXIT_OK;
}

/*
 * The cluster sync as its daemon last wrote it. A daemon that is gone, or
 * has not written for three intervals and a second, left its shares
 * frozen: "stale".
 */
static void print_cluster(const char *ifname, bool json)
{
	struct sl_cluster_status c;
	struct timespec ts;
	double now, since, ago;
	const char *state;
	bool alive;

	if (cluster__read_status(ifname, &c) || c.state == SL_CLUSTER_OFF)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec + ts.tv_nsec / 1e9;
	since = now - c.since_ns / 1e9;
	ago = c.last_ok_ns ? now - c.last_ok_ns / 1e9 : -1;
	c.node[sizeof(c.node) - 1] = c.server[sizeof(c.server) - 1] = '\0';
	c.error[sizeof(c.error) - 1] = '\0';
	alive = (!kill(c.pid, 0) || errno == EPERM) &&
		now - c.updated_ns / 1e9 < 3 * c.sync_ns / 1e9 + 1;
	state = !alive ? "stale" : c.state == SL_CLUSTER_SYNCED ? "synced" : "fallback";
	if (json) {
		fputs(",\"cluster\":{\"node\":", stdout);
		json_string(stdout, c.node);
		fputs(",\"server\":", stdout);
		json_string(stdout, c.server);
		printf(",\"state\":\"%s\",\"pid\":%u,\"hosts\":%u,\"keys\":%u,"
		       "\"state_seconds\":%.3f,\"syncs_ok\":%llu,\"syncs_failed\":%llu,"
		       "\"sync_interval_seconds\":%.3f,\"ttl_seconds\":%.3f,\"last_sync_seconds_ago\":",
		       state, c.pid, c.hosts, c.keys, since, c.syncs_ok, c.syncs_failed,
		       c.sync_ns / 1e9, c.ttl_ns / 1e9);
		if (ago >= 0)
			printf("%.3f", ago);
		else
			fputs("null", stdout);
		fputs(",\"error\":", stdout);
		json_string(stdout, c.error);
		putchar('}');
		return;
	}
	printf("  cluster: node %s, %s, %s", c.node, c.server, state);
	if (!alive)
		printf(" (daemon pid %u not syncing; shares as it left them)", c.pid);
	else if (c.state == SL_CLUSTER_FALLBACK)
		printf(" for %.1fs, 1/%u of each limit (%s)", since, c.hosts ? c.hosts : 1,
		       c.error);
	printf(", %u host%s, %u key%s", c.hosts, c.hosts == 1 ? "" : "s", c.keys,
	       c.keys == 1 ? "" : "s");
	if (ago >= 0)
		printf(", last sync %.1fs ago", ago);
	putchar('\n');
}

/*
 * The key map never evicts: only a sweep makes room. A minute without one
 * means no daemon is sweeping, which an operator using only the CLI must
 * hear about before the map fills up.
 */
#define SWEEP_STALE_S	60

static void print_status(const struct sl_iface_status *st, bool json, bool first)
{
	if (json) {
		fputs(first ? "" : ",", stdout);
		fputs("{\"interface\":", stdout);
		json_string(stdout, st->ifname);
		printf(",\"ifindex\":%d,\"mode\":\"%s\",\"prog_id\":%u,\"link_id\":%u,"
		       "\"generation\":%u,\"rules\":%u,\"dry_run\":%s,\"keys_capacity\":%u,"
		       "\"refusal_slots\":%u,\"bans_active\":%llu,",
		       st->ifindex, st->mode, st->prog_id, st->link_id, st->generation,
		       st->n_rules, st->dry_run ? "true" : "false", st->keys_capacity,
		       st->refusal_slots, st->bans_active);
		if (st->keys_swept_ago_s < 0)
			fputs("\"keys_swept_ago_s\":null,", stdout);
		else
			printf("\"keys_swept_ago_s\":%lld,", st->keys_swept_ago_s);
		breakers__print_json(stdout, st->breakers, st->n_breakers, st->read_ns);
		print_cluster(st->ifname, true);
		putchar('}');
		return;
	}
	printf("%s: %s, prog %u, link %u, generation %u, %u rule%s%s, key capacity %u, refusal slots %u per CPU, %llu ban%s",
	       st->ifname, st->mode, st->prog_id, st->link_id, st->generation,
	       st->n_rules, st->n_rules == 1 ? "" : "s",
	       st->dry_run ? ", dry run" : "", st->keys_capacity,
	       st->refusal_slots, st->bans_active, st->bans_active == 1 ? "" : "s");
	if (st->keys_swept_ago_s < 0)
		printf(", keys never swept\n");
	else
		printf(", keys swept %llds ago\n", st->keys_swept_ago_s);
	if (st->keys_swept_ago_s < 0 || st->keys_swept_ago_s > SWEEP_STALE_S)
		printf("  keys: the key map never evicts; idle keys stay until a sweep: run \"sluice run\", or \"sluice sweep %s\" every few seconds\n",
		       st->ifname);
	print_cluster(st->ifname, false);
	breakers__print_text(stdout, st->breakers, st->n_breakers, st->read_ns);
}

int cmd_status(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = { { "json" }, { NULL } };
	struct sl_iface_status st;
	struct sl_error err = {};
	bool json, first = true;
	struct dirent *de;
	char *pos[1];
	int n_pos, ret, code = SL_EXIT_OK;
	DIR *d;

	ret = cli_parse(path, argc, argv, opts, 0, 1, pos, &n_pos);
	if (ret)
		return ret;
	json = opts[0].set;

	if (n_pos) {
		ret = attach__status(pos[0], &st, &err);
		if (ret) {
			cli_pins_error(path, pos[0], ret, &err);
			return cli_pins_exit(pos[0], ret);
		}
		print_status(&st, json, true);
		if (json)
			putchar('\n');
		return SL_EXIT_OK;
	}

	if (json)
		fputs("{\"interfaces\":[", stdout);
	d = opendir(SL_PIN_ROOT);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (attach__status(de->d_name, &st, &err)) {
			cli_error(path, de->d_name, "%s", err.msg);
			code = SL_EXIT_FAIL;
			continue;
		}
		print_status(&st, json, first);
		first = false;
	}
	if (d)
		closedir(d);
	if (json)
		fputs("]}\n", stdout);
	else if (first)
		printf("sluice is not attached to any interface\n");
	return code;
}

int cmd_stats(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = { { "json" }, { NULL } };
	struct sl_error err = {};
	struct sl_pins pins;
	struct sl_stats st;
	char *pos[1];
	int n_pos, ret;

	ret = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (ret)
		return ret;
	ret = pins__open(&pins, pos[0], &err);
	if (ret) {
		cli_pins_error(path, pos[0], ret, &err);
		return cli_pins_exit(pos[0], ret);
	}
	ret = stats__read(&pins.maps, &st, &err);
	pins__close(&pins);
	if (ret) {
		cli_error(path, pos[0], "%s", err.msg);
		return SL_EXIT_FAIL;
	}
	if (opts[0].set)
		stats__print_json(stdout, pos[0], &st);
	else
		stats__print_table(stdout, pos[0], &st);
	return SL_EXIT_OK;
}
