# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Faults: each is said in the log, the daemon neither dies nor spins while
# it lasts, and the destination converges once it is gone.

# partial_in DIR: rsync is writing a temporary file in DIR
partial_in() {
	[ -n "$(find "$1" -maxdepth 1 -name '.*.*' -size +0 2> /dev/null)" ]
}

# rsyncd_kill: kill -9 the rsync daemon and the children serving transfers
rsyncd_kill() {
	_rk_kids=$(children "$RSYNCD_PID")
	# shellcheck disable=SC2086 # pids, one word each
	kill -KILL "$RSYNCD_PID" $_rk_kids 2> /dev/null
	wait "$RSYNCD_PID" 2> /dev/null
	return 0
}

t_rsync_daemon_killed_mid_transfer_is_retried_and_converges() {
	rsyncd_start "$T/r"
	mkdir src
	echo a > src/a
	# 500 KiB/s: the 2 MB file takes 4 s, long enough to be cut
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "rspeed = 500"
	head -c 2000000 /dev/urandom > src/big
	echo b > src/b
	wait_for 10 partial_in r || fail "no transfer under way"
	rsyncd_kill
	wait_for 10 log_has d "rsync exit 1" || fail "the cut transfer was not logged as failed"
	kill -0 "$PID" || fail "the daemon died"
	calm 3 || fail "the daemon spins while the destination is down"
	rsyncd_start
	# the retry also deletes the temporary file the killed daemon left
	wait_for 40 synced r || fail "not converged after the daemon came back"
	echo c > src/c
	wait_for 20 synced r || fail "a later change did not arrive"
	stop
	rsyncd_stop
}

t_hung_destination_times_out_without_spinning_and_converges() {
	rsyncd_start "$T/r"
	mkdir src
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "rtimeout = 2"
	kill -STOP "$RSYNCD_PID" # connects, never answers
	echo 1 > src/one
	wait_for 15 log_has d "timeout" || fail "the hang was not logged as a timeout"
	calm 3 || fail "the daemon spins while the destination hangs"
	kill -CONT "$RSYNCD_PID"
	wait_for 30 synced r || fail "not converged once the destination answered"
	stop
	rsyncd_stop
}

t_rsync_missing_at_start_is_said_and_synced_once_it_appears() {
	mkdir src bin
	echo a > src/a
	counting_rsync
	mkconf c.conf "rsync = $T/bin/rsync"
	start d -c c.conf
	wait_for 10 log_has d "c.conf:4: warning: rsync $T/bin/rsync does not exist" ||
		fail "no warning naming the file, the line and the missing rsync"
	wait_for 10 log_has d "cannot run $T/bin/rsync" || fail "the failed run was not said"
	kill -0 "$PID" || fail "the daemon died"
	calm 3 || fail "the daemon spins while rsync is missing"
	echo b > src/b
	cp rsync bin/rsync
	wait_for 40 synced || fail "not synced once rsync appeared"
	stop
}

t_rsync_removed_while_running_is_said_and_synced_once_back() {
	mkdir src bin
	counting_rsync
	cp rsync bin/rsync
	boot "rsync = $T/bin/rsync"
	mv bin/rsync bin/away
	echo a > src/a
	wait_for 10 log_has d "cannot run $T/bin/rsync: No such file" ||
		fail "the missing rsync was not said"
	wait_for 10 log_has d "rsync could not be run" || fail "the failed sync was not said"
	calm 3 || fail "the daemon spins while rsync is missing"
	mv bin/away bin/rsync
	wait_for 40 synced || fail "not synced once rsync was back"
	echo b > src/b
	wait_for 10 synced || fail "a later change did not arrive"
	stop
}

t_unreadable_subdirectory_is_retried_logged_and_the_rest_synced() {
	drop=
	if [ "$(id -u)" = 0 ]; then
		# root reads anything: run the daemon, and so its rsyncs,
		# without the capabilities that override permissions
		drop="setpriv --bounding-set=-dac_override,-dac_read_search"
		$drop true 2> /dev/null || skip "setpriv cannot drop capabilities here"
	fi
	mkdir -p src/open src/locked
	echo 1 > src/open/one
	echo 2 > src/locked/two
	chmod 000 src/locked
	counting_rsync
	# unjailed: without the capabilities that override permissions,
	# rsync cannot set the mode of a directory it cannot open without
	# /proc, which no jail has (see The jail in the README)
	mkconf c.conf "rjail = no"
	# shellcheck disable=SC2086 # empty, or a command and its arguments
	spawn d $drop "$INOSYNC" -c "$T/c.conf"
	wait_for 10 log_has d "cannot watch $T/src/locked: Permission denied" ||
		fail "the unwatchable directory was not named"
	wait_for 10 log_has d "rsync exit 23" || fail "rsync's exit 23 was not logged"
	wait_for 10 same src/open dst/open || fail "the readable part was not synced"
	echo 3 > src/open/three
	mkdir src/new
	echo 4 > src/new/four
	wait_for 20 same src/new dst/new || fail "a change elsewhere did not arrive"
	wait_for 5 same src/open dst/open || fail "a change elsewhere did not arrive"
	kill -0 "$PID" || fail "the daemon died"
	calm 3 || fail "the daemon spins while the directory is unreadable"
	# rsync deletes nothing while it meets an I/O error
	rm src/open/one
	chmod 755 src/locked
	wait_for 70 synced || fail "not converged once the directory was readable"
	wait_for 10 log_has d "(rsync exit 0)" || fail "no sync succeeded"
	# (its changes arrive once the next rescan watches it: see the watch
	# limit tests, which wait for that)
	stop
}

t_full_destination_disk_is_retried_and_converges_once_freed() {
	mount_tmpfs "$T/dst" 1m
	mkdir src
	echo a > src/a
	boot
	head -c 2000000 /dev/urandom > src/big
	echo b > src/b
	wait_for 10 log_has d "No space left on device" || fail "the full disk was not said"
	wait_for 10 log_has d "failed after" || fail "the failed sync was not said"
	kill -0 "$PID" || fail "the daemon died"
	calm 3 || fail "the daemon spins while the disk is full"
	mount -o remount,size=8m "$T/dst" || fail "cannot grow the tmpfs"
	wait_for 70 synced || fail "not converged once there was room"
	echo c > src/c
	wait_for 10 synced || fail "a later change did not arrive"
	stop
}
