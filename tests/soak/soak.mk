# `make soak`: the soak test (tests/soak/), not part of `make test`.
# SOAK_SECONDS (default 600) sets its length; SOAK_RESTART_SECONDS (60)
# how often the controller is killed and started again.
.PHONY: soak

soak: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)SLUICE=$(OUT)/sluice tests/soak/soak.sh
