# The intake daemon's benchmark.
#
#   make bench-intake   registrations per second over HTTP and their p99,
#                       beside pgbench single-row inserts in the same run
#                       (BENCH_CLIENTS, BENCH_SECONDS, BENCH_COURTS)

.PHONY: bench-intake
bench-intake: $(BIN)/liaison-intake $(TBIN)/bench_intake
	@scripts/services up >/dev/null
	@B=$(B) tests/bench/intake.sh
