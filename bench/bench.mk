# bench.mk: `make bench`: the measurement guest natively and under pocketvisor, both with
# -icount shift=0 -smp 1 (bench/run.py), and the Linux boot natively and under pocketvisor;
# block and TCP throughput from Linux; prints the tables and writes docs/performance.md.
# `make bench BENCH=io`: only the throughput rows, printed, the report left as is (BENCH=core:
# the first table; identity, vault, manage: those sections).
# Included by the top Makefile. run.py packs tests/configs/bench.dts itself, so a config the
# hypervisor side cannot take yet shows up as `missing` results rather than a failed make.
BENCH_GUESTS := $(BUILD)/guests/bench.elf $(BUILD)/guests/bench.bin $(BUILD)/guests/pingpong.bin \
                $(BUILD)/guests/vsbench.bin $(BUILD)/guests/vsecho.bin $(BUILD)/guests/vault.bin \
                $(BUILD)/guests/mgmtpoke.bin

bench: deps all $(PVPACK) $(BENCH_GUESTS) $(LINUX_IMAGES)
	$(PYTHON) bench/run.py $(BENCH)
