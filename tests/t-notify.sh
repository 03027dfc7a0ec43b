# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# systemd's notifications (sd_notify's protocol), heard on a real datagram
# socket as systemd would hear them: READY=1 after the first full sync,
# STATUS=, RELOADING=1 and READY=1 on SIGHUP, STOPPING=1, WATCHDOG=1.

# listen SOCKET: $T/listen, bound to SOCKET (a path, or @NAME: an abstract
# one), writes each datagram it gets to $T/heard as one line, its own
# newlines as '|'
listen() {
	command -v cc > /dev/null || skip "no cc for the datagram listener"
	cat > "$T/listen.c" <<-'EOC'
	#include <stddef.h>
	#include <stdio.h>
	#include <string.h>
	#include <sys/socket.h>
	#include <sys/un.h>
	#include <unistd.h>
	int main(int c, char **v) {
		struct sockaddr_un sa = { AF_UNIX, "" };
		size_t n = strlen(v[1]);
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		char b[4096];
		memcpy(sa.sun_path, v[1], n);
		if (v[1][0] == '@')
			sa.sun_path[0] = '\0';
		if (c != 3 || bind(fd, (struct sockaddr *)&sa,
		    offsetof(struct sockaddr_un, sun_path) + n) < 0)
			return 2;
		for (;;) {
			ssize_t k = recv(fd, b, sizeof(b), 0), i;
			FILE *o = fopen(v[2], "a");
			if (k < 0 || !o)
				return 1;
			for (i = 0; i < k; i++)
				fputc(b[i] == '\n' ? '|' : b[i], o);
			fputc('\n', o);
			fclose(o);
		}
	}
	EOC
	cc -o "$T/listen" "$T/listen.c" || skip "cannot build the datagram listener"
	: > "$T/heard"
	spawn listener "$T/listen" "$1" "$T/heard"
	case $1 in
	@*) wait_for 5 grep -q "@${1#@}" /proc/net/unix || fail "the listener did not bind" ;;
	*) wait_for 5 test -S "$1" || fail "the listener did not bind" ;;
	esac
	NOTIFY_SOCKET=$1
	export NOTIFY_SOCKET
}

# said MESSAGE: the daemon sent MESSAGE (a whole line of $T/heard)
said() {
	grep -qx -- "$1" "$T/heard"
}

# said_times N MESSAGE: the daemon sent MESSAGE N times or more
said_times() {
	[ "$(grep -cx -- "$2" "$T/heard")" -ge "$1" ]
}

# kinds: what the daemon said, in order, each message as its first word
# (READY, RELOADING, STOPPING, WATCHDOG), STATUS= left out
kinds() {
	sed 's/[=|].*//' "$T/heard" | grep -v '^STATUS$' | tr '\n' ' '
}

# a first full sync that takes a while (a 2 MB file at 1000 KiB/s): no
# READY=1 before it ends, then a status, a reload and an exit, in order
t_systemd_hears_ready_after_the_first_full_sync_then_reload_and_stop() {
	listen "$T/notify.sock"
	mkdir src
	head -c 2000000 /dev/zero > src/big
	mkconf c.conf "rspeed = 1000"
	start d -c "$T/c.conf"
	wait_for 10 busy || fail "no first full sync"
	# the sync takes 2 s at least: no READY=1 yet, and none before its end
	# is in the log (below)
	! said READY=1 || fail "READY=1 before the first full sync ended: $(kinds)"
	wait_for 20 said READY=1 || fail "no READY=1: $(kinds)"
	log_has d "full sync done" || fail "READY=1 came before the full sync was done"
	wait_for 10 grep -q '^STATUS=directories watched: 1, destinations in sync: 1 of 1$' heard ||
		fail "no STATUS= of the state: $(grep STATUS heard)"
	echo x > src/x
	wait_for 10 synced || fail "not synced after READY"
	kill -HUP "$PID"
	wait_for 10 grep -q '^RELOADING=1|MONOTONIC_USEC=[1-9][0-9]*$' heard ||
		fail "no RELOADING=1 with MONOTONIC_USEC: $(cat heard)"
	wait_for 10 said_times 2 READY=1 || fail "no READY=1 after the reload: $(kinds)"
	stop
	wait_for 5 said STOPPING=1 || fail "no STOPPING=1"
	k=$(kinds)
	case $k in
	"READY RELOADING READY STOPPING ") ;;
	*) fail "the messages came in this order: $k" ;;
	esac
	case $k in *WATCHDOG*) fail "WATCHDOG=1 without WATCHDOG_USEC" ;; esac
}

# a broken config on SIGHUP: RELOADING=1, then READY=1 for the old one,
# which runs on
t_systemd_hears_ready_after_a_broken_reload() {
	listen "$T/notify.sock"
	boot
	wait_for 10 said READY=1 || fail "no READY=1"
	echo 'wpath = ' >> c.conf
	kill -HUP "$PID"
	wait_for 10 log_has d "not reloaded" || fail "the broken config was not refused"
	wait_for 10 said_times 2 READY=1 || fail "no READY=1 after the refused reload: $(kinds)"
	stop
}

# rinit = no: nothing to wait for, READY=1 at once; an abstract socket
t_systemd_hears_ready_at_once_with_rinit_no_on_an_abstract_socket() {
	listen "@inosync-test-$$"
	mkdir src
	echo a > src/a
	mkconf c.conf "rinit = no"
	start d -c "$T/c.conf"
	wait_for 10 said READY=1 || fail "no READY=1 with rinit = no"
	[ "$(runs)" = 0 ] || fail "an rsync ran before READY=1"
	stop
}

# WATCHDOG_USEC=1000000: WATCHDOG=1 every half second from the loop, and
# none when WATCHDOG_PID names another process
t_systemd_watchdog_hears_the_loop_at_half_its_interval() {
	listen "$T/notify.sock"
	WATCHDOG_USEC=1000000
	export WATCHDOG_USEC
	boot
	: > heard
	observe 2
	n=$(grep -c '^WATCHDOG=1$' heard)
	if [ "$n" -lt 3 ] || [ "$n" -gt $((5 * TEST_SCALE)) ]; then
		fail "$n WATCHDOG=1 in $((2 * TEST_SCALE)) s, want one each half second"
	fi
	stop
	WATCHDOG_PID=1
	export WATCHDOG_PID
	: > heard
	boot
	observe 2
	! said WATCHDOG=1 || fail "WATCHDOG=1 though WATCHDOG_PID is another process"
	stop
}
