# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# What a small system's build gets wrong where a 64-bit musl one is lucky:
# a 32-bit long (MIPS, ARM), and a libc whose free() reuses memory at once
# (glibc). make test-cross runs these, with the rest, on such builds.

# full_runs: print how many full syncs (runs without a list) rsync saw
full_runs() {
	echo $(($(runs) - $(runs --files-from)))
}

# full_runs_above N
full_runs_above() {
	[ "$(full_runs)" -gt "$1" ]
}

t_monthly_efull_runs_no_early_full_sync() {
	mkdir src
	echo a > src/a
	# 30 days in milliseconds is more than a 32-bit long holds
	boot "efull = 2592000"
	observe 2
	[ "$(full_runs)" = 1 ] || fail "$(full_runs) full syncs in 2 s with efull = 30 days, want the first only"
	! log_has d "periodic full sync" || fail "a periodic full sync 2 s after start with efull = 30 days"
	echo b > src/b
	wait_for 10 synced || fail "a change was not synced"
	stop
}

t_pidfile_goes_on_clean_exit_after_a_reload() {
	mkdir src
	boot "pidfile = $T/inosync.pid"
	n=$(full_runs)
	# the reload replaces the config that named the pidfile
	kill -HUP "$PID"
	wait_for 10 log_has d reloaded || fail "no reload"
	wait_for 10 full_runs_above "$n" || fail "no full sync after the reload"
	wait_for 10 idle || fail "the sync after the reload did not finish"
	[ "$(cat inosync.pid)" = "$PID" ] || fail "pidfile holds '$(cat inosync.pid)' after the reload, want $PID"
	stop
	[ ! -e inosync.pid ] || fail "pidfile left after a clean exit that followed a reload"
}
