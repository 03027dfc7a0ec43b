# shellcheck shell=sh disable=SC2154 # T, INOSYNC... come from lib.sh
# Seeded random changes (moves among them) while the daemon runs with a
# short edelay, some of them while rsync runs: afterwards every destination
# equals the source.
# TORTURE_SEEDS and TORTURE_OPS make it longer (make torture).

torture_seed() {
	_ts_seed=$1
	rm -rf "$T/src" "$T/dst" "$T/r"
	mkdir -p "$T/src" "$T/dst"
	"$TESTS/torture" "$_ts_seed" 50 "$T/src"
	echo probe > "$T/src/.probe"
	# each seed its own record: an earlier seed's rsync pid, given by now
	# to a live rsync (the daemon's), would keep idle false
	rm -f "$T/runs"
	rsyncd_start "$T/r"
	boot "rnodes = $T/dst" "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" \
		"edelay = 0.05" \
		"emask = IN_CLOSE_WRITE IN_CREATE IN_DELETE IN_MOVED_FROM IN_MOVED_TO IN_ATTRIB"
	"$TESTS/torture" "$_ts_seed" "${TORTURE_OPS:-600}" "$T/src"
	# and one move nothing happens to after it: a slow daemon (a
	# sanitizer build) may read the random ones only once what they
	# moved has changed again, and rightly place none of those
	mv "$T/src/.probe" "$T/src/.probe2"
	for _ts_d in "$T/dst" "$T/r"; do
		wait_for 60 same "$T/src" "$_ts_d" > "$T/.torture" 2>&1 || {
			echo "seed $_ts_seed: $_ts_d differs from the source:"
			same "$T/src" "$_ts_d"
			fail "torture seed $_ts_seed did not converge"
		}
	done
	# some of its moves were placed, so placing is what converged
	log_has d " placed in " || log_has d " tried in " ||
		fail "seed $_ts_seed: no move was placed"
	stop
	rsyncd_stop
}

t_random_changes_converge_on_every_destination() {
	for _tt_seed in ${TORTURE_SEEDS:-1 2 3}; do
		torture_seed "$_tt_seed"
	done
}

# cascade A_ARGS B_ARGS: inosync A ($T/src) feeds B ($T/b, module m of an
# rsync daemon), inosync B, the relay, feeds C ($T/c), each with its extra config lines (words of one
# string, split on '|'), under random changes and with one file that takes
# A's rsync seconds to write; then C equals A, and $T/bc.log is the relay's
# rsync log
cascade() {
	mkdir -p src b/.inosync-tmp c
	"$TESTS/torture" 7 50 "$T/src"
	rsyncd_start "$T/b"
	counting_rsync
	IFS='|'
	# shellcheck disable=SC2086 # config lines, split on '|'
	mkconf a.conf "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" "edelay = 0.05" "rspeed = 4000" \
		"statusfile = $T/a.status" $1
	# shellcheck disable=SC2086
	mkconf b.conf "wpath = $T/b" "rnodes = $T/c" "edelay = 0.05" \
		"logfile = $T/bc.log" "statusfile = $T/b.status" $2
	unset IFS
	start a -c a.conf
	apid=$PID
	wait_for 20 test -s a.status || fail "no statusfile on A"
	wait_for 20 statusis a.status dest1_runs 1 || fail "no first sync from A to B"
	start b -c b.conf
	bpid=$PID
	wait_for 20 same src c || fail "no first sync from B to C"
	head -c 8000000 /dev/urandom > src/big
	"$TESTS/torture" 7 "${TORTURE_OPS:-600}" "$T/src"
	wait_for 60 same src c || fail "C did not converge to A"
	# in sync: each tier owes nothing since no time
	wait_for 10 statusis a.status dest1_owed_since 0 || fail "A's statusfile has no dest1_owed_since=0"
	wait_for 10 statusis b.status dest1_owed_since 0 || fail "B's statusfile has no dest1_owed_since=0"
	stop "$bpid"
	stop "$apid"
	rsyncd_stop
}

# statusis FILE KEY VALUE: the statusfile FILE has KEY=VALUE
statusis() {
	[ "$(statusval "$1" "$2")" = "$3" ]
}

# forwarded_temporary: the relay's rsync sent a file under one of rsync's
# own temporary names (.NAME.XXXXXX), which is a file still being written
forwarded_temporary() {
	grep -E '>f[^ ]* (.*/)?\.[^/]+\.[A-Za-z0-9]{6}$' "$T/bc.log"
}

# The README's Fleets section: A's rsync writes its temporary files in
# /.inosync-tmp of B and renames them into place, and the relay excludes
# that directory. C converges to A, and the relay never sends C a file
# that rsync was still writing.
t_two_hop_cascade_converges_and_the_relay_forwards_no_partial_file() {
	cascade "rargs = --temp-dir=.inosync-tmp|rexcludes = /.inosync-tmp/" \
		"rexcludes = /.inosync-tmp/"
	! forwarded_temporary || fail "the relay forwarded a file rsync was writing"
	synced_with b c 2> /dev/null && fail "the relay forwarded its temporary directory"
	return 0
}
