# The bus's chaos and bench drivers (tests/bus) and their targets.
#
#   make chaos-bus    kill -9 a producer and a consumer daemon at random
#                     moments under load, restart PostgreSQL once, then check
#                     every event was applied exactly once, in order
#   make bench-bus    pgbench single-row inserts against the bus end to end

BUS_TOOLS := $(TBIN)/bus_producer $(TBIN)/bus_consumer $(TBIN)/bus_bench

$(TBIN)/bus_producer: $(OBJ)/tests/bus/bus_producer.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)
$(TBIN)/bus_consumer: $(OBJ)/tests/bus/bus_consumer.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)
$(TBIN)/bus_bench: $(OBJ)/tests/bus/bus_bench.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)

all: $(BUS_TOOLS)

.PHONY: chaos-bus bench-bus
chaos-bus: $(TBIN)/bus_producer $(TBIN)/bus_consumer
	@scripts/services up >/dev/null
	@B=$(B) tests/bus/chaos.sh

bench-bus: $(TBIN)/bus_bench
	@scripts/services up >/dev/null
	@B=$(B) tests/bus/bench.sh
