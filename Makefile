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
INOCFLAGS = -std=c99 -D_GNU_SOURCE -Wall -Wextra -pedantic
INOLDFLAGS = -static

all: inosync

inosync: inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ inosync.c

tests/unit: tests/unit.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/unit.c

tests/match: tests/match.c inosync.c config.h
	$(CC) $(INOCFLAGS) $(CPPFLAGS) $(CFLAGS) $(INOLDFLAGS) $(LDFLAGS) -o $@ tests/match.c

test: inosync tests/unit tests/match
	tests/run

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
	rm -rf inosync tests/unit tests/match demo

.PHONY: all test install uninstall demo clean
