# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Moves within the tree are placed at each destination from the copy it
# already has, so their data is neither sent nor written again; whatever
# cannot be placed goes as a plain transfer, and the mirror is exact.

# pin PATH NAME: a hard link $T/NAME to PATH, so that its inode number is
# not given to a new file once PATH goes
pin() {
	ln -- "$1" "$T/$2" || fail "cannot link $1"
}

# pinned PATH NAME: PATH is the file pinned as NAME, not a copy of it
pinned() {
	[ "$(stat -c %i -- "$1")" = "$(stat -c %i -- "$T/$2")" ]
}

# wire: the bytes the rsync daemon's transfer log says crossed the wire
wire() {
	awk '/XFER/ { n += $(NF - 1) } END { print n + 0 }' "$T/rsyncd.log"
}

# moved_tree: src/a with big (4 MB), small and dir/ (f1, f2: 2 MB each),
# and src/b
moved_tree() {
	mkdir -p src/a/dir src/b
	head -c 4000000 /dev/urandom > src/a/big
	head -c 2000000 /dev/urandom > src/a/dir/f1
	head -c 2000000 /dev/urandom > src/a/dir/f2
	echo small > src/a/small
}

# the moves of moved_tree: a rename in a directory, a file to another
# directory, a directory to another parent under a new name
move_them() {
	mv src/a/big src/a/big2
	mv src/a/small src/b/small
	mv src/a/dir src/b/dir2
}

t_moves_are_renames_at_a_local_destination() {
	moved_tree
	boot
	pin dst/a/big p1
	pin dst/a/small p2
	pin dst/a/dir/f1 p3
	move_them
	wait_for 10 synced || fail "the moves did not reach the destination"
	pinned dst/a/big2 p1 || fail "the renamed file was written anew"
	pinned dst/b/small p2 || fail "the file moved across was written anew"
	pinned dst/b/dir2/f1 p3 || fail "the moved directory's file was written anew"
	wait_for 10 log_has d "3 moves placed" || fail "no placing logged: $(grep moves d.log)"
	stop
}

# rdelete = no keeps the old paths: a move is placed as a copy (the far
# side copies its old one: nothing crosses the wire), never as a hard
# link, so that a later change of the new name (rewritten in place under
# --inplace, or a chmod) leaves the kept old copy alone
t_moves_share_no_inode_where_rdelete_keeps_old_paths() {
	moved_tree
	RSYNCD_CHROOT=yes RSYNCD_XFERLOG=1 rsyncd_start
	boot "rdelete = no" "rargs = --inplace" "rnodes = $T/dst" \
		"rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced_with src r || fail "no first sync to the daemon"
	before=$(wire)
	mv src/a/small src/b/small
	mv src/a/dir src/b/dir2
	for m in dst r; do
		wait_for 10 synced_with src/b "$m/b" || fail "the moves did not reach $m"
		[ -f "$m/a/small" ] && [ -f "$m/a/dir/f1" ] || fail "rdelete = no lost the old paths at $m"
		[ "$(stat -c %i "$m/b/small")" != "$(stat -c %i "$m/a/small")" ] ||
			fail "$m: the moved file is a hard link to the kept old one"
		[ "$(stat -c %i "$m/b/dir2/f1")" != "$(stat -c %i "$m/a/dir/f1")" ] ||
			fail "$m: the moved directory's file is a hard link to the kept old one"
	done
	wait_for 10 idle || fail "rsync still runs"
	sent=$(($(wire) - before))
	[ "$sent" -lt 80000 ] || fail "$sent bytes crossed the wire for 4 MB of moves"
	mode=$(stat -c %a src/a/big)
	echo changed > src/b/small
	chmod 600 src/b/dir2/f1
	for m in dst r; do
		wait_for 10 synced_with src/b "$m/b" || fail "the changes did not reach $m"
		[ "$(cat "$m/a/small")" = small ] ||
			fail "$m: rewriting the moved file in place rewrote the kept old one"
		[ "$(stat -c %a "$m/a/dir/f1")" = "$mode" ] ||
			fail "$m: a chmod of the moved file changed the kept old one"
	done
	stop
}

# a daemon module: with chroot (rsync's default) every kind of move costs
# next to nothing on the wire
t_moves_send_no_data_to_an_rsync_daemon() {
	moved_tree
	RSYNCD_CHROOT=yes RSYNCD_XFERLOG=1 rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced_with src r || fail "no first sync"
	before=$(wire)
	[ "$before" -ge 8000000 ] || fail "the transfer log counts $before bytes for 8 MB"
	pin r/a/dir/f1 p3
	move_them
	wait_for 10 synced_with src r || fail "the moves did not reach the daemon"
	wait_for 10 idle || fail "rsync still runs"
	sent=$(($(wire) - before))
	[ "$sent" -lt 80000 ] || fail "$sent bytes crossed the wire for 8 MB of moves"
	pinned r/b/dir2/f1 p3 || fail "the moved directory was not hard-linked"
	stop
}

# use chroot = no: the daemon sanitizes --fuzzy's other directory away, so
# a file renamed into another directory goes whole; the rest still moves
t_moves_to_an_unchrooted_daemon_fall_back_where_rsync_must() {
	moved_tree
	RSYNCD_XFERLOG=1 rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced_with src r || fail "no first sync"
	before=$(wire)
	move_them
	mv src/a/big2 src/b/big3
	wait_for 10 synced_with src r || fail "the moves did not reach the daemon"
	wait_for 10 idle || fail "rsync still runs"
	sent=$(($(wire) - before))
	[ "$sent" -ge 4000000 ] && [ "$sent" -lt 4080000 ] ||
		fail "$sent bytes crossed the wire: want the 4 MB file renamed across, and no more"
	stop
}

# a directory that was a symlink (to another directory of the tree) is
# made anew and files moved into it before the sync: the destination still
# has the symlink there, which placing must not follow
t_moves_never_follow_a_symlink_at_the_destination() {
	moved_tree
	mkdir src/e
	ln -s e src/c
	rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 1"
	wait_for 10 synced_with src r || fail "no first sync"
	[ -L r/c ] || fail "the daemon did not mirror the symlink"
	rm src/c
	mkdir src/c
	mv src/a/big src/c/big
	mv src/a/dir src/c/dir
	wait_for 10 synced_with src r || fail "the moves did not reach the daemon"
	stop
}

# names a remote shell would take apart, over ssh (a glob character is
# no name of these: tests/t-trust.sh)
t_moves_over_ssh_keep_odd_names_whole() {
	sshd_start
	mkdir -p src/a/d src/b r
	head -c 1000000 /dev/urandom > src/a/d/f
	boot "rnodes = 127.0.0.1:$T/r/" "rsh = $SSH_RSH"
	wait_for 10 synced_with src r || fail "no first sync"
	pin r/a/d/f p
	# shellcheck disable=SC2016 # the $( ) is a name, for the remote shell
	n='it'\''s $(touch pwned); `touch pwned` & #'
	mv src/a/d "src/b/$n"
	wait_for 10 synced_with src r || fail "the move did not reach the destination"
	pinned "r/b/$n/f" p || fail "the moved directory was sent again"
	[ ! -e pwned ] && [ ! -e "$HOME/pwned" ] || fail "the remote shell ran a name"
	stop
}

# forty directories renamed at once: a few rsyncs place the first of them
# (PASSMAX), the rest go with the sync, and the mirror is exact
t_a_flood_of_moves_is_no_flood_of_rsyncs() {
	for i in $(seq 40); do
		mkdir -p "src/d$i"
		echo "$i" > "src/d$i/f"
	done
	rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 1"
	wait_for 10 synced_with src r || fail "no first sync"
	for i in $(seq 40); do
		mv "src/d$i" "src/e$i"
	done
	wait_for 20 synced_with src r || fail "the moves did not reach the daemon"
	wait_for 10 idle || fail "rsync still runs"
	n=$(runs --link-dest)
	[ "$n" -ge 1 ] && [ "$n" -le 16 ] || fail "$n rsyncs placed moves, want 1 to 16"
	stop
}

# three hundred files moved out of one directory into another: more names
# than either directory keeps (NAMESMAX), still one rsync and no data
t_many_files_moved_at_once_cost_one_rsync() {
	mkdir -p src/a src/b
	for i in $(seq 300); do
		head -c 16384 /dev/urandom > "src/a/file$i"
	done
	RSYNCD_XFERLOG=1 rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 1"
	wait_for 10 synced_with src r || fail "no first sync"
	before=$(wire)
	mv src/a/* src/b/
	wait_for 20 synced_with src r || fail "the moves did not reach the daemon"
	wait_for 10 idle || fail "rsync still runs"
	sent=$(($(wire) - before))
	[ "$sent" -lt 49152 ] || fail "$sent bytes crossed the wire for 4.9 MB of moves"
	[ "$(runs --link-dest)" = 1 ] || fail "$(runs --link-dest) rsyncs placed the moves, want 1"
	stop
}

# a file still being written when it is renamed stays held under its new
# name until it is closed, and is never placed half written
t_a_file_renamed_while_written_stays_held() {
	mkdir -p src/a src/b
	echo old > src/a/f
	rsyncd_start
	boot "rnodes = $T/dst" "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "wsettle = 30"
	exec 3> src/a/w
	echo part >&3
	mv src/a/w src/b/w
	echo more > src/a/f
	wait_for 10 same src/a dst/a || fail "the other change was not synced"
	wait_for 10 same src/a r/a || fail "the other change was not synced to the daemon"
	[ ! -e dst/b/w ] && [ ! -e r/b/w ] || fail "a file still open was sent"
	echo end >&3
	exec 3>&-
	wait_for 10 synced || fail "not synced once closed"
	wait_for 10 synced_with src r || fail "not synced to the daemon once closed"
	stop
}

# a move into an excluded path is a deletion, one out of it a new file, as
# without placing: nothing is renamed into or out of what is excluded
t_moves_into_and_out_of_excluded_paths_are_not_placed() {
	mkdir -p src/a dst/a
	echo f > src/a/f
	echo g > src/a/g.tmp
	echo old-g > dst/a/g.tmp
	boot "rexcludes = *.tmp"
	mv src/a/f src/a/f.tmp
	mv src/a/g.tmp src/a/g
	wait_for 10 [ -e dst/a/g ] || fail "the move out of the excluded name did not arrive"
	wait_for 10 [ ! -e dst/a/f ] || fail "the move into the excluded name left the old file"
	[ ! -e dst/a/f.tmp ] || fail "a file was placed at an excluded name"
	[ "$(cat dst/a/g)" = g ] || fail "an excluded copy was placed: $(cat dst/a/g)"
	[ "$(cat dst/a/g.tmp)" = old-g ] || fail "the excluded file at the destination changed"
	stop
}

# a symlink whose target climbs out of the moved directory: a daemon
# without chroot cuts such a target short in an rsync rooted at the
# directory, so placing leaves symlinks to the sync, which is rooted at
# the top (each sync here waits 2 s, so the placing is seen alone)
t_placing_never_shows_a_cut_symlink() {
	mkdir -p src/a/d src/b
	head -c 100000 /dev/urandom > src/a/d/f
	echo top > src/top
	ln -s ../../top src/a/d/up
	rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced_with src r || fail "no first sync"
	cat > rsync <<-EOF2
	#!/bin/sh
	case "\$*" in *--link-dest*) ;; *) sleep 2 ;; esac
	exec /usr/bin/rsync "\$@"
	EOF2
	mv src/a/d src/b/d
	wait_for 10 [ -e r/b/d/f ] || fail "the directory was not placed"
	l=$(readlink r/b/d/up)
	[ -z "$l" ] || [ "$l" = ../../top ] || fail "placing cut a symlink to $l"
	wait_for 10 synced_with src r || fail "not synced"
	stop
}

# rargs with --backup: a move that replaces a file is no rename at a local
# destination, which would lose the replaced file rsync is to back up;
# one line says that moves are not placed there, and why
t_backup_in_rargs_keeps_the_file_a_move_replaces() {
	mkdir src
	echo replaced > src/b
	echo new > src/a
	boot "rargs = --backup --backup-dir=$T/bk"
	mv src/a src/b
	wait_for 10 synced || fail "the move did not reach the destination"
	[ "$(cat bk/b 2> /dev/null)" = replaced ] ||
		fail "the file the move replaced was not backed up: $(ls -R bk 2>&1)"
	[ "$(grep -c "plain transfers" d.log)" = 1 ] && grep "plain transfers" d.log | grep -qF -- --backup ||
		fail "not one line that names --backup: $(cat d.log)"
	stop
}

# r_mirrors_src: r holds what src does, the temp-dir .inosync-tmp aside
r_mirrors_src() {
	diff -r -x .inosync-tmp src r
}

# rargs --temp-dir with a relative DIR (the README's fleets): an rsync
# placing a move below the top would look for DIR there and fail, so
# moves are not placed at a remote destination; they arrive all the same
t_a_relative_temp_dir_in_rargs_leaves_moves_to_the_sync() {
	moved_tree
	mkdir -p r/.inosync-tmp
	rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "rargs = --temp-dir=.inosync-tmp" \
		"rexcludes = /.inosync-tmp/"
	wait_for 10 r_mirrors_src || fail "no first sync"
	move_them
	wait_for 10 r_mirrors_src || fail "the moves did not reach the daemon"
	wait_for 10 idle || fail "rsync still runs"
	! log_has d "temp-dir does not exist" || fail "an rsync failed for the temp-dir: $(grep temp-dir d.log)"
	grep "plain transfers" d.log | grep -qF -- --temp-dir=.inosync-tmp ||
		fail "no line says that --temp-dir=.inosync-tmp leaves moves unplaced: $(cat d.log)"
	stop
}

# rargs --inplace: rsync writes a changed file where it is, so a placed
# move shares no inode with its old path even where rdelete deletes that
# path, which the source may have made again meanwhile (mv log log.1, a
# new log): an update of one would rewrite the other
t_moves_share_no_inode_under_inplace() {
	mkdir -p src/a src/b
	head -c 100000 /dev/urandom > src/a/f
	rsyncd_start
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "rargs = --inplace"
	wait_for 10 synced_with src r || fail "no first sync"
	mv src/a/f src/b/f
	echo new > src/a/f
	wait_for 10 synced_with src r || fail "the move and the new file did not both arrive"
	stop
}
