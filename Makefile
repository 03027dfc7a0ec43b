# inosync - see the README
.POSIX:

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man
SYSCONFDIR = /etc

# static: against musl where Debian's musl for the compiler's target is
# installed (musl-tools here; musl-dev:armhf for arm-linux-gnueabihf-gcc,
# see the README's Building), else against the compiler's own libc
CC = cc
# -ffunction-sections with --gc-sections: no code that nothing calls; no
# unwind tables (aarch64 makes them even without the asynchronous ones,
# 5 KB nothing reads); -z common-page-size=64: the data follows the code
# in the file rather than at the next 4 KiB (both still page-aligned in
# memory), 0.8 to 2.3 KB less; -fno-pie: a static binary is linked at a
# fixed address anyway (-no-pie), so code that could move only costs
# (0.5 to 4.4 KB, the most on MIPS and armhf); -fno-optimize-sibling-calls:
# every call keeps its frame, so a backtrace from the field is whole, and
# at -Oz the code is smaller too (0.3 KB on x86-64, 0.5 KB on aarch64);
# -fomit-frame-pointer: what -Os does already on x86-64, armhf and MIPS,
# and on aarch64 too (1.2 KB): a backtrace comes from the return
# addresses each frame keeps, as on the others; -fipa-pta: what pointers
# may point to, across functions (a few dozen bytes); -fno-move-loop-
# invariants, -fno-shrink-wrap, -fno-caller-saves, -fno-expensive-
# optimizations, -fno-forward-propagate, -fno-tree-tail-merge: passes
# that buy speed with size, where nothing is hot enough to want it (0.8
# KB on x86-64, 1.1 KB on aarch64, 1.3 KB on armhf, 3 KB on MIPS)
CFLAGS = `$(OPTOF) $(CC)` -fno-pie -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -ffunction-sections -fdata-sections \
	-fno-optimize-sibling-calls -fomit-frame-pointer -fipa-pta \
	-fno-move-loop-invariants -fno-shrink-wrap -fno-caller-saves \
	-fno-expensive-optimizations -fno-forward-propagate -fno-tree-tail-merge
LDFLAGS = -no-pie -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro \
	-Wl,-z,common-page-size=64 -Wl,--build-id=none
# what the program needs whatever CFLAGS says
INOCFLAGS = -std=c99 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -pedantic
INOLDFLAGS = -static
# `$(MUSLOF) COMPILER` prints -specs /usr/lib/TRIPLET/musl-gcc.specs, which
# links against Debian's musl for the compiler's target (the compiler's
# -dumpmachine with -linux-musl for -linux-gnu: arm-linux-musleabihf for
# arm-linux-gnueabihf), or nothing where that musl is not installed or the
# compiler is musl-gcc, which adds it itself. make MUSL= takes CC's libc.
MUSLOF = sh -c 'case $$1 in *musl-gcc) exit 0 ;; esac; \
	s=/usr/lib/$$("$$@" -dumpmachine | sed s/-linux-gnu/-linux-musl/)/musl-gcc.specs; \
	[ ! -f "$$s" ] || echo "-specs $$s"' MUSLOF
MUSL = `$(MUSLOF) $(CC)`
# `$(OPTOF) COMPILER` prints -Oz, gcc 12's and clang's size level (0.8 KB
# less than -Os on x86-64; the code is no hot path), where the compiler
# has it, else -Os
OPTOF = sh -c '"$$@" -Oz -x c -c -o /dev/null /dev/null 2> /dev/null && echo -Oz || echo -Os' OPTOF
# `$(TFLAGSOF) COMPILER` prints the flags its target takes, so that every
# way of building (make, make CC=..., make inosync.ARCH, make release, an
# OpenWrt or Buildroot package) gets them: on aarch64 the tiny code model,
# since the whole program is far below 1 MiB (one instruction to an
# address, not an adrp and an add: 2 KB)
TFLAGSOF = sh -c 'case $$("$$@" -dumpmachine) in aarch64*) echo -mcmodel=tiny ;; esac' TFLAGSOF
TFLAGS = `$(TFLAGSOF) $(CC)`
# `$(LIBCOF) COMPILER FLAGS...` prints the libc they link against, as its
# headers tell: glibc says so, musl does not
LIBCOF = sh -c '"$$@" -dM -E -include stdio.h - < /dev/null | \
	grep -q "define __GLIBC__ " && echo glibc || echo musl' LIBCOF
# the compiler's flags, for the cross builds
XFLAGS = $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS)
# make size: the stripped native binary's limit in bytes, the tools, and
# what strip leaves that nothing reads (.pdr: MIPS debugger data)
SIZEMAX = 81920
STRIP = strip
STRIPFLAGS = -R .comment -R .pdr
NM = nm
SIZE = size
# make test-cross, make size, make release: the architectures, and for
# each a compiler (Debian's gcc-arm-linux-gnueabihf, gcc-aarch64-linux-gnu,
# gcc-mipsel-linux-gnu, gcc-mips-linux-gnu) and the stripped binary's limit
# in bytes. The first three link against musl (musl-dev:armhf, :arm64,
# :mipsel); big-endian MIPS has no Debian musl and links against glibc
# (libc6-dev-mips-cross). The binaries run under qemu-user
# (qemu-user-static) unless binfmt_misc does it; tests/need ARCH installs
# what each takes.
ARCHS = armhf aarch64 mipsel
ARMHFCC = arm-linux-gnueabihf-gcc
ARMHFMAX = 69632
AARCH64CC = aarch64-linux-gnu-gcc
AARCH64MAX = 86016
MIPSELCC = mipsel-linux-gnu-gcc
MIPSELMAX = 122880
MIPSCC = mips-linux-gnu-gcc
MIPSMAX = 720896
# ARCH:COMPILER:LIMIT of each, the native one first (make size, release)
ALLARCHS = native:$(CC):$(SIZEMAX) armhf:$(ARMHFCC):$(ARMHFMAX) \
	aarch64:$(AARCH64CC):$(AARCH64MAX) mipsel:$(MIPSELCC):$(MIPSELMAX) \
	mips:$(MIPSCC):$(MIPSMAX)
# make release VERSION=x.y: where the tarballs and SHA256SUMS go
VERSION =
DIST = dist

all: inosync

inosync: inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(TFLAGS) $(INOLDFLAGS) $(MUSL) $(LDFLAGS) -o $@ inosync.c
	@echo "inosync: static, $$($(LIBCOF) $(CC) $(MUSL))"

tests/unit: tests/unit.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(MUSL) $(LDFLAGS) -o $@ tests/unit.c

tests/match: tests/match.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(MUSL) $(LDFLAGS) -o $@ tests/match.c

tests/fuzz: tests/fuzz.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(MUSL) $(LDFLAGS) -o $@ tests/fuzz.c

# tests/need installs what the build and the tests lack (or says how)
test:
	@tests/need test
	@$(MAKE) -s inosync tests/unit tests/match tests/fuzz
	tests/run

# longer random changes than make test's (tests/t-torture.sh)
TORTURE_SEEDS = 1 2 3 4 5 6 7 8 9 10 11 12
TORTURE_OPS = 2000
torture: inosync
	TORTURE_SEEDS='$(TORTURE_SEEDS)' TORTURE_OPS=$(TORTURE_OPS) TEST_TIMEOUT=1800 tests/run random_changes

# libFuzzer on the config parser and the exclude matcher (clang, and
# Debian's libclang-rt-dev); new inputs go to fuzz-work/, the seeds stay
FUZZTIME = 300
fuzz: tests/fuzz.c inosync.c config.h
	clang -std=c99 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-DLIBFUZZER -o tests/fuzz.libfuzzer tests/fuzz.c
	mkdir -p fuzz-work
	tests/fuzz.libfuzzer -max_total_time=$(FUZZTIME) -timeout=5 fuzz-work tests/fuzz-corpus

# the suite against an ASan and UBSan build (dynamic: the sanitizers need
# their runtime). Any report fails it, also one from a process whose exit
# status no test looks at. TEST_FILES picks test files, as for tests/run.
# One pass, under auto's watcher (fanotify as root): the inotify pass is
# make test's, and the cross suites', where qemu has no fanotify.
ASANCC = gcc
inosync.asan: inosync.c config.h
	$(ASANCC) -std=c99 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -g -O1 \
		-fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -o $@ inosync.c

check-asan: inosync.asan tests/unit tests/match tests/fuzz
	rm -rf sanitizer-logs && mkdir sanitizer-logs
	ASAN_OPTIONS=detect_leaks=1:exitcode=99:log_path=$$PWD/sanitizer-logs/asan \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$$PWD/sanitizer-logs/ubsan \
	TEST_WATCHERS=auto INOSYNC=$$PWD/inosync.asan tests/run; rc=$$?; \
	for f in sanitizer-logs/*; do [ -s "$$f" ] || continue; \
		echo "check-asan: report in $$f:"; cat "$$f"; rc=1; done; \
	exit $$rc

# the suite with every inosync under valgrind's memcheck (a dynamic build,
# where it can replace malloc); any error or leak fails it. Slow, so the
# deadlines stretch by VGSCALE.
VGCC = cc
VGSCALE = 4
inosync.vg: inosync.c config.h
	$(VGCC) -std=c99 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -g -O1 -o $@ inosync.c

check-valgrind: inosync.vg tests/unit tests/match tests/fuzz
	rm -rf valgrind-logs && mkdir valgrind-logs
	printf '#!/bin/sh\nexec valgrind -q --error-exitcode=98 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --log-file=%s/valgrind-logs/%%p %s/inosync.vg "$$@"\n' \
		"$$PWD" "$$PWD" > inosync.valgrind
	chmod 755 inosync.valgrind
	INOSYNC=$$PWD/inosync.valgrind TEST_SCALE=$(VGSCALE) tests/run; rc=$$?; \
	for f in valgrind-logs/*; do [ -s "$$f" ] || continue; \
		echo "check-valgrind: report in $$f:"; cat "$$f"; rc=1; done; \
	exit $$rc

# the cross builds, inosync.ARCH from inosync.c and tests/unit.ARCH from
# tests/unit.c, one rule for each architecture
.SUFFIXES: .armhf .aarch64 .mipsel .mips
inosync.armhf inosync.aarch64 inosync.mipsel inosync.mips: inosync.c config.h
tests/unit.armhf tests/unit.aarch64 tests/unit.mipsel tests/unit.mips: inosync.c config.h

.c.armhf:
	$(ARMHFCC) $(XFLAGS) `$(TFLAGSOF) $(ARMHFCC)` `$(MUSLOF) $(ARMHFCC)` -o $@ $<
	@echo "$@: static, $$($(LIBCOF) $(ARMHFCC) `$(MUSLOF) $(ARMHFCC)`)"

.c.aarch64:
	$(AARCH64CC) $(XFLAGS) `$(TFLAGSOF) $(AARCH64CC)` `$(MUSLOF) $(AARCH64CC)` -o $@ $<
	@echo "$@: static, $$($(LIBCOF) $(AARCH64CC) `$(MUSLOF) $(AARCH64CC)`)"

.c.mipsel:
	$(MIPSELCC) $(XFLAGS) `$(TFLAGSOF) $(MIPSELCC)` `$(MUSLOF) $(MIPSELCC)` -o $@ $<
	@echo "$@: static, $$($(LIBCOF) $(MIPSELCC) `$(MUSLOF) $(MIPSELCC)`)"

.c.mips:
	$(MIPSCC) $(XFLAGS) `$(TFLAGSOF) $(MIPSCC)` `$(MUSLOF) $(MIPSCC)` -o $@ $<
	@echo "$@: static, $$($(LIBCOF) $(MIPSCC) `$(MUSLOF) $(MIPSCC)`)"

# the suite against each of ARCHS under qemu-user (tests/cross), after
# tests/need has what that takes; e.g. make test-cross ARCHS=mips
test-cross:
	@tests/need $(ARCHS)
	@for a in $(ARCHS); do $(MAKE) inosync.$$a tests/unit.$$a || exit 1; done
	tests/cross $(ARCHS)

# sections and the 15 biggest symbols that take file bytes (.bss takes
# only memory) of inosync; then the stripped size of inosync and of each
# cross build there is (made anew if stale), which fails over its limit
size: inosync
	@$(SIZE) inosync
	@$(NM) --size-sort -S -r inosync | awk '$$3 !~ /^[bB]$$/' | head -n 15 | \
		while read -r addr len type name; do printf '%8d %s %s\n' 0x$$len $$type $$name; done
	@rc=0; for x in $(ALLARCHS); do \
		a=$${x%%:*} cc=$${x#*:} max=$${x##*:}; cc=$${cc%:*}; \
		b=inosync.$$a s=`$$cc -print-prog-name=strip`; \
		[ $$a = native ] && b=inosync s=$(STRIP); \
		[ -f $$b ] || continue; \
		[ $$a = native ] || $(MAKE) -s $$b > /dev/null || exit 1; \
		$$s $(STRIPFLAGS) -o $$b.stripped $$b || exit 1; \
		n=`wc -c < $$b.stripped`; rm -f $$b.stripped; \
		echo "$$b: $$n bytes stripped, at most $$max"; \
		[ $$n -le $$max ] || { echo "size: $$b is over $$max bytes" >&2; rc=1; }; \
	done; exit $$rc

# make release VERSION=x.y: for each architecture whose compiler is here,
# DIST/inosync-x.y-ARCH.tar.gz (ARCH: uname -m for the native one) with the
# stripped static binary (its --version says x.y), inosync.8, the example
# inosync.conf and contrib/; then DIST/SHA256SUMS of them all
release:
	@[ -n "$(VERSION)" ] || { echo 'release: which version? make release VERSION=x.y' >&2; exit 1; }
	rm -rf $(DIST)/inosync-$(VERSION)-* $(DIST)/SHA256SUMS && mkdir -p $(DIST)
	@for x in $(ALLARCHS); do \
		a=$${x%%:*} cc=$${x#*:}; cc=$${cc%:*}; \
		[ $$a = native ] && a=`uname -m`; d=inosync-$(VERSION)-$$a; \
		command -v $$cc > /dev/null || { echo "release: no $$cc, so no $$d"; continue; }; \
		f="`$(MUSLOF) $$cc` `$(TFLAGSOF) $$cc`"; mkdir -p $(DIST)/$$d/contrib && \
		$$cc $(XFLAGS) -DVERSION='"$(VERSION)"' $$f -o $(DIST)/$$d/inosync.full inosync.c && \
		`$$cc -print-prog-name=strip` $(STRIPFLAGS) -o $(DIST)/$$d/inosync $(DIST)/$$d/inosync.full && \
		rm $(DIST)/$$d/inosync.full && cp inosync.8 inosync.conf $(DIST)/$$d/ && \
		cp -R contrib/. $(DIST)/$$d/contrib/ && \
		echo "$(DIST)/$$d.tar.gz: `$(LIBCOF) $$cc $$f`, inosync `wc -c < $(DIST)/$$d/inosync` bytes" && \
		(cd $(DIST) && tar -cf - $$d | gzip -9n > $$d.tar.gz && rm -r $$d) || exit 1; \
	done
	cd $(DIST) && sha256sum inosync-$(VERSION)-*.tar.gz > SHA256SUMS

# the example config only where there is none yet
install: inosync
	mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANPREFIX)/man8 $(DESTDIR)$(SYSCONFDIR)
	cp -f inosync $(DESTDIR)$(PREFIX)/bin/inosync
	chmod 755 $(DESTDIR)$(PREFIX)/bin/inosync
	cp -f inosync.8 $(DESTDIR)$(MANPREFIX)/man8/inosync.8
	chmod 644 $(DESTDIR)$(MANPREFIX)/man8/inosync.8
	[ -e $(DESTDIR)$(SYSCONFDIR)/inosync.conf ] || { \
		cp inosync.conf $(DESTDIR)$(SYSCONFDIR)/inosync.conf && \
		chmod 644 $(DESTDIR)$(SYSCONFDIR)/inosync.conf; }

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/inosync $(DESTDIR)$(MANPREFIX)/man8/inosync.8

# mirror demo/src to demo/mirror in the foreground, with events shown
demo:
	@tests/need demo
	@$(MAKE) -s inosync
	mkdir -p demo/src/docs demo/mirror
	echo 'change me, or make files next to me' > demo/src/docs/hello.txt
	@echo 'demo: mirroring demo/src to demo/mirror; edit files in demo/src, Ctrl-C ends'
	./inosync -v -e 0.5 -x '*.swp' demo/src demo/mirror

clean:
	rm -rf inosync tests/unit tests/match tests/fuzz tests/fuzz.libfuzzer \
		inosync.asan inosync.vg inosync.valgrind fuzz-work demo *.stripped \
		sanitizer-logs valgrind-logs dist
	rm -f inosync.mips inosync.armhf inosync.aarch64 inosync.mipsel
	rm -f tests/unit.mips tests/unit.armhf tests/unit.aarch64 tests/unit.mipsel

.PHONY: all test torture fuzz check-asan check-valgrind test-cross size release install uninstall demo clean
