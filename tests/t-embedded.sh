# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Small and odd systems: a bare root that holds only BusyBox, inosync and
# rsync (no /dev, no /etc/passwd, no syslogd), stdio closed as an initramfs
# leaves it, a small inotify watch limit, a tight address-space limit, and
# dropbear's ssh client.

# root_synced: the bare root's /dst mirrors its /src
root_synced() {
	same "$ROOT_FS/src" "$ROOT_FS/dst"
}

# root_changes: change the bare root's /src in the ways a sync must carry
root_changes() {
	mkdir -p "$ROOT_FS/src/new/deeper"
	echo 3 > "$ROOT_FS/src/new/deeper/three"
	echo 4 > "$ROOT_FS/src/-dash"
	ln -s new/deeper/three "$ROOT_FS/src/link"
	rm -f "$ROOT_FS/src/sub/one"
	[ ! -d "$ROOT_FS/src/gone" ] || mv "$ROOT_FS/src/gone" "$ROOT_FS/src/moved"
}

# root_daemon: set DPID to the one inosync running in the bare root (it
# detached: not our child), and have the runner kill it if the test fails
root_daemon() {
	one_daemon "$(procs_in_root "$ROOT_FS")" "in the bare root"
}

# term_root_daemon: SIGTERM ends the detached daemon
term_root_daemon() {
	kill -TERM "$DPID" || fail "the detached daemon was not running at SIGTERM"
	wait_for 20 gone "$DPID" || fail "the detached daemon still runs 20 s after SIGTERM"
}

# own_fds_apart PID: none of PID's fds 0-2 is closed or one of its own
# (inotify, signalfd, a pipe to rsync, the syslog socket)
own_fds_apart() {
	for _of_fd in 0 1 2; do
		_of_l=$(readlink "/proc/$1/fd/$_of_fd") || fail "fd $_of_fd of the daemon is closed"
		case $_of_l in
		anon_inode:* | pipe:* | socket:*) fail "fd $_of_fd of the daemon is $_of_l" ;;
		esac
	done
}

t_bare_root_foreground_syncs_and_logs_to_stderr() {
	bare_root
	mkdir -p "$ROOT_FS/src/sub" "$ROOT_FS/src/gone"
	echo 1 > "$ROOT_FS/src/sub/one"
	echo 2 > "$ROOT_FS/src/gone/two"
	# stdout to out.log, stderr to d.log
	# shellcheck disable=SC2016 # expanded by the inner shell
	spawn out sh -c 'exec chroot "$1" /bin/inosync 2> "$2"' sh "$ROOT_FS" "$T/d.log"
	wait_for 10 root_synced || fail "no first sync in the bare root"
	wait_for 5 log_has d "full sync done" || fail "the first sync is not logged on stderr"
	root_changes
	wait_for 10 root_synced || fail "changes in the bare root were not synced"
	wait_for 5 log_has d "sync of " || fail "the later sync is not logged on stderr"
	[ "$(grep -c 'no /proc/self/mountinfo' d.log)" = 1 ] ||
		fail "the missing mount table was not said exactly once"
	stop
	log_has d exited || fail "the exit is not logged on stderr"
	[ ! -s out.log ] || fail "inosync wrote to stdout: $(head -n 3 out.log)"
	root_untouched || fail "inosync or rsync made files in the bare root"
}

t_bare_root_detached_returns_at_once_and_keeps_syncing() {
	bare_root
	mkdir -p "$ROOT_FS/src/sub" "$ROOT_FS/src/gone"
	echo 1 > "$ROOT_FS/src/sub/one"
	now
	t0=$NOW
	# no syslogd, no /dev/log: nothing to wait for
	timeout 10 chroot "$ROOT_FS" /bin/inosync -d > start.out 2>&1
	rc=$?
	now
	echo "-d returned after $((NOW - t0))0 ms" >&2
	root_daemon
	[ "$rc" = 0 ] || fail "-d: exit $rc, want 0: $(cat start.out)"
	[ $((NOW - t0)) -le $((300 * TEST_SCALE)) ] || fail "-d took $((NOW - t0))0 ms to return"
	wait_for 10 root_synced || fail "no first sync after -d"
	root_changes
	wait_for 10 root_synced || fail "no sync of a change after -d"
	alive "$DPID" || fail "the daemon died"
	term_root_daemon
	[ ! -s start.out ] || fail "-d wrote to its caller's output: $(head -n 3 start.out)"
	root_untouched || fail "inosync or rsync made files in the bare root"
}

# No /dev/null to put in its place (an initramfs before /dev is mounted):
# the detached daemon must still let go of the output it was started with,
# or a caller that reads it to the end (x=$(inosync -d), ssh box inosync -d,
# inosync -d | logger) never returns.
t_bare_root_detached_lets_go_of_its_callers_output() {
	bare_root
	{
		chroot "$ROOT_FS" /bin/inosync -d 2>&1
		echo "exit $?"
	} | cat > start.out &
	reader=$!
	wait_for 10 grep -q '^exit ' start.out || fail "-d did not return"
	root_daemon
	grep -qx 'exit 0' start.out || fail "-d: $(cat start.out)"
	wait_for 5 gone "$reader" || {
		fds=
		for fd in 0 1 2; do
			fds="$fds $fd:$(readlink "/proc/$DPID/fd/$fd")"
		done
		fail "the detached daemon holds the output of the command that started it (fds$fds): whoever reads that output never sees its end"
	}
	term_root_daemon
}

t_detached_with_stdio_closed_keeps_syncing() {
	mkdir -p src/sub
	echo 1 > src/sub/one
	counting_rsync
	# -v: rsync lists what it sends on its stdout, the daemon's pipe
	mkconf c.conf "rargs = -v"
	timeout 10 "$INOSYNC" -d -c "$T/c.conf" <&- >&- 2>&-
	rc=$?
	pids=$(daemons_with "$T/c.conf")
	one_daemon "$pids" "after -d"
	[ "$rc" = 0 ] || fail "-d with fds 0-2 closed: exit $rc, want 0"
	wait_for 10 synced || fail "no first sync"
	for d in a b c d e; do
		mkdir "src/$d"
		echo "$d" > "src/$d/-$d"
	done
	mv src/a src/a2
	rm -r src/b src/sub/one
	wait_for 10 synced || fail "changes not synced"
	own_fds_apart "$pids"
	for fd in 0 1 2; do
		[ "$(readlink "/proc/$pids/fd/$fd")" = /dev/null ] ||
			fail "fd $fd of the daemon is $(readlink "/proc/$pids/fd/$fd"), want /dev/null"
	done
	kill -TERM "$pids"
	wait_for 20 gone "$pids" || fail "still running 20 s after SIGTERM"
	[ -z "$(leftover_rsync)" ] || fail "rsync left running"
}

# /init of an initramfs: fds 0-2 closed and no /dev to fill them from
t_bare_root_started_with_stdio_closed_keeps_syncing() {
	bare_root
	mkdir -p "$ROOT_FS/src/sub" "$ROOT_FS/src/gone"
	echo 1 > "$ROOT_FS/src/sub/one"
	# BusyBox's sh closes them and execs: PID is inosync. -v: plenty to
	# log and nowhere to log it
	spawn d chroot "$ROOT_FS" /bin/sh -c 'exec /bin/inosync -v <&- >&- 2>&-'
	wait_for 10 root_synced || fail "no first sync"
	root_changes
	wait_for 10 root_synced || fail "changes not synced"
	# shellcheck disable=SC2153 # set by spawn
	own_fds_apart "$PID"
	stop
	[ ! -s d.log ] || fail "output reached the closed fds' old place: $(head -n 3 d.log)"
	root_untouched || fail "inosync or rsync made files in the bare root"
}

t_bare_root_detached_with_stdio_closed_keeps_syncing() {
	bare_root
	mkdir -p "$ROOT_FS/src/sub" "$ROOT_FS/src/gone"
	echo 1 > "$ROOT_FS/src/sub/one"
	timeout 10 chroot "$ROOT_FS" /bin/sh -c '/bin/inosync -d <&- >&- 2>&-' > start.out 2>&1
	rc=$?
	root_daemon
	[ "$rc" = 0 ] || fail "-d: exit $rc, want 0: $(cat start.out)"
	wait_for 10 root_synced || fail "no first sync"
	root_changes
	wait_for 10 root_synced || fail "changes not synced"
	own_fds_apart "$DPID"
	term_root_daemon
	root_untouched || fail "inosync or rsync made files in the bare root"
}

t_small_watch_limit_is_named_and_unwatched_changes_still_arrive() {
	WATCHER=inotify # it counts inotify's watches
	unshare -U -r sh -c 'echo 8192 > /proc/sys/user/max_inotify_watches' 2> /dev/null ||
		skip "no user namespace with its own inotify watch limit (Linux 5.11+)"
	mkdir src
	mkdirs src 20000
	mkdir -p src/late/deep/deeper/deepest
	counting_rsync
	mkconf c.conf
	# a user namespace of its own, allowed 8192 watches for 20,205
	# directories; the machine's limit is not touched
	spawn d unshare -U -r sh -c 'echo 8192 > /proc/sys/user/max_inotify_watches && exec "$@"' \
		sh "$INOSYNC" -c "$T/c.conf"
	now
	t0=$NOW
	wait_for 20 log_has d max_user_watches || fail "no message naming fs.inotify.max_user_watches"
	wait_for 30 log_has d "full sync done" || fail "no first sync"
	synced || fail "the first sync made no mirror"
	now
	echo "first sync of $(find src -type d | wc -l) directories after $((NOW - t0))0 ms" >&2
	[ "$(watches)" = 8192 ] || fail "$(watches) watches held, want every one of the 8192 allowed"
	u=$(unwatched_dirs "$PID" src | deepest)
	[ -n "$u" ] || fail "no directory is unwatched"
	echo "unwatched: $u" >&2
	echo x > "$u/late"
	mkdir "$u/new"
	echo y > "$u/new/f"
	echo z > src/top
	wait_for 10 test -f dst/top || fail "a change in a watched directory did not arrive"
	calm 3 || fail "the daemon spins while short of watches"
	# the unwatched one waits for the periodic full sync: RESCAN_MS (30 s)
	# after the start. (Waiting on the file, not on `synced`: comparing
	# 20,000 directories ten times a second would load the machine.)
	wait_for 40 test -f "dst/${u#src/}/new/f" || fail "a change in an unwatched directory never arrived"
	wait_for 10 synced || fail "the destination is no mirror after the full sync"
	now
	echo "the unwatched change arrived $((NOW - t0))0 ms after the start" >&2
	alive "$PID" || fail "the daemon died"
	[ "$(grep -c max_user_watches d.log)" = 1 ] || fail "the watch limit was reported more than once"
	stop
}

# rsync_fits KIB: under an address-space limit of KIB, rsync brings
# $T/probe, a copy of $T/src, up to date, copying every file again (-I): it
# needs about half as much when it has nothing to copy, and about as much
# as this when it makes the copy from nothing
rsync_fits() {
	prlimit --as=$(($1 * 1024)) /usr/bin/rsync -a -I --delete "$T/src/" "$T/probe/" > /dev/null 2>&1
}

# said_or_gone PID: PID has said how many directories it watches, or ended
said_or_gone() {
	grep -q '^inosync: watching ' "$T/probe.log" || gone "$1"
}

# watching_under KIB: run inosync -p -c $T/c.conf under an address-space
# limit of KIB until it says how many directories it watches, and set
# WATCHING to that number (empty: it did not start). Fails if it started
# and then died.
watching_under() {
	rm -f "$T/probe.log" # or the last run's lines would answer for this one
	prlimit --as=$(($1 * 1024)) "$INOSYNC" -p -c "$T/c.conf" > "$T/probe.log" 2>&1 &
	_wu_p=$!
	wait_for 20 said_or_gone "$_wu_p" > /dev/null 2>&1
	kill -TERM "$_wu_p" 2> /dev/null
	wait "$_wu_p"
	_wu_rc=$?
	WATCHING=$(sed -n 's/^inosync: watching \([0-9]*\) director.*/\1/p' "$T/probe.log")
	[ -z "$WATCHING" ] && return 1
	[ "$_wu_rc" = 0 ] || fail "under $1 KiB inosync started, then ended with status $_wu_rc: $(tail -n 2 "$T/probe.log")"
}

# holds_all KIB: inosync starts under KIB and watches all NDIRS directories
holds_all() {
	watching_under "$1" && [ "$WATCHING" = "$NDIRS" ]
}

# short_tree: $T/src with 10,000 directories, a file in every 100th, NDIRS,
# and $T/c.conf with rsync itself (a script would need an interpreter within
# the limit); skips where the limit would bind something else than inosync
short_tree() {
	native_inosync || skip "$INOSYNC runs under an emulator: a limit would bind the emulator"
	! sanitized || skip "a sanitizer build reserves terabytes of address space"
	command -v prlimit > /dev/null || skip "no prlimit (util-linux)"
	mkdir src
	mkdirs src 10000
	_st_i=0
	while [ $_st_i -lt 100 ]; do
		echo $_st_i > "src/a$_st_i/b$((_st_i * 100))/file"
		_st_i=$((_st_i + 1))
	done
	NDIRS=$(find src -type d | wc -l)
	mkconf c.conf "rsync = /usr/bin/rsync"
}

# With `ulimit -v` the static daemon needs little, but the rsync it starts
# inherits the limit and needs far more (its file list pools are address
# space, not memory used). Both are measured here. The daemon starts short
# of memory for its watches and below what rsync needs, over a mirror made
# earlier: it says both, lives on and retries; once its limit is raised to
# what rsync needs, every change arrives, and a reload watches every
# directory again. (The periodic rescan that does that unasked is
# t_small_watch_limit_...'s.)
t_short_of_address_space_is_said_and_every_change_arrives() {
	WATCHER=inotify # it counts inotify's watches
	short_tree
	least_as 128 1048576 holds_all || fail "inosync cannot watch $NDIRS directories even with 1 GiB"
	need=$LEAST_OK low=$LEAST_BAD
	if [ "$low" = 0 ] || ! watching_under "$low"; then
		fail "no limit where inosync starts but cannot watch everything (it needs $need KiB)"
	fi
	echo "inosync watches all $NDIRS directories from $need KiB, $WATCHING of them under $low KiB" >&2
	/usr/bin/rsync -a src/ probe/ || fail "rsync failed without a limit"
	least_as 4096 4194304 rsync_fits || fail "rsync cannot sync the tree even with 4 GiB"
	rs=$LEAST_OK
	echo "rsync syncs them from $rs KiB, not under $LEAST_BAD KiB" >&2
	mv probe dst
	# soft limit only: it may be raised again without CAP_SYS_RESOURCE
	spawn d prlimit --as=$((low * 1024)):unlimited "$INOSYNC" -c "$T/c.conf"
	wait_for 20 log_has d "inosync: watching " || fail "did not start under $low KiB"
	n=$(sed -n 's/^inosync: watching \([0-9]*\) director.*/\1/p' d.log)
	[ "$n" -lt "$NDIRS" ] || fail "watches all $NDIRS directories under $low KiB"
	log_has d "cannot watch " || fail "no message says some directories are not watched"
	if [ "$low" -lt "$rs" ]; then
		wait_for 10 log_has d "full sync failed" || fail "rsync's failure under $low KiB is not said"
		wait_for 10 log_has d "retrying in" || fail "the failed sync is not retried"
	fi
	alive "$PID" || fail "the daemon died under $low KiB"
	# changes while short, in unwatched directories too
	u=$(unwatched_dirs "$PID" src | deepest)
	[ -n "$u" ] || fail "no directory is unwatched"
	echo 1 > "$u/while-short"
	mkdir -p src/new/sub
	echo 1 > src/new/sub/f
	rm src/a1/b100/file
	i=0
	while [ $i -lt 100 ]; do
		echo $i > "src/a$i/b$((i * 100 + 1))/burst"
		i=$((i + 1))
	done
	# what rsync needs, and 1/16 more for what the test added to the tree
	prlimit --pid "$PID" --as=$(((rs + rs / 16) * 1024)):unlimited ||
		fail "cannot raise the daemon's limit"
	wait_for 30 log_has d "full sync done" || fail "no full sync once rsync could run"
	wait_for 10 synced || fail "changes made while short did not arrive"
	echo 2 > src/a0/b0/after
	wait_for 10 test -f dst/a0/b0/after || fail "a change after the limit was raised did not arrive"
	# a reload builds the watches again, now that memory allows
	kill -HUP "$PID"
	wait_for 10 log_has d "directories are watched again" ||
		fail "the unwatched directories were not watched after a reload"
	n=$(find src -type d | wc -l)
	[ "$(watches)" = "$n" ] || fail "$(watches) watches after the reload, for $n directories"
	echo 3 > "$u/now-watched"
	wait_for 10 test -f "dst/${u#src/}/now-watched" ||
		fail "a change in a directory watched since the reload did not arrive"
	wait_for 10 synced || fail "the destination is no mirror"
	alive "$PID" || fail "the daemon died"
	stop
}

# The shortage is one message, as the watch limit's is, not one line for
# each of thousands of directories (again at every rescan) in a small
# system's log
t_short_of_memory_for_watches_is_said_once_not_per_directory() {
	short_tree
	least_as 128 1048576 holds_all || fail "inosync cannot watch $NDIRS directories even with 1 GiB"
	low=$LEAST_BAD
	if [ "$low" = 0 ] || ! watching_under "$low"; then
		fail "no limit where inosync starts but cannot watch everything (it needs $LEAST_OK KiB)"
	fi
	n=$(grep -c 'cannot watch' probe.log)
	echo "under $low KiB: $WATCHING of $NDIRS directories watched, $n lines about the others" >&2
	[ "$n" -ge 1 ] || fail "nothing says $((NDIRS - WATCHING)) directories are not watched"
	[ "$n" -le 3 ] || fail "$n log lines for $((NDIRS - WATCHING)) directories left unwatched: $(sed -n 2p probe.log)"
}

t_dropbear_client_mirrors_over_ssh() {
	for c in dbclient dropbearconvert; do
		command -v $c > /dev/null || skip "no $c (apt-get install dropbear-bin)"
	done
	sshd_start
	dropbearconvert openssh dropbear "$T/id" "$T/id.db" > convert.out 2>&1 ||
		fail "dropbearconvert failed: $(cat convert.out)"
	# dbclient makes $HOME/.ssh/known_hosts (with -y it stores no key in it)
	HOME=$T
	export HOME
	mkdir -p src/sub r
	echo 1 > src/sub/one
	# dbclient as rsync runs it (through the jail's relay), its words kept
	printf '#!/bin/sh\necho "$*" >> %s/dbclient.args\nexec dbclient "$@"\n' "$T" > dbclient
	chmod 755 dbclient
	boot "rnodes = 127.0.0.1:$T/r" "rsh = $T/dbclient -y -i $T/id.db -p $SSHD_PORT"
	wait_for 10 synced r || fail "no first sync through dbclient"
	grep -q '^-y -i ' dbclient.args || fail "rsync did not run dbclient: $(head -n 1 runs)"
	grep -q 'Control' dbclient.args && fail "ssh's control options given to dbclient: $(head -n 1 dbclient.args)"
	echo 2 > src/sub/two
	mkdir -p src/new/deeper
	echo 3 > src/new/deeper/three
	rm src/sub/one
	wait_for 10 synced r || fail "a change did not arrive through dbclient"
	[ -e "$T/.ssh/known_hosts" ] || fail "dbclient did not run (no \$HOME/.ssh/known_hosts)"
	stop
}
