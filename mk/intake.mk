# The intake daemon's benchmark.
#
#   make bench-intake   registrations per second over HTTP and their p99,
#                       beside pgbench single-row inserts in the same run,
#                       alternating for a few rounds, and where the time
#                       goes: batch sizes, CPU per registration and per
#                       insert, how busy the machine was
#                       (BENCH_CLIENTS, BENCH_SECONDS, BENCH_COURTS, BENCH_ROUNDS)

.PHONY: bench-intake
bench-intake: $(BIN)/liaison-intake $(TBIN)/bench_intake
	@scripts/services up >/dev/null
	@B=$(B) tests/bench/intake.sh
