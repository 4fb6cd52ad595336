# liaison — one Makefile for the whole tree.
#
#   make            build every library, daemon, liaisonctl and unit test (C17, -Werror)
#   make test       install missing packages, start local PostgreSQL/Redis, migrate, run all tests
#   make run        the whole stack in the foreground (Ctrl-C stops it)
#   make up/down    the same stack in the background / stop it
#   make bench      benchmarks (ratios against a baseline measured in the same run)
#   make test SAN=address,undefined    the tests under sanitizers (objects in build/san)
#   make valgrind   unit tests under valgrind
#   make lint       clang-format check and cppcheck
#   make fuzz       libFuzzer targets, each for FUZZ_SECONDS

SHELL := /bin/bash
.DEFAULT_GOAL := all

SAN ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# make V=1 shows every command
V ?= 0
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif

ifeq ($(SAN),)
B := build
SANFLAGS :=
else
B := build/san
SANFLAGS := -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
export B

GEN := build/gen
OBJ := $(B)/obj
BIN := $(B)/bin
LIB := $(B)/lib
TBIN := $(B)/tests

PKGS := libzmq libprotobuf-c libpq hiredis libcurl libmicrohttpd jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c17 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP \
              -Iservices -I$(GEN) $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS := $(PKG_LIBS) -lcrypto -lm -lpthread


# ---- generated protobuf-c code ---------------------------------------------
PROTOS := $(sort $(wildcard proto/liaison/v1/*.proto))
PROTO_C := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)

$(GEN)/.stamp: $(PROTOS)
	@mkdir -p $(GEN)
	$(call say,PROTO,$(GEN))
	$(Q)protoc-c --c_out=$(GEN) -Iproto $(PROTOS)
	@touch $@
$(PROTO_C) $(PROTO_H): $(GEN)/.stamp

# ---- libraries --------------------------------------------------------------
DOMAIN_SRC := $(sort $(wildcard services/domain/*.c))
COMMON_SRC := $(sort $(wildcard services/common/*.c))

$(LIB)/libdomain.a: $(DOMAIN_SRC:%.c=$(OBJ)/%.o)
$(LIB)/libcommon.a: $(COMMON_SRC:%.c=$(OBJ)/%.o)
$(LIB)/libproto.a: $(PROTO_C:%.c=$(OBJ)/%.o)
$(LIB)/%.a:
	@mkdir -p $(@D)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)$(AR) rcs $@ $^

LIBS := $(LIB)/libcommon.a $(LIB)/libdomain.a $(LIB)/libproto.a

# every object may include generated headers
$(OBJ)/%.o: %.c $(GEN)/.stamp
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# ---- daemons and liaisonctl ---------------------------------------------------
DAEMONS := intake routing deadline notify report
DAEMON_BINS := $(DAEMONS:%=$(BIN)/liaison-%)
CTL := $(BIN)/liaisonctl

define daemon_rule
$(BIN)/liaison-$(1): $(patsubst %.c,$(OBJ)/%.o,$(sort $(wildcard services/$(1)/*.c))) $(LIBS)
	@mkdir -p $$(@D)
	$$(call say,LD,$$@)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIB)/libcommon.a $(LIB)/libdomain.a $(LIB)/libproto.a $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call daemon_rule,$(d))))

# liaisonctl's commands are a library too, so unit tests can reach them.
CTL_SRC := $(filter-out services/ctl/main.c,$(sort $(wildcard services/ctl/*.c)))
$(LIB)/libctl.a: $(CTL_SRC:%.c=$(OBJ)/%.o)
$(CTL): $(OBJ)/services/ctl/main.o $(LIB)/libctl.a $(LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB)/libctl.a $(LIBS) $(LDLIBS)

# ---- unit tests: tests/unit/test_*.c, one binary each -------------------------
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(TBIN)/%)
# helpers shared by integration test programs
TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(OBJ)/%.o)
ITEST_SRC := $(sort $(wildcard tests/integration/*.c))
ITEST_BINS := $(ITEST_SRC:tests/integration/%.c=$(TBIN)/%)

$(TBIN)/%: $(OBJ)/tests/unit/%.o $(TESTLIB_OBJ) $(LIB)/libctl.a $(LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB)/libctl.a $(LIBS) $(LDLIBS) -lcmocka
$(TBIN)/%: $(OBJ)/tests/integration/%.o $(TESTLIB_OBJ) $(LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS) -lcmocka

# ---- benchmarks: tests/bench/bench_*.c ----------------------------------------
BENCH_SRC := $(sort $(wildcard tests/bench/bench_*.c))
BENCH_BINS := $(BENCH_SRC:tests/bench/%.c=$(TBIN)/%)
$(TBIN)/bench_%: $(OBJ)/tests/bench/bench_%.o $(LIBS)
	@mkdir -p $(@D)
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBS) $(LDLIBS)

.PHONY: all build test unit run up down bench valgrind lint fuzz clean deps services-up migrate format
all: $(DAEMON_BINS) $(CTL) $(UNIT_BINS) $(ITEST_BINS) $(BENCH_BINS)
build: all

deps:
	@scripts/install-deps

services-up: deps
	@scripts/services up

migrate: services-up all
	@$(CTL) migrate --admin-config var/admin.conf

# Everything a fresh machine needs, then every test.
test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@scripts/services up
	@$(CTL) migrate --admin-config var/admin.conf >/dev/null
	@tests/run

unit: all
	@tests/run --unit

run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@scripts/stack run

up: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@scripts/stack up

down:
	@scripts/stack down

bench: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@scripts/services up
	@scripts/bench

valgrind: all
	@tests/run --unit --valgrind

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
build/fuzz/%: tests/fuzz/%.c $(DOMAIN_SRC) $(COMMON_SRC) $(GEN)/.stamp
	@mkdir -p $(@D)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iservices -I$(GEN) \
	  $(PKG_CFLAGS) -o $@ $< $(DOMAIN_SRC) $(COMMON_SRC) $(PROTO_C) $(LDLIBS)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
	  n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  cp -n tests/fuzz/corpus/$$n/* build/fuzz/corpus-$$n/ 2>/dev/null || true; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus-$$n || exit 1; \
	done

C_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
lint:
	@clang-format --dry-run --Werror $(C_FILES)
	@cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem --suppress=preprocessorErrorDirective --std=c11 -D__GNUC__ -Iservices -I$(GEN) --library=tests/lint/jansson.cfg \
	  services tests
	@echo "lint: clean"

format:
	@clang-format -i $(C_FILES)

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# Parts of the build that belong to one subsystem (chaos tests, benchmarks).
-include $(sort $(wildcard mk/*.mk))
