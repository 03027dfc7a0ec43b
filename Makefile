# inosync - see the README
.POSIX:

PREFIX = /usr/local
MANPREFIX = $(PREFIX)/share/man

# static with musl when musl-gcc is there, else the system compiler
CC = `command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc -static || echo cc`
CFLAGS = -Os -fno-asynchronous-unwind-tables
LDFLAGS = -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none
# what the program needs whatever CFLAGS says
INOCFLAGS = -std=c99 -D_GNU_SOURCE -Wall -Wextra -pedantic

all: inosync

inosync: inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ inosync.c

tests/unit: tests/unit.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ tests/unit.c

tests/match: tests/match.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ tests/match.c

test: inosync tests/unit tests/match
	tests/run

# mirror demo/src to demo/mirror in the foreground, with events shown
demo: inosync
	@command -v rsync >/dev/null || { echo 'demo: needs rsync (apt-get install rsync)' >&2; exit 1; }
	mkdir -p demo/src/docs demo/mirror
	echo 'change me, or make files next to me' > demo/src/docs/hello.txt
	@echo 'demo: mirroring demo/src to demo/mirror; edit files in demo/src, Ctrl-C ends'
	./inosync -v -e 0.5 -x '*.swp' demo/src demo/mirror

clean:
	rm -rf inosync tests/unit tests/match demo

.PHONY: all test demo clean
