# Config fuzzing and sanitizers in user space (issue 7, items 2 and 3).
# Included by the top Makefile; builds only into $(OUT)/fuzz/ and
# $(OUT)/asan/. Recipes use the top Makefile's CFLAGS, LDLIBS, Q and msg;
# targets and prerequisites use only what is defined here, so this file
# also works read before the Makefile (make --eval '-include ...').
#
#   make fuzz-config-short   replays tests/fuzz/regressions/, then fuzzes the
#                            rule-language parser for FUZZ_SHORT_SECONDS (60)
#   make fuzz-config         the same for FUZZ_SECONDS (600)
#   make fuzz                every fuzzer's long run (this file adds the
#                            config fuzzer to it)
#   make test-sanitize       unit tests and a CLI smoke run in a namespace,
#                            all under ASan + UBSan + LeakSanitizer
#
# A crash, leak, timeout or broken invariant found by the fuzzer is saved in
# tests/fuzz/regressions/ (commit it); every later run replays it first.

OUT   ?= build
CLANG ?= clang
# Read first, this file must not make its first target the default goal.
FUZZ_GOAL := $(.DEFAULT_GOAL)

FUZZ_DIR           := $(OUT)/fuzz
FUZZ_BIN           := $(FUZZ_DIR)/fuzz_config
FUZZ_SECONDS       ?= 600
FUZZ_SHORT_SECONDS ?= 60
FUZZ_CLANG_MAJOR   := $(firstword $(subst ., ,$(shell $(CLANG) -dumpversion 2>/dev/null)))
# Debian ships libFuzzer and clang's sanitizer runtimes here; it is only a
# Recommends of clang, so an install without recommends lacks it.
FUZZ_RT_PKG        := libclang-rt-$(FUZZ_CLANG_MAJOR)-dev
FUZZ_SAN           := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS        := -g -O1 -fno-omit-frame-pointer -std=gnu11 -Wall -Wextra -Werror \
	-Wno-unused-parameter -Wno-missing-field-initializers -Iinclude -Iuser -MMD -MP

.PHONY: fuzz fuzz-config fuzz-config-short fuzz-build fuzz-runtime test-sanitize sanitize-build

# Other fuzzers add themselves to `fuzz` the same way, with their own target.
fuzz: fuzz-config

fuzz-config: fuzz-build
	$(Q)tests/fuzz/run_fuzz.sh $(FUZZ_BIN) $(FUZZ_SECONDS) $(FUZZ_DIR)

fuzz-config-short: fuzz-build
	$(Q)tests/fuzz/run_fuzz.sh $(FUZZ_BIN) $(FUZZ_SHORT_SECONDS) $(FUZZ_DIR)

fuzz-build: $(FUZZ_BIN)

$(FUZZ_DIR):
	$(Q)mkdir -p $@

# libFuzzer comes with clang's runtime package; install it if a fuzzer will
# not link (as root, like scripts/install-deps.sh).
fuzz-runtime: | $(FUZZ_DIR)
	$(Q)printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' | \
		$(CLANG) $(FUZZ_SAN) -x c - -o $(FUZZ_DIR)/probe 2>/dev/null || { \
		[ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null || { \
			echo "fuzz: $(CLANG) cannot link a libFuzzer target; install $(FUZZ_RT_PKG) (as root: apt-get install $(FUZZ_RT_PKG))" >&2; \
			exit 1; }; \
		echo "fuzz: installing $(FUZZ_RT_PKG) (libFuzzer and the sanitizer runtimes)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -q --no-install-recommends $(FUZZ_RT_PKG) >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && \
		  apt-get install -y -q --no-install-recommends $(FUZZ_RT_PKG) >/dev/null; } || { \
			echo "fuzz: apt-get install $(FUZZ_RT_PKG) failed" >&2; exit 1; }; }
	$(Q)rm -f $(FUZZ_DIR)/probe

# The parser is compiled again here, with the fuzzer's instrumentation.
$(FUZZ_DIR)/fuzz_config.o: tests/fuzz/fuzz_config.c | $(FUZZ_DIR)
	$(call msg,CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@

$(FUZZ_DIR)/config.o $(FUZZ_DIR)/redis_url.o: $(FUZZ_DIR)/%.o: user/%.c | $(FUZZ_DIR)
	$(call msg,CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@

$(FUZZ_BIN): $(FUZZ_DIR)/fuzz_config.o $(FUZZ_DIR)/config.o $(FUZZ_DIR)/redis_url.o | fuzz-runtime
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) $^ -o $@

# ---------------------------------------------------------------- sanitizers

ASAN_DIR       := $(OUT)/asan
SAN_CC         ?= $(CC)
SAN_FLAGS      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# After CFLAGS, so -O1 wins over its -O2: clearer reports, same bugs.
SAN_CFLAGS      = $(CFLAGS) -O1 -g $(SAN_FLAGS)
ASAN_LIB_OBJS  := $(patsubst user/%.c,$(ASAN_DIR)/user/%.o,\
	$(filter-out user/main.c,$(wildcard user/*.c)))
ASAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(ASAN_DIR)/tests/%,$(wildcard tests/unit/test_*.c))
# The skeleton comes from the normal build's rules.
ASAN_SKEL      := $(OUT)/sluice.skel.h
# Every report is fatal, so an exit code is enough to see one. (No
# detect_stack_use_after_return here: it triples test_limiter's 11 s; the
# CLI run has it.)
SAN_ENV        := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:check_initialization_order=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:abort_on_error=1

test-sanitize: sanitize-build
	$(Q)echo "sanitize: unit tests under ASan + UBSan"
	$(Q)$(SAN_ENV) tests/run-all.sh $(ASAN_DIR) unit
	$(Q)echo "sanitize: CLI smoke run under ASan + UBSan"
	$(Q)tests/fuzz/sanitize_cli.sh $(ASAN_DIR)/sluice

sanitize-build: $(ASAN_DIR)/sluice $(ASAN_UNIT_BINS)

$(ASAN_DIR)/user $(ASAN_DIR)/tests:
	$(Q)mkdir -p $@

$(ASAN_DIR)/user/%.o: user/%.c $(ASAN_SKEL) | $(ASAN_DIR)/user
	$(call msg,CC,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -c $< -o $@

$(ASAN_DIR)/libsluice.a: $(ASAN_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(ASAN_DIR)/sluice: $(ASAN_DIR)/user/main.o $(ASAN_DIR)/libsluice.a
	$(call msg,LINK,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $^ $(LDLIBS) -o $@

$(ASAN_DIR)/tests/%: tests/unit/%.c $(ASAN_DIR)/libsluice.a | $(ASAN_DIR)/tests
	$(call msg,CC,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) $< $(ASAN_DIR)/libsluice.a $(LDLIBS) -lcmocka -o $@

-include $(wildcard $(FUZZ_DIR)/*.d $(ASAN_DIR)/user/*.d $(ASAN_DIR)/tests/*.d)

.DEFAULT_GOAL := $(FUZZ_GOAL)
