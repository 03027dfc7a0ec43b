# shellcheck shell=sh disable=SC2154 # T, INOSYNC... come from lib.sh
# Seeded random changes while the daemon runs with a short edelay, some of
# them while rsync runs: afterwards every destination equals the source.
# TORTURE_SEEDS and TORTURE_OPS make it longer (make torture).

torture_seed() {
	_ts_seed=$1
	rm -rf "$T/src" "$T/dst" "$T/r"
	mkdir -p "$T/src" "$T/dst"
	"$TESTS/torture" "$_ts_seed" 50 "$T/src"
	rsyncd_start "$T/r"
	boot "rnodes = $T/dst" "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/" \
		"edelay = 0.05" \
		"emask = IN_CLOSE_WRITE IN_CREATE IN_DELETE IN_MOVED_FROM IN_MOVED_TO IN_ATTRIB"
	"$TESTS/torture" "$_ts_seed" "${TORTURE_OPS:-600}" "$T/src"
	for _ts_d in "$T/dst" "$T/r"; do
		wait_for 60 same "$T/src" "$_ts_d" > "$T/.torture" 2>&1 || {
			echo "seed $_ts_seed: $_ts_d differs from the source:"
			same "$T/src" "$_ts_d"
			fail "torture seed $_ts_seed did not converge"
		}
	done
	stop
	rsyncd_stop
}

t_random_changes_converge_on_every_destination() {
	for _tt_seed in ${TORTURE_SEEDS:-1 2 3}; do
		torture_seed "$_tt_seed"
	done
}
