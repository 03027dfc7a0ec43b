# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# A user who can write in part of wpath gets nothing from the root daemon:
# no file root alone may read reaches a mirror through a symlink swapped
# in between an event and the sync, a move is placed only as the event
# showed it, no name of theirs is read as a pattern or a command on the
# other side, and no user can stall the syncs.

# secret: $T/secret, a directory only root may read, outside wpath and
# outside what the tests' jails show (rjail = $T/runs), holding key and
# secretfile, whose words are SECRET
secret() {
	mkdir -m 700 "$T/secret"
	echo SECRET > "$T/secret/key"
	echo SECRET > "$T/secret/secretfile"
	: > "$T/runs"
}

# spy DIR: look into DIR every 0.05 s, in the background, and note in
# $T/leak each file there with the secret's words
spy() {
	(while :; do
		grep -rl SECRET "$1" >> "$T/leak" 2> /dev/null
		sleep 0.05
	done) &
	SPY_PID=$!
	remember "$SPY_PID"
}

# unleaked DIR: the spy saw no secret in DIR, nor is one there now
unleaked() {
	kill "$SPY_PID"
	grep -rl SECRET "$1" >> "$T/leak" 2> /dev/null
	[ ! -s "$T/leak" ] || fail "root's secret reached the mirror: $(sort -u "$T/leak" | head -n 3)"
}

# as_nobody CMD...: run CMD as the user nobody
# LEASE: a perl sub, lease(FH), taking a write lease on FH, tried again
# for 2 s while it cannot be had: under fanotify the daemon opens a file
# a moment after each write to it, to see whether it is still written
LEASE='sub lease { for my $t (1 .. 200) { return 1 if fcntl($_[0], 1024, 1); select(undef, undef, undef, 0.01) } die "F_SETLEASE: $!\n" }'

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"
}

# user_dir DIR: DIR, made, belongs to nobody, who can reach it
user_dir() {
	command -v setpriv > /dev/null || skip "no setpriv (util-linux)"
	chmod 755 "$T" "$T/src"
	mkdir -p "$1"
	chown nobody "$1"
}

# gated_rsync WORD: $T/rsync counts its runs as the counting rsync does;
# one whose arguments have WORD first adds its pid to $T/g/at and waits
# for $T/g/go. Its jail needs "rjail = $T/g".
gated_rsync() {
	mkdir -p "$T/g"
	cat > "$T/rsync" <<-EOF2
	#!/bin/sh
	printf '%s\n' "\$\$ \$*" >> '$T/runs'
	case "\$*" in *"$1"*)
		echo \$\$ >> '$T/g/at'
		while [ ! -e '$T/g/go' ]; do sleep 0.05; done ;;
	esac
	exec /usr/bin/rsync "\$@"
	EOF2
	chmod 755 "$T/rsync"
}

t_a_symlink_swapped_in_before_a_sync_shows_the_mirror_nothing_outside_wpath() {
	secret
	mkdir -p src/pub/Y
	echo public > src/pub/Y/key
	gated_rsync --files-from
	mkconf c.conf "rjail = $T/runs" "rjail = $T/g"
	: > g/go
	start d -c c.conf
	wait_for 10 synced || fail "no first sync"
	rm g/go
	echo public2 > src/pub/Y/key
	wait_for 10 test -s g/at || fail "no sync started"
	mv src/pub/Y src/pub/Y.real
	ln -s "$T/secret" src/pub/Y
	spy dst
	: > g/go
	wait_for 10 synced || fail "the mirror did not converge"
	unleaked dst
	stop
}

# a directory swapped for a symlink to root's, over and over, while the
# daemon syncs what changes there. As root: rsync 3.5.0 itself refuses
# to follow a symlink that another user owns, 3.2.7 (Debian 12, OpenWrt)
# does not, so a root symlink stands for any with the older rsync
t_a_swap_loop_against_the_syncs_shows_the_mirror_nothing_outside_wpath() {
	secret
	mkdir -p src/pub/Y.d
	boot "rjail = $T/runs" "edelay = 0.05"
	spy dst
	(cd src/pub || exit 1
		while [ ! -e "$T/stop" ]; do
			mv Y.d Y && echo public > Y/key && sleep 0.02
			mv Y Y.d && ln -s "$T/secret" Y && sleep 0.02
			rm Y
		done) > swap.log 2>&1 &
	remember $!
	observe 5
	: > stop
	wait_for 10 synced || fail "the mirror did not converge"
	runs_at_least 20 || fail "only $(runs) rsync runs: the loop made too few syncs to tell"
	unleaked dst
	stop
}

# placing_daemon: the secret, src/pub, an rsync daemon with chroot (one
# without keeps no symlink out of it), the daemon synced to it, and a spy
# on it
placing_daemon() {
	secret
	mkdir -p src/pub
	RSYNCD_CHROOT=yes rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 0.5" "rjail = $T/runs"
	wait_for 10 synced_with src r || fail "no first sync"
	spy r
}

# placed_nothing_of_root: the daemon's mirror converges, and the spy saw
# none of root's secret there
placed_nothing_of_root() {
	wait_for 10 synced_with src r || fail "the mirror did not converge"
	wait_for 10 idle || fail "rsync still runs"
	unleaked r
	stop
}

# a directory moved, then swapped for a symlink before its move is placed
t_a_moved_directory_swapped_for_a_symlink_is_not_placed() {
	mkdir -p src/pub/X
	echo public > src/pub/X/key
	placing_daemon
	mv src/pub/X src/pub/Y
	mv src/pub/Y src/pub/Y.real
	ln -s ../../secret src/pub/Y
	placed_nothing_of_root
}

# a file moved, then its directory swapped for a symlink to one that
# holds a file of the moved one's new name
t_a_moved_file_whose_directory_is_swapped_is_not_placed() {
	mkdir -p src/pub/D
	echo public > src/pub/D/a
	placing_daemon
	mv src/pub/D/a src/pub/D/secretfile
	mv src/pub/D src/pub/D.real
	ln -s ../../secret src/pub/D
	placed_nothing_of_root
}

# a directory moved, removed and made again with files of the same names,
# sizes and times: what is there is no longer what moved, and the mirror
# must show the new files, which rsync's quick check would take for the
# old ones
t_a_directory_made_anew_after_its_move_is_not_placed() {
	mkdir -p src/site
	printf 'old1\n' > src/site/f
	boot "edelay = 0.5"
	wait_for 10 synced || fail "no first sync"
	touch -r src/site/f ref
	mv src/site src/bak
	rm -rf src/bak
	mkdir src/bak
	printf 'new1\n' > src/bak/f
	touch -r ref src/bak/f
	wait_for 10 synced || fail "the mirror kept the old content under the new name"
	stop
}

# a user holds hundreds of files with truncate(2), which opens nothing,
# under paths near PATH_MAX: every sync still runs
t_one_user_holding_many_files_stalls_no_sync() {
	command -v perl > /dev/null || skip "no perl for truncate(2)"
	user_dir src/u
	boot "wsettle = 60"
	as_nobody sh -c '
		d=$1/src/u
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do
			d=$d/$(printf "%0250d" "$i")
		done
		mkdir -p "$d" && cd "$d" || exit 1
		i=0
		while [ $i -lt 900 ]; do
			: > "$(printf "%0200d" "$i")"
			i=$((i + 1))
		done
		perl -e "truncate(\$_, 1) or die \"\$_: \$!\" for glob(q(*))"' hold "$T" > hold.log 2>&1 ||
		fail "the user could not make its files: $(tail -n 2 hold.log)"
	echo other > src/other
	wait_for 10 test -f dst/other || fail "a user's held files stopped the syncs: $(grep -i 'failed\|cannot' d.log | tail -n 2)"
	stop
}

# the mover stops at the first rsync that cannot reach the destination:
# the rest would wait as long, and the sync after them too
t_a_mover_stops_at_an_unreachable_destination() {
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		mkdir -p "src/d$i"
		echo "$i" > "src/d$i/f"
	done
	rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 0.5"
	wait_for 10 synced_with src r || fail "no first sync"
	rsyncd_stop
	for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		mv "src/d$i/f" "src/d$i/g"
	done
	wait_for 10 runs_at_least 1 --fuzzy || fail "no move was tried"
	wait_for 10 log_has d "not all placed" || fail "the mover did not end"
	[ "$(runs --fuzzy)" = 1 ] || fail "$(runs --fuzzy) placing rsyncs to a destination that is down, want 1"
	stop
}

# lines_at_least N FILE
lines_at_least() {
	[ "$(wc -l < "$2")" -ge "$1" ]
}

# a mover holds no fd of the daemon's: not another destination's pipes
t_a_mover_holds_no_other_destinations_pipes() {
	mkdir -p src/a src/b r/1 r/2
	echo x > src/a/f
	gated_rsync --fuzzy
	rsyncd_start
	mkconf c.conf "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/1/" \
		"rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/2/" "edelay = 0.3"
	: > g/go
	start d -c c.conf
	wait_for 10 synced_with src r/1 || fail "no first sync"
	wait_for 10 synced_with src r/2 || fail "no first sync"
	rm g/go
	mv src/a/f src/b/g
	wait_for 10 test -f g/at || fail "no mover ran"
	wait_for 10 lines_at_least 2 g/at || fail "the second mover did not run"
	for p in $(children "$PID"); do
		for f in /proc/"$p"/fd/*; do
			case ${f##*/} in 0 | 1 | 2) continue ;; esac
			case $(readlink "$f") in pipe:*)
				fail "mover $p holds a pipe as fd ${f##*/}" ;;
			esac
		done
	done
	: > g/go
	wait_for 10 synced_with src r/1 || fail "the move did not reach r/1"
	wait_for 10 synced_with src r/2 || fail "the move did not reach r/2"
	stop
}

# while its mover places moves, a destination says so: placing, not
# syncing, in the statusfile and the metricsfile
t_a_destination_whose_mover_runs_is_placing() {
	mkdir -p src/a src/b r
	echo x > src/a/f
	gated_rsync --fuzzy
	rsyncd_start
	mkconf c.conf "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 0.3" \
		"statusfile = $T/status" "metricsfile = $T/m.prom"
	: > g/go
	start d -c c.conf
	wait_for 10 synced_with src r || fail "no first sync"
	rm g/go
	mv src/a/f src/b/g
	wait_for 10 test -f g/at || fail "no mover ran"
	wait_for 5 dest_is placing || fail "state $(statusval status dest1_state) while the mover runs"
	grep -q '^inosync_state{.*state="placing"} 1$' m.prom ||
		fail "the metricsfile does not say placing: $(grep inosync_state m.prom)"
	: > g/go
	wait_for 10 synced_with src r || fail "the move did not arrive"
	wait_for 5 dest_is idle || fail "state $(statusval status dest1_state) after it"
	stop
}

# dest_is STATE: the statusfile $T/status says the destination is in STATE
dest_is() {
	[ "$(statusval "$T/status" dest1_state)" = "$1" ]
}

# rdelete = no: a directory replaced by a symlink or a file stays in the
# backup (rsync cannot put the new entry there without deleting it), and
# the destination goes on, not retrying that for ever
t_a_backup_keeps_a_directory_replaced_by_a_symlink_and_goes_on() {
	mkdir -p src/D src/E
	echo a > src/D/f
	echo b > src/E/f
	boot "rdelete = no" "statusfile = $T/status"
	wait_for 10 synced || fail "no first sync"
	rm -rf src/D src/E
	ln -s elsewhere src/D
	echo file > src/E
	echo new > src/new
	wait_for 10 test -f dst/new || fail "the sync did not run"
	wait_for 10 idle || fail "rsync still runs"
	wait_for 10 dest_is idle || fail "the destination is $(statusval status dest1_state), not idle"
	[ -f dst/D/f ] && [ -f dst/E/f ] || fail "the backup lost the replaced directories"
	[ "$(statusval status dest1_owed_since)" = 0 ] || fail "the destination still owes: $(cat status)"
	stop
}


# no_arg_unsecluded: every rsync the counting rsync saw for the ssh
# destination has -s, so no path of ours is on the remote command line
no_arg_unsecluded() {
	grep -F -- ' -e ' "$T/runs" | grep -vF -- ' -s ' > "$T/.plain"
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
	boot "rnodes = 127.0.0.1:$T/r/" "rsh = $SSH_RSH" "rjail = $T" "rjail = /opt/rsync-3.2.7"
	wait_for 10 synced_with src r || fail "no first sync"
	mv "src/$o/x" src/n/x
	wait_for 10 synced_with src r || fail "the mirror did not converge"
	stop
	[ ! -e pwned ] || fail "the remote shell ran a line of a path"
	no_arg_unsecluded
}

# --- attacks of the trust review (each fails while its weakness stands) ---

# watched_outside PID DIR: the daemon holds an inotify watch on a
# directory under DIR (by inode); prints them
watched_outside() {
	cat "/proc/$1/fdinfo/"* 2> /dev/null |
		sed -n 's/^inotify wd:[0-9a-f]* ino:\([0-9a-f]*\) .*/\1/p' > "$T/.watched"
	find "$2" -type d -printf '%i %p\n' | awk '
		NR == FNR { w[$1]; next }
		(sprintf("%x", $1) in w) { print; n++ } END { exit !n }' "$T/.watched" -
}

# a directory made, then at once renamed away and its name given to a
# symlink to root's directory, before the daemon adds its watch: the watch
# (inotify_add_watch follows a symlink) and the scan (opendir) follow it,
# so root's directory and all below it are watched and scanned as part of
# wpath: its names reach the daemon's tree and log, and a symlink to /
# has the daemon watch and scan the whole system, using up root's inotify
# watches
t_a_directory_swapped_for_a_symlink_before_its_watch_is_not_followed() {
	command -v perl > /dev/null || skip "no perl for a fast rename loop"
	secret
	mkdir -p "$T/secret/s1/s2/s3"
	mkdir -p src
	user_dir src/u
	boot
	# the race is the user's to win: rounds until it is won, or 8
	for r in 1 2 3 4 5 6 7 8; do
		# shellcheck disable=SC2016 # perl's variables
		as_nobody perl -e 'mkdir $ARGV[0]; chdir $ARGV[0] or die "$!\n";
			for my $i (1 .. 1000) {
				mkdir "d$i" or die "mkdir: $!\n";
				rename "d$i", "x$i" or die "rename: $!\n";
				symlink $ARGV[1], "d$i" or die "symlink: $!\n";
			}' "$T/src/u/$r" "$T/secret" > race.log 2>&1 ||
			fail "the user's loop failed: $(cat race.log)"
		wait_for 10 idle || fail "rsync still runs"
		observe 0.5
		watched_outside "$PID" "$T/secret" > /dev/null && break
	done
	! watched_outside "$PID" "$T/secret" ||
		fail "the daemon watches root's directories through a symlink (above)"
	stop
}

# fake_rsh BODY: $T/bin/rsh, a remote shell that runs the sh code BODY
# instead of reaching any host (what a hostile or wedged peer makes of
# the session)
fake_rsh() {
	mkdir -p "$T/bin"
	printf '#!/bin/sh\n%s\n' "$1" > "$T/bin/rsh"
	chmod 755 "$T/bin/rsh"
}

# a remote end that never closes the session (a forced command that
# ignores EOF, a wedged peer): rsync times out after rtimeout and exits,
# but the child outside the jail waits for the remote shell for ever, so
# the destination is never retried. Unjailed (rjail = no), the sync
# fails and is retried
t_a_remote_shell_that_never_ends_holds_no_destination() {
	command -v perl > /dev/null || skip "no perl for the hanging shell"
	fake_rsh "exec perl -e 'sleep 1000' '$T/hang'"
	mkdir -p src
	echo x > src/f
	mkconf c.conf "rnodes = 127.0.0.1:$T/r/" "rsh = $T/bin/rsh" "rtimeout = 2"
	start d -c c.conf
	wait_for 30 log_has d "failed after" ||
		fail "the sync never ended: $(for p in $(children "$PID"); do printf '%s ' "$(progname "$p"):$(cat "/proc/$p/wchan")"; done)"
	stop
}

# a remote end that writes without end on its stderr, which ssh hands to
# rsync's stderr, the daemon's pipe: every line is logged, as an error,
# without bound (here some 20 MB a second), and in a jail for ever (the
# child outside waits for the shell); a log on disk or syslog fills
t_a_remote_that_floods_stderr_fills_no_log() {
	fake_rsh "exec yes 'remote says hello' '$T' >&2"
	mkdir -p src
	echo x > src/f
	mkconf c.conf "rnodes = 127.0.0.1:$T/r/" "rsh = $T/bin/rsh" "rtimeout = 2"
	start d -c c.conf
	observe 5
	_fl_n=$(wc -c < d.log)
	[ "$_fl_n" -lt 1000000 ] || fail "the remote wrote $_fl_n bytes into the daemon's log in 5 s"
	stop
}

# a user's sparse file, which takes no room in wpath, is written out whole
# at the mirror (rsync without -S): 1 GiB of nothing fills a destination
# with less room, rsync's receiver dies there (exit 11) with the disk
# full, and every retry does it again, until the user removes the file
t_a_sparse_file_fills_no_destination() {
	mkdir -p src
	user_dir src/u
	mount_tmpfs "$T/dst" 32m
	boot
	as_nobody truncate -s 1G "$T/src/u/big" || fail "the user could not make a sparse file"
	echo later > src/zz
	wait_for 20 synced || fail "the destination never syncs: $(grep -m 1 'No space' d.log)"
	stop
}

# a local destination whose path passes through a directory a user owns
# (a mirror in a user's area): the user swaps the last directory for a
# symlink to one of root's, and root's next rsync (the jail's bind mount
# follows the symlink, as rsync would) deletes what is there and writes
# the mirror in its place
t_a_local_destination_swapped_for_a_symlink_is_not_followed_out() {
	mkdir -p src victim
	echo precious > victim/keep
	user_dir pub
	: > runs # the jail shows the destination as it is, not through $T
	boot "rnodes = $T/pub/m" "rjail = $T/runs"
	wait_for 10 synced_with src pub/m || fail "no first sync"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'mv "$1/m" "$1/old" && ln -s "$2" "$1/m"' sw "$T/pub" "$T/victim" ||
		fail "the user could not swap the destination"
	echo new > src/g
	wait_for 10 log_has d "cannot fill the jail for $T/pub/m" || fail "no second sync tried"
	wait_for 10 idle || fail "rsync still runs"
	[ -f victim/keep ] || fail "root's directory was emptied and written over: $(find victim -mindepth 1 -printf "%P ")"
	[ ! -e victim/g ] || fail "root's rsync wrote the mirror into root's directory"
	stop
}

# rsync's log file in a directory a user may write (an admin's choice),
# swapped for a symlink to a file of root's: root's rsync appends nothing
# to that file (the jail shows the log reached without a symlink, or the
# sync fails)
t_a_log_file_swapped_for_a_symlink_is_not_written_through() {
	mkdir -p src
	echo precious > victim
	user_dir logs
	: > runs
	boot "logfile = $T/logs/rsync.log" "rjail = $T/runs"
	wait_for 10 test -s logs/rsync.log || fail "rsync wrote no log"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'rm "$1/rsync.log" && ln -s "$2" "$1/rsync.log"' sw "$T/logs" "$T/victim" ||
		fail "the user could not swap the log file"
	echo new > src/g
	wait_for 10 test -f dst/g || fail "the sync stalls on the swapped log"
	log_has d "rsync.log is no regular file: not logged to" || fail "the swap was not said"
	wait_for 10 idle || fail "rsync still runs"
	[ "$(cat victim)" = precious ] || fail "root's rsync wrote its log into root's file: $(head -n 2 victim)"
	stop
}

# reading PATH: some process of this test has a file open whose path ends
# in PATH
reading() {
	find /proc/[0-9]*/fd -lname "*$1" 2> /dev/null | grep -q .
}

# fifo_jam DIR: the user's big file a and small z in src/u, whose rsync
# reads a slowly (rspeed); z is swapped for a FIFO under it, so that the
# sender that listed z as a file opens a FIFO no writer comes to (it
# would wait in open() for ever: rsync's --timeout counts silence in its
# own I/O loop only); then a later change must reach DIR, and the FIFO,
# held back for wsettle (2 s), too
fifo_jam() {
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'head -c 3000000 /dev/zero > "$1/a" && echo z > "$1/z"' u "$T/src/u" ||
		fail "the user could not write"
	wait_for 10 reading /src/u/a || fail "rsync never read the user's big file"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'rm "$1/z" && mkfifo "$1/z"' u "$T/src/u" || fail "no FIFO"
	echo other > src/other
	wait_for 30 test -f "$1/other" || fail "the destination stalls: $(for p in $(leftover_rsync); do printf '%s ' "$p:$(cat "/proc/$p/wchan")"; done)"
	# an emulated daemon reads the open call of another architecture's
	# rsync (its syscall numbers), and cannot hold the FIFO back
	native_inosync || { stop; return 0; }
	wait_for 10 log_has d "/u/z still open after 2 s: syncing it as it is" ||
		fail "the FIFO was not held back"
	wait_for 10 test -p "$1/u/z" || fail "the FIFO was not mirrored as one"
	stop
}

t_a_file_swapped_for_a_fifo_under_rsync_stalls_no_destination() {
	mkdir -p src
	user_dir src/u
	boot "rtimeout = 3" "rspeed = 1000" "wsettle = 2"
	fifo_jam dst
}

# the same where the jailed rsync's processes are not the daemon's
# children but its grandchildren (the relay's child runs them)
t_a_fifo_under_rsync_to_ssh_stalls_no_destination() {
	sshd_start
	mkdir -p src r
	user_dir src/u
	boot "rnodes = 127.0.0.1:$T/r" "rsh = $SSH_RSH" "rtimeout = 3" "rspeed = 1000" \
		"wsettle = 2"
	fifo_jam r
}

# rsync_wchans: pid:wchan of this test's rsyncs still running
rsync_wchans() {
	for _rw_p in $(leftover_rsync); do
		printf '%s ' "$_rw_p:$(cat "/proc/$_rw_p/wchan")"
	done
}

# waitev: $T/waitev DIR EVENT NAME [FROM TO], a user's inotify watch on
# DIR that exits when NAME is opened (EVENT open), read (read) or closed
# unwritten (close), by anyone, first renaming FROM to TO in DIR if given:
# how the user knows where root's rsync is in its list, and acts at once
# (a read is rsync's sender's: the daemon opens a user's file to look for
# a writer or a lease, but never reads it). EVENT unmount: when the
# filesystem DIR is the root of goes (NAME unused). It writes "watching"
# once it is.
waitev() {
	command -v cc > /dev/null || skip "no cc for the inotify helper"
	cat > "$T/waitev.c" <<-'EOC'
	#include <stdio.h>
	#include <string.h>
	#include <sys/inotify.h>
	#include <unistd.h>
	int main(int c, char **v) {
		char b[8192]; int fd = inotify_init();
		unsigned m = !strcmp(v[2], "open") ? IN_OPEN :
		    !strcmp(v[2], "read") ? IN_ACCESS :
		    !strcmp(v[2], "unmount") ? IN_UNMOUNT : IN_CLOSE_NOWRITE;
		if ((c != 4 && c != 6) || inotify_add_watch(fd, v[1], m) < 0 ||
		    (c == 6 && chdir(v[1]) < 0)) /* none where it may pin a mount */
			return 2;
		puts("watching");
		fflush(stdout);
		for (;;) {
			ssize_t n = read(fd, b, sizeof(b)), o = 0;
			if (n <= 0) return 1;
			while (o < n) {
				struct inotify_event *e = (void *)(b + o);
				if (e->mask & IN_UNMOUNT ||
				    (e->len && !strcmp(e->name, v[3])))
					return c == 6 && rename(v[4], v[5]) < 0 ? 3 : 0;
				o += sizeof(*e) + e->len;
			}
		}
	}
	EOC
	cc -o "$T/waitev" "$T/waitev.c" || skip "cannot build the inotify helper"
	chmod 755 "$T/waitev"
}

# the FIFO removed (or renamed) once rsync's sender waits in open() on
# it: the sender waits on an inode that no name reaches any more, so no
# writer can be given to it by its path. The user learns when the sender
# is there by inotify on its own files (y, the file before the FIFO z,
# closed), and removes the FIFO at once, round after round.
t_a_fifo_removed_under_a_waiting_sender_stalls_no_destination() {
	waitev
	mkdir -p src
	user_dir src/u
	boot "rtimeout = 3" "rspeed = 1000"
	for r in 1 2 3 4 5 6; do
		# shellcheck disable=SC2016 # the user's shell expands them
		as_nobody sh -c '
			cd "$1" || exit 1
			mkdir "$2" && cd "$2" || exit 1
			"$3" . open a & w=$!
			head -c 3000000 /dev/zero > a && echo y > y && echo z > z
			wait $w || exit 1
			rm z && mkfifo z || exit 1
			"$3" . close y || exit 1
			sleep 0.15
			rm z' u "$T/src/u" "r$r" "$T/waitev" > race.log 2>&1 ||
			fail "the user's round failed: $(cat race.log)"
		echo "$r" > "src/other$r"
		wait_for 10 test -f "dst/other$r" || break
		wait_for 10 idle || break
	done
	wait_for 20 test -f "dst/other$r" ||
		fail "the destination stalls for ever after round $r: $(rsync_wchans)"
	stop
}

# with rsync 3.2.7 (Debian 12, OpenWrt), which opens "u/e/z" from its
# directory with O_NOFOLLOW on the last component only: the directory e,
# listed with its file z, is swapped for a symlink to a directory g that
# holds a FIFO z, while rsync reads the big file before z. The kernel
# follows e and the sender waits on g/z, which a walk of the same path
# that follows no symlink does not reach.
t_a_fifo_behind_a_symlinked_directory_stalls_no_destination_with_rsync_3_2_7() {
	rsync327
	waitev
	mkdir -p src
	user_dir src/u
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'cd "$1" && mkdir e g && mkfifo g/z' u "$T/src/u" || fail "the user could not set up"
	boot "rtimeout = 3" "rspeed = 1000" "rjail = $T" "rjail = /opt/rsync-3.2.7"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c '
		cd "$1" || exit 1
		"$2" e open a & w=$!
		head -c 3000000 /dev/zero > e/a && echo z > e/z
		wait $w || exit 1
		mv e e.old && ln -s g e' u "$T/src/u" "$T/waitev" > race.log 2>&1 ||
		fail "the user's swap failed: $(cat race.log)"
	echo other > src/other
	wait_for 30 test -f dst/other ||
		fail "the destination stalls: $(rsync_wchans)"
	stop
}

# many FIFOs in a row, swapped in while rsync reads the big file before
# them: were each given a writer in turn, at a look a second, 150 of them
# would hold the destination over two minutes at every sync
t_many_fifos_in_a_row_stall_no_destination() {
	waitev
	mkdir -p src
	user_dir src/u
	boot "rspeed = 1000"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c '
		cd "$1" || exit 1
		"$2" . open a & w=$!
		i=100; while [ $i -lt 250 ]; do echo $i > f$i; i=$((i + 1)); done
		head -c 2000000 /dev/zero > a
		wait $w || exit 1
		i=100; while [ $i -lt 250 ]; do rm f$i && mkfifo f$i; i=$((i + 1)); done' \
		u "$T/src/u" "$T/waitev" > race.log 2>&1 || fail "the user's swap failed: $(cat race.log)"
	echo other > src/other
	wait_for 30 test -f dst/other ||
		fail "the destination stalls: $(grep -c "swapped in or a user's lease" d.log) FIFOs met so far"
	stop
}

# forkers_gone: no process of the forking helper of the test below runs
forkers_gone() {
	[ -z "$(procs_with "$T/forker")" ]
}

# the look for a stuck rsync reads /proc/PID/stat of every process once
# a second while a sync runs (some 15 us each): a user with 10000
# sleeping processes (nobody may have 96000 here; pid_max is 32768) and
# a slow sync of a big file had the daemon use 15 % of a CPU
t_a_user_with_many_processes_makes_the_daemon_spin_on_nothing() {
	command -v cc > /dev/null || skip "no cc for the forking helper"
	printf '%s\n' '#include <unistd.h>' '#include <stdlib.h>' \
		'int main(int c, char **v) { int n = atoi(v[1]);' \
		'while (n-- > 0) if (fork() == 0) { pause(); _exit(0); }' \
		'pause(); return 0; }' > forker.c
	cc -O2 -static -o forker forker.c 2> /dev/null || cc -O2 -o forker forker.c || skip "cannot build the forking helper"
	chmod 755 "$T" forker
	mkdir -p src
	user_dir src/u
	boot "rspeed = 1000"
	setsid setpriv --reuid=nobody --regid=nogroup --clear-groups "$T/forker" 10000 &
	FK=$!
	remember "$FK"
	# shellcheck disable=SC2064 # now
	trap "kill -TERM -$FK 2> /dev/null" EXIT
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'head -c 40000000 /dev/zero > "$1/big"' u "$T/src/u" || fail "the user could not write"
	wait_for 10 busy || fail "no sync of the big file"
	observe 3
	calm 5 || fail "the daemon spins with $(find /proc -maxdepth 1 -name '[0-9]*' | wc -l) processes on the machine"
	kill -TERM -"$FK" || fail "the user's processes could not be stopped"
	wait_for 10 forkers_gone || fail "the user's processes outlive SIGTERM: $(procs_with "$T/forker" | wc -l) left"
	stop
}

# rsync's log file in a directory a user may write (an admin's choice,
# as in t_a_log_file_swapped_for_a_symlink_is_not_written_through),
# swapped for a FIFO that the user holds open (O_RDWR: it never blocks)
# and has filled: rsync's first log line would wait in write() for ever
t_a_log_file_swapped_for_a_full_fifo_stalls_no_destination() {
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src
	user_dir logs
	: > runs
	boot "logfile = $T/logs/rsync.log" "rjail = $T/runs"
	wait_for 10 test -s logs/rsync.log || fail "rsync wrote no log"
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e '
		use Fcntl;
		unlink $ARGV[0]; system("mkfifo", $ARGV[0]) == 0 or die "mkfifo\n";
		sysopen(my $f, $ARGV[0], O_RDWR | O_NONBLOCK) or die "$!\n";
		1 while syswrite($f, "x" x 4096);
		open(my $o, ">", "$ARGV[0].full") and close $o;
		sleep 1 for 1 .. 150;' "$T/logs/rsync.log" > fifo.log 2>&1 &
	remember $!
	wait_for 10 test -e logs/rsync.log.full || fail "the user could not fill a FIFO: $(cat fifo.log)"
	echo new > src/g
	wait_for 30 test -f dst/g || fail "the destination stalls: $(rsync_wchans)"
	stop
}

# a filesystem mounted outside wpath and the jail: unshare() gives each
# jail a copy of the whole mount table, and a chroot jail kept it while
# its rsync ran, so a disk unmounted meanwhile (a USB stick taken away)
# stayed mounted, unwritten, until the sync ended: IN_UNMOUNT on its root
# tells when it really goes. The jail's root is now its namespace's root
# and the copy goes (rjail is runs alone here: the test's directory holds
# the disk).
t_a_jail_pins_no_filesystem_it_does_not_show() {
	waitev
	mkdir -p src disk
	mount_tmpfs "$T/disk" 8m
	: > runs
	boot "rspeed = 1000" "rjail = $T/runs"
	head -c 30000000 /dev/zero > src/big
	wait_for 10 busy || fail "no sync of the big file"
	{ ./waitev "$T/disk" unmount -; echo "$?" > unmounted.rc; } > unmounted.log &
	remember $!
	wait_for 5 test -s unmounted.log || fail "the helper watches nothing"
	umount "$T/disk" || fail "cannot unmount the disk"
	wait_for 5 test -s unmounted.rc ||
		fail "the disk is still mounted in a jail: $(busy && echo "its rsync runs")"
	busy || fail "the sync ended before the disk went: nothing to test"
	stop
}

# a sandbox (seccomp, a security module) that lets a jail pivot its root
# but not let go of the old one: the old root would stay on top of the
# jail's, its ".." leading out, so no jail could be closed and every sync
# failed. The probe at start finds it, and the jails are chroots, as
# before (the helper makes umount2() fail with EPERM, as such a sandbox).
t_a_jail_that_may_not_let_go_of_the_mount_table_is_a_chroot() {
	command -v cc > /dev/null || skip "no cc for the seccomp helper"
	printf '%s\n' '#include <errno.h>' '#include <stddef.h>' '#include <unistd.h>' \
		'#include <linux/filter.h>' '#include <linux/seccomp.h>' \
		'#include <sys/prctl.h>' '#include <sys/syscall.h>' \
		'int main(int c, char **v) { struct sock_filter f[] = {' \
		'BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),' \
		'BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_umount2, 0, 1),' \
		'BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),' \
		'BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };' \
		'struct sock_fprog p = { 4, f };' \
		'if (c < 2 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||' \
		'prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p)) return 2;' \
		'execv(v[1], v + 1); return 2; }' > nounmount.c
	cc -o nounmount nounmount.c || skip "cannot build the seccomp helper"
	mkdir -p src
	echo a > src/a
	counting_rsync
	mkconf c.conf
	spawn d ./nounmount "$INOSYNC" -c "$T/c.conf"
	wait_for 10 synced || fail "no sync where a jail may not unmount: $(tail -n 3 d.log)"
	! log_has d "rsync runs unjailed" || fail "rsync ran unjailed: $(grep unjailed d.log)"
	# a reload probes again, and finds the same
	r=$(runs)
	kill -HUP "$PID"
	wait_for 10 runs_at_least $((r + 1)) || fail "no full sync after the reload"
	echo b > src/b
	wait_for 10 synced || fail "no sync after a reload: $(tail -n 3 d.log)"
	stop
}

# an rjail path that a user may change (theirs, or under a directory they
# own or may write): every jail shows it writable as it is, so the user
# could swap what rsync finds there for a symlink or a full FIFO (rsync's
# log file there: 3.2.7 appended its log to root's file through the
# symlink, 3.5.0 blocked for ever on the FIFO). Refused at its line; a
# sticky directory such as /tmp above it is not the user's to change.
t_an_rjail_path_a_user_may_change_is_refused() {
	mkdir -p src
	user_dir logs
	for j in "$T/logs" "$T/logs/sub"; do
		mkconf c.conf "logfile = $T/logs/rsync.log" "rjail = $j"
		"$INOSYNC" -t -c "$T/c.conf" > out 2> err && fail "rjail = $j was accepted"
		grep -qF "c.conf:6: rjail $j: every jail shows it as it is, but a user other than root may change $T/logs: refused" err ||
			fail "rjail = $j: not refused at its line: $(cat err)"
	done
	mkconf c.conf "logfile = $T/logs/rsync.log" "rjail = $T/runs"
	"$INOSYNC" -t -c "$T/c.conf" > out 2> err || fail "a root-owned rjail path under /tmp was refused: $(cat err)"
}

# a user's own files, each under a write lease the user holds (fcntl
# F_SETLEASE F_WRLCK on a read-only fd: allowed to a file's owner, and no
# file being written that wsettle holds back): rsync's sender would wait
# in open() for lease-break-time (45 s by default) at each of them, a
# thousand files 12 hours, the user taking the leases again for the next
# sync; a change of another user's must not wait behind them
t_a_users_leases_hold_back_only_their_own_files() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src
	user_dir src/u
	boot
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e "$LEASE" -e '
		use Fcntl; $SIG{IO} = "IGNORE"; chdir $ARGV[0] or die;
		for my $i (1 .. 2) {
			open(my $w, ">", "l$i") or die; print $w "x$i\n"; close $w;
			sysopen(my $r, "l$i", O_RDONLY) or die;
			lease($r); # F_WRLCK
			push @h, $r;
		}
		$| = 1; print "leased\n";
		sleep 1 for 1 .. 150;' "$T/src/u" > lease.log 2>&1 &
	remember $!
	wait_for 10 grep -q leased lease.log || fail "the user took no lease: $(cat lease.log)"
	wait_for 10 busy || fail "no sync of the user's files"
	echo other > src/other
	wait_for 30 test -f dst/other ||
		fail "the destination stalls: $(rsync_wchans)"
	stop
}

# a FIFO swapped in at every sync: round after round the user puts a
# regular b back (with a new a), learns from inotify when the next rsync
# reads a (its list is made), and swaps b for a FIFO again. Were each
# sync only started again, every one would stop at b, and nothing after
# u/b (here root's v/other) would ever reach the destination. b, held
# once it stalled rsync, stays held whatever the user does with it, so
# one sync is stopped, not one a round
t_a_fifo_swapped_in_at_every_sync_holds_back_only_that_file() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	waitev
	mkdir -p src/v
	user_dir src/u
	boot
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c '
		cd "$1" || exit 1
		head -c 8000000 /dev/zero > a || exit 1
		r=0
		while [ ! -e "$2/stop" ] && [ $r -lt 60 ]; do
			r=$((r + 1))
			rm -f b; touch a; echo "$r" > b; mkfifo f
			"$3" . read a f b || exit 1
			sleep 0.3
		done' u "$T/src/u" "$T" "$T/waitev" > loop.log 2>&1 &
	remember $!
	wait_for 10 log_lines d 1 "swapped in or a user's lease" || fail "the user's loop jammed nothing: $(cat loop.log)"
	log_has d "swapped in or a user's lease: it starts again, without that file" ||
		fail "the sync that stopped was not said"
	echo other > src/v/other
	wait_for 20 test -f dst/v/other ||
		fail "root's file never reached the destination: $(grep -c "swapped in or a user's lease" d.log) syncs killed, $(runs) rsync runs"
	: > stop
	stop
}

# lease_user DIR N NAMES...: as nobody, in DIR, keep N files open and
# written (held back by wsettle: w1..wN), then write NAMES and take a
# write lease on each (F_SETLEASE F_WRLCK, allowed to a file's owner);
# "leased" in $T/lease.log when done. Runs in the background for 150 s.
lease_user() {
	_lu_d=$1 _lu_n=$2
	shift 2
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e "$LEASE" -e '
		use Fcntl; $SIG{IO} = "IGNORE"; chdir shift @ARGV or die;
		my $n = shift @ARGV; my (@w, @h);
		for my $i (1 .. $n) {
			open(my $w, ">", "w$i") or die "w$i: $!\n";
			syswrite($w, "x"); push @w, $w;
		}
		sleep 1;
		for my $f (@ARGV) {
			open(my $w, ">", $f) or die; print $w "$f\n"; close $w;
			sysopen(my $r, $f, O_RDONLY) or die;
			lease($r); # F_WRLCK
			push @h, $r;
		}
		$| = 1; print "leased\n";
		for (1 .. 150) { sleep 1; syswrite($_, "x") for @w; }' \
		"$_lu_d" "$_lu_n" "$@" > "$T/lease.log" 2>&1 &
	remember $!
	wait_for 10 grep -q leased "$T/lease.log" || fail "the user took no lease: $(cat "$T/lease.log")"
}

# leases_stall_nothing N [LINE...]: boot with LINEs; the user keeps N
# files of theirs written and leases l1 and l2; root's v/other, listed
# after u/, must still arrive
leases_stall_nothing() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/v
	user_dir src/u
	_ls_n=$1
	shift
	boot "$@"
	lease_user "$T/src/u" "$_ls_n" l1 l2
	wait_for 10 busy || fail "no sync of the user's files"
	echo other > src/v/other
	wait_for 30 test -f dst/v/other ||
		fail "root's file stalls behind the user's leases: $(grep -c "swapped in or a user's lease" d.log) syncs killed, $(runs) rsync runs; $(rsync_wchans)"
	stop
}

# a user who keeps 64 files of their own open and written (held back by
# wsettle, as designed) has used up their share (HELDUSER); a file of
# theirs that stalls rsync must still be held back, or every sync would
# be stopped at it again until the lease breaks (45 s a file)
t_a_lease_is_held_back_though_its_owner_holds_64_files() {
	leases_stall_nothing 64
}

# wsettle = 0 holds back no file being written, but a file that stalls
# rsync is held back all the same (WSETTLE_MS), or the sync that starts
# again would stop at it at once
t_a_lease_is_held_back_with_wsettle_0() {
	leases_stall_nothing 0 "wsettle = 0"
}

# other_passes_leases WHAT: root's v/other reaches the destination, and
# two syncs at most stopped at the user's leases on its way; else fail
# with "root's file WHAT"
other_passes_leases() {
	echo other > src/v/other
	wait_for 30 test -f dst/v/other ||
		fail "root's file $1: $(grep -c "swapped in or a user's lease" d.log) syncs killed; $(rsync_wchans)"
	_op_k=$(grep -c "swapped in or a user's lease" d.log)
	[ "$_op_k" -le 2 ] || fail "$_op_k syncs stopped at the user's leases"
}

# leases a user placed beforehand on forty files of theirs: the first
# one a sync meets stops it, and the others are found then too, so the
# sync starts again once, not forty times, a second or more each (a
# thousand such files were minutes of every sync of every destination)
t_leases_placed_beforehand_cost_one_restart() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/v
	user_dir src/u
	boot
	# shellcheck disable=SC2046 # the names, split
	lease_user "$T/src/u" 0 $(seq -f l%g 40)
	wait_for 10 busy || fail "no sync of the user's files"
	other_passes_leases "stalls behind the user's leases"
	stop
}

# many_leases DIR N: as nobody, l1..lN made in DIR, each under a write
# lease; "leased" in $T/lease.log when done. Runs for 150 s, as $LEASER.
many_leases() {
	# shellcheck disable=SC2016 # perl's variables
	sh -c 'ulimit -n 8192 && exec "$@"' sh \
	setpriv --reuid=nobody --regid=nogroup --clear-groups perl -e "$LEASE" -e '
		use Fcntl; $SIG{IO} = "IGNORE"; chdir $ARGV[0] or die; my @h;
		for my $i (1 .. $ARGV[1]) {
			open(my $w, ">", "l$i") or die "l$i: $!\n"; print $w "x\n"; close $w;
			sysopen(my $r, "l$i", O_RDONLY) or die "$!\n";
			lease($r); # F_WRLCK
			push @h, $r;
		}
		$| = 1; print "leased\n";
		sleep 1 for 1 .. 150;' "$1" "$2" > "$T/lease.log" 2>&1 &
	LEASER=$!
	remember $LEASER
	wait_for 30 grep -q leased "$T/lease.log" || fail "the user took no lease: $(cat "$T/lease.log")"
}

# leased_in N [LINE...]: boot with LINEs and the metricsfile; the user's
# N leased files, made outside wpath (st/d), moved in at once as u/d,
# every one in place before the sync that meets them
leased_in() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/v st/d
	user_dir src/u
	chown nobody st st/d
	_li_n=$1
	shift
	boot "metricsfile = $T/m.prom" "$@"
	many_leases "$T/st/d" "$_li_n"
	as_nobody mv "$T/st/d" "$T/src/u/d" || fail "the user could not move the files in"
	wait_for 20 log_has d "swapped in or a user's lease" || fail "no sync met a lease"
}

# held N: the metric of files held back is N within 10 s; else fail
held() {
	wait_for 10 grep -qx "inosync_held_files $1" m.prom ||
		fail "held back: $(grep "^inosync_held_files" m.prom), not $1"
}

# a user's 1,024 leases are all found by one look. Held back one by one
# they took every one of HELDMAX's places, so that no file being written,
# root's included, could be held back any more, and each went to the
# mirror half written. Past half of HELDMAX they merge into the directory
# they are in, held back whole, below which a changed name rsync is given
# is left out too: else it met the lease at every sync, in vain
t_a_users_leases_leave_room_to_hold_files_being_written() {
	leased_in 1024
	held 1
	log_has d "/u/d/ held back whole" || fail "the merge was not said"
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e 'utime(undef, 1, @ARGV) or die "$!\n"' "$T/src/u/d/l7" ||
		fail "the user could not touch their file"
	other_passes_leases "waits behind a leased file changed below the directory held"
	exec 7> src/a
	echo "half written" >&7
	held 2
	exec 7>&-
	stop
}

# leases past the places for them made every sync of every destination
# wait for their break, 45 s each, and the user could take them again
# for the next: root's v/other, listed after u/ and a/, must arrive at
# once. The user's leases merge into u/d, held back whole; their lease in
# a/, where nothing else is held, is held on its own, past their share.
# Once the leases are gone, the files held whole reach the mirror when
# wsettle lets their directory go
t_leases_past_the_holds_delay_no_sync() {
	leased_in 600 "wsettle = 4"
	user_dir src/a
	a_lease "$T/src/a/l"
	echo other > src/v/other
	wait_for 30 test -f dst/v/other ||
		fail "root's file waits for the breaks of the user's leases: $(grep -c "swapped in or a user's lease" d.log) syncs killed; $(rsync_wchans)"
	log_has d "/u/d/ held back whole" || fail "the merge was not said"
	[ ! -f dst/u/d/l1 ] || fail "a leased file went to the mirror"
	kill "$LEASER"
	wait_for 20 test -f dst/u/d/l600 || fail "the user's files never arrived once let go"
	stop
}

# a_lease FILE: as nobody, FILE made, leased, and changed under the lease
# (its mtime: no open breaks the lease); "leased" in $T/lease2.log
a_lease() {
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e "$LEASE" -e '
		use Fcntl; $SIG{IO} = "IGNORE";
		open(my $w, ">", $ARGV[0]) or die "$!\n"; print $w "x\n"; close $w;
		sysopen(my $r, $ARGV[0], O_RDONLY) or die "$!\n";
		lease($r); # F_WRLCK
		utime(undef, 1, $ARGV[0]) or die "$!\n";
		$| = 1; print "leased\n";
		sleep 1 for 1 .. 150;' "$1" > "$T/lease2.log" 2>&1 &
	remember $!
	wait_for 10 grep -q leased "$T/lease2.log" || fail "the user took no lease: $(cat "$T/lease2.log")"
}

# the user's eight leases in u/d, each held back on its own, are their
# share; their lease in a/, where nothing is held to merge with, is held
# back on its own past it, or root's v/other, listed after a/, waited
# for its break
t_a_lease_where_nothing_is_held_is_held_past_the_users_share() {
	leased_in 8
	held 8
	user_dir src/a
	a_lease "$T/src/a/l"
	other_passes_leases "waits for the break of the user's lease in a/"
	held 9
	stop
}

# eight_held DIR: boot with the metricsfile; the user's eight leased
# files, made outside wpath, moved in at once as DIR (a path below
# $T/src), each held back on its own: the share of them is full
eight_held() {
	boot "metricsfile = $T/m.prom"
	many_leases "$T/st/d" 8
	as_nobody mv "$T/st/d" "$T/src/$1" || fail "the user could not move the files in"
	held 8
}

# roots_file_passes FILE: root's FILE (below src) reaches the mirror at
# once, and no directory was held back whole; else fail
roots_file_passes() {
	echo root > "src/$1"
	wait_for 10 test -f "dst/$1" ||
		fail "root's file is held back: $(grep "held back whole" d.log)"
	! log_has d "held back whole" || fail "a directory was held: $(grep "held back whole" d.log)"
}

# a user who may write in var/tmp (anyone's, sticky) and var/mail/nobody
# (theirs), but not in var: past their share, their lease in the second
# merged with their eight in the first into var, held back whole with
# root's var/log; it is held on its own, and no directory above the
# places they write in is held
t_a_users_leases_in_two_places_hold_back_nothing_above_them() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/var/tmp src/var/mail/nobody src/var/log st/d
	chmod 755 "$T" src src/var
	chmod 1777 src/var/tmp
	chown nobody src/var/mail/nobody st st/d
	eight_held var/tmp/d
	a_lease "$T/src/var/mail/nobody/f"
	held 9
	roots_file_passes var/log/syslog
	stop
}

# a group's directory, srv/app (root:staff, setgid, group-writable), in
# which root gave nobody, no member, two log files (of group staff, as
# the directory passes it on): past the share, nobody's leases on them
# merged into srv/app, held back whole with root's config, as if the
# file's group were one its owner is in; each is held on its own
t_leases_in_a_groups_directory_hold_back_no_more_than_them() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/srv/app src/pub st/d
	chmod 755 "$T" src
	chgrp staff src/srv src/srv/app
	chmod 2775 src/srv src/srv/app
	chmod 1777 src/pub
	touch src/srv/app/a.log src/srv/app/b.log
	chown nobody src/srv/app/a.log src/srv/app/b.log st st/d
	eight_held pub/d
	a_lease "$T/src/srv/app/a.log"
	held 9
	a_lease "$T/src/srv/app/b.log"
	held 10
	roots_file_passes srv/app/config
	stop
}

# fifo_rounds [AWAY]: as nobody, in u, round after round: make b$R,
# learn from inotify when the next rsync reads a (its list is made), swap
# b$R for a FIFO and, with AWAY, rename it to g$R while the sender waits
# at it, until $T/stop or 100 rounds
fifo_rounds() {
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c '
		cd "$1" || exit 1
		head -c 8000000 /dev/zero > a || exit 1
		r=0
		while [ ! -e "$2/stop" ] && [ $r -lt 100 ]; do
			r=$((r + 1))
			touch a; echo "$r" > "b$r"; mkfifo "f$r"
			"$3" . read a "f$r" "b$r" || exit 1
			sleep 0.3
			[ -z "$4" ] || mv "b$r" "g$r"
		done' u "$T/src/u" "$T" "$T/waitev" "${1-}" > loop.log 2>&1 &
	remember $!
}

# other_passes_fifos: root's v/other, listed after u/, reaches the
# destination, u/ held back whole; else fail
other_passes_fifos() {
	wait_for 10 log_lines d 2 "swapped in or a user's lease" || fail "the user's loop jammed nothing: $(cat loop.log)"
	echo other > src/v/other
	wait_for 40 test -f dst/v/other ||
		fail "root's file never reached the destination: $(grep -c "swapped in or a user's lease" d.log) syncs killed, $(runs) rsync runs"
	log_has d "/u/ held back whole" || fail "the merge was not said"
	: > stop
	stop
}

# lease_rounds N [file]: as nobody, round after round (N at most, or
# until $T/stop): st/xR made outside wpath with a file f under a write
# lease, moved in as u/xR (with "file", the file alone, as u/xR), which
# the next sync opens; once that open starts the lease's break (SIGIO),
# what was moved in is removed (a file, 1.5 s later: once it is held),
# and the next round
lease_rounds() {
	mkdir -p "$T/st"
	chown nobody "$T/st"
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e "$LEASE" -e '
		use Fcntl; use Time::HiRes "sleep"; my ($st, $to, $n, $stop, $file) = @ARGV;
		my (@keep, $hit);
		$SIG{IO} = sub { $hit = 1 };
		$| = 1;
		for my $r (1 .. $n) {
			last if -e $stop;
			mkdir "$st/x$r" or die "$!\n";
			open(my $w, ">", "$st/x$r/f") or die; print $w "x$r\n"; close $w;
			sysopen(my $h, "$st/x$r/f", O_RDONLY) or die;
			lease($h);
			push @keep, $h;
			@keep = @keep[-3 .. -1] if @keep > 3;
			$hit = 0;
			rename($file ? "$st/x$r/f" : "$st/x$r", "$to/x$r") or die "$!\n";
			print "round $r\n";
			sleep 0.05 until $hit || -e $stop;
			sleep 1.5 if $file; # once it is held
			unlink $file ? "$to/x$r" : "$to/x$r/f";
			rmdir "$to/x$r";
		}' "$T/st" "$T/src/u" "$1" "$T/stop" "${2-}" > "$T/lease.log" 2>&1 &
	remember $!
	wait_for 10 grep -q round "$T/lease.log" || fail "the user made no round: $(cat "$T/lease.log")"
}

# rounds_stop_no_sync_for_long: with lease_rounds of directories, root's
# v/other (listed after u/) arrives, u/ held back whole; else fail
rounds_stop_no_sync_for_long() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/v
	user_dir src/u
	boot
	lease_rounds 200
	wait_for 10 log_has d "swapped in or a user's lease" || fail "no sync met a lease"
	echo other > src/v/other
	wait_for 30 test -f dst/v/other ||
		fail "root's file never arrived: $(grep -c "swapped in or a user's lease" d.log) syncs stopped in $(grep -c round lease.log) rounds"
	log_has d "/u/ held back whole" || fail "the merge was not said"
	: > stop
	stop
}

# a leased file in a new directory at each sync, removed with its
# directory once the sync met it: each hold went with its directory, so
# none was ever merged, and the user stopped every sync, one a second,
# for as long as they liked; the holds stay, as of the names of the
# directories gone, and merge into u/
t_leased_directories_removed_at_each_sync_stop_no_sync_for_long() {
	rounds_stop_no_sync_for_long
}

# merged_or_rounds N: u/ is said held back whole, or the user made N
# rounds
merged_or_rounds() {
	log_has d "/u/ held back whole" || [ "$(grep -c round lease.log)" -ge "$1" ]
}

# the same with a leased file alone at each round, removed once held: its
# removal ended its hold, as a file being written's close or removal
# does, so the count never grew, nothing merged, and each round stopped
# a sync, for as long as the user went on
t_leased_files_removed_once_held_are_still_counted() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	user_dir src/u
	boot
	lease_rounds 200 file
	wait_for 60 merged_or_rounds 16 || fail "no merge and too few rounds: $(tail -n 3 lease.log)"
	log_has d "/u/ held back whole" ||
		fail "$(grep -c round lease.log) rounds stopped $(grep -c "swapped in or a user's lease" d.log) syncs, and nothing merged"
	: > stop
	stop
}

# a FIFO of a new name swapped in at every sync: each FIFO held back,
# each sync stopped at the next, and nothing after u/ (here root's
# v/other) reached the destination while the user kept it up; past the
# share of holds they merge into u/, held back whole
t_a_fifo_of_a_new_name_at_every_sync_stalls_no_destination() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	waitev
	mkdir -p src/v
	user_dir src/u
	boot
	fifo_rounds
	other_passes_fifos
}

# the same, each FIFO renamed away while the sender waits at it: held by
# a name gone, with no owner, it merged with nothing, and every sync was
# stopped again, one a second; its directory's owner is taken for its
# owner, the user who may rename there
t_a_fifo_renamed_away_under_rsync_merges_all_the_same() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	waitev
	mkdir -p src/v
	user_dir src/u
	boot
	fifo_rounds away
	other_passes_fifos
}

# the look at every file a sync owes costs the loop little, however deep
# the directory: the user's 400 leased copies in a local destination,
# 400 directories down, were each taken from / to the file in wpath, a
# walk of 400 directories a file
t_a_look_at_leases_deep_down_costs_the_loop_little() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src st
	user_dir src/u
	chown nobody st
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e 'my ($top, $d, $k) = @ARGV; mkdir $top or die; chdir $top or die;
		for (1 .. $d) { mkdir "d" or die "$!\n"; chdir "d" or die }
		for (1 .. $k) { open(my $f, ">", "f$_") or die "$!\n"; print $f "1\n" }' \
		"$T/st/t" 400 400 || fail "the user could not make the tree"
	boot
	as_nobody mv "$T/st/t" "$T/src/u/t" || fail "the user could not move it in"
	_dl_p=$(perl -e 'print "d/" x 400')
	# shellcheck disable=SC2016 # perl's variables
	wait_for 60 perl -e 'chdir $ARGV[0] or exit 1; exit !-f "f400"' "$T/dst/u/t/$_dl_p" ||
		fail "the user's files never arrived"
	wait_for 30 idle || fail "no end to their sync"
	# shellcheck disable=SC2016 # perl's variables
	sh -c 'ulimit -n 8192 && exec "$@"' sh \
	setpriv --reuid=nobody --regid=nogroup --clear-groups perl -e "$LEASE" -e '
		use Fcntl; $SIG{IO} = "IGNORE"; my ($dst, $src, $k) = @ARGV; my @h;
		chdir $dst or die "$!\n";
		for my $i (1 .. $k) {
			sysopen(my $r, "f$i", O_RDONLY) or die "f$i: $!\n";
			lease($r); # F_WRLCK
			push @h, $r;
		}
		chdir $src or die "$!\n";
		for my $i (1 .. $k) { open(my $w, ">", "f$i") or die; print $w "2, longer\n" }
		$| = 1; print "leased\n";
		sleep 1 for 1 .. 150;' "$T/dst/u/t/$_dl_p" "$T/src/u/t/$_dl_p" 400 > lease.log 2>&1 &
	remember $!
	_dl_c=$(cputime "$PID")
	wait_for 30 grep -q leased lease.log || fail "the user took no lease: $(cat lease.log)"
	wait_for 60 log_has d "swapped in or a user's lease" || fail "no sync met a lease"
	_dl_c=$(($(cputime "$PID") - _dl_c)) # the look ends before that line
	# 1,100 ms natively before the look was bounded, 100 now; a stretched
	# suite (a sanitizer build, two other suites beside) may take more
	[ "$_dl_c" -le $((30 * TEST_SCALE)) ] ||
		fail "the look at the user's leases took ${_dl_c}0 ms of the daemon's CPU"
	stop
}

# lease_in_dest N [LINE...]: boot with LINEs; a user's leases on N
# copies of their own files in the local destination, which rsync's
# receiver opens as the basis of each changed file: the sync would wait
# there for lease-break-time (45 s), and again at each change; the source
# files of those names are held back instead, all at the first restart
lease_in_dest() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	mkdir -p src/v
	user_dir src/u
	_ld_n=$1
	shift
	boot "$@"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'for i in $(seq "$2"); do echo one > "$1/l$i"; done' sh "$T/src/u" "$_ld_n"
	wait_for 10 test -f "dst/u/l$_ld_n" || fail "the user's files never arrived"
	wait_for 10 idle || fail "no end to their sync"
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e "$LEASE" -e '
		use Fcntl; $SIG{IO} = "IGNORE"; my @h;
		for my $f (@ARGV) {
			sysopen(my $r, $f, O_RDONLY) or die "$f: $!\n";
			lease($r); # F_WRLCK
			push @h, $r;
		}
		$| = 1; print "leased\n";
		sleep 1 for 1 .. 150;' $(seq -f "$T/dst/u/l%g" "$_ld_n") > lease.log 2>&1 &
	remember $!
	wait_for 10 grep -q leased lease.log || fail "the user took no lease: $(cat lease.log)"
	# shellcheck disable=SC2016 # the user's shell expands them
	as_nobody sh -c 'for i in $(seq "$2"); do echo two, longer > "$1/l$i"; done' sh "$T/src/u" "$_ld_n"
	wait_for 10 busy || fail "no sync of the user's change"
	other_passes_leases "waits behind the leases in the destination"
	stop
}

# in a jail, whose paths the daemon sees below CTLDIR
t_a_lease_in_a_local_destination_is_held_back() {
	lease_in_dest 1
}

t_a_lease_in_a_local_destination_is_held_back_unjailed() {
	lease_in_dest 1 "rjail = no"
}

# forty leased copies, one restart
t_leases_on_copies_in_a_local_destination_cost_one_restart() {
	lease_in_dest 40
}

# in a sticky world-writable directory (src/tmp, 1777, mirrored as such)
# a user may make in the destination a name root has not made yet, lease
# it, and take the lease again each time it is broken: root's file of
# that name in wpath must not be held back for it (it was, at every try,
# for good); the sync waits for the break once and replaces the copy
t_a_lease_in_the_destination_holds_back_no_file_of_another() {
	native_inosync || skip "an emulated daemon cannot read a native rsync's open call"
	command -v perl > /dev/null || skip "no perl"
	user_dir src/u
	mkdir -m 1777 src/tmp
	boot
	[ -d dst/tmp ] || fail "no dst/tmp"
	# shellcheck disable=SC2016 # perl's variables
	as_nobody perl -e "$LEASE" -e '
		use Fcntl; use Time::HiRes "time"; $SIG{IO} = "IGNORE"; my $f = $ARGV[0];
		open(my $w, ">", $f) or die "$f: $!\n"; print $w "mine\n"; close $w;
		sysopen(my $r, $f, O_RDONLY) or die;
		lease($r);
		$| = 1; print "leased\n";
		my $b = 0; # 3 s into a break (the stopped rsync gone): a new lease
		for (1 .. 3000) {
			select(undef, undef, undef, 0.05);
			next if fcntl($r, 1025, 0) == 1; # F_GETLEASE: still F_WRLCK
			$b ||= time; next if time - $b < 3;
			fcntl($r, 1024, 2); close $r; # F_UNLCK
			sysopen($r, $f, O_RDONLY) or die;
			$b = 0 if fcntl($r, 1024, 1);
		}' "$T/dst/tmp/report" > lease.log 2>&1 &
	remember $!
	wait_for 10 grep -q leased lease.log || fail "the user took no lease: $(cat lease.log)"
	echo "root's report" > src/tmp/report
	wait_for 100 grep -q "root's" dst/tmp/report ||
		fail "root's file is held back by a user's lease on their copy of its name: $(grep -c "swapped in or a user's lease" d.log) syncs stopped"
	stop
}

# the remote shell by PATH, whose empty element would be the current
# directory: an "ssh" there (the daemon's start directory, here $T) is
# not run
# the daemon runs ssh itself (the jail's relay) or rsync runs it (rjail =
# no, or under emulation): neither takes it from the current directory
# (empty_path_element PATH LINE...: with this $PATH and these config lines;
# the real ssh, if it is run, finds no server on port 9)
empty_path_element() {
	mkdir -p src
	echo a > src/a
	printf '#!/bin/sh\n: > "%s/ran"\nexit 255\n' "$T" > ssh
	chmod 755 ssh
	p=$1
	shift
	mkconf c.conf "rnodes = 127.0.0.1:$T/r" "rtimeout = 2" "rsh = ssh -p 9" "$@"
	spawn d env PATH="$p" "$INOSYNC" -c "$T/c.conf"
	wait_for 20 log_has d "sync failed" || fail "no sync tried"
	[ ! -e ran ] || fail "the ssh of the current directory was run"
	stop
}

t_an_empty_path_element_runs_no_remote_shell_from_the_current_directory() {
	empty_path_element ":.:bin:$PATH"
}

t_an_empty_path_element_runs_no_remote_shell_from_the_current_directory_unjailed() {
	empty_path_element ":.:bin:$PATH" "rjail = no"
}

t_a_path_of_only_an_empty_element_runs_no_remote_shell_from_the_current_directory() {
	empty_path_element ":" "rjail = no"
}
