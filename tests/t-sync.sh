# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# What reaches the destination: files, directories, links, modes, odd names,
# the same-second trap, and how changes are batched.

t_existing_tree_is_copied_at_start() {
	mkdir -p src/a/b/c src/empty
	echo 1 > src/top
	echo 2 > src/a/f
	echo 3 > src/a/b/c/g
	ln -s a/f src/link
	boot
	wait_for 10 synced || fail "existing tree not copied at start"
	stop
}

t_created_files_are_copied() {
	mkdir -p src/sub
	boot
	echo hello > src/new.txt
	echo deeper > src/sub/new.txt
	: > src/empty
	wait_for 10 synced || fail "created files not copied"
	stop
}

t_overwritten_file_is_updated() {
	mkdir src
	echo "a rather long first version" > src/f
	echo "first" > src/g
	boot
	echo short > src/f
	# how editors save: write a new file, rename it over the old one
	echo "second version" > src/.g.swp
	mv src/.g.swp src/g
	wait_for 10 synced || fail "overwritten files not updated"
	[ "$(cat dst/f)" = short ] || fail "dst/f: $(cat dst/f)"
	stop
}

t_appended_file_is_updated() {
	mkdir src
	echo one > src/f
	boot
	echo two >> src/f
	wait_for 10 synced || fail "append not copied"
	echo three >> src/f
	wait_for 10 synced || fail "second append not copied"
	stop
}

t_deleted_files_are_removed() {
	mkdir -p src/sub
	echo 1 > src/f
	echo 2 > src/sub/g
	echo 3 > src/sub/keep
	boot
	rm src/f src/sub/g
	wait_for 10 synced || fail "deleted files still in the destination"
	[ -e dst/sub/keep ] || fail "a file not deleted went away"
	stop
}

t_renamed_files_are_renamed() {
	mkdir -p src/a src/b
	echo 1 > src/a/f
	echo 2 > src/a/g
	boot
	mv src/a/f src/a/f2
	mv src/a/g src/b/g
	wait_for 10 synced || fail "renames not mirrored"
	stop
}

t_files_written_into_fresh_mkdir_p_are_copied() {
	boot
	i=0
	while [ $i -lt 20 ]; do
		mkdir -p "src/t$i/b/c" && echo $i > "src/t$i/f" &&
			echo $i > "src/t$i/b/f" && echo $i > "src/t$i/b/c/f"
		i=$((i + 1))
	done
	wait_for 10 synced || fail "files in new directories not copied"
	# the new directories are watched too
	echo later > src/t7/b/c/later
	mkdir src/t7/b/c/d
	echo later > src/t7/b/c/d/later
	wait_for 10 synced || fail "a later change in a new directory not copied"
	stop
}

t_renamed_directory_is_renamed_and_still_watched() {
	mkdir -p src/d/e
	echo 1 > src/d/e/f
	boot
	mv src/d src/d2
	wait_for 10 synced || fail "directory rename not mirrored"
	echo 2 > src/d2/e/g
	wait_for 10 synced || fail "change inside the renamed directory not copied"
	stop
}

t_directory_moved_into_another_is_moved_and_still_watched() {
	mkdir -p src/d/e src/other
	echo 1 > src/d/e/f
	boot
	mv src/d src/other/d
	wait_for 10 synced || fail "directory move not mirrored"
	echo 2 > src/other/d/e/g
	wait_for 10 synced || fail "change inside the moved directory not copied"
	stop
}

t_directory_moved_out_of_the_tree_is_removed_and_forgotten() {
	mkdir -p src/d/e outside
	echo 1 > src/d/e/f
	boot
	mv src/d outside/d
	wait_for 10 synced || fail "directory moved away still in the destination"
	n=$(runs)
	echo 2 > outside/d/e/g
	echo 3 > outside/d/h
	observe 1
	[ "$(runs)" = "$n" ] || fail "a change outside the tree started rsync"
	echo control > src/control
	wait_for 10 synced || fail "control change not copied"
	stop
}

t_directory_moved_into_the_tree_is_copied_and_watched() {
	mkdir -p outside/d/e
	echo 1 > outside/d/e/f
	boot
	mv outside/d src/d
	wait_for 10 synced || fail "directory moved in not copied"
	echo 2 > src/d/e/g
	wait_for 10 synced || fail "change inside the directory moved in not copied"
	stop
}

t_removed_directory_tree_is_removed() {
	mkdir -p src/d/e/f src/keep
	echo 1 > src/d/x
	echo 2 > src/d/e/y
	echo 3 > src/d/e/f/z
	echo 4 > src/keep/k
	boot
	rm -rf src/d
	wait_for 10 synced || fail "removed directory still in the destination"
	stop
}

t_symlinks_are_copied_as_symlinks() {
	mkdir -p src/dir
	echo 1 > src/dir/f
	boot
	ln -s dir/f src/rel
	ln -s /etc/hostname src/abs
	ln -s nowhere src/dangling
	ln -s dir src/dirlink
	ln -s ../rel src/dir/up
	wait_for 10 synced || fail "symlinks not copied"
	[ -L dst/dirlink ] || fail "dst/dirlink is not a link"
	ln -sfn other src/rel
	rm src/dangling
	wait_for 10 synced || fail "changed and removed symlinks not mirrored"
	stop
}

t_file_and_directory_modes_are_kept() {
	boot
	(umask 027 && cp /bin/true src/x750 && mkdir src/d750 && echo a > src/d750/f640)
	(umask 077 && echo s > src/f600 && mkdir src/d700)
	(umask 022 && echo p > src/f644)
	[ "$(stat -c %a src/x750 src/d750 src/f600)" = "750
750
600" ] || fail "umask did not give the modes wanted"
	wait_for 10 synced || fail "modes not kept"
	stop
}

t_chmod_and_touch_alone_are_copied() {
	mkdir -p src/d
	echo 1 > src/f
	echo 2 > src/d/g
	boot
	touch -d @1700000000 src/d/g
	chmod 600 src/f
	chmod 750 src/d
	chmod 755 src/d/g
	wait_for 10 synced || fail "chmod not copied"
	wait_for 5 mtime_is dst/d/g 1700000000 || fail "touch not copied"
	stop
}

t_odd_file_names_are_copied() {
	nl='
'
	# shellcheck disable=SC2016 # a name that looks like a command substitution
	set -- "with space" " lead and trail " "new${nl}line" "-leading-dash" "--delete" \
		'back\slash' 'star*' 'what?' 'open[' '[ab]c' "tab	x" "quote'\"" \
		'$(echo x)' "ünïcødé ✓ 日本" ".hidden" "a${nl}" "#comment#" ";semicolon"
	mkdir src
	boot
	for n; do
		echo "$n" > "src/$n"
		mkdir "src/d$n"
		echo "$n" > "src/d$n/$n"
	done
	# what a list file takes for a comment, at the top of the tree
	mkdir "src/#d" "src/;d"
	echo x > "src/#d/x"
	echo y > "src/;d/y"
	wait_for 10 synced || fail "odd names not copied"
	echo z > "src/#d/x"
	rm "src/;semicolon"
	wait_for 10 synced || fail "a change under a name like a comment was lost"
	rm -r "src/#d" "src/;d"
	for n; do
		rm "src/d$n/$n"
		mv "src/$n" "src/d$n/$n.moved"
	done
	wait_for 10 synced || fail "odd names not removed or renamed"
	for n; do
		rm -r "src/d$n"
	done
	wait_for 10 synced || fail "directories with odd names not removed"
	stop
}

# mtime_is FILE SECONDS
mtime_is() {
	[ "$(stat -c %Y "$1")" = "$2" ]
}

t_same_size_rewrite_in_the_same_second_converges() {
	mkdir src outside
	boot
	# files come in by rename, so each one arrives with its mtime already
	# set: content A at x.1 s, then content B (same size) at x.7 s
	printf AAAA > outside/f
	touch -d @1700000000.1 outside/f
	mv outside/f src/f
	wait_for 10 synced || fail "first version not copied"
	wait_for 10 mtime_is dst/f 1700000000 || fail "mtime not copied"
	wait_for 10 idle
	cp -a dst probe
	printf BBBB > outside/f
	touch -d @1700000000.7 outside/f
	# the trap is real: rsync comparing whole seconds skips the file
	cp -a outside/f probe-src
	/usr/bin/rsync -a probe-src probe/f
	[ "$(cat probe/f)" = AAAA ] || skip "plain rsync sees the change here (no sub-second mtimes?)"
	mv outside/f src/f
	wait_for 10 synced || fail "same-size rewrite in the same second never copied"
	stop
}

t_1000_changes_in_one_edelay_make_at_most_2_rsyncs_per_destination() {
	mkdir src
	for d in 0 1 2 3 4 5 6 7 8 9; do
		mkdir "src/d$d"
	done
	boot "edelay = 2" "rnodes = $T/dst1" "rnodes = $T/dst2"
	n1=$(runs "$T/dst1") n2=$(runs "$T/dst2")
	now
	t0=$NOW
	i=0
	while [ $i -lt 100 ]; do
		for d in 0 1 2 3 4 5 6 7 8 9; do
			echo $i > "src/d$d/f$i"
		done
		i=$((i + 1))
	done
	now
	[ $((NOW - t0)) -lt 150 ] || skip "writing 1000 files took $((NOW - t0))0 ms, not within edelay"
	wait_for 15 synced dst1 || fail "dst1 not synced"
	wait_for 15 synced dst2 || fail "dst2 not synced"
	observe 2.5
	wait_for 10 idle || fail "rsync still running"
	r1=$(($(runs "$T/dst1") - n1)) r2=$(($(runs "$T/dst2") - n2))
	[ $r1 -le 2 ] || fail "$r1 rsync runs for dst1, want at most 2"
	[ $r2 -le 2 ] || fail "$r2 rsync runs for dst2, want at most 2"
	stop
}

t_continuous_writes_are_still_synced_every_edelay() {
	boot "edelay = 0.5"
	sh -c 'i=0; while [ $i -lt 60 ]; do echo $i >> "$1"; sleep 0.1; i=$((i + 1)); done' \
		sh "$T/src/log" &
	w=$!
	remember $w
	wait_for 4 test -s dst/log || fail "nothing synced while writes went on"
	alive $w || fail "the writer ended first: slow machine, inconclusive"
	kill $w
	wait $w
	wait_for 10 synced || fail "not synced after the writes ended"
	stop
}

t_changes_are_held_back_for_edelay() {
	boot "edelay = 1.5"
	now
	t0=$NOW
	echo x > src/f
	wait_for 10 test -f dst/f || fail "not synced"
	now
	[ $((NOW - t0)) -ge 130 ] || fail "synced after $((NOW - t0))0 ms, before edelay (1.5 s)"
	stop
}

t_edelay_0_syncs_at_once() {
	boot "edelay = 0"
	now
	t0=$NOW
	echo x > src/f
	wait_for 10 test -f dst/f || fail "not synced"
	now
	[ $((NOW - t0)) -lt 100 ] || fail "edelay 0 took $((NOW - t0))0 ms"
	stop
}

t_swapped_directories_are_swapped_and_still_watched() {
	mkdir -p src/a/sub src/b/sub
	echo a > src/a/sub/from-a
	echo b > src/b/sub/from-b
	boot
	mv src/a src/tmp
	mv src/b src/a
	mv src/tmp src/b
	wait_for 10 synced || fail "swap not mirrored"
	# each watch must now stand for its new path
	echo 1 > src/a/sub/new-in-a
	echo 2 > src/b/sub/new-in-b
	wait_for 10 synced || fail "changes after the swap went to the wrong place"
	stop
}

t_file_replaced_by_a_directory_and_back_is_mirrored() {
	mkdir -p src/d
	echo f > src/f
	echo x > src/d/x
	boot
	rm src/f
	mkdir src/f
	echo y > src/f/y
	rm -r src/d
	echo d > src/d
	wait_for 10 synced || fail "type changes not mirrored"
	rm -r src/f
	ln -s d src/f
	wait_for 10 synced || fail "directory replaced by a symlink not mirrored"
	stop
}

t_short_lived_directories_do_no_harm() {
	boot
	i=0
	while [ $i -lt 50 ]; do
		mkdir -p "src/tmp$i/a/b" && echo $i > "src/tmp$i/a/b/f" && rm -r "src/tmp$i"
		i=$((i + 1))
	done
	echo finished > src/done
	wait_for 10 synced || fail "not synced after short-lived directories"
	kill -0 "$PID" || fail "the daemon died"
	stop
}

# list_rsync: like counting_rsync, and each run's --files-from list, one
# name a line, is appended to $T/lists
list_rsync() {
	cat > "$T/rsync" <<-EOF2
	#!/bin/sh
	printf '%s\n' "\$\$ \$*" >> '$T/runs'
	case "\$*" in *--files-from=-*)
		cat > '$T/list.'\$\$
		tr '\0' '\n' < '$T/list.'\$\$ >> '$T/lists'
		exec /usr/bin/rsync "\$@" < '$T/list.'\$\$ ;;
	esac
	exec /usr/bin/rsync "\$@"
	EOF2
	chmod 755 "$T/rsync"
}

t_a_few_changed_files_are_named_not_their_directory() {
	mkdir -p src/big
	i=0
	while [ $i -lt 300 ]; do
		echo $i > "src/big/f$i"
		i=$((i + 1))
	done
	boot
	list_rsync
	echo new > src/big/f7
	rm src/big/f8
	mv src/big/f9 src/big/g9
	wait_for 10 synced || fail "changes not synced"
	grep -qx './big/f7' lists || fail "the changed file was not named: $(cat lists)"
	! grep -qx './big/' lists || fail "the whole directory was listed: $(cat lists)"
	: > lists
	# many names: the whole directory is cheaper to list than to name
	i=0
	while [ $i -lt 300 ]; do
		echo x > "src/big/f$i"
		i=$((i + 1))
	done
	wait_for 10 synced || fail "many changes not synced"
	grep -qx './big/' lists || fail "300 changed names were not one directory: $(head -n 3 lists)"
	stop
}

# rdelete_kept VALUE: with rdelete = VALUE, a destination that starts with
# a file the source never had (stale) sees a file deleted while the daemon
# runs (gone); prints which of the two the destination kept
rdelete_kept() {
	rm -rf "$T/src" "$T/dst"
	mkdir -p "$T/src/d" "$T/dst/d"
	echo keep > "$T/src/keep"
	echo gone > "$T/src/d/gone"
	echo stale > "$T/dst/stale"
	boot "rdelete = $1"
	wait_for 10 test -f "$T/dst/d/gone" || fail "rdelete = $1: no first sync"
	rm "$T/src/d/gone"
	echo new > "$T/src/d/new"
	wait_for 10 test -f "$T/dst/d/new" || fail "rdelete = $1: no sync after the deletion"
	wait_for 5 idle || fail "rdelete = $1: the sync did not end"
	stop
	_rk=
	[ -e "$T/dst/stale" ] && _rk="$_rk stale"
	[ -e "$T/dst/d/gone" ] && _rk="$_rk gone"
	echo "kept:$_rk"
}

t_rdelete_decides_which_syncs_delete() {
	for c in "yes kept:" "no kept: stale gone" "startup kept: gone" "running kept: stale"; do
		got=$(rdelete_kept "${c%% *}") || fail "$got"
		[ "$got" = "${c#* }" ] || fail "rdelete = ${c%% *}: $got, want ${c#* }"
	done
	mkconf c.conf "rdelete = sometimes"
	conf_error "$T/c.conf" 5 "rdelete"
}

# seen_deletion_kept HOW [RDELETE]: with rdelete = RDELETE (running) and
# a long edelay, a file is deleted while the daemon runs, then the
# function HOW hands what is owed to a full sync under rdelete = running,
# which does not delete: the file still goes, and the mirror converges
seen_deletion_kept() {
	mkdir -p src/d
	echo a > src/d/a
	echo g > src/.guard
	boot "rdelete = ${2:-running}" "edelay = 30" "wguard = .guard"
	rm src/d/a
	echo b > src/d/b
	"$1"
	wait_for 10 [ ! -e dst/d/a ] || fail "the deletion seen before the full sync was lost"
	wait_for 10 synced || fail "not synced after the full sync"
	stop
}

usr1() {
	kill -USR1 "$PID"
}

hup() {
	kill -HUP "$PID"
}

t_rdelete_running_keeps_a_seen_deletion_through_sigusr1() {
	seen_deletion_kept usr1
}

t_rdelete_running_keeps_a_seen_deletion_through_a_reload() {
	seen_deletion_kept hup
}

# to_running: reload with rdelete = running
to_running() {
	mkconf "$T/c.conf" "rdelete = running" "edelay = 30" "wguard = .guard"
	kill -HUP "$PID"
}

t_a_reload_to_rdelete_running_keeps_a_deletion_seen_before() {
	seen_deletion_kept to_running yes
}

# held_and_back: the source is held (wguard gone when a sync is due), then
# back
held_and_back() {
	rm src/.guard
	kill -USR1 "$PID"
	wait_for 10 log_has d "source held" || fail "the source was not held"
	echo g > src/.guard
}

t_rdelete_running_keeps_a_seen_deletion_while_the_source_is_held() {
	seen_deletion_kept held_and_back
}

# sizes_seen FILE OUT: in the background, every 20 ms, append FILE's size
# (when it exists) to OUT, the way a reader of the mirror would see it;
# sets PID
sizes_seen() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	spawn poll sh -c 'while :; do stat -c %s "$1" 2> /dev/null; sleep 0.02; done >> "$2"' sh "$1" "$2"
}

# written_whole NAME CONFLINE...: a file NAME written in 10 pieces over 2 s
# (edelay 0.2 passes several times meanwhile), next to a file changed all
# the while, reaches the mirror whole: a reader polling it never sees it
# partly written
written_whole() {
	_ww_f=$1
	shift
	mkdir -p src
	boot "$@"
	_ww_d=$PID
	sizes_seen "$T/dst/$_ww_f" sizes
	_ww_p=$PID
	sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do printf "%01000d" "$i"; sleep 0.2; done' > "src/$_ww_f" &
	_ww_w=$!
	while alive "$_ww_w"; do
		date +%N > src/busy
		sleep 0.1
	done
	wait_for 10 cmp -s "src/$_ww_f" "dst/$_ww_f" || fail "the file did not arrive"
	wait_for 10 synced || fail "not synced"
	# the poller must have seen the mirror's file, or it proves nothing
	wait_for 5 grep -qx 10000 sizes || fail "the reader of the mirror never saw the file"
	kill "$_ww_p"
	_ww_bad=$(grep -vx 10000 sizes | sort -u | tr '\n' ' ')
	[ -z "$_ww_bad" ] || fail "a reader of the mirror saw the file partly written: sizes $_ww_bad"
	stop "$_ww_d"
}

t_file_written_in_pieces_arrives_whole() {
	written_whole f
}

# with fewer events than the six, a change syncs its whole directory
t_file_written_in_pieces_arrives_whole_in_a_whole_directory_sync() {
	written_whole 'a [b]*.part' "emask = IN_CLOSE_WRITE IN_CREATE IN_DELETE IN_MOVED_FROM IN_MOVED_TO"
}

t_edelay_0_costs_one_rsync_per_new_file() {
	mkdir src
	boot "edelay = 0"
	r=$(runs)
	for i in 1 2 3 4 5 6 7 8 9 10; do
		echo "$i" > "src/f$i"
		wait_for 5 cmp -s "src/f$i" "dst/f$i" || fail "file $i did not arrive"
		wait_for 5 idle || fail "the sync of file $i did not end"
	done
	[ $(($(runs) - r)) = 10 ] || fail "$(($(runs) - r)) rsync runs for 10 new files, want 10"
	stop
}

t_file_still_open_after_wsettle_goes_as_it_is_and_is_said() {
	mkdir src
	boot "wsettle = 1"
	exec 3> src/open
	echo first >&3
	wait_for 10 log_has d "/open still open after 1 s" || fail "the file held past wsettle was not said"
	wait_for 5 cmp -s src/open dst/open || fail "the file held past wsettle was not synced"
	echo second >&3
	exec 3>&-
	wait_for 5 cmp -s src/open dst/open || fail "the closed file was not synced"
	stop
}

t_links_symlinks_and_fifos_are_not_held_for_a_close() {
	mkdir src
	echo a > src/a
	boot "wsettle = 60"
	ln src/a src/hard
	ln -s a src/soft
	mkfifo src/fifo
	# well before wsettle
	wait_for 10 cmp -s src/a dst/hard || fail "a hard link waited for a close that never comes"
	wait_for 5 test -L dst/soft || fail "a symlink waited for a close that never comes"
	wait_for 5 test -p dst/fifo || fail "a FIFO waited for a close that never comes"
	stop
}

t_delay_updates_switches_a_batch_in_with_the_list() {
	mkdir -p src/d
	boot "rargs = --delay-updates"
	for i in 1 2 3; do
		echo "$i" > "src/d/f$i"
	done
	echo top > src/top
	wait_for 10 synced || fail "not synced with --delay-updates"
	rm src/d/f2
	mv src/d/f1 src/d/g1
	wait_for 10 synced || fail "a deletion and a rename were not synced with --delay-updates"
	[ -z "$(find dst -name .~tmp~)" ] || fail "rsync left its .~tmp~ behind"
	stop
}

# the admin vouches that the mirrors are current: no full sync at start,
# which would have removed what only the destination holds
t_rinit_no_skips_the_start_up_full_sync() {
	mkdir -p src/sub
	echo 1 > src/sub/one
	/usr/bin/rsync -a src/ dst/ || fail "cannot make the mirror"
	echo only > dst/only-here
	counting_rsync
	mkconf c.conf "rinit = no" "statusfile = $T/status"
	start d -c c.conf
	wait_for 5 log_has d "no full sync at start" || fail "the log does not say the start-up sync is skipped"
	observe 1
	[ "$(runs)" = 0 ] || fail "rsync ran at start: $(cat runs)"
	wait_for 5 test -s status || fail "no statusfile"
	[ "$(statusval status dest1_owed_since)" = 0 ] || fail "the current mirror is said to owe changes"
	echo 2 > src/sub/two
	wait_for 10 test -f dst/sub/two || fail "a change after the start was not synced"
	[ "$(runs)" = "$(runs --files-from=-)" ] || fail "a full sync ran: $(cat runs)"
	[ -e dst/only-here ] || fail "a full sync removed what only the destination had"
	stop
}
