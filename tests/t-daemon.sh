# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Life cycle: -p, -d, -v, signals, closed stdio, queue overflow, too few
# inotify watches.

t_pretend_runs_no_rsync_and_logs_pasteable_commands() {
	counting_rsync
	# a wpath that needs quoting
	src="$T/my src's \$dir"
	mkdir -p "$src/sub"
	echo a > "$src/a b"
	echo b > "$src/sub/-x"
	mkconf c.conf "wpath = $src"
	start d -p -c c.conf
	wait_for 10 log_has d pretend: || fail "no 'pretend:' line for the first sync"
	echo c > "$src/sub/c"
	wait_for 10 log_lines d 2 pretend: || fail "no 'pretend:' line for a change"
	[ "$(runs)" = 0 ] || fail "rsync ran with -p"
	[ ! -e dst ] || fail "the destination was written with -p"
	stop
	# the full sync, pasted into a shell, does the job
	cmd=$(grep pretend: d.log | grep -v -e files-from | head -n 1)
	[ -n "$cmd" ] || fail "no full sync among the 'pretend:' lines"
	cmd=${cmd#*pretend: }
	eval "$cmd" || fail "pasted command failed: $cmd"
	[ "$(runs)" = 1 ] || fail "the pasted command did not run the configured rsync: $cmd"
	same "$src" dst || fail "the pasted command did not mirror: $cmd"
}

t_sigterm_exits_0_and_leaves_no_rsync() {
	boot
	echo x > src/x
	wait_for 10 synced || fail "not synced"
	stop
}

t_sigint_exits_0_and_leaves_no_rsync() {
	boot
	kill -INT "$PID"
	wait_for 20 gone "$PID" || fail "still running 20 s after SIGINT"
	wait "$PID"
	rc=$?
	[ "$rc" = 0 ] || fail "exit $rc after SIGINT, want 0"
	[ -z "$(leftover_rsync)" ] || fail "rsync left running"
}

t_sigterm_lets_a_running_sync_finish() {
	boot "rspeed = 100"
	head -c 250000 /dev/urandom > src/big
	wait_for 5 busy || fail "no rsync for the big file"
	stop
	cmp -s src/big dst/big || fail "the running sync was cut short"
}

t_sighup_with_a_broken_config_keeps_the_old_one() {
	boot
	echo "fnord = 1" >> c.conf
	kill -HUP "$PID"
	wait_for 5 log_has d "$T/c.conf:$(wc -l < c.conf):" ||
		fail "the broken config is not reported with file and line"
	kill -0 "$PID" || fail "the daemon died"
	echo x > src/x
	wait_for 10 synced || fail "no sync after the failed reload"
	stop
}

t_sighup_with_a_new_config_takes_effect() {
	mkdir -p src/sub
	echo k > src/sub/keep
	boot
	mkconf c.conf "rnodes = $T/dst" "rnodes = $T/dst2" "rexcludes = *.tmp"
	kill -HUP "$PID"
	echo a > src/a
	wait_for 10 test -f dst2/a || fail "the new destination gets no change"
	echo b > src/sub/b.tmp
	echo c > src/sub/c
	wait_for 10 test -f dst/sub/c || fail "no sync after the reload"
	wait_for 10 test -f dst2/sub/c || fail "no sync to the new destination"
	want '*.tmp'
	wait_for 10 same want dst || fail "the new exclude was not applied"
	wait_for 10 same want dst2 || fail "the new destination is not a mirror"
	stop
}

# holds_pid FILE PID: FILE names PID
holds_pid() {
	[ "$(cat "$1" 2> /dev/null)" = "$2" ]
}

# a reload that names another statusfile removes the old one, which would
# only go stale; one that names another pidfile writes it, locked against
# a second daemon, and removes the old one
t_sighup_moves_the_statusfile_and_the_pidfile() {
	mkdir src
	echo a > src/a
	boot "statusfile = $T/s1" "pidfile = $T/p1" "metricsfile = $T/m1"
	p=$PID
	wait_for 5 test -s s1 || fail "no statusfile"
	wait_for 5 test -s m1 || fail "no metricsfile"
	holds_pid p1 "$p" || fail "pidfile p1: $(cat p1), want $p"
	mkconf c.conf "statusfile = $T/s2" "pidfile = $T/p2" "metricsfile = $T/m2"
	kill -HUP "$p"
	wait_for 5 test -s s2 || fail "no statusfile s2 after the reload"
	[ ! -e s1 ] || fail "the old statusfile is left: $(cat s1)"
	wait_for 5 test -s m2 || fail "no metricsfile m2 after the reload"
	[ ! -e m1 ] || fail "the old metricsfile is left"
	wait_for 5 holds_pid p2 "$p" || fail "the new pidfile p2 was not written"
	[ ! -e p1 ] || fail "the old pidfile is left: $(cat p1)"
	start d2 -c "$T/c.conf"
	wait_for 5 gone "$PID" || fail "a second daemon runs on the new pidfile"
	log_has d2 "is locked" || fail "the second daemon did not say the pidfile is locked"
	stop "$p"
	[ ! -e s2 ] && [ ! -e p2 ] && [ ! -e m2 ] ||
		fail "the new statusfile, pidfile or metricsfile is left after exit"
}

t_sigusr1_repairs_the_destination() {
	mkdir -p src/sub
	echo 1 > src/a
	echo 2 > src/sub/b
	boot
	wait_for 10 synced || fail "not synced"
	echo "changed behind its back" > dst/a
	rm dst/sub/b
	echo stray > dst/sub/stray
	kill -USR1 "$PID"
	wait_for 10 synced || fail "SIGUSR1 did not repair the destination"
	stop
}

t_detach_returns_0_and_keeps_syncing() {
	mkdir src
	echo a > src/a
	counting_rsync
	mkconf detach.conf
	timeout 10 "$INOSYNC" -d -c "$T/detach.conf" > out 2>&1
	rc=$?
	[ "$rc" = 0 ] || fail "-d: exit $rc, want 0: $(cat out)"
	pids=$(daemons_with "$T/detach.conf")
	one_daemon "$pids" "after -d"
	wait_for 10 synced || fail "no first sync after -d"
	echo b > src/b
	wait_for 10 synced || fail "no sync after -d"
	for fd in 0 1 2; do
		[ "$(readlink "/proc/$pids/fd/$fd")" != "$T/out" ] ||
			fail "the detached daemon keeps the caller's output open as fd $fd"
	done
	kill -TERM "$pids"
	wait_for 20 gone "$pids" || fail "detached daemon still running after SIGTERM"
	[ -z "$(leftover_rsync)" ] || fail "rsync left running"
}

t_detach_with_a_config_error_exits_2_first() {
	mkdir src
	counting_rsync
	mkconf detach.conf "fnord = 1"
	timeout 10 "$INOSYNC" -d -c "$T/detach.conf" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "-d with a broken config: exit $rc, want 2"
	grep -qF "inosync: $T/detach.conf:5: " err || fail "stderr: $(cat err)"
	[ -z "$(procs_with "$T/detach.conf")" ] || fail "a daemon runs anyway"
	[ "$(runs)" = 0 ] || fail "rsync ran"
}

t_verbose_logs_event_detail() {
	counting_rsync
	mkdir -p src/verbose-probe
	mkconf c.conf
	start d -v -c c.conf
	wait_for 10 runs_at_least 1 || fail "no first sync"
	echo x > src/verbose-probe/file
	wait_for 10 synced || fail "not synced"
	grep -q verbose-probe d.log || fail "-v does not show the changed directory"
	stop
}

t_daemon_works_with_stdio_closed() {
	mkdir src
	echo x > src/x # an empty wpath is held at start
	counting_rsync
	mkconf c.conf
	# -v: plenty to log, and nowhere to log it
	spawn d sh -c 'exec "$@" <&- >&- 2>&-' sh "$INOSYNC" -v -c "$T/c.conf"
	wait_for 10 synced || fail "no first sync"
	for d in a b c; do
		mkdir "src/$d"
		echo x > "src/$d/x"
		wait_for 10 synced || fail "change in $d not synced"
	done
	mv src/a src/a2
	rm -r src/b
	wait_for 10 synced || fail "rename and removal not synced"
	stop
}

# hundred_dirs: src/d0 to src/d99
hundred_dirs() {
	mkdir src
	i=0
	while [ $i -lt 100 ]; do
		mkdir "src/d$i"
		i=$((i + 1))
	done
}

t_event_queue_overflow_still_converges() {
	WATCHER=inotify # whose queue a sysctl shortens
	q=/proc/sys/fs/inotify/max_queued_events
	hundred_dirs
	# the queue size is fixed when the daemon calls inotify_init
	sysctl_set $q 64
	boot
	sysctl_restore $q
	kill -STOP "$PID" # the burst piles up in the queue
	i=0
	while [ $i -lt 100 ]; do
		for f in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do
			echo $f > "src/d$i/f$f"
		done
		i=$((i + 1))
	done
	for i in 1 2 3 4 5 6 7 8 9 10; do
		mkdir "src/new$i"
		echo $i > "src/new$i/f"
	done
	kill -CONT "$PID"
	wait_for 10 log_has d "event queue overflow" || fail "the overflow was not said"
	wait_for 30 synced || fail "lost changes after the queue overflowed"
	calm 2 || fail "the daemon spins after the overflow"
	# and the daemon still watches everything, new directories included
	echo later > src/new5/later
	echo later > src/d99/later
	wait_for 10 synced || fail "a change after the overflow was lost"
	stop
}

# fanotify's queue holds 16384 events, whatever the sysctls say: a
# daemon stopped while 17,000 files are made loses its queue's end, says
# so, and builds the tree anew
t_fanotify_queue_overflow_still_converges() {
	need_fanotify
	hundred_dirs
	boot "watcher = fanotify"
	kill -STOP "$PID"
	i=0
	while [ $i -lt 100 ]; do
		j=0
		while [ $j -lt 170 ]; do
			: > "src/d$i/f$j"
			j=$((j + 1))
		done
		i=$((i + 1))
	done
	mkdir src/new
	echo new > src/new/f
	kill -CONT "$PID"
	wait_for 10 log_has d "event queue overflow" || fail "the overflow was not said"
	wait_for 30 synced || fail "lost changes after the queue overflowed"
	# the mirror is on the same filesystem: its rsync's writes are
	# events too, each passed over, until it ends
	wait_for 10 idle || fail "the full sync did not end"
	calm 2 || fail "the daemon spins after the overflow"
	echo later > src/new/later
	echo later > src/d99/later
	wait_for 10 synced || fail "a change after the overflow was lost"
	stop
}

t_too_few_inotify_watches_is_said_once_and_still_synced() {
	unshare -U -r sh -c 'echo 5 > /proc/sys/user/max_inotify_watches' 2> /dev/null ||
		skip "no user namespace with its own inotify watch limit (Linux 5.11+)"
	mkdir src
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		mkdir -p "src/d$i/e"
	done
	counting_rsync
	mkconf c.conf
	# a user namespace of its own, allowed 5 watches for 25 directories
	spawn d unshare -U -r sh -c 'echo 5 > /proc/sys/user/max_inotify_watches && exec "$@"' \
		sh "$INOSYNC" -c "$T/c.conf"
	wait_for 10 log_has d max_user_watches || fail "no message naming fs.inotify.max_user_watches"
	wait_for 10 synced || fail "no first sync"
	calm 3 || fail "the daemon spins while short of watches"
	for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
		echo x > "src/d$i/e/f"
	done
	mkdir src/d13
	echo y > src/d13/g
	# the unwatched part waits for the periodic full sync (RESCAN_MS)
	wait_for 45 synced || fail "changes in unwatched directories never synced"
	[ "$(grep -c max_user_watches d.log)" = 1 ] || fail "the watch limit was reported more than once"
	stop
}

t_sighup_with_a_new_wpath_mirrors_the_new_tree() {
	mkdir -p src src2/sub
	echo a > src2/sub/a
	boot
	mkconf c.conf "wpath = $T/src2"
	kill -HUP "$PID"
	wait_for 10 synced_with src2 || fail "the new wpath was not mirrored"
	echo b > src2/sub/b
	echo c > src/c
	wait_for 10 synced_with src2 || fail "a change in the new wpath was not mirrored"
	[ ! -e dst/c ] || fail "the old wpath is still mirrored"
	stop
}
