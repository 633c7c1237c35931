// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice run: the controller as a long-lived process. Enforcement never
 * depends on it: everything lives in pinned maps and links, so the daemon
 * can crash, be killed or upgraded, and the next one adopts the state.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "bans.h"
#include "breaker.h"
#include "cli.h"
#include "cluster.h"
#include "daemon.h"
#include "events.h"
#include "keysweep.h"
#include "metrics.h"
#include "pins.h"
#include "stats.h"
#include "sweep.h"

struct daemon {
	const struct sl_daemon_opts *opts;
	char ifname[IF_NAMESIZE];
	struct sl_daemon_stats stats;
	pthread_mutex_t stats_lock;
	/* The cluster statement the daemon started with: fixed until restart. */
	struct sl_cluster_conf cluster_conf;
	struct sl_cluster *cluster;
	struct sl_breaker_watch breakers;
	bool breaker_failing;	/* the last tick failed and said so */
	/* Services whose breaker closed this tick: their rules warm up again. */
	__u16 recovered[SL_MAX_BREAKERS];
	unsigned n_recovered;
	struct ring_buffer *events;	/* the data path's event ring */
	struct sl_rule_names names;	/* what events' rule uids are called */
	unsigned long long suppressed;	/* events suppressed, as last reported */
	__u64 suppressed_said_ns;	/* when that was */
	struct sl_key_sweep keys;	/* a pass over the key map, sweep by sweep */
};

/* A flood keeps suppressing events: say so at most this often. */
#define SUPPRESSED_REPORT_NS	(10 * 1000000000ull)

/*
 * One line on stderr, where journald or a terminal reads it. An event's
 * own fields (ev) follow the message in JSON.
 */
static void put_line(const struct daemon *d, const char *level, const char *event,
		     const char *msg, const struct sl_event *ev)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	/* The cluster sync logs from its own thread: one line at a time. */
	flockfile(stderr);
	if (!d->opts->log_json) {
		fprintf(stderr, "sluice: %s: %s\n", d->ifname, msg);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\",\"interface\":",
		stamp, ts.tv_nsec / 1000000, level, event);
	json_string(stderr, d->ifname);
	fputs(",\"message\":", stderr);
	json_string(stderr, msg);
	if (ev)
		events__json_fields(stderr, ev);
	fputs("}\n", stderr);
out:
	funlockfile(stderr);
}

static void say(const struct daemon *d, const char *level, const char *event,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void cluster_log(void *ctx, const char *level, const char *msg)
{
	say(ctx, level, "cluster", "%s", msg);
}

static bool same_cluster(const struct sl_cluster_conf *a,
			 const struct sl_cluster_conf *b)
{
	const struct sl_redis_url *x = &a->url, *y = &b->url;

	if (a->set != b->set)
		return false;
	return !a->set ||
	       (x->transport == y->transport && !strcmp(x->host, y->host) &&
		x->port == y->port && !strcmp(x->path, y->path) &&
		!strcmp(x->user, y->user) && !strcmp(x->password, y->password) &&
		x->db == y->db && !strcmp(a->node, b->node) &&
		a->sync_ns == b->sync_ns && a->ttl_ns == b->ttl_ns);
}

static void say(const struct daemon *d, const char *level, const char *event,
		const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	put_line(d, level, event, msg, NULL);
}

static void read_names(struct daemon *d)
{
	struct sl_error err = {};
	struct sl_pins pins;
	int ret;

	ret = pins__open(&pins, d->ifname, &err);
	if (!ret) {
		ret = events__read_names(&pins.maps, &d->names);
		pins__close(&pins);
		if (ret)
			snprintf(err.msg, sizeof(err.msg), "reading rule names: %s",
				 strerror(-ret));
	}
	if (ret)
		say(d, "error", "events", "%s", err.msg);
}

/*
 * Logs one event, from the data path's ring or made here (ban ends). A
 * rule event gets its rule's name; a rule unknown to the names read last may
 * be new, so they are read again once.
 */
static void log_event(struct daemon *d, struct sl_event *ev)
{
	const char *name;
	char msg[512];

	if (!(ev->flags & SL_EV_MANUAL)) {
		name = events__rule_name(&d->names, ev->rule_uid);
		if (!name) {
			read_names(d);
			name = events__rule_name(&d->names, ev->rule_uid);
		}
		snprintf(ev->name, sizeof(ev->name), "%s", name ? name : "");
	}
	events__message(ev, msg, sizeof(msg));
	put_line(d, "info", events__name(ev), msg, ev);
}

static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct sl_event ev;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	log_event(ctx, &ev);
	return 0;
}

/* Consumes the data path's events from the pinned ring, if it has one. */
static void open_events(struct daemon *d)
{
	char path[PATH_MAX];
	int fd;

	fd = bpf_obj_get(pins__path(path, sizeof(path), d->ifname, SL_MAP_EVENTS));
	if (fd < 0) {
		say(d, "error", "events", "%s: %s: events will not be logged", path,
		    strerror(errno));
		return;
	}
	d->events = ring_buffer__new(fd, on_ring_event, d, NULL);
	/* The ring holds its own reference to the map. */
	close(fd);
	if (!d->events)
		say(d, "error", "events", "%s: %s: events will not be logged", path,
		    strerror(errno));
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Parses the config; it must name the interface, and keep naming the same;
 * scope cluster rules need a cluster statement, which stays as the daemon
 * started with it.
 */
static int read_config(const struct daemon *d, struct sl_config *conf,
		       struct sl_error *err)
{
	int ret = config_parse_file(conf, d->opts->config_path, err);
	unsigned i;

	if (ret)
		return ret;
	for (i = 0; i < conf->n_rules && !conf->cluster.set; i++) {
		if (!conf->rules[i].cluster)
			continue;
		snprintf(err->msg, sizeof(err->msg),
			 "%s:%u: rule \"%s\" has scope cluster, but the file has no cluster statement to share it through",
			 d->opts->config_path, conf->rules[i].line, conf->rules[i].name);
		return -EINVAL;
	}
	if (d->ifname[0] && !same_cluster(&conf->cluster, &d->cluster_conf)) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: the cluster statement changed; restart the daemon to apply it",
			 d->opts->config_path);
		return -EINVAL;
	}
	if (!conf->iface[0]) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: expected an \"interface NAME\" statement: the daemon runs for one interface",
			 d->opts->config_path);
		return -EINVAL;
	}
	if (d->ifname[0] && strcmp(conf->iface, d->ifname)) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s: interface changed from %s to %s; restart the daemon to move it",
			 d->opts->config_path, d->ifname, conf->iface);
		return -EINVAL;
	}
	return 0;
}

static void count_reload(struct daemon *d, bool ok)
{
	pthread_mutex_lock(&d->stats_lock);
	if (ok)
		d->stats.reloads_ok++;
	else
		d->stats.reloads_failed++;
	pthread_mutex_unlock(&d->stats_lock);
}

/* SIGHUP: the new file replaces the rule set whole, or changes nothing. */
static void reload(struct daemon *d)
{
	struct sl_error err = {};
	struct sl_config conf;
	struct sl_pins pins;
	int ret;

	config_init(&conf);
	ret = read_config(d, &conf, &err);
	if (ret) {
		say(d, "error", "reload", "reload refused, old rules kept: %s", err.msg);
		count_reload(d, false);
		goto out;
	}
	ret = pins__open(&pins, d->ifname, &err);
	if (!ret) {
		ret = ruleset__apply(&pins.maps, &conf, &err);
		pins__close(&pins);
	}
	if (ret) {
		say(d, "error", "reload", "reload failed, old rules kept: %s", err.msg);
		count_reload(d, false);
		goto out;
	}
	say(d, "info", "reload", "reloaded %s: %u rules, %zu allow, %zu deny",
	    d->opts->config_path, conf.n_rules, conf.n_allow, conf.n_deny);
	count_reload(d, true);
	read_names(d);
out:
	config_free(&conf);
}

static void sweep_keys(struct daemon *d, const struct sl_pins *pins, int ctl_fd)
{
	struct sl_key_sweep_result res;
	struct sl_error err = {};

	if (keysweep__run(&pins->maps, ctl_fd, monotonic_ns(), &d->keys, &res, &err)) {
		say(d, "error", "sweep", "%s", err.msg);
		return;
	}
	pthread_mutex_lock(&d->stats_lock);
	d->stats.keys_reclaimed += res.reclaimed;
	pthread_mutex_unlock(&d->stats_lock);
	if (res.pass_done && d->keys.pass_reclaimed)
		say(d, "info", "sweep", "reclaimed %llu idle keys; %llu keep state",
		    d->keys.pass_reclaimed, d->keys.pass_read - d->keys.pass_reclaimed);
}

static void sweep(struct daemon *d)
{
	struct sl_sweep_result res;
	struct sl_error err = {};
	char path[PATH_MAX];
	struct sl_pins pins;
	int ctl_fd, ret;

	ret = pins__open(&pins, d->ifname, &err);
	if (ret) {
		say(d, "error", "sweep", "%s", err.msg);
		return;
	}
	ctl_fd = bpf_obj_get(pins__path(path, sizeof(path), d->ifname, SL_PIN_PROG_CTL));
	if (ctl_fd < 0) {
		say(d, "error", "sweep", "%s: %s", path, strerror(errno));
		pins__close(&pins);
		return;
	}
	ret = sweep__run(&pins.maps, ctl_fd, monotonic_ns(), &res, &err);
	sweep_keys(d, &pins, ctl_fd);
	close(ctl_fd);
	pins__close(&pins);
	if (ret) {
		say(d, "error", "sweep", "%s", err.msg);
		return;
	}
	pthread_mutex_lock(&d->stats_lock);
	d->stats.sweeps++;
	d->stats.released_half_open += res.released_half_open;
	d->stats.released_idle += res.released_idle;
	d->stats.counts_corrected += res.adjusted;
	pthread_mutex_unlock(&d->stats_lock);
	if (res.released_half_open || res.released_idle || res.adjusted)
		say(d, "info", "sweep",
		    "released %llu half-open and %llu idle connections, corrected %llu counts; %llu tracked",
		    res.released_half_open, res.released_idle, res.adjusted, res.flows);
}

/*
 * A breaker on this service just closed: the service is healthy again.
 * This is the one place that reacts to it; rules that warm up (a rate
 * ramping back to full over `warmup DUR`) restart their ramp from here.
 */
static void breaker_closed(struct daemon *d, const struct sl_breaker_change *c)
{
	say(d, "info", "breaker",
	    "breaker %s: half_open -> closed: %llu of %u probes succeeded (service tcp/%u)",
	    c->b->name, c->probes_ok, c->b->probes, c->b->port);
	if (d->n_recovered < SL_MAX_BREAKERS)
		d->recovered[d->n_recovered++] = c->b->port;
}

static bool names_port(const struct sl_rule_spec *r, unsigned port)
{
	unsigned i;

	for (i = 0; i < r->n_ports; i++)
		if (port >= r->ports[i].lo && port <= r->ports[i].hi)
			return true;
	return false;
}

/*
 * A recovered backend is not hit with its full quota at once: rules with
 * `warmup` whose dport list names a service whose breaker just closed
 * ramp up again.
 */
static void warm_up_again(struct daemon *d, const struct sl_maps *maps)
{
	struct sl_error err = {};
	struct sl_config conf;
	unsigned i, j;

	if (!d->n_recovered)
		return;
	config_init(&conf);
	if (ruleset__read(maps, &conf, &err)) {
		say(d, "error", "warmup", "reading the rules: %s", err.msg);
		goto out;
	}
	for (i = 0; i < conf.n_rules; i++) {
		const struct sl_rule_spec *r = &conf.rules[i];

		for (j = 0; j < d->n_recovered && r->warmup_ns; j++) {
			if (!names_port(r, d->recovered[j]))
				continue;
			if (ruleset__restart_warmup(maps, r->name, monotonic_ns()) > 0)
				say(d, "info", "warmup",
				    "rule %s warms up again over %.3gs (service tcp/%u recovered)",
				    r->name, r->warmup_ns / 1e9, d->recovered[j]);
			break;
		}
	}
out:
	config_free(&conf);
	d->n_recovered = 0;
}

/* One log line per transition. */
static void breaker_changed(void *arg, const struct sl_breaker_change *c)
{
	const struct sl_breaker_stats *b = c->b;
	struct daemon *d = arg;

	switch (b->state) {
	case SL_BRK_OPEN:
		if (c->from == SL_BRK_CLOSED)
			say(d, "warning", "breaker",
			    "breaker %s: closed -> open: %llu errors within %.3gs (service tcp/%u); refusing new connections for %.3gs",
			    b->name, c->window_errors, b->within_ns / 1e9, b->port,
			    b->open_ns / 1e9);
		else
			say(d, "warning", "breaker",
			    "breaker %s: half_open -> open: %llu probes failed, %llu got no answer within %.3gs (service tcp/%u); refusing new connections for %.3gs",
			    b->name, c->probes_failed, c->probes_timed_out,
			    b->within_ns / 1e9, b->port, b->open_ns / 1e9);
		break;
	case SL_BRK_HALF_OPEN:
		say(d, "info", "breaker",
		    "breaker %s: open -> half_open: letting %u probe connections through (service tcp/%u)",
		    b->name, b->probes, b->port);
		break;
	default:
		breaker_closed(d, c);
		break;
	}
}

/* Every SL_BREAKER_TICK_MS: the transitions that are due. */
static void breakers_tick(struct daemon *d)
{
	struct sl_error err = {};
	struct sl_pins pins;
	int ret;

	ret = pins__open(&pins, d->ifname, &err);
	if (!ret) {
		ret = breakers__tick(&d->breakers, &pins.maps, monotonic_ns(),
				     breaker_changed, d, &err);
		warm_up_again(d, &pins.maps);
		pins__close(&pins);
	}
	/* Ten ticks a second: say a failure once, not ten times a second. */
	if (ret && !d->breaker_failing)
		say(d, "error", "breaker", "%s", err.msg);
	d->breaker_failing = ret;
}

static void on_ban_end(const struct sl_ban_entry *e, void *arg)
{
	struct sl_event ev = {
		.time_ns = e->ban.expires_ns,
		.type = SL_EV_BAN_END,
		.rule_uid = e->ban.rule_uid,
		.key_type = SL_KEY_SRC,
		.family = e->key.family,
		.prefixlen = e->key.prefixlen,
		.duration_ns = e->ban.expires_ns - e->ban.start_ns,
		.offences = e->ban.offences,
	};

	memcpy(ev.addr, e->key.addr, sizeof(ev.addr));
	if (e->ban.flags & SL_BAN_MANUAL)
		ev.flags |= SL_EV_MANUAL;
	if (e->ban.flags & SL_BAN_DRY)
		ev.flags |= SL_EV_DRY;
	log_event(arg, &ev);
}

/*
 * Events over the budget are only counted, in the kernel; the log says how
 * many, at most every SUPPRESSED_REPORT_NS. first: take note of the count,
 * what was suppressed before we ran is not news.
 */
static void report_suppressed(struct daemon *d, const struct sl_maps *maps,
			      bool first)
{
	__u64 now = monotonic_ns();
	struct sl_counter c;

	if (stats__read_counter(maps, SL_CNT_EVENTS_SUPPRESSED, &c))
		return;
	if (!first && (c.packets <= d->suppressed ||
		       now - d->suppressed_said_ns < SUPPRESSED_REPORT_NS))
		return;
	if (!first) {
		say(d, "warning", "events_suppressed",
		    "%llu events suppressed (over event-limit, or the ring was full)",
		    (unsigned long long)c.packets - d->suppressed);
		d->suppressed_said_ns = now;
	}
	d->suppressed = c.packets;
}

/*
 * Bans end in the kernel by themselves; here they are noticed, logged
 * once, and forgotten when their offences are.
 */
static void expire_bans(struct daemon *d, bool first)
{
	struct sl_ban_sweep res;
	struct sl_error err = {};
	char path[PATH_MAX];
	struct sl_pins pins;
	int ctl_fd, ret;

	ret = pins__open(&pins, d->ifname, &err);
	if (ret) {
		say(d, "error", "bans", "%s", err.msg);
		return;
	}
	report_suppressed(d, &pins.maps, first);
	ctl_fd = bpf_obj_get(pins__path(path, sizeof(path), d->ifname, SL_PIN_PROG_CTL));
	if (ctl_fd < 0) {
		say(d, "error", "bans", "%s: %s", path, strerror(errno));
		pins__close(&pins);
		return;
	}
	ret = bans__expire(&pins.maps, ctl_fd, monotonic_ns(), on_ban_end, d, &res,
			   &err);
	close(ctl_fd);
	pins__close(&pins);
	if (ret)
		say(d, "error", "bans", "%s", err.msg);
}

static int open_timer(unsigned ms)
{
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000l },
		.it_value = { ms / 1000, (ms % 1000) * 1000000l },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (fd >= 0 && timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Before anything is attached: the node name, and one round trip to Redis.
 * Settings Redis refuses (a wrong password, a missing database, a host
 * that does not resolve) are errors now; a Redis that is merely away is
 * not, since enforcement must not wait for the coordinator: down->msg then
 * says why, and the daemon starts in fallback. Returns 0 or -EINVAL.
 */
static int check_cluster(struct daemon *d, char *node, size_t len,
			 struct sl_error *down)
{
	const struct sl_cluster_conf *c = &d->cluster_conf;
	struct sl_error err = {};
	int ret;

	if (c->node[0]) {
		snprintf(node, len, "%s", c->node);
	} else if (cluster__default_node(node, len) || !config_valid_node_name(node)) {
		cli_error("run", NULL,
			  "%s: the host name \"%s\" cannot name this node in the cluster; add \"node NAME\" to the cluster statement",
			  d->opts->config_path, node);
		return -EINVAL;
	}
	ret = cluster__probe(c, &err);
	if (ret == -EINVAL) {
		cli_error("run", NULL, "%s: %s", d->opts->config_path, err.msg);
		return ret;
	}
	if (ret)
		*down = err;
	return 0;
}

int daemon__run(const struct sl_daemon_opts *opts)
{
	struct daemon d = { .opts = opts, .stats_lock = PTHREAD_MUTEX_INITIALIZER,
			    .keys = { .budget = SL_KEY_SWEEP_BUDGET } };
	struct sl_attach_opts aopts = {};
	struct sl_metrics *metrics = NULL;
	struct sl_error err = {};
	struct sl_config conf;
	char listen[SL_LISTEN_LEN], node[SL_CLUSTER_NODE_MAX + 1] = "";
	struct sl_error cluster_down = {};
	const char *addr;
	sigset_t sigs;
	int sig_fd = -1, timer_fd = -1, brk_fd = -1, code = SL_EXIT_FAIL, ret;
	bool running = true;

	config_init(&conf);
	/* Everything the operator wrote is checked before anything changes. */
	ret = read_config(&d, &conf, &err);
	if (ret) {
		cli_error("run", NULL, "%s", err.msg);
		config_free(&conf);
		return SL_EXIT_USAGE;
	}
	snprintf(d.ifname, sizeof(d.ifname), "%s", conf.iface);
	if (!if_nametoindex(d.ifname)) {
		cli_error("run", NULL, "%s: interface %s: no such interface",
			  opts->config_path, d.ifname);
		config_free(&conf);
		return SL_EXIT_USAGE;
	}
	addr = opts->metrics ? opts->metrics :
	       conf.metrics[0] ? conf.metrics : SL_DEFAULT_METRICS;
	if (config_parse_listen(addr, NULL, listen, sizeof(listen), &err)) {
		cli_error("run", NULL, "--metrics: %s", err.msg);
		config_free(&conf);
		return SL_EXIT_USAGE;
	}
	d.cluster_conf = conf.cluster;
	if (conf.cluster.set && check_cluster(&d, node, sizeof(node), &cluster_down)) {
		config_free(&conf);
		return SL_EXIT_USAGE;
	}

	/* Signals are read from a descriptor, in the loop, never in a handler:
	 * a reload then runs like any other step. Blocked before any thread
	 * starts, so libmicrohttpd's threads inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	timer_fd = open_timer(opts->sweep_ms);
	brk_fd = open_timer(SL_BREAKER_TICK_MS);
	if (sig_fd < 0 || timer_fd < 0 || brk_fd < 0) {
		say(&d, "error", "start", "signalfd/timerfd: %s", strerror(errno));
		goto out;
	}

	aopts.ifname = d.ifname;
	aopts.mode = opts->mode ? opts->mode : conf.mode;
	aopts.conf = &conf;
	ret = attach__run(&aopts, &err);
	if (ret) {
		say(&d, "error", "start", "%s", err.msg);
		code = ret == -EINVAL ? SL_EXIT_USAGE : SL_EXIT_FAIL;
		goto out;
	}
	d.stats.start_time = time(NULL);
	say(&d, "info", "start", "enforcing %s: %u rules, %zu allow, %zu deny",
	    opts->config_path, conf.n_rules, conf.n_allow, conf.n_deny);

	ret = metrics__start(&metrics, listen, d.ifname, &d.stats, &d.stats_lock, &err);
	if (ret) {
		/* Enforcement is already on and stays on; only the exporter is
		 * missing, and the operator must hear about it. */
		say(&d, "error", "metrics", "metrics on %s: %s", listen, err.msg);
		code = SL_EXIT_FAIL;
		goto out;
	}
	say(&d, "info", "metrics", "serving metrics on http://%s/metrics", listen);
	if (conf.cluster.set) {
		struct sl_cluster_opts copts = {
			.ifname = d.ifname, .conf = &d.cluster_conf, .node = node,
			.leave_on_stop = opts->detach_on_exit,
			.log = cluster_log, .log_ctx = &d,
			.stats = &d.stats.cluster, .lock = &d.stats_lock,
		};

		if (cluster_down.msg[0])
			say(&d, "warning", "cluster", "%s: starting in fallback until Redis answers",
			    cluster_down.msg);
		ret = cluster__start(&d.cluster, &copts, &err);
		if (ret) {
			say(&d, "error", "cluster", "%s", err.msg);
			code = SL_EXIT_FAIL;
			goto out;
		}
	}
	read_names(&d);
	open_events(&d);
	/* Bans that ended while no daemon ran are logged now, once. */
	expire_bans(&d, true);

	while (running) {
		struct pollfd fds[4] = {
			{ .fd = sig_fd, .events = POLLIN },
			{ .fd = timer_fd, .events = POLLIN },
			{ .fd = brk_fd, .events = POLLIN },
			{ .fd = d.events ? ring_buffer__epoll_fd(d.events) : -1,
			  .events = POLLIN },
		};
		struct signalfd_siginfo si;
		__u64 ticks;

		if (poll(fds, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			say(&d, "error", "poll", "%s", strerror(errno));
			break;
		}
		if (fds[3].revents & POLLIN)
			ring_buffer__consume(d.events);
		if (fds[1].revents & POLLIN &&
		    read(timer_fd, &ticks, sizeof(ticks)) == sizeof(ticks)) {
			sweep(&d);
			expire_bans(&d, false);
		}
		if (fds[2].revents & POLLIN &&
		    read(brk_fd, &ticks, sizeof(ticks)) == sizeof(ticks))
			breakers_tick(&d);
		if (!(fds[0].revents & POLLIN) ||
		    read(sig_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP)
			reload(&d);
		else
			running = false;
	}
	code = SL_EXIT_OK;
	/* Before a detach, so the sync never finds the pins half gone. */
	cluster__stop(d.cluster);
	d.cluster = NULL;
	if (opts->detach_on_exit) {
		if (attach__detach(d.ifname, &err)) {
			say(&d, "error", "stop", "detach: %s", err.msg);
			code = SL_EXIT_FAIL;
		} else {
			say(&d, "info", "stop", "stopped and detached");
		}
	} else {
		say(&d, "info", "stop", "stopped; enforcement stays in place (pinned)");
	}
out:
	cluster__stop(d.cluster);
	ring_buffer__free(d.events);
	metrics__stop(metrics);
	if (sig_fd >= 0)
		close(sig_fd);
	if (timer_fd >= 0)
		close(timer_fd);
	if (brk_fd >= 0)
		close(brk_fd);
	config_free(&conf);
	return code;
}
