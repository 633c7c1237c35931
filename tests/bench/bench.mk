# `make bench`: the benchmark layer (tests/bench/), not part of `make test`.
# Included by the top Makefile; builds into $(OUT)/bench/ only.

BENCH_DIR  := $(OUT)/bench
BENCH_BPF  := $(BENCH_DIR)/gen.bpf.o $(BENCH_DIR)/sink.bpf.o
BENCH_SKEL := $(BENCH_DIR)/gen.skel.h $(BENCH_DIR)/sink.skel.h
BENCH_BINS := $(BENCH_DIR)/slbench $(BENCH_DIR)/ns_per_packet

.PHONY: bench bench-build

bench: deps
	$(Q)$(MAKE) --no-print-directory all bench-build
	$(Q)command -v gnuplot >/dev/null || { \
		echo "bench: installing gnuplot-nox (for flood.png)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && \
		  apt-get install -y -q --no-install-recommends gnuplot-nox >/dev/null; } || \
		echo "bench: gnuplot-nox could not be installed; flood.png will be missing"; }
	$(Q)tests/bench/bench.sh $(OUT)

bench-build: $(BENCH_BINS)

$(BENCH_DIR):
	$(Q)mkdir -p $@

$(BENCH_DIR)/%.bpf.o: tests/bench/%.bpf.c | $(BENCH_DIR)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BENCH_DIR)/%.skel.h: $(BENCH_DIR)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(BENCH_DIR)/slbench: tests/bench/slbench.c $(BENCH_SKEL) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_DIR) $< $(LDLIBS) -lpthread -o $@

$(BENCH_DIR)/ns_per_packet: tests/bench/ns_per_packet.c $(OUT)/libsluice.a $(SKELS) $(BENCH_SKEL) | $(BENCH_DIR)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(BENCH_DIR) $< $(OUT)/libsluice.a $(LDLIBS) -o $@

.SECONDARY: $(BENCH_BPF)

-include $(wildcard $(BENCH_DIR)/*.d)
