# kumo build. `make` builds every binary into build/bin/.
# Sources are discovered, not listed: common/<subsystem>/*.c form libkumo,
# clients/<service>/*.c (clients of a service, which need its protos) form
# libkumoclients, every tests/unit/**/test_*.c is a cmocka binary (named by
# its file), every tests/fuzz/fuzz_*.c a libFuzzer target, every .proto
# under tests/proto is compiled for the tests. Link order: a daemon's
# objects, libkumoclients, libkumoproto, libkumo (nothing refers back up).

BUILD    ?= build
SAN      ?=
CC       ?= cc
ifeq ($(CC),cc)
CC := gcc
endif
OPT      ?= -O2
PKGS     := libnghttp2 libevent libevent_pthreads libevent_openssl libssl libcrypto \
            libprotobuf-c jansson zlib libmariadb libjwt libargon2 libcurl libxml-2.0 libmicrohttpd libmagic
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS_WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
CPPFLAGS_ALL := -D_GNU_SOURCE -Icommon -Iclients -I$(BUILD)/gen $(PKG_CFLAGS)
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
endif
CFLAGS_ALL := $(CFLAGS_WARN) $(OPT) -g -pthread $(SANFLAGS) $(CFLAGS)
# --as-needed: each binary records only the shared libraries it uses (the
# runtime images install exactly those).
LDFLAGS_ALL := -pthread -Wl,--as-needed $(SANFLAGS) $(LDFLAGS)
DEPFLAGS = -MMD -MP

PROTOC   := protoc
PROTOC_C := protoc-c
GRPC_PROTO_DIR := /usr/share/grpc-proto
WKT_DIR  := /usr/include

# ---- generated protobuf code ------------------------------------------------
# Well-known types, health and reflection go into libkumo (every daemon serves
# them); test protos into libkumotest.
WKT_PROTOS := google/protobuf/timestamp.proto google/protobuf/duration.proto \
              google/protobuf/descriptor.proto google/protobuf/empty.proto \
              google/protobuf/field_mask.proto google/protobuf/wrappers.proto \
              google/protobuf/struct.proto google/protobuf/any.proto
GRPC_PROTOS := grpc/health/v1/health.proto grpc/reflection/v1/reflection.proto \
               grpc/reflection/v1alpha/reflection.proto
# Protos the system does not ship, written out under common/proto.
EXTRA_PROTOS := google/rpc/status.proto
TEST_PROTOS := $(patsubst tests/proto/%,%,$(shell find tests/proto -name '*.proto' | sort))
SVC_PROTOS  := $(patsubst proto/%,%,$(shell find proto -name '*.proto' 2>/dev/null | sort))

GEN := $(BUILD)/gen
gen_c = $(addprefix $(GEN)/,$(patsubst %.proto,%.pb-c.c,$(1)))
gen_h = $(addprefix $(GEN)/,$(patsubst %.proto,%.pb-c.h,$(1)))

COMMON_GEN_C := $(call gen_c,$(WKT_PROTOS) $(GRPC_PROTOS) $(EXTRA_PROTOS))
TEST_GEN_C   := $(call gen_c,$(TEST_PROTOS))
SVC_GEN_C    := $(call gen_c,$(SVC_PROTOS))
ALL_GEN_H    := $(call gen_h,$(WKT_PROTOS) $(GRPC_PROTOS) $(EXTRA_PROTOS) $(TEST_PROTOS) $(SVC_PROTOS))

PROTO_PATHS := -I$(WKT_DIR) -I$(GRPC_PROTO_DIR) -Iproto -Itests/proto

$(GEN)/google/%.pb-c.c $(GEN)/google/%.pb-c.h: $(WKT_DIR)/google/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) -I$(WKT_DIR) --c_out=$(GEN) $<

$(GEN)/google/rpc/%.pb-c.c $(GEN)/google/rpc/%.pb-c.h: common/proto/google/rpc/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) -Icommon/proto -I$(WKT_DIR) --c_out=$(GEN) $<

$(GEN)/grpc/%.pb-c.c $(GEN)/grpc/%.pb-c.h: $(GRPC_PROTO_DIR)/grpc/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) -I$(GRPC_PROTO_DIR) -I$(WKT_DIR) --c_out=$(GEN) $<

$(GEN)/kumo/test/%.pb-c.c $(GEN)/kumo/test/%.pb-c.h: tests/proto/kumo/test/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) $(PROTO_PATHS) --c_out=$(GEN) $<

$(GEN)/kumo/%.pb-c.c $(GEN)/kumo/%.pb-c.h: proto/kumo/%.proto
	@mkdir -p $(GEN)
	$(PROTOC_C) $(PROTO_PATHS) --c_out=$(GEN) $<

# Descriptor sets embedded in binaries for gRPC reflection.
$(GEN)/desc/test.binpb: $(addprefix tests/proto/,$(TEST_PROTOS))
	@mkdir -p $(dir $@)
	$(PROTOC) $(PROTO_PATHS) --include_imports --descriptor_set_out=$@ $(TEST_PROTOS)

$(GEN)/desc/test_desc.S: $(GEN)/desc/test.binpb scripts/embed-blob
	scripts/embed-blob kumo_test_descriptor_set $< > $@

# One descriptor set per service package (proto/kumo/<svc>/v1), embedded as
# kumo_<svc>_descriptor_set for that daemon's reflection.
SVC_NAMES := $(sort $(notdir $(patsubst %/,%,$(dir $(patsubst %/v1/,%/,$(dir $(wildcard proto/kumo/*/v1/*.proto)))))))
$(GEN)/desc/svc_%.binpb: $(wildcard proto/kumo/*/v1/*.proto)
	@mkdir -p $(dir $@)
	$(PROTOC) $(PROTO_PATHS) --include_imports --descriptor_set_out=$@ \
	  $(patsubst proto/%,%,$(wildcard proto/kumo/$*/v1/*.proto))

$(GEN)/desc/svc_%_desc.S: $(GEN)/desc/svc_%.binpb scripts/embed-blob
	scripts/embed-blob kumo_$*_descriptor_set $< > $@

# Health and reflection, served by every daemon: embedded in libkumo.
$(GEN)/desc/builtin.binpb:
	@mkdir -p $(dir $@)
	$(PROTOC) -I$(GRPC_PROTO_DIR) -I$(WKT_DIR) --include_imports --descriptor_set_out=$@ \
	  grpc/health/v1/health.proto grpc/reflection/v1/reflection.proto \
	  grpc/reflection/v1alpha/reflection.proto

$(GEN)/desc/builtin_desc.S: $(GEN)/desc/builtin.binpb scripts/embed-blob
	scripts/embed-blob kumo_builtin_descriptor_set $< > $@

.PRECIOUS: $(GEN)/%.pb-c.c $(GEN)/%.pb-c.h $(GEN)/desc/%.binpb $(GEN)/desc/%.S

proto: $(COMMON_GEN_C) $(TEST_GEN_C) $(SVC_GEN_C) $(ALL_GEN_H) $(GEN)/desc/test.binpb

# ---- objects ----------------------------------------------------------------
COMMON_SRCS := $(sort $(shell find common -name '*.c'))
CLIENT_SRCS := $(sort $(shell find clients -name '*.c' 2>/dev/null))
COMMON_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRCS)) \
               $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(COMMON_GEN_C)) \
               $(BUILD)/obj/gen/desc/builtin_desc.o
TEST_OBJS   := $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(TEST_GEN_C)) \
               $(BUILD)/obj/gen/desc/test_desc.o $(BUILD)/obj/tests/echo/echo_service.o

$(BUILD)/obj/%.o: %.c | $(ALL_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) $(DEPFLAGS) -c $< -o $@

# Generated code is not ours to warn about beyond what it does.
$(BUILD)/obj/gen/%.o: $(GEN)/%.c | $(ALL_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(filter-out -Werror -Wshadow,$(CFLAGS_ALL)) -w $(DEPFLAGS) -c $< -o $@

# The version every daemon's --version prints: the VERSION file.
KUMO_VERSION := $(shell cat VERSION)
$(BUILD)/obj/common/runtime/daemon.o: VERSION
$(BUILD)/obj/common/runtime/daemon.o: CPPFLAGS_ALL += -DKUMO_VERSION='"$(KUMO_VERSION)"'

$(BUILD)/obj/gen/desc/%.o: $(GEN)/desc/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@

# `ar q`: members are appended, so two objects of one base name in
# different subsystem folders (rpc/conn.o, rpc_client/conn.o) both stay.
$(BUILD)/lib/libkumo.a: $(COMMON_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar qcs $@ $^

$(BUILD)/lib/libkumoclients.a: $(patsubst %.c,$(BUILD)/obj/%.o,$(CLIENT_SRCS))
	@mkdir -p $(dir $@)
	rm -f $@ && ar qcs $@ $^

# Every service's generated messages and descriptor sets: a daemon links
# the ones it serves and the ones of the services it calls.
SVC_OBJS := $(patsubst $(GEN)/%.c,$(BUILD)/obj/gen/%.o,$(SVC_GEN_C)) \
            $(patsubst %,$(BUILD)/obj/gen/desc/svc_%_desc.o,$(SVC_NAMES))
$(BUILD)/lib/libkumoproto.a: $(SVC_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/lib/libkumotest.a: $(TEST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

LIBKUMO := $(BUILD)/lib/libkumo.a
LIBKUMOTEST := $(BUILD)/lib/libkumotest.a
LIBKUMOPROTO := $(BUILD)/lib/libkumoproto.a
LIBKUMOCLIENTS := $(BUILD)/lib/libkumoclients.a
# What a daemon, a unit test or a fuzz target links after its own objects.
LIBS_ALL := $(LIBKUMOCLIENTS) $(LIBKUMOPROTO) $(LIBKUMO)

# ---- binaries ---------------------------------------------------------------
# Libraries only one daemon needs, linked into it, its unit tests and its fuzz
# targets (the other daemons' images need not have them): kumo-storage's
# CRC32C is ISA-L's.
DAEMON_LIBS_storage := -lisal
# Each services/<name>/ (and bff/) with C sources is a daemon build/bin/kumo-<name>;
# its sources are the .c files of its folder and of its subfolders (store/, jobs/).
DAEMON_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard services/*/*.c bff/*.c))))
daemon_srcs = $(wildcard $(1)/*.c $(1)/*/*.c)
BINS := $(foreach d,$(DAEMON_DIRS),$(BUILD)/bin/kumo-$(notdir $(d)))

define daemon_rule
$(BUILD)/bin/kumo-$(notdir $(1)): $(patsubst %.c,$(BUILD)/obj/%.o,$(call daemon_srcs,$(1))) \
    $(LIBS_ALL)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(PKG_LIBS) $$(DAEMON_LIBS_$(notdir $(1))) -lm
endef
$(foreach d,$(DAEMON_DIRS),$(eval $(call daemon_rule,$(d))))

# kumo-extract (tools/extract/): the sandboxed extractor kumo-documents runs
# for every completed PDF, Office file and image. Only it links poppler,
# libzip, tesseract, leptonica and libseccomp (the daemon never parses
# those formats itself).
EXTRACT_PKGS := poppler-glib cairo libzip libxml-2.0 tesseract lept libseccomp
EXTRACT_SRCS := $(sort $(wildcard tools/extract/*.c))
EXTRACT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(EXTRACT_SRCS))
EXTRACT_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(EXTRACT_PKGS) 2>/dev/null))
EXTRACT_LIBS := $(shell pkg-config --libs $(EXTRACT_PKGS) 2>/dev/null)
$(EXTRACT_OBJS): CPPFLAGS_ALL += -Itools/extract $(EXTRACT_CFLAGS)
$(BUILD)/bin/kumo-extract: $(EXTRACT_OBJS) $(LIBKUMO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(EXTRACT_LIBS) $(PKG_LIBS) -lm
BINS += $(BUILD)/bin/kumo-extract

# The test EchoService daemon (tests/echo), used by interop tests and benches.
ECHO_SRCS := tests/echo/main.c
ECHO_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(ECHO_SRCS))
$(BUILD)/tests/kumo-echo: $(ECHO_OBJS) $(LIBKUMOTEST) $(LIBKUMO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

# Small interop client on the grpc C core (libgrpc-dev).
$(BUILD)/tests/grpc-core-client: tests/interop/grpc_core_client.c $(LIBKUMOTEST) $(LIBKUMO)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -I$(GEN) $(SANFLAGS) \
	  $(shell pkg-config --cflags grpc libprotobuf-c) -o $@ $^ \
	  $(shell pkg-config --libs grpc libprotobuf-c) $(PKG_LIBS) -pthread

# Unit tests mirror the source tree: tests/unit/common/<subsystem>/,
# tests/unit/clients/<service>/, tests/unit/bff/, tests/unit/services/<svc>/.
# A test of a daemon's module links that daemon's objects (all but main.o).
UNIT_SRCS := $(sort $(shell find tests/unit -name 'test_*.c'))
UNIT_BINS := $(foreach s,$(UNIT_SRCS),$(BUILD)/tests/unit/$(basename $(notdir $(s))))
$(BUILD)/obj/tests/unit/%.o: CPPFLAGS_ALL += -Itests/echo -Itests/unit/common/db
# The daemon a test belongs to (services/<svc> or bff; tests in subfolders
# such as tests/unit/services/documents/store/ belong to documents too).
unit_path = $(subst /, ,$(1))
unit_daemon_dir = $(if $(filter services,$(word 3,$(unit_path))),$(if $(word 5,$(unit_path)),services/$(word 4,$(unit_path))))$(if $(filter bff,$(word 3,$(unit_path))),bff)
define unit_rule
$(BUILD)/obj/$(patsubst %.c,%.o,$(1)): CPPFLAGS_ALL += $(if $(call unit_daemon_dir,$(1)),-I$(call unit_daemon_dir,$(1)))
$(BUILD)/tests/unit/$(basename $(notdir $(1))): $(BUILD)/obj/$(patsubst %.c,%.o,$(1)) \
    $(if $(call unit_daemon_dir,$(1)),$(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(call unit_daemon_dir,$(1))/main.c,$(call daemon_srcs,$(call unit_daemon_dir,$(1)))))) \
    $(LIBKUMOTEST) $(LIBS_ALL)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_ALL) -o $$@ $$^ $$(PKG_LIBS) $$(DAEMON_LIBS_$$(notdir $(call unit_daemon_dir,$(1)))) -lcmocka -lm
endef
$(foreach s,$(UNIT_SRCS),$(eval $(call unit_rule,$(s))))

TEST_BINS := $(BUILD)/tests/kumo-echo $(UNIT_BINS) \
             $(if $(wildcard tests/interop/grpc_core_client.c),$(BUILD)/tests/grpc-core-client)

all: proto $(LIBKUMO) $(LIBKUMOPROTO) $(LIBKUMOCLIENTS) $(BINS) $(TEST_BINS) $(BUILD)/web/index.html

# ---- the web console (web/: Vite + React + TypeScript) ----------------------
# Built into $(BUILD)/web (served by kumo-bff at /), rebuilt only when its
# sources, its lock file or bff/openapi.yaml (the API types) change.
WEB_SRCS := $(shell find web/src web/public web/scripts -type f -not -name '*.gen.ts' 2>/dev/null) \
            web/index.html web/vite.config.ts web/tsconfig.json web/package.json bff/openapi.yaml
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@
$(BUILD)/web/index.html: $(WEB_SRCS) web/node_modules/.package-lock.json
	cd web && node scripts/build.mjs $(abspath $(BUILD)/web)

# ---- fuzzing (clang + libFuzzer) ---------------------------------------------
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BUILD := build-fuzz
FUZZ_TIME ?= 60
fuzz: bootstrap
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang \
	  CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
	  fuzz-build
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run

fuzz-build: $(LIBKUMO) $(LIBKUMOTEST) $(LIBS_ALL) $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIBKUMOTEST) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Itests/echo $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lm

# A target named fuzz_<daemon>_<what>.c also links that daemon's objects
# (all but main.c: services/<daemon>/ or bff/), to fuzz the parsers a
# daemon writes itself.
define service_fuzz_rule
$(BUILD)/fuzz/fuzz_$(notdir $(1))_%: tests/fuzz/fuzz_$(notdir $(1))_%.c \
    $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(1)/main.c,$(call daemon_srcs,$(1)))) \
    $(LIBKUMOTEST) $(LIBS_ALL)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CPPFLAGS_ALL) -I$(1) $$(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $$@ $$^ $$(PKG_LIBS) $$(DAEMON_LIBS_$(notdir $(1))) -lm
endef
$(foreach d,$(DAEMON_DIRS),$(eval $(call service_fuzz_rule,$(d))))

# fuzz_extract_*.c: the extractor's parsers (tools/extract, all but main.c),
# linked with its libraries.
$(BUILD)/fuzz/fuzz_extract_%: tests/fuzz/fuzz_extract_%.c \
    $(filter-out $(BUILD)/obj/tools/extract/main.o,$(EXTRACT_OBJS)) $(LIBKUMOTEST) $(LIBS_ALL)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Itools/extract $(EXTRACT_CFLAGS) $(CFLAGS_ALL) -fsanitize=fuzzer,address,undefined -o $@ $^ $(EXTRACT_LIBS) $(PKG_LIBS) -lm

# ---- top-level workflows ----------------------------------------------------
bootstrap:
	@scripts/bootstrap

test: bootstrap
	$(MAKE) all
	$(MAKE) BUILD=build-asan SAN=1 all
	tests/run build build-asan

run: bootstrap all
	scripts/run-local

bench: bootstrap all
	bench/run
	bench/instructions build
	bench/compare
	BENCH_SUITES=documents bench/compare
	bench/users/run build
	bench/storage/run build
	bench/documents/run build
	bench/extract/run build
	bench/events/run build
	bench/search/run build
	$(if $(wildcard bench/bff/run),bench/bff/run build)
	bench/console/run build

# Benchmark peers (gRPC C++, grpc-go), built from Debian packages only.
bench-peers: bootstrap
	bench/peers/build

lint: bootstrap
	scripts/lint

clean:
	rm -rf build build-asan build-fuzz

web: $(BUILD)/web/index.html

.PHONY: web all proto test run bench bench-peers lint clean bootstrap fuzz fuzz-build
.DEFAULT_GOAL := all

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
