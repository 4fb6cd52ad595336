# The deadline daemon's test drivers (tests/deadline) and its chaos and bench targets.
#
#   make chaos-deadline   10,000 deadlines falling due in the same minute while the
#                         daemon is killed with -9 (>= 10 times), its private Redis
#                         flushed once and stopped for 30 s once; every stage must
#                         fire exactly once (tests/deadline/chaos.sh)
#   make bench-deadline   1,000,000 pending deadlines: Redis memory per timer, rebuild
#                         rate, fire rate, p99 lateness at 1,000/s, beside
#                         redis-benchmark ZADD (tests/deadline/bench.sh)

DEADLINE_TOOLS := $(TBIN)/dl_publish

$(TBIN)/dl_publish: $(OBJ)/tests/deadline/dl_publish.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)

all: $(DEADLINE_TOOLS)

.PHONY: chaos-deadline bench-deadline
chaos-deadline: $(BIN)/liaison-deadline $(TBIN)/bus_producer $(DEADLINE_TOOLS)
	@scripts/services up >/dev/null
	@B=$(B) tests/deadline/chaos.sh

bench-deadline: $(BIN)/liaison-deadline $(TBIN)/bus_producer $(DEADLINE_TOOLS)
	@scripts/services up >/dev/null
	@B=$(B) tests/deadline/bench.sh
