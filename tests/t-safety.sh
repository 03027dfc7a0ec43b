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
