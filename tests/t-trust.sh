# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# A user who may write in wpath gets nothing from the root daemon: no name
# of theirs is read as a pattern or a command on the other side.

# no_arg_unsecluded: every rsync the counting rsync saw for the ssh
# destination has -s, so no path of ours is on the remote command line
no_arg_unsecluded() {
	grep -F -- '-e ssh ' "$T/runs" | grep -vF -- ' -s ' > "$T/.plain"
	[ ! -s "$T/.plain" ] || fail "rsync without -s for ssh: $(head -n 1 "$T/.plain")"
}

# a moved file in a directory [a] lands in the mirror's [a], not in the a
# that the other end's glob makes of it (the remote rsync's, also with -s,
# and the rsync daemon's), over the mirror's a/f
t_a_move_in_a_bracketed_directory_stays_in_it() {
	sshd_start
	rsyncd_start "$T/rd"
	mkdir -p 'src/[a]' src/a
	echo mine > src/a/f
	echo 'the user writes this over a/f' > 'src/[a]/x'
	boot "rnodes = 127.0.0.1:$T/r/" "rsh = $SSH_RSH" \
		"rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced_with src r || fail "no first sync over ssh"
	wait_for 10 synced_with src rd || fail "no first sync to the daemon"
	mv 'src/[a]/x' 'src/[a]/f'
	wait_for 10 synced_with src r || fail "the ssh mirror did not converge"
	wait_for 10 synced_with src rd || fail "the daemon's mirror did not converge"
	stop
	no_arg_unsecluded
}

# rsync327: set REAL_RSYNC to Debian 12's rsync 3.2.7, which as any rsync
# before 3.5.0 leaves a newline in a path to the remote shell, or skip
rsync327() {
	REAL_RSYNC=/opt/rsync-3.2.7/usr/bin/rsync
	"$REAL_RSYNC" --version 2> /dev/null | grep -q 'version 3\.2\.7 ' ||
		skip "no rsync 3.2.7 at $REAL_RSYNC: tests/need rsync327 unpacks it"
}

# with rsync 3.2.7 on our side (3.0.0 is -s's floor), a file moved out of
# a directory whose name holds a newline runs nothing at the other end:
# the old directory, "o<newline>" then $T/pwn inside it, was the second
# line of the remote command as --link-dest, and ran $T/pwn
t_a_newline_in_a_moved_path_runs_nothing_with_rsync_3_2_7() {
	rsync327
	sshd_start
	printf '#!/bin/sh\ntouch %s/pwned\n' "$T" > pwn
	chmod 755 pwn
	o="o
$T/pwn"
	mkdir -p "src/$o" src/n r
	echo data > "src/$o/x"
	boot "rnodes = 127.0.0.1:$T/r/" "rsh = $SSH_RSH"
	wait_for 10 synced_with src r || fail "no first sync"
	mv "src/$o/x" src/n/x
	wait_for 10 synced_with src r || fail "the mirror did not converge"
	stop
	[ ! -e pwned ] || fail "the remote shell ran a line of a path"
	no_arg_unsecluded
}
