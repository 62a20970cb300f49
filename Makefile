# abuseguard: the XDP program, abuseguardd and abusectl.
#   make          build everything into build/
#   make deps     install the Debian packages the build and the tests need
#   make check    build and run every test (unit, BPF, fuzzers, lab); ends "N passed, N failed"
#   make fuzz     run every fuzzer for FUZZ_SECONDS (60) each; FUZZ=NAME picks some
#   make install  honours DESTDIR and PREFIX
#   make demo     a narrated lab in namespaces: a VM spams and scans, abuseguard bans it
#   make deb      a Debian package of the tree (debhelper) in build/deb/

PREFIX	   ?= /usr/local
SBINDIR	   ?= $(PREFIX)/sbin
BINDIR	   ?= $(PREFIX)/bin
MANDIR	   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR	   ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
DESTDIR	   ?=

CC	?= cc
CLANG	?= clang
BPFTOOL	?= bpftool
BUILD	:= build

ARCH	 := $(shell uname -m)
BPF_ARCH := $(subst x86_64,x86,$(subst aarch64,arm64,$(ARCH)))

CFLAGS	?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Iinclude -Irobots -I$(BUILD) -D_GNU_SOURCE
LDLIBS	:= -lbpf -lelf -lz -lnftnl -lmnl -lconfig -lsqlite3 -ljansson -lpcap -lnettle
SANITIZE := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror \
	      -Iinclude -I/usr/include/$(ARCH)-linux-gnu

DEB_PACKAGES := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
	libnftnl-dev libmnl-dev libconfig-dev libsqlite3-dev libjansson-dev libpcap-dev \
	pkg-config iproute2 nftables sqlite3 tcpdump curl python3 swaks postfix iputils-ping jq \
	xdp-tools systemd man-db strace prometheus libclang-rt-14-dev nmap masscan hping3 \
	debhelper dpkg-dev \
	nettle-dev python3-jsonschema

BPF_PROGS := $(patsubst bpf/%.bpf.c,%,$(wildcard bpf/*.bpf.c))
BPF_OBJS  := $(BPF_PROGS:%=$(BUILD)/%.bpf.o)
SKELETONS := $(BPF_PROGS:%=$(BUILD)/%.skel.h)

MAINS	:= daemon/abuseguardd.c
# robots/ is a library of its own (the robots.txt parser and the offline
# check, with their headers): the daemon's crawler detector and abusectl's
# `robots check` both link it. abusectl (abusectl/) includes no daemon header
# but include/protocol.h, through which it speaks to the daemon.
ROBOTS_SRCS := $(wildcard robots/*.c)
MODULES	:= $(filter-out $(MAINS),$(wildcard daemon/*.c)) $(ROBOTS_SRCS)
CTL_SRCS    := $(wildcard abusectl/*.c)
CTL_HEADERS := $(wildcard abusectl/*.h) include/protocol.h $(wildcard robots/*.h)
CTL_LDLIBS  := -ljansson
HEADERS	:= $(wildcard include/*.h include/abuseguard/*.h robots/*.h)
BPF_HEADERS := $(wildcard bpf/*.h)
module_objs = $(patsubst robots/%.c,$(1)/%.o,$(patsubst daemon/%.c,$(1)/%.o,$(MODULES)))
OBJS	:= $(call module_objs,$(BUILD)/obj)
ASAN_OBJS := $(call module_objs,$(BUILD)/asan)
ROBOTS_OBJS := $(ROBOTS_SRCS:robots/%.c=$(BUILD)/obj/%.o)

TEST_SRCS := $(wildcard tests/unit/test_*.c tests/bpf/test_*.c)
TESTS	  := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRCS)))

all: $(BUILD)/abuseguardd $(BUILD)/abusectl $(BPF_OBJS) $(BUILD)/abuseguard.service

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BPF_HEADERS) $(HEADERS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: daemon/%.c $(HEADERS) $(SKELETONS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/obj/%.o: robots/%.c $(wildcard robots/*.h) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: daemon/%.c $(HEADERS) $(SKELETONS) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -c $< -o $@
$(BUILD)/asan/%.o: robots/%.c $(wildcard robots/*.h) | $(BUILD)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SANITIZE) -c $< -o $@

$(BUILD)/librobots.a: $(ROBOTS_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libabuseguard.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/asan/libabuseguard.a: $(ASAN_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/abuseguardd: daemon/abuseguardd.c $(HEADERS) $(SKELETONS) $(BUILD)/libabuseguard.a
	$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ $(BUILD)/libabuseguard.a $(LDLIBS)

$(BUILD)/abusectl: $(CTL_SRCS) $(CTL_HEADERS) $(BUILD)/librobots.a
	$(CC) $(CFLAGS) $(LDFLAGS) -Iabusectl $(CTL_SRCS) -o $@ $(BUILD)/librobots.a $(CTL_LDLIBS)

# Unit and BPF tests run under AddressSanitizer and UBSan.
TEST_LINK = @mkdir -p $(@D) && $(CC) $(CFLAGS) $(SANITIZE) -Itests $< -o $@ \
		$(BUILD)/asan/libabuseguard.a $(LDLIBS)
$(BUILD)/tests/%: tests/unit/%.c tests/check.h tests/abusectl_path.h $(HEADERS) $(SKELETONS) $(BUILD)/asan/libabuseguard.a
	$(TEST_LINK)
$(BUILD)/tests/%: tests/bpf/%.c tests/check.h $(HEADERS) $(SKELETONS) $(BUILD)/asan/libabuseguard.a
	$(TEST_LINK)

$(BUILD):
	mkdir -p $@

tests: all $(TESTS)

check: tests
	tests/run $(BUILD)

deps:
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEB_PACKAGES)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/abuseguard \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(BUILD)/abuseguardd $(DESTDIR)$(SBINDIR)/abuseguardd
	install -m 755 $(BUILD)/abusectl $(DESTDIR)$(BINDIR)/abusectl
	test -e $(DESTDIR)$(SYSCONFDIR)/abuseguard/abuseguard.conf || \
		install -m 644 policy/abuseguard.conf $(DESTDIR)$(SYSCONFDIR)/abuseguard/abuseguard.conf
	for page in daemon/*.8; do install -m 644 $$page $(DESTDIR)$(MANDIR)/man8/; done
	for page in daemon/*.5; do install -m 644 $$page $(DESTDIR)$(MANDIR)/man5/; done
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 644 $(BUILD)/abuseguard.service $(DESTDIR)$(UNITDIR)/abuseguard.service
	install -m 644 systemd/abuseguard.sysusers $(DESTDIR)$(SYSUSERSDIR)/abuseguard.conf
	install -m 644 systemd/abuseguard.tmpfiles $(DESTDIR)$(TMPFILESDIR)/abuseguard.conf
	install -d $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 completion/abusectl $(DESTDIR)$(BASHCOMPDIR)/abusectl

# The package is built from a copy of the tree (without build directories), so
# that dpkg-buildpackage's output, which goes next to the tree, lands in build/deb/.
# The package's own make must not inherit this one's command line (MAKEFLAGS):
# with BUILD=DIR given here, its `make clean` would remove this tree's DIR.
# nocheck: the package build runs no tests (make check is the suite).
DEB_JOBS ?= 2
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/abuseguard
	tar -c --exclude=./.git --exclude='./build*' --exclude=./$(BUILD) . | \
		tar -x -C $(BUILD)/deb/abuseguard
	cd $(BUILD)/deb/abuseguard && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(DEB_JOBS)" \
		dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	@ls $(BUILD)/deb/*.deb

# The unit names the installed paths, so it is made again on every build.
$(BUILD)/abuseguard.service: systemd/abuseguard.service.in FORCE | $(BUILD)
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< >$@.tmp && mv $@.tmp $@
FORCE:

format:
	clang-format -i daemon/*.c robots/*.c robots/*.h abusectl/*.c abusectl/*.h include/*.h include/abuseguard/*.h bpf/*.c bpf/*.h tests/*/*.c tests/*.h \
		bench/*.c bench/*.h

clean:
	rm -rf $(BUILD)

.PHONY: all tests check deps install deb format clean FORCE

# Fuzzers (tests/fuzz/fuzz_*.c): libFuzzer targets, linked against the modules
# compiled again by clang with coverage instrumentation, ASan and UBSan. Each
# has its seeds in tests/fuzz/corpus/NAME/. `make check` runs each for a few
# seconds (tests/run); `make fuzz` runs them for FUZZ_SECONDS each, keeping what
# they find in build/fuzz/corpus/NAME/ from one run to the next.
FUZZ_SANITIZE := -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all \
	-fsanitize=address,undefined
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS	  := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_OBJS := $(call module_objs,$(BUILD)/fuzz/obj)
FUZZ_SECONDS ?= 60
FUZZ	  ?=

$(BUILD)/fuzz/obj/%.o: daemon/%.c $(HEADERS) $(SKELETONS) | $(BUILD)
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS) $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/obj/%.o: robots/%.c $(wildcard robots/*.h) | $(BUILD)
	@mkdir -p $(@D)
	$(CLANG) $(CFLAGS) $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/libabuseguard.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(HEADERS) $(BUILD)/fuzz/libabuseguard.a
	$(CLANG) $(CFLAGS) $(FUZZ_SANITIZE) -fsanitize=fuzzer $< -o $@ \
		$(BUILD)/fuzz/libabuseguard.a $(LDLIBS)

tests: $(FUZZERS)

# The BPF programs' mutation test runs FUZZ_SECONDS x 100,000 frames here, 1M in make check.
fuzz: $(FUZZERS) $(BUILD)/tests/test_mutate
	@failed=0; for fuzzer in $(FUZZERS); do \
		case $${fuzzer##*/} in *"$(FUZZ)"*) ;; *) continue ;; esac; \
		corpus=$(BUILD)/fuzz/corpus/$${fuzzer##*/}; mkdir -p $$corpus; \
		tests/fuzz/run $$fuzzer $(FUZZ_SECONDS) $$corpus || failed=1; \
	done; \
	case test_mutate in *"$(FUZZ)"*) MUTATE_FRAMES=$$(($(FUZZ_SECONDS) * 100000)) \
		$(BUILD)/tests/test_mutate >$(BUILD)/fuzz/test_mutate.log 2>&1 || failed=1; \
		grep -E '^not ok|mutated frames ran' $(BUILD)/fuzz/test_mutate.log ;; esac; \
	exit $$failed

.PHONY: fuzz
.SECONDARY:

# Benchmarks (bench/): `make bench` prints one table (about a minute on 2
# cores); `make bench-smoke` runs every benchmark at tiny sizes.
BENCH_SRCS  := $(filter-out bench/bench.c %.bpf.c,$(wildcard bench/*.c))
BENCH_PROGS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
BENCH_SKELETONS := $(patsubst bench/%.bpf.c,$(BUILD)/bench/%.skel.h,$(wildcard bench/*.bpf.c))

$(BUILD)/bench/%.bpf.o: bench/%.bpf.c | $(BUILD)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bench/%.skel.h: $(BUILD)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

$(BUILD)/bench/%: bench/%.c bench/bench.c bench/bench.h $(HEADERS) $(SKELETONS) \
		$(BENCH_SKELETONS) $(BUILD)/libabuseguard.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ibench $< bench/bench.c -o $@ $(BUILD)/libabuseguard.a $(LDLIBS)

# The lab's smoke test runs the benchmark programs.
tests: $(BENCH_PROGS)

bench: all $(BENCH_PROGS)
	bench/run.sh $(BUILD)

bench-smoke: all $(BENCH_PROGS)
	bench/run.sh --smoke $(BUILD)

.PHONY: bench bench-smoke

# make demo: abuseguard in namespaces, narrated (demo/run.sh; needs root). A
# VM spams and scans, the viewer sees the detections, bans and a lift.
demo: all
	demo/run.sh $(BUILD)

.PHONY: demo
