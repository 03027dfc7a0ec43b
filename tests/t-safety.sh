# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Safety (issue: a vanished source never wipes a mirror; no input crashes,
# stalls or fools the daemon): paths past the length limits, mounts, slow
# log readers, children that never stop, planted files.

# deep DIR: make DIR/n.../n... 16 levels of 251-byte names; sets DEEP
deep() {
	_de_n=$(printf '%0251d' 0 | tr 0 n)
	DEEP=$1
	for _de_i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do
		DEEP=$DEEP/$_de_n
	done
	mkdir -p "$DEEP" || fail "cannot make 16 levels of 251-byte names"
}

t_directory_past_path_max_is_said_and_the_rest_still_syncs() {
	mkdir src
	echo a > src/a
	boot
	deep src
	# relative to wpath it fits PATH_MAX, the absolute path does not
	(cd "$DEEP" && mkdir "$(printf '%060d' 0)") || fail "cannot make the last directory"
	wait_for 10 log_has d "cannot watch a directory under $T/src/" ||
		fail "the directory past PATH_MAX was not said with its parent's path"
	kill -0 "$PID" || fail "the daemon died"
	echo b > src/b
	wait_for 10 cmp src/b dst/b || fail "a later change did not arrive"
	stop
}

# stuck_rsync MODE: write $T/rsync, the counting rsync except that its
# incremental syncs (--files-from) to $T/dst do MODE instead: "flood"
# writes to stderr without pause, "deaf" ignores SIGTERM and never exits;
# each makes $T/stuck first (a flood is yes, no longer named rsync)
stuck_rsync() {
	case $1 in
	flood) _sr_do=": > '$T/stuck'; exec yes 'rsync: error: flood $(printf '%0400d' 0)' >&2" ;;
	deaf) _sr_do=": > '$T/stuck'; trap '' TERM; while :; do sleep 1; done" ;;
	esac
	cat > "$T/rsync" <<-EOF
	#!/bin/sh
	printf '%s\n' "\$\$ \$*" >> '$T/runs'
	case "\$*" in *--files-from*" $T/dst") $_sr_do ;; esac
	exec /usr/bin/rsync "\$@"
	EOF
	chmod 755 "$T/rsync"
}

t_flooding_rsync_and_a_log_reader_that_stalls_hold_back_nothing() {
	mkdir src
	echo a > src/a
	stuck_rsync flood
	mkconf c.conf "rnodes = $T/dst" "rnodes = $T/dst2"
	# the daemon's log is a pipe that nobody reads, until later
	mkfifo logpipe
	exec 3<> logpipe
	"$INOSYNC" -c c.conf > logpipe 2>&1 &
	PID=$!
	remember "$PID"
	wait_for 10 synced_with src dst || fail "no first sync to the first destination"
	wait_for 10 synced_with src dst2 || fail "no first sync to the second destination"
	echo b > src/b
	wait_for 10 test -e stuck || fail "the flooding sync did not start"
	echo c > src/c
	wait_for 10 synced_with src dst2 ||
		fail "the second destination got nothing while the first floods the log"
	cat <&3 > d.log &
	remember $!
	# the next line says it: a sync's output is logged LOGLINES lines
	# at most (400-byte lines here, to fill the pipe within them)
	echo d > src/d
	wait_for 10 log_has d "log lines dropped" || fail "the dropped log lines were not said"
	kill $!
	stop
	exec 3<&-
}

t_reload_does_not_wait_for_an_rsync_that_ignores_sigterm() {
	mkdir src
	echo a > src/a
	boot
	stuck_rsync deaf
	echo b > src/b
	wait_for 10 test -e stuck || fail "the deaf sync did not start"
	mkconf c.conf "rnodes = $T/dst" "rnodes = $T/dst2"
	kill -HUP "$PID"
	wait_for 20 synced_with src dst2 || fail "the reload waits for the rsync that ignores SIGTERM"
	wait_for 10 synced || fail "the first destination did not converge after the reload"
	log_has d "stopped after" || fail "the killed sync was not said"
	stop
}

# alive_hooks: print how many rhooks (pids in $T/hooks) are alive
alive_hooks() {
	_ah_n=0
	while read -r _ah_p; do
		alive "$_ah_p" && _ah_n=$((_ah_n + 1))
	done < "$T/hooks"
	echo "$_ah_n"
}

# hooks_alive N: exactly N rhooks are alive
hooks_alive() {
	[ "$(alive_hooks)" = "$1" ]
}

t_rhook_that_never_exits_is_bounded_killed_and_not_left_behind() {
	printf '#!/bin/sh\necho $$ >> %s/hooks\nexec sleep 1000\n' "$T" > hook
	chmod 755 hook
	: > hooks
	boot "rhook = $T/hook" "rtimeout = 3"
	for i in 1 2 3; do
		echo "$i" > "src/f$i"
		wait_for 5 synced || fail "change $i not synced"
		[ "$(alive_hooks)" -le 1 ] || fail "$(alive_hooks) rhooks run at once for one destination"
	done
	wait_for 10 log_has d "rhook $T/hook killed after 3 s" || fail "the endless rhook was not killed and said"
	# the rhook of the syncs that ended while it ran comes next
	wait_for 5 hooks_alive 1 || fail "no rhook for the syncs that ended meanwhile"
	wait_for 10 log_lines d 2 "rhook $T/hook killed after 3 s" || fail "the second rhook was not killed"
	wait_for 10 hooks_alive 0 || fail "the killed rhooks still run"
	echo 4 > src/f4
	wait_for 5 synced || fail "change 4 not synced"
	wait_for 5 hooks_alive 1 || fail "no rhook after the next sync"
	stop
	wait_for 5 hooks_alive 0 || fail "$(alive_hooks) rhooks outlive the daemon"
}

t_fifo_planted_at_the_statusfile_temporary_name_stalls_nothing() {
	mkdir src
	mkfifo status.tmp
	boot "statusfile = $T/status"
	wait_for 5 test -s status || fail "no statusfile"
	echo a > src/a
	wait_for 10 synced || fail "no sync after the statusfile was due"
	[ -p status.tmp ] || fail "the planted FIFO was replaced"
	stop
}

t_hard_links_planted_at_the_statusfile_names_are_not_written() {
	mkdir src
	echo secret > victim
	echo other > victim2
	ln victim status.tmp
	ln victim2 status
	boot "statusfile = $T/status"
	wait_for 5 grep -q '^pid=' status || fail "no statusfile"
	[ "$(cat victim)" = secret ] || fail "the file linked at status.tmp was written"
	[ "$(cat victim2)" = other ] || fail "the file linked at status was written"
	for f in status.*; do
		[ "$f" = status.tmp ] || fail "a temporary statusfile was left: $f"
	done
	stop
}

t_pidfile_that_is_a_hard_link_or_a_fifo_is_refused() {
	mkdir src
	counting_rsync
	echo secret > victim
	ln victim linked.pid
	mkfifo fifo.pid
	for f in linked.pid fifo.pid; do
		mkconf c.conf "pidfile = $T/$f"
		timeout 5 "$INOSYNC" -c "$T/c.conf" > out 2> err
		rc=$?
		[ "$rc" = 1 ] || fail "started with $f as its pidfile: exit $rc"
		grep -qF "pidfile $T/$f" err || fail "the refusal does not name the pidfile: $(cat err)"
	done
	[ "$(cat victim)" = secret ] || fail "the file linked at the pidfile was written"
	[ "$(runs)" = 0 ] || fail "rsync ran"
}

# keep DIR: copy DIR to $T/kept, to see later that a destination lost nothing
keep() {
	rm -rf "$T/kept"
	cp -a "$1" "$T/kept" || fail "cannot copy $1"
}

# filled DIR: DIR holds a small tree
filled() {
	mkdir -p "$1/docs/deep"
	echo one > "$1/one"
	echo two > "$1/docs/two"
	echo three > "$1/docs/deep/three"
}

# statusis FILE KEY VALUE: the statusfile FILE has KEY=VALUE
statusis() {
	[ "$(statusval "$1" "$2")" = "$3" ]
}

# held_in FILE: the statusfile FILE says the source is held, with a reason
held_in() {
	[ "$(statusval "$1" source)" = held ] && [ -n "$(statusval "$1" source_reason)" ]
}

t_unmounted_wpath_empties_no_mirror_and_resumes_when_remounted() {
	mount_tmpfs "$T/src" 8m
	filled src
	boot "statusfile = $T/status"
	wait_for 10 synced || fail "no first sync"
	keep dst
	umount src || fail "cannot unmount the source"
	wait_for 10 grep -q "source held: $T/src/: wpath.*unmounted" d.log ||
		fail "the unmount was not said as a hold"
	# something writes to the bare mount point: still nothing may go
	echo stray > src/stray
	wait_for 5 held_in status || fail "the statusfile does not say source=held: $(cat status)"
	kill -USR2 "$PID"
	wait_for 5 log_has d "status: source=held" || fail "SIGUSR2 does not say source=held"
	calm 3 || fail "the daemon spins while the source is held"
	same kept dst || fail "the destination lost files while the source was unmounted"
	[ "$(grep -c 'source held' d.log)" = 1 ] || fail "the hold was said more than once"
	mount_tmpfs "$T/src" 8m
	filled src
	echo new > src/new
	wait_for 10 log_has d "source back: $T/src/" || fail "the remount was not said"
	wait_for 10 synced || fail "not synced after the remount"
	echo later > src/docs/later
	wait_for 10 synced || fail "the remounted source is not watched"
	wait_for 5 statusis status source ok || fail "the statusfile still says held"
	stop
}

t_lazily_unmounted_wpath_is_held_too() {
	mount_tmpfs "$T/src" 8m
	filled src
	boot
	wait_for 10 synced || fail "no first sync"
	keep dst
	umount -l src || fail "cannot unmount the source"
	wait_for 10 log_has d "source held: $T/src/" || fail "the lazy unmount was not said as a hold"
	echo stray > src/stray
	observe 3
	same kept dst || fail "the destination lost files after a lazy unmount"
	stop
}

t_start_on_an_empty_wpath_deletes_nothing_until_it_is_filled() {
	mkdir src
	filled dst
	keep dst
	counting_rsync
	mkconf c.conf
	start d -c c.conf
	wait_for 10 log_has d "source held: $T/src/: wpath is empty" || fail "the empty wpath was not said"
	kill -USR1 "$PID" # a full sync is owed, and waits
	wait_for 5 log_has d "full sync requested" || fail "SIGUSR1 was not said"
	calm 3 || fail "the daemon spins while the source is held"
	same kept dst || fail "the destination lost files to an empty wpath"
	[ "$(runs)" = 0 ] || fail "rsync ran while the source was held"
	mount_tmpfs "$T/src" 8m
	filled src
	echo new > src/new
	wait_for 10 synced || fail "not synced once the volume was mounted"
	echo later > src/later
	wait_for 10 synced || fail "the mounted source is not watched"
	stop
}

t_wpath_moved_away_and_made_again_empty_deletes_nothing() {
	filled src
	boot
	wait_for 10 synced || fail "no first sync"
	keep dst
	mv src old
	mkdir src
	wait_for 10 log_has d "source held: $T/src/" || fail "the lost wpath was not said as a hold"
	observe 3
	same kept dst || fail "the destination lost files to the new, empty wpath"
	rm -rf src
	mv old src
	echo back > src/back
	wait_for 10 log_has d "source back" || fail "the source did not come back"
	wait_for 10 synced || fail "not synced once the source was back"
	stop
}

t_removing_the_whole_content_of_a_mounted_wpath_still_mirrors() {
	mount_tmpfs "$T/src" 8m
	filled src
	boot
	wait_for 10 synced || fail "no first sync"
	rm -rf src/one src/docs
	wait_for 10 synced || fail "deletions the daemon saw were not mirrored"
	log_has d "source held" && fail "a seen deletion held the source"
	stop
}

t_wguard_missing_holds_the_source_and_its_return_resumes() {
	filled src
	touch src/.inosync-source
	boot "wguard = .inosync-source" "statusfile = $T/status"
	wait_for 10 synced || fail "no first sync"
	keep dst
	rm src/.inosync-source src/one
	wait_for 10 log_has d "source held: $T/src/: wguard $T/src/.inosync-source is missing" ||
		fail "the missing wguard was not said"
	wait_for 5 held_in status || fail "the statusfile does not say source=held"
	observe 2
	same kept dst || fail "a sync ran without the wguard"
	touch src/.inosync-source
	wait_for 10 synced || fail "not synced once the wguard was back"
	stop
	"$INOSYNC" -t -c c.conf | grep -qx 'wguard = .inosync-source' || fail "-t does not show wguard"
	rm src/.inosync-source
	keep dst
	start d2 -c c.conf
	wait_for 10 log_has d2 "wguard $T/src/.inosync-source is missing" ||
		fail "a start without the wguard was not held"
	observe 2
	same kept dst || fail "a start without the wguard synced"
	stop
}

t_wguard_must_be_a_name_in_wpath() {
	mkdir src
	mkconf c.conf "wguard = a/b"
	conf_error "$T/c.conf" 5 "wguard"
}

t_filesystem_unmounted_inside_wpath_is_watched_again() {
	mkdir -p src/sub
	mount_tmpfs "$T/src/sub" 8m
	filled src/sub
	echo top > src/top
	mkdir -p src/sub2
	boot "statusfile = $T/status"
	wait_for 10 synced || fail "no first sync"
	umount src/sub || fail "cannot unmount src/sub"
	wait_for 10 synced || fail "the unmount was not mirrored"
	echo late > src/sub/late
	wait_for 10 synced || fail "a write in the bare mount point was not synced"
	wait_for 5 statusis status all_watched yes || fail "not everything is watched"
	stop
}

t_filesystem_mounted_over_a_watched_directory_is_synced() {
	mkdir -p src/sub
	echo covered > src/sub/covered
	boot
	wait_for 10 synced || fail "no first sync"
	mount_tmpfs "$T/src/sub" 8m
	echo over > src/sub/over
	wait_for 10 synced || fail "the mounted filesystem was not mirrored"
	echo later > src/sub/later
	wait_for 10 synced || fail "the mounted filesystem is not watched"
	stop
}

# an rsync still running keeps the filesystem mounted in its jail, where
# the unmount does not reach: IN_UNMOUNT would come only when that rsync
# ends, after the mount table told of the unmount (which watches the
# directory anew), so the test waits for it to end
t_unmount_inside_wpath_is_logged_by_name() {
	WATCHER=inotify # whose IN_UNMOUNT it logs
	mkdir -p src/sub
	mount_tmpfs "$T/src/sub" 8m
	counting_rsync
	mkconf c.conf
	start d -v -c c.conf
	wait_for 10 synced || fail "no first sync"
	wait_for 10 idle || fail "the first sync did not end"
	umount src/sub || fail "cannot unmount src/sub"
	wait_for 10 log_has d " IN_UNMOUNT: /sub" || fail "IN_UNMOUNT was not logged by its name"
	stop
}

t_filesystem_mounted_over_wpath_is_held_until_a_reload() {
	filled src
	boot
	wait_for 10 synced || fail "no first sync"
	keep dst
	mount_tmpfs "$T/src" 8m
	echo other > src/other
	wait_for 10 log_has d "source held: $T/src/: wpath's filesystem was unmounted, or another mounted over it" ||
		fail "the filesystem mounted over wpath was not said as a hold"
	observe 3
	same kept dst || fail "the destination changed to another filesystem's tree"
	kill -HUP "$PID"
	wait_for 10 synced || fail "the reload did not accept the new filesystem"
	stop
}

# rinit = no skips only the full sync of a source accepted at start: one
# held at start (empty, as an unmounted volume's mount point) is fully
# synced once it is back, as always
t_rinit_no_still_syncs_a_source_held_at_start_fully() {
	mkdir src dst
	echo stale > dst/stale
	counting_rsync
	mkconf c.conf "rinit = no"
	start d -c c.conf
	wait_for 5 log_has d "source held" || fail "an empty wpath at start is not held"
	log_has d "no full sync at start" && fail "a held source was said to be taken as current"
	echo 1 > src/one
	wait_for 10 synced || fail "the source, once back, was not fully synced"
	stop
}
