# Packet fuzzing against an independent oracle (tests/fuzz/pktfuzz.c, issue 7
# item 1). Included by the top Makefile after its variables (next to
# bench.mk): the rules use its OUT, CC, CFLAGS, LDLIBS, SKELS, Q and msg.
#
#   make fuzz-packets-short   100,000 frames with a fixed seed (part of make test)
#   make fuzz-packets         PKTFUZZ_FRAMES (1,000,000) frames, a new seed each
#                             run, printed so a failure can be repeated
#   make fuzz                 every fuzzer's long run (this file adds this one)
#
# PKTFUZZ_SEED fixes the long run's seed, PKTFUZZ_SHORT_SEED the short one's.
# Both need root (BPF_PROG_TEST_RUN). Exit status 1 means the XDP program and
# the oracle disagreed on some frame; each is printed with its bytes in hex,
# and `build/tests/pktfuzz --hex HEX` replays one.

# Whatever includes this first, it does not choose the default goal.
PKTFUZZ_GOAL := $(.DEFAULT_GOAL)

PKTFUZZ             := $(OUT)/tests/pktfuzz
PKTFUZZ_FRAMES      ?= 1000000
PKTFUZZ_SEED        ?=
PKTFUZZ_SHORT_SEED  ?= 1

.PHONY: fuzz fuzz-packets fuzz-packets-short

$(PKTFUZZ): tests/fuzz/pktfuzz.c $(OUT)/libsluice.a $(SKELS) | $(OUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< $(OUT)/libsluice.a $(LDLIBS) -o $@

fuzz-packets-short: $(PKTFUZZ)
	$(Q)$(PKTFUZZ) --frames 100000 --seed $(PKTFUZZ_SHORT_SEED)

fuzz-packets: $(PKTFUZZ)
	$(Q)$(PKTFUZZ) --frames $(PKTFUZZ_FRAMES) $(if $(PKTFUZZ_SEED),--seed $(PKTFUZZ_SEED))

fuzz: fuzz-packets

.DEFAULT_GOAL := $(PKTFUZZ_GOAL)
