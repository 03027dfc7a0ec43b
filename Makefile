# inosync - see the README
.POSIX:

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man
SYSCONFDIR = /etc

# static with musl when musl-gcc is there, else the system compiler
CC = `command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo cc`
CFLAGS = -Os -fno-asynchronous-unwind-tables
LDFLAGS = -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none
# what the program needs whatever CFLAGS says
INOCFLAGS = -std=c99 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -pedantic
INOLDFLAGS = -static
# make size: the stripped binary's limit in bytes, and the tools (a cross
# build: make -B size CC=mips-linux-gnu-gcc STRIP=mips-linux-gnu-strip ...)
SIZEMAX = 73728
STRIP = strip
NM = nm
SIZE = size
# make test-cross: the architectures, and a compiler for each (Debian's
# gcc-mips-linux-gnu, gcc-arm-linux-gnueabihf, gcc-aarch64-linux-gnu); the
# binaries run under qemu-user (qemu-user-static) unless binfmt_misc does it
ARCHS = mips armhf
MIPSCC = mips-linux-gnu-gcc
ARMHFCC = arm-linux-gnueabihf-gcc
AARCH64CC = aarch64-linux-gnu-gcc

all: inosync

inosync: inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ inosync.c

tests/unit: tests/unit.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/unit.c

tests/match: tests/match.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/match.c

tests/fuzz: tests/fuzz.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/fuzz.c

test: inosync tests/unit tests/match tests/fuzz
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
ASANCC = gcc
inosync.asan: inosync.c config.h
	$(ASANCC) -std=c99 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra -g -O1 \
		-fsanitize=address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer -o $@ inosync.c

check-asan: inosync.asan tests/unit tests/match tests/fuzz
	rm -rf sanitizer-logs && mkdir sanitizer-logs
	ASAN_OPTIONS=detect_leaks=1:exitcode=99:log_path=$$PWD/sanitizer-logs/asan \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$$PWD/sanitizer-logs/ubsan \
	INOSYNC=$$PWD/inosync.asan tests/run; rc=$$?; \
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

inosync.mips: inosync.c config.h
	$(MIPSCC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ inosync.c

tests/unit.mips: tests/unit.c inosync.c config.h
	$(MIPSCC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/unit.c

inosync.armhf: inosync.c config.h
	$(ARMHFCC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ inosync.c

tests/unit.armhf: tests/unit.c inosync.c config.h
	$(ARMHFCC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/unit.c

inosync.aarch64: inosync.c config.h
	$(AARCH64CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ inosync.c

tests/unit.aarch64: tests/unit.c inosync.c config.h
	$(AARCH64CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/unit.c

# the suite against each of ARCHS, e.g. make test-cross ARCHS=mips
test-cross:
	@for a in $(ARCHS); do $(MAKE) inosync.$$a tests/unit.$$a || exit 1; done
	tests/cross $(ARCHS)

# sections, the 15 biggest symbols that take file bytes (.bss takes only
# memory), and the stripped size, which fails over SIZEMAX
size: inosync
	$(STRIP) -o inosync.stripped inosync
	@$(SIZE) inosync
	@$(NM) --size-sort -S -r inosync | awk '$$3 !~ /^[bB]$$/' | head -n 15 | \
		while read -r addr len type name; do printf '%8d %s %s\n' 0x$$len $$type $$name; done
	@n=`wc -c < inosync.stripped`; rm -f inosync.stripped; \
		echo "inosync: $$n bytes stripped, at most $(SIZEMAX)"; \
		[ $$n -le $(SIZEMAX) ] || { echo "size: inosync is over $(SIZEMAX) bytes" >&2; exit 1; }

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
demo: inosync
	@command -v rsync >/dev/null || { echo 'demo: needs rsync (apt-get install rsync)' >&2; exit 1; }
	mkdir -p demo/src/docs demo/mirror
	echo 'change me, or make files next to me' > demo/src/docs/hello.txt
	@echo 'demo: mirroring demo/src to demo/mirror; edit files in demo/src, Ctrl-C ends'
	./inosync -v -e 0.5 -x '*.swp' demo/src demo/mirror

clean:
	rm -rf inosync tests/unit tests/match tests/fuzz tests/fuzz.libfuzzer \
		inosync.asan inosync.vg inosync.valgrind fuzz-work demo inosync.stripped \
		sanitizer-logs valgrind-logs
	rm -f inosync.mips inosync.armhf inosync.aarch64
	rm -f tests/unit.mips tests/unit.armhf tests/unit.aarch64

.PHONY: all test torture fuzz check-asan check-valgrind test-cross size install uninstall demo clean
