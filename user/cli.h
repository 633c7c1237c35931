/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Command-line plumbing shared by the commands: a table of commands, a table
 * of options per command, unambiguous prefixes accepted as `ip` does.
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdbool.h>

enum sl_exit {
	SL_EXIT_OK = 0,
	SL_EXIT_FAIL = 1,	/* runtime failure */
	SL_EXIT_USAGE = 2,	/* usage or config error: nothing was changed */
};

struct cli_cmd {
	const char *name;
	int (*run)(const char *path, int argc, char **argv);
	const char *usage;	/* arguments after the command's name */
};

struct cli_opt {
	const char *name;	/* without the leading "--" */
	bool takes_value;
	bool set;
	const char *value;
};

/*
 * Finds the command argv[0] names (exactly, or by an unambiguous prefix) and
 * runs it with the rest. `path` is the words so far, for messages.
 */
int cli_dispatch(const char *path, const struct cli_cmd *cmds, int argc,
		 char **argv);

/*
 * Splits argv into options (from opts) and positional words (returned in
 * pos, in order). Rejects unknown options and wrong counts of positional
 * words with a usage error. Words after "--" are positional.
 */
int cli_parse(const char *path, int argc, char **argv, struct cli_opt *opts,
	      int min_pos, int max_pos, char **pos, int *n_pos);

/* Prints "sluice: PATH[ IFACE]: MESSAGE" to stderr. */
void cli_error(const char *path, const char *ifname, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Exit code for a failure to open an interface's pins: a name that is no
 * interface and was never attached is bad input; the rest is runtime. */
int cli_pins_exit(const char *ifname, int ret);

struct sl_error;

/* Reports a failure to open ifname's pins; with cli_pins_exit's code. */
void cli_pins_error(const char *path, const char *ifname, int ret,
		    const struct sl_error *err);

int cmd_attach(const char *path, int argc, char **argv);
int cmd_detach(const char *path, int argc, char **argv);
int cmd_status(const char *path, int argc, char **argv);
int cmd_load(const char *path, int argc, char **argv);
int cmd_rule(const char *path, int argc, char **argv);
int cmd_allow(const char *path, int argc, char **argv);
int cmd_deny(const char *path, int argc, char **argv);
int cmd_ban(const char *path, int argc, char **argv);
int cmd_stats(const char *path, int argc, char **argv);
int cmd_sweep(const char *path, int argc, char **argv);
int cmd_run(const char *path, int argc, char **argv);
int cmd_top(const char *path, int argc, char **argv);



struct sl_config;
struct sl_error;

/*
 * The shape of every command that changes a rule set: lock the interface,
 * read the active set, let edit() change it, apply the result atomically.
 * edit() returns 0, -EINVAL for bad input (exit 2) or another negative errno.
 * Returns an exit code; messages are printed.
 */
int cli_edit(const char *path, const char *ifname,
	     int (*edit)(struct sl_config *conf, void *arg, struct sl_error *err),
	     void *arg);
/* Makes conf ifname's rule set as it is, nothing read; an exit code. */
int cli_apply(const char *path, const char *ifname, struct sl_config *conf);

/* Reads ifname's active rule set into conf; returns an exit code. */
int cli_read_active(const char *path, const char *ifname, struct sl_config *conf);

/*
 * The parser numbers a statement's tokens; the operator counts the words
 * after "sluice". Shifts "argument N:" so the message points at what was
 * typed.
 */
void cli_renumber_argument(struct sl_error *err, int offset);

#endif /* SLUICE_CLI_H */
