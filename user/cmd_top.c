// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * top: the command and its terminal. Refreshes in place like top(1): the
 * alternate screen, home and redraw, no curses. Keys are read with the
 * terminal in raw mode (signals still on, so Ctrl-C works), and every way
 * out restores the terminal as it was.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/select.h>

#include "cli.h"
#include "pins.h"
#include "top.h"

#define NS_PER_MS		1000000ull
#define DEFAULT_INTERVAL_MS	1000
/*
 * A lease outlives a refresh by this much, so a top that is busy or
 * briefly stopped does not see its counts lapse; after the last top
 * exits, the data path stops counting this long after the last refresh.
 */
#define LEASE_SLACK_NS		(2000 * NS_PER_MS)

/* Lines above the rows: the header, the summary, the column names. */
#define HEADER_LINES		3

static volatile sig_atomic_t stop_signal, resized;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_winch(int sig)
{
	resized = 1;
}

static unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* "500ms", "2s": a refresh interval from 100 ms to a minute. */
static int parse_interval(const char *s, unsigned *ms)
{
	char *end;
	unsigned long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s)
		return -1;
	if (!strcmp(end, "s"))
		n = n > 60 ? 60001 : n * 1000;
	else if (strcmp(end, "ms"))
		return -1;
	if (n < 100 || n > 60000)
		return -1;
	*ms = n;
	return 0;
}

static int parse_sort(const char *s, enum sl_top_sort *sort)
{
	if (!strcmp(s, "rate"))
		*sort = SL_TOP_BY_RATE;
	else if (!strcmp(s, "limited") || !strcmp(s, "drops"))
		*sort = SL_TOP_BY_LIMITED;
	else
		return -1;
	return 0;
}

struct top_run {
	const char *path, *ifname;
	unsigned interval_ms;
	enum sl_top_sort sort;
	size_t limit;		/* rows; 0: as many as fit (or all) */
	struct sl_top top;
	/* Why the last refresh failed, reported once the screen is back. */
	int pins_ret;		/* from pins__open, or 0 */
	struct sl_error err;
};

static void report(const struct top_run *r)
{
	if (r->pins_ret)
		cli_pins_error(r->path, r->ifname, r->pins_ret, &r->err);
	else
		cli_error(r->path, r->ifname, "%s", r->err.msg);
}

/* One refresh: extend the lease, take a sample, make the view. */
static int refresh(struct top_run *r)
{
	struct sl_top_sample s = {};
	struct sl_pins pins;
	unsigned long long now;
	int ret;

	ret = pins__open(&pins, r->ifname, &r->err);
	if (ret) {
		r->pins_ret = ret;
		return cli_pins_exit(r->ifname, ret);
	}
	now = monotonic_ns();
	ret = top__lease(&pins.maps, now + r->interval_ms * NS_PER_MS + LEASE_SLACK_NS);
	if (ret)
		snprintf(r->err.msg, sizeof(r->err.msg),
			 "extending the counting lease: %s", strerror(-ret));
	else
		ret = top__read(&pins.maps, now, &s, &r->err);
	pins__close(&pins);
	if (!ret) {
		ret = top__update(&r->top, &s);
		if (ret)
			snprintf(r->err.msg, sizeof(r->err.msg), "%s", strerror(-ret));
	}
	top__sample_free(&s);
	if (ret)
		return SL_EXIT_FAIL;
	top__sort(r->top.rows, r->top.n_rows, r->sort);
	return SL_EXIT_OK;
}

static void header(const struct top_run *r, char *buf, size_t len)
{
	time_t now = time(NULL);
	char clock[16];

	strftime(clock, sizeof(clock), "%H:%M:%S", localtime(&now));
	snprintf(buf, len, "sluice top %s  %s  every %ums  sorted by %s", r->ifname,
		 clock, r->interval_ms, top__sort_name(r->sort));
}

static int run_once(struct top_run *r, bool json)
{
	struct timespec pause = {
		.tv_sec = r->interval_ms / 1000,
		.tv_nsec = (r->interval_ms % 1000) * NS_PER_MS,
	};
	char line[256];
	int code;

	code = refresh(r);
	if (!code) {
		while (nanosleep(&pause, &pause) && errno == EINTR && !stop_signal)
			;
		if (stop_signal)
			return SL_EXIT_FAIL;
		code = refresh(r);
	}
	if (code) {
		report(r);
		return code;
	}
	if (json) {
		top__print_json(stdout, r->ifname, &r->top, r->sort, r->limit);
	} else {
		header(r, line, sizeof(line));
		printf("%s\n", line);
		top__print_rows(stdout, &r->top, r->limit, 0);
	}
	return fflush(stdout) ? SL_EXIT_FAIL : SL_EXIT_OK;
}

struct term {
	bool raw;		/* stdin's settings were changed */
	struct termios saved;
	unsigned rows, cols;
};

static void term_size(struct term *t)
{
	struct winsize ws;

	t->rows = 24;
	t->cols = 80;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		t->rows = ws.ws_row;
		t->cols = ws.ws_col;
	}
}

/*
 * Keys one by one, no echo; ISIG stays, so Ctrl-C is still SIGINT and
 * ends the loop through on_stop. Then the alternate screen, as top has,
 * so the shell's screen comes back on exit, and no cursor.
 */
static void term_enter(struct term *t)
{
	struct termios raw;

	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &t->saved)) {
		raw = t->saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		t->raw = !tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	fputs("\033[?1049h\033[?25l", stdout);
	term_size(t);
}

static void term_leave(struct term *t)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
	t->raw = false;
}

/*
 * Home, each line cleared to its end, then the rest of the screen: no
 * blank frame between two views. The last line gets no newline, which
 * on the bottom row would scroll the header away.
 */
static void draw(const struct top_run *r, const struct term *t)
{
	size_t rows = t->rows > HEADER_LINES ? t->rows - HEADER_LINES : 1;
	char line[256], *buf = NULL, *p, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	if (r->limit && r->limit < rows)
		rows = r->limit;
	header(r, line, sizeof(line));
	fprintf(f, "%s  (r: rate, l: limited, q: quit)\n", line);
	if (!r->top.have_prev || r->top.interval_s <= 0)
		fprintf(f, "counting; the first view comes after one interval\n");
	else
		fprintf(f, "%zu keys sent in the last %.1fs; %zu of %d counted\n",
			r->top.n_rows, r->top.interval_s, r->top.keys_counted,
			SL_TOP_KEYS);
	top__print_rows(f, &r->top, rows, 0);
	if (fclose(f))
		return;

	fputs("\033[H", stdout);
	for (p = buf; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		len = nl - p;
		if (len > t->cols)
			len = t->cols;
		fwrite(p, 1, len, stdout);
		fputs(nl[1] ? "\033[K\n" : "\033[K", stdout);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(buf);
}

/* One key press, if any came: r and l choose the order, q quits. */
static bool handle_key(struct top_run *r, char c)
{
	switch (c) {
	case 'q':
	case 'Q':
		return false;
	case 'r':
	case 'R':
		r->sort = SL_TOP_BY_RATE;
		break;
	case 'l':
	case 'L':
	case 'd':
	case 'D':
		r->sort = SL_TOP_BY_LIMITED;
		break;
	}
	return true;
}

static int run_live(struct top_run *r)
{
	struct term term = {};
	unsigned long long next;
	int code;

	code = refresh(r);
	if (code) {
		report(r);
		return code;
	}
	term_enter(&term);
	draw(r, &term);
	next = monotonic_ns() + r->interval_ms * NS_PER_MS;
	while (!stop_signal) {
		unsigned long long now = monotonic_ns();
		struct timeval tv;
		fd_set in;
		char c;
		int n;

		if (now >= next) {
			code = refresh(r);
			if (code)
				break;
			next += r->interval_ms * NS_PER_MS;
			if (next <= now)
				next = now + r->interval_ms * NS_PER_MS;
			draw(r, &term);
			continue;
		}
		if (resized) {
			resized = 0;
			term_size(&term);
			draw(r, &term);
		}
		tv.tv_sec = (next - now) / 1000000000ull;
		tv.tv_usec = (next - now) % 1000000000ull / 1000;
		FD_ZERO(&in);
		if (term.raw)
			FD_SET(STDIN_FILENO, &in);
		n = select(term.raw ? STDIN_FILENO + 1 : 0, &in, NULL, NULL, &tv);
		if (n <= 0 || !FD_ISSET(STDIN_FILENO, &in))
			continue;
		if (read(STDIN_FILENO, &c, 1) != 1)
			continue;
		if (!handle_key(r, c))
			break;
		top__sort(r->top.rows, r->top.n_rows, r->sort);
		draw(r, &term);
	}
	term_leave(&term);
	if (code)
		report(r);
	return code;
}

int cmd_top(const char *path, int argc, char **argv)
{
	struct cli_opt opts[] = {
		{ "interval", true }, { "once" }, { "json" }, { "sort", true },
		{ "limit", true }, { NULL },
	};
	struct top_run r = { .path = path, .interval_ms = DEFAULT_INTERVAL_MS };
	struct sigaction stop = { .sa_handler = on_stop };
	struct sigaction winch = { .sa_handler = on_winch };
	char *pos[1], *end;
	int n_pos, code;

	code = cli_parse(path, argc, argv, opts, 1, 1, pos, &n_pos);
	if (code)
		return code;
	r.ifname = pos[0];
	if (opts[0].set && parse_interval(opts[0].value, &r.interval_ms)) {
		cli_error(path, NULL, "--interval: expected 100ms..60s like 500ms or 2s, got \"%s\"",
			  opts[0].value);
		return SL_EXIT_USAGE;
	}
	if (opts[2].set && !opts[1].set) {
		cli_error(path, NULL, "--json prints one snapshot: use it with --once");
		return SL_EXIT_USAGE;
	}
	if (opts[3].set && parse_sort(opts[3].value, &r.sort)) {
		cli_error(path, NULL, "--sort: expected rate or limited, got \"%s\"",
			  opts[3].value);
		return SL_EXIT_USAGE;
	}
	if (opts[4].set) {
		errno = 0;
		r.limit = strtoul(opts[4].value, &end, 10);
		if (errno || end == opts[4].value || *end || !r.limit ||
		    r.limit > SL_TOP_KEYS || *opts[4].value == '-') {
			cli_error(path, NULL, "--limit: expected a number of rows 1..%d, got \"%s\"",
				  SL_TOP_KEYS, opts[4].value);
			return SL_EXIT_USAGE;
		}
	}

	/* No SA_RESTART: a signal must end the wait in select or nanosleep. */
	sigaction(SIGINT, &stop, NULL);
	sigaction(SIGTERM, &stop, NULL);
	sigaction(SIGHUP, &stop, NULL);
	sigaction(SIGWINCH, &winch, NULL);
	top__init(&r.top);
	code = opts[1].set ? run_once(&r, opts[2].set) : run_live(&r);
	top__free(&r.top);
	return code;
}
