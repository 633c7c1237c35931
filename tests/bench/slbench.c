// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * slbench: the small tools `make bench` drives from tests/bench/bench.sh.
 *
 *   slbench gen IFACE [--sources N|random] [--base ADDR] [--cpus 0,1]
 *               [--seconds S] [--dport P] [--legit-every M --legit-src ADDR
 *               --legit-dport P] [--stamp 1]
 *       Line-rate traffic: gen.bpf.o run with BPF_F_TEST_XDP_LIVE_FRAMES on
 *       IFACE (the client end of a veth pair, in the current namespace), one
 *       thread pinned per CPU. Prints one JSON line: packets offered, the
 *       first start and last end (CLOCK_MONOTONIC ns); with --stamp 1 also
 *       the first and last frame's time as the program saw it.
 *   slbench sink IFACE drop|pass|hash|array PINFILE
 *       Attach a counting XDP_DROP or XDP_PASS, or a floor (sink.bpf.c: one
 *       hash-map lookup or one array slot per source, then XDP_DROP), and
 *       pin its counter.
 *   slbench sink IFACE detach
 *   slbench rate PINFILE 0 SECONDS [IFACE]
 *       Packets per second counted in entry 0 of a per-CPU array of
 *       {packets, bytes} (sluice's sl_cnt or the sink's) over a fixed
 *       window, with every entry's delta and entry 0's per CPU; with IFACE,
 *       also the attached XDP program's run_time_ns / run_cnt over the same
 *       window (needs kernel.bpf_stats_enabled=1).
 *   slbench series PINFILE INDEX FIELD INTERVAL_MS SECONDS
 *       Time series of one u64 field of a per-CPU array value (summed over
 *       CPUs): lines "t_seconds per_second cumulative".
 *   slbench gro IFACE on|off                veth: NAPI (and so XDP frames
 *                                           from the peer) without a program
 *   slbench read PINFILE INDEX FIELD        one per-CPU u64: sum and per CPU
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gen.skel.h"
#include "sink.skel.h"

#define FRAME_LEN	60	/* 64 on the wire with the FCS */
#define MAX_THREADS	64

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "slbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint32_t parse_ip4(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		die("not an IPv4 address: %s", s);
	return ntohl(a.s_addr);
}

static int ifindex_of(const char *name)
{
	int idx = if_nametoindex(name);

	if (!idx)
		die("no interface %s in this namespace: %s", name, strerror(errno));
	return idx;
}

/* ------------------------------------------------------------------ gen */

struct gen_thread {
	pthread_t tid;
	int cpu;
	int prog_fd;
	int ifindex;
	uint64_t start, end;
	int err;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	stop = 1;
}

static void build_frame(uint8_t *f, uint16_t dport)
{
	/* The destination MAC is nobody's: a frame the receiver admits is
	 * discarded by the stack at its first check, so what is measured is
	 * the XDP decision, not the socket layer behind it. */
	static const uint8_t mac[12] = { 0x02, 0x5e, 0, 0, 0, 0x01,
					 0x02, 0x5e, 0, 0, 0, 0x02 };
	uint8_t *ip = f + 14, *udp = ip + 20;

	memset(f, 0, FRAME_LEN);
	memcpy(f, mac, sizeof(mac));
	f[12] = 0x08;
	f[13] = 0x00;
	ip[0] = 0x45;
	ip[2] = 0;
	ip[3] = FRAME_LEN - 14;
	ip[8] = 64;
	ip[9] = 17;
	ip[12] = 198; ip[13] = 18; ip[14] = 0; ip[15] = 1;
	ip[16] = 198; ip[17] = 19; ip[18] = 0; ip[19] = 1;
	udp[0] = 0x30; udp[1] = 0x39;
	udp[2] = dport >> 8; udp[3] = dport & 0xff;
	udp[4] = 0; udp[5] = FRAME_LEN - 34;
}

static void *gen_run(void *arg)
{
	struct gen_thread *t = arg;
	uint8_t frame[FRAME_LEN];
	/* The kernel wants data_end to say how long the frame is. */
	struct xdp_md ctx = { .data_end = FRAME_LEN, .ingress_ifindex = t->ifindex };
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		t->err = -EINVAL;
		return NULL;
	}
	build_frame(frame, 9);
	t->start = now_ns();
	/*
	 * One long run, stopped by a signal: every test run sets up and tears
	 * down a page pool, and the teardown sleeps, so short runs leave the
	 * CPU idle between them. The kernel checks for a pending signal
	 * between batches and returns -EINTR.
	 */
	while (!stop) {
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			.data_in = frame,
			.data_size_in = sizeof(frame),
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = INT32_MAX,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		);
		int err = bpf_prog_test_run_opts(t->prog_fd, &opts);

		if (err && err != -EINTR) {
			t->err = err;
			break;
		}
	}
	t->end = now_ns();
	return NULL;
}

/* Frames generated: gen.bpf.c counts them per CPU. */
static uint64_t sum_seq(int fd)
{
	int ncpus = libbpf_num_possible_cpus(), c;
	uint64_t *v = calloc(ncpus, sizeof(*v)), sum = 0;
	__u32 zero = 0;

	if (!v || bpf_map_lookup_elem(fd, &zero, v))
		die("reading the generator's count: %s", strerror(errno));
	for (c = 0; c < ncpus; c++)
		sum += v[c];
	free(v);
	return sum;
}

/* First and last stamped frame over every CPU, CLOCK_MONOTONIC ns. */
static void span(int fd, uint64_t *first, uint64_t *last)
{
	int ncpus = libbpf_num_possible_cpus(), c;
	struct { uint64_t first, last; } *v = calloc(ncpus, sizeof(*v));
	__u32 zero = 0;

	*first = UINT64_MAX;
	*last = 0;
	if (!v || bpf_map_lookup_elem(fd, &zero, v))
		die("reading the generator's span: %s", strerror(errno));
	for (c = 0; c < ncpus; c++) {
		if (!v[c].first)
			continue;
		if (v[c].first < *first)
			*first = v[c].first;
		if (v[c].last > *last)
			*last = v[c].last;
	}
	free(v);
}

static int cmd_gen(int argc, char **argv)
{
	struct gen_thread th[MAX_THREADS];
	const char *ifname = argv[0];
	const char *cpus = "0";
	double seconds = 3;
	struct gen *skel;
	int i, n = 0, ifindex;
	uint64_t start = UINT64_MAX, end = 0, packets = 0;
	char *list, *tok, *save;
	struct sigaction sa = {};
	struct timespec ts;
	uint64_t deadline;

	skel = gen__open();
	if (!skel)
		die("gen__open: %s", strerror(errno));
	skel->rodata->src_base = parse_ip4("10.0.0.1");
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			die("gen: %s needs a value", a);
		i++;
		if (!strcmp(a, "--sources"))
			skel->rodata->n_sources = strcmp(v, "random") ? strtoul(v, NULL, 0) : 0;
		else if (!strcmp(a, "--base"))
			skel->rodata->src_base = parse_ip4(v);
		else if (!strcmp(a, "--cpus"))
			cpus = v;
		else if (!strcmp(a, "--seconds"))
			seconds = strtod(v, NULL);
		else if (!strcmp(a, "--stamp"))
			skel->rodata->stamp = !!atoi(v);
		else if (!strcmp(a, "--dport"))
			skel->rodata->flood_dport = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--legit-every"))
			skel->rodata->legit_every = strtoul(v, NULL, 0);
		else if (!strcmp(a, "--legit-src"))
			skel->rodata->legit_src = parse_ip4(v);
		else if (!strcmp(a, "--legit-dport"))
			skel->rodata->legit_dport = strtoul(v, NULL, 0);
		else
			die("gen: unknown option %s", a);
	}
	if (gen__load(skel))
		die("gen__load: %s", strerror(errno));
	ifindex = ifindex_of(ifname);

	list = strdup(cpus);
	for (tok = strtok_r(list, ",", &save); tok && n < MAX_THREADS;
	     tok = strtok_r(NULL, ",", &save), n++) {
		th[n] = (struct gen_thread){
			.cpu = atoi(tok),
			.prog_fd = bpf_program__fd(skel->progs.gen_xdp),
			.ifindex = ifindex,
		};
	}
	free(list);
	sa.sa_handler = on_stop;	/* no SA_RESTART: the run must end */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL))
		die("sigaction: %s", strerror(errno));
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i].tid, NULL, gen_run, &th[i]))
			die("pthread_create: %s", strerror(errno));
	deadline = now_ns() + (uint64_t)(seconds * 1e9);
	ts.tv_sec = deadline / 1000000000ull;
	ts.tv_nsec = deadline % 1000000000ull;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	stop = 1;
	for (i = 0; i < n; i++) {
		/* Until it is out of the kernel: a signal may land between runs. */
		while (pthread_tryjoin_np(th[i].tid, NULL) == EBUSY) {
			pthread_kill(th[i].tid, SIGUSR1);
			usleep(1000);
		}
		if (th[i].err)
			die("gen on cpu %d: bpf_prog_test_run_opts(live frames) on %s: %s",
			    th[i].cpu, ifname, strerror(-th[i].err));
		if (th[i].start < start)
			start = th[i].start;
		if (th[i].end > end)
			end = th[i].end;
	}
	packets = sum_seq(bpf_map__fd(skel->maps.gen_seq));
	printf("{\"packets\":%" PRIu64 ",\"start_ns\":%" PRIu64 ",\"end_ns\":%" PRIu64
	       ",\"seconds\":%.6f,\"threads\":%d",
	       packets, start, end, (end - start) / 1e9, n);
	if (skel->rodata->stamp) {
		uint64_t first, last;

		span(bpf_map__fd(skel->maps.gen_span), &first, &last);
		printf(",\"first_ns\":%" PRIu64 ",\"last_ns\":%" PRIu64 ",\"span_s\":%.6f",
		       first, last, last > first ? (last - first) / 1e9 : 0.0);
	}
	printf("}\n");
	gen__destroy(skel);
	return 0;
}

/* ----------------------------------------------------------------- sink */

static int cmd_sink(int argc, char **argv)
{
	const char *ifname = argv[0];
	struct bpf_program *prog, *want;
	struct sink *skel;
	char name[32];
	int ifindex, err;

	if (argc < 2)
		die("sink IFACE drop|pass|hash|array PINFILE | sink IFACE detach");
	ifindex = ifindex_of(ifname);
	if (!strcmp(argv[1], "detach")) {
		err = bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		if (err)
			die("detach %s: %s", ifname, strerror(-err));
		return 0;
	}
	if (argc < 3)
		die("sink IFACE drop|pass|hash|array PINFILE");
	skel = sink__open();
	if (!skel)
		die("sink: open: %s", strerror(errno));
	snprintf(name, sizeof(name), "sink_%s", argv[1]);
	want = bpf_object__find_program_by_name(skel->obj, name);
	if (!want)
		die("sink: '%s' is not one of drop, pass, hash, array", argv[1]);
	/*
	 * Only the chosen program and its maps: the floors' maps are
	 * preallocated for a million sources (tens of MB), and each floor
	 * starts from empty state.
	 */
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, prog == want);
	bpf_map__set_autocreate(skel->maps.sink_src, want == skel->progs.sink_hash);
	bpf_map__set_autocreate(skel->maps.sink_slot, want == skel->progs.sink_array);
	err = sink__load(skel);
	if (err)
		die("sink: load: %s", strerror(-err));
	err = bpf_xdp_attach(ifindex, bpf_program__fd(want), XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		die("attach to %s: %s", ifname, strerror(-err));
	unlink(argv[2]);
	err = bpf_map__pin(skel->maps.sink_cnt, argv[2]);
	if (err)
		die("pin %s: %s", argv[2], strerror(-err));
	sink__destroy(skel);	/* the attachment and the pin keep both alive */
	return 0;
}

/* --------------------------------------------------------------- reading */

struct pcpu {
	int fd;
	unsigned value_size, ncpus;
	uint8_t *buf;
};

static void pcpu_open(struct pcpu *p, const char *path)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	p->fd = bpf_obj_get(path);
	if (p->fd < 0)
		die("open %s: %s", path, strerror(errno));
	if (bpf_obj_get_info_by_fd(p->fd, &info, &len))
		die("info %s: %s", path, strerror(errno));
	p->value_size = (info.value_size + 7) & ~7u;
	p->ncpus = libbpf_num_possible_cpus();
	p->buf = calloc(p->ncpus, p->value_size);
}

static uint64_t pcpu_sum(struct pcpu *p, __u32 index, unsigned field)
{
	uint64_t sum = 0;
	unsigned c;

	if (bpf_map_lookup_elem(p->fd, &index, p->buf))
		die("lookup: %s", strerror(errno));
	for (c = 0; c < p->ncpus; c++)
		sum += ((uint64_t *)(p->buf + c * p->value_size))[field];
	return sum;
}

static bool prog_stats(int ifindex, uint64_t *run_ns, uint64_t *runs)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), id = 0;
	int fd;

	if (bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &id) || !id)
		return false;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		close(fd);
		return false;
	}
	close(fd);
	*run_ns = info.run_time_ns;
	*runs = info.run_cnt;
	return true;
}

/* Every entry's field 0 (packets), summed over CPUs, plus entry 0 per CPU. */
struct snapshot {
	uint64_t t;
	uint64_t sum[64];
	uint64_t cpu0[256];
};

static void snap(struct pcpu *p, unsigned entries, struct snapshot *s)
{
	unsigned i, c;

	for (i = 1; i < entries && i < 64; i++)
		s->sum[i] = pcpu_sum(p, i, 0);
	/* Entry 0 last and closest to the timestamp: the rate comes from it. */
	s->sum[0] = pcpu_sum(p, 0, 0);
	s->t = now_ns();
	for (c = 0; c < p->ncpus && c < 256; c++)
		s->cpu0[c] = *(uint64_t *)(p->buf + c * p->value_size);
}

static int cmd_rate(int argc, char **argv)
{
	struct pcpu p;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	double seconds = strtod(argv[2], NULL);
	struct snapshot a, b;
	uint64_t ns0 = 0, ns1 = 0, r0 = 0, r1 = 0;
	bool have = false;
	int ifindex = argc > 3 ? ifindex_of(argv[3]) : 0;
	unsigned entries, i;

	pcpu_open(&p, argv[0]);
	if (bpf_obj_get_info_by_fd(p.fd, &info, &len))
		die("info: %s", strerror(errno));
	entries = info.max_entries < 64 ? info.max_entries : 64;
	if (ifindex)
		have = prog_stats(ifindex, &ns0, &r0);
	snap(&p, entries, &a);
	usleep((useconds_t)(seconds * 1e6));
	snap(&p, entries, &b);
	if (ifindex)
		have = have && prog_stats(ifindex, &ns1, &r1);
	printf("{\"pps\":%.1f,\"packets\":%" PRIu64 ",\"seconds\":%.6f",
	       (b.sum[0] - a.sum[0]) / ((b.t - a.t) / 1e9), b.sum[0] - a.sum[0],
	       (b.t - a.t) / 1e9);
	printf(",\"entries\":[");
	for (i = 0; i < entries; i++)
		printf("%s%" PRIu64, i ? "," : "", b.sum[i] - a.sum[i]);
	printf("],\"per_cpu\":[");
	for (i = 0; i < p.ncpus && i < 256; i++)
		printf("%s%" PRIu64, i ? "," : "", b.cpu0[i] - a.cpu0[i]);
	printf("]");
	if (have && r1 > r0)
		printf(",\"prog_ns\":%.2f,\"prog_runs\":%" PRIu64,
		       (double)(ns1 - ns0) / (r1 - r0), r1 - r0);
	printf("}\n");
	return 0;
}

static int cmd_series(int argc, char **argv)
{
	struct pcpu p;
	__u32 index = strtoul(argv[1], NULL, 0);
	unsigned field = strtoul(argv[2], NULL, 0);
	unsigned interval_ms = strtoul(argv[3], NULL, 0);
	double seconds = strtod(argv[4], NULL);
	uint64_t t0, t, prev_t, c, prev_c;

	pcpu_open(&p, argv[0]);
	t0 = prev_t = now_ns();
	prev_c = pcpu_sum(&p, index, field);
	for (;;) {
		uint64_t next = prev_t + interval_ms * 1000000ull;
		struct timespec ts = { .tv_sec = next / 1000000000ull,
				       .tv_nsec = next % 1000000000ull };

		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		t = now_ns();
		c = pcpu_sum(&p, index, field);
		printf("%.3f %.1f %" PRIu64 "\n", (t - t0) / 1e9,
		       (c - prev_c) / ((t - prev_t) / 1e9), c);
		fflush(stdout);
		prev_t = t;
		prev_c = c;
		if (t - t0 >= (uint64_t)(seconds * 1e9))
			break;
	}
	return 0;
}

static int cmd_read(int argc, char **argv)
{
	struct pcpu p;
	unsigned field = strtoul(argv[2], NULL, 0), c;
	uint64_t sum;

	pcpu_open(&p, argv[0]);
	sum = pcpu_sum(&p, strtoul(argv[1], NULL, 0), field);
	printf("{\"sum\":%" PRIu64 ",\"per_cpu\":[", sum);
	for (c = 0; c < p.ncpus; c++)
		printf("%s%" PRIu64, c ? "," : "",
		       ((uint64_t *)(p.buf + c * p.value_size))[field]);
	printf("]}\n");
	return 0;
}

static int cmd_gro(int argc, char **argv)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_SGRO,
				    .data = !strcmp(argv[1], "on") };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[0]);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		die("gro %s %s: %s", argv[0], argv[1], strerror(errno));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int min_args;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "gen", 1, cmd_gen },
		{ "sink", 2, cmd_sink },
		{ "rate", 3, cmd_rate },
		{ "series", 5, cmd_series },
		{ "read", 3, cmd_read },
		{ "gro", 2, cmd_gro },
	};
	size_t i;

	if (argc < 2)
		die("usage: slbench gen|sink|rate|series|read|gro ARGS (see the source)");
	libbpf_set_print(NULL);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (argc - 2 < cmds[i].min_args)
			die("%s: needs %d arguments", cmds[i].name, cmds[i].min_args);
		return cmds[i].fn(argc - 2, argv + 2);
	}
	die("unknown command %s", argv[1]);
}
