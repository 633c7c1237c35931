# sluice: build, test, demo, bench, install.
# `make V=1` shows the commands.

OUT       ?= build
VERSION   ?= 0.1.0
PREFIX    ?= /usr/local
CLANG     ?= clang
BPFTOOL   ?= bpftool
CC        ?= gcc
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -dumpmachine 2>/dev/null)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBBPF_CFLAGS := $(shell pkg-config --cflags libbpf 2>/dev/null)
LIBBPF_LIBS   := $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)

BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) \
	-Wall -Werror -Iinclude -idirafter /usr/include/$(MULTIARCH)
CFLAGS  ?= -O2 -g
CFLAGS  += -DSLUICE_VERSION=\"$(VERSION)\" -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-format-truncation -std=gnu11 \
	-Iinclude -Iuser -I$(OUT) $(LIBBPF_CFLAGS) -MMD -MP
LDLIBS  += $(LIBBPF_LIBS) $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd) \
	$(shell pkg-config --libs hiredis 2>/dev/null || echo -lhiredis) -lpthread

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
# Everything but main.c is a library the tests link against too.
LIB_SRCS   := $(filter-out user/main.c,$(wildcard user/*.c))
LIB_OBJS   := $(patsubst user/%.c,$(OUT)/user/%.o,$(LIB_SRCS))
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
BPFT_SRCS  := $(wildcard tests/bpf/test_*.c)
BPFT_BINS  := $(patsubst tests/bpf/%.c,$(OUT)/tests/%,$(BPFT_SRCS))

# Kept between runs: the skeleton is generated from it.
.SECONDARY: $(BPF_OBJS)

.PHONY: all deps test test-unit test-bpf test-fuzz test-e2e demo install clean
.DELETE_ON_ERROR:

all: $(OUT)/sluice

deps:
	$(Q)scripts/install-deps.sh

$(OUT) $(OUT)/user $(OUT)/tests:
	$(Q)mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c | $(OUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $(@:.o=.d) -MT $@ -c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $* > $@

$(OUT)/user/%.o: user/%.c $(SKELS) | $(OUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUT)/libsluice.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(OUT)/sluice: $(OUT)/user/main.o $(OUT)/libsluice.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUT)/tests/%: tests/unit/%.c $(OUT)/libsluice.a | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUT)/libsluice.a $(LDLIBS) -lcmocka -o $@

$(OUT)/tests/%: tests/bpf/%.c $(OUT)/libsluice.a $(SKELS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -D_GNU_SOURCE -Itests/bpf $< $(OUT)/libsluice.a $(LDLIBS) -lcmocka -o $@

test: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS) $(BPFT_BINS) $(OUT)/tests/pktfuzz \
		fuzz-build sanitize-build
	$(Q)tests/run-all.sh $(OUT)

test-unit: all $(UNIT_BINS)
	$(Q)tests/run-all.sh $(OUT) unit

test-bpf: all $(BPFT_BINS)
	$(Q)tests/run-all.sh $(OUT) bpf

test-fuzz: all $(OUT)/tests/pktfuzz fuzz-build sanitize-build
	$(Q)tests/run-all.sh $(OUT) fuzz

test-e2e: all
	$(Q)tests/run-all.sh $(OUT) e2e

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh $(OUT)/sluice

install: all
	install -D -m 0755 $(OUT)/sluice $(DESTDIR)$(PREFIX)/sbin/sluice
	install -D -m 0644 docs/sluice.8 $(DESTDIR)$(PREFIX)/share/man/man8/sluice.8

clean:
	$(call msg,CLEAN,$(OUT))
	$(Q)rm -rf $(OUT)

-include $(wildcard $(OUT)/*.d $(OUT)/user/*.d $(OUT)/tests/*.d)

# Layers with their own targets and files: bench (make bench), fuzz (make
# fuzz), soak (make soak).
-include tests/bench/bench.mk
-include tests/soak/soak.mk
-include tests/fuzz/pkt.mk
-include tests/fuzz/fuzz.mk
