# shellcheck shell=sh
# Helpers for the inosync tests, sourced by tests/run into the shell that
# runs one test function. The runner sets:
#   T        a fresh, empty temporary directory (the cwd), removed afterwards
#   ROOT     the source tree; INOSYNC the binary under test
# Files in $T the runner reads after the test: .pids (processes to kill if
# still alive), .sysctl ("FILE VALUE" lines to restore), .skip (a reason).
# POSIX sh only; no `local`, so helpers keep their variables apart with a
# prefix of their own.

: "${T:?}" "${ROOT:?}"
INOSYNC=${INOSYNC:-$ROOT/inosync}
PID=

# fail MESSAGE: end the test as failed (call it from the test's own shell,
# not from inside $(...) or a pipeline)
fail() {
	printf 'not ok: %s\n' "$*" >&2
	exit 1
}

# skip REASON: end the test as skipped
skip() {
	printf '%s\n' "$*" > "$T/.skip"
	exit 77
}

# now: set NOW to the time since boot, in centiseconds (no fork)
now() {
	read -r _now_up _now_idle < /proc/uptime
	NOW=$((${_now_up%.*}${_now_up#*.}))
}

# cs SECONDS: print SECONDS (1, 0.5, 2.25) in centiseconds
cs() {
	case $1 in
	*.*) _cs_i=${1%%.*} _cs_f=${1#*.}00 ;;
	*) _cs_i=$1 _cs_f=00 ;;
	esac
	_cs_f=${_cs_f%"${_cs_f#??}"}
	echo $((${_cs_i:-0} * 100 + 1$_cs_f - 100))
}

# wait_for SECONDS CMD...: run CMD every 0.1 s until it succeeds (0) or
# SECONDS have passed (1). On timeout CMD runs once more with its output
# shown, so a failing `same` prints the difference.
wait_for() {
	_wf_end=$(cs "$1")
	shift
	now
	_wf_end=$((NOW + _wf_end))
	while :; do
		"$@" > /dev/null 2>&1 && return 0
		now
		[ "$NOW" -ge "$_wf_end" ] && break
		sleep 0.1
	done
	"$@" >&2 && return 0
	printf 'timed out waiting for: %s\n' "$*" >&2
	return 1
}

# alive PID: the process exists and is not a zombie
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	read -r _al_s 2> /dev/null < "/proc/$1/stat" || return 1
	_al_s=${_al_s##*) }
	[ "${_al_s%% *}" != Z ]
}

# ppid PID: print the parent of PID
ppid() {
	read -r _pp_s 2> /dev/null < "/proc/$1/stat" || return 1
	_pp_s=${_pp_s##*) }
	_pp_s=${_pp_s#* }
	echo "${_pp_s%% *}"
}

# progname PID: print the name of PID's program
progname() {
	cat "/proc/$1/comm" 2> /dev/null
}

# children PID: print the pids of PID's children (like pgrep -P, which a
# fresh Debian lacks: procps is not essential)
children() {
	for _ch_d in /proc/[0-9]*; do
		[ "$(ppid "${_ch_d#/proc/}")" = "$1" ] && echo "${_ch_d#/proc/}"
	done
	return 0
}

# procs_with STRING: print the pids of live processes whose command line
# contains STRING (like pgrep -f, without regular expressions)
procs_with() {
	for _pw_d in /proc/[0-9]*; do
		_pw_p=${_pw_d#/proc/}
		[ "$_pw_p" = "$$" ] && continue
		_pw_c=$(tr '\0' ' ' 2> /dev/null < "$_pw_d/cmdline") || continue
		case $_pw_c in
		*"$1"*) alive "$_pw_p" && echo "$_pw_p" ;;
		esac
	done
	return 0
}

# remember PID: have the runner kill PID if the test leaves it running
remember() {
	echo "$1" >> "$T/.pids"
}

# spawn NAME CMD...: run CMD in the background, output to $T/NAME.log;
# sets PID
spawn() {
	_sp_n=$1
	shift
	"$@" > "$T/$_sp_n.log" 2>&1 &
	PID=$!
	remember "$PID"
}

# start NAME ARGS...: run inosync ARGS in the foreground of a background
# job, its log in $T/NAME.log; sets PID
start() {
	_st_n=$1
	shift
	spawn "$_st_n" "$INOSYNC" "$@"
}

# leftover_rsync: print rsync processes started for this test (their
# command line names $T) that are still alive, rsync daemons aside
leftover_rsync() {
	for _lo_p in $(procs_with "$T/"); do
		[ "$(progname "$_lo_p")" = rsync ] || continue
		case $(tr '\0' ' ' 2> /dev/null < "/proc/$_lo_p/cmdline") in
		*--daemon*) continue ;;
		esac
		echo "$_lo_p"
	done
}

# stop [PID]: SIGTERM the daemon (default $PID, started by `start`), wait
# for it; fail unless it exits with 0 and leaves no rsync behind
stop() {
	_so_p=${1:-$PID}
	_so_kids=$(children "$_so_p")
	kill -TERM "$_so_p" || fail "daemon $_so_p was not running at stop"
	wait_for 20 gone "$_so_p" || fail "daemon $_so_p still running 20 s after SIGTERM"
	wait "$_so_p"
	_so_rc=$?
	[ "$_so_rc" = 0 ] || fail "daemon exited with status $_so_rc after SIGTERM, want 0"
	for _so_k in $_so_kids; do
		alive "$_so_k" && [ "$(progname "$_so_k")" = rsync ] &&
			fail "rsync $_so_k (child of the daemon) still running after it exited"
	done
	_so_left=$(leftover_rsync)
	[ -z "$_so_left" ] || fail "rsync still running after the daemon exited: $_so_left"
	return 0
}

# gone PID: the process has exited
gone() {
	! alive "$1"
}

# same SRC DST: the trees hold the same names, types, contents, symlink
# targets and permission modes (the top directories themselves aside);
# prints the difference when they do not
same() {
	[ -d "$1" ] || { echo "no directory $1"; return 1; }
	[ -d "$2" ] || { echo "no directory $2"; return 1; }
	diff -r --no-dereference -- "$1" "$2" > "$T/.same.diff" 2>&1 || {
		echo "trees differ: $1 $2"
		head -n 20 "$T/.same.diff"
		return 1
	}
	(cd "$1" && find . -mindepth 1 -printf '%M %P\0' | sort -z | tr '\0\n' '\n?') > "$T/.same.a"
	(cd "$2" && find . -mindepth 1 -printf '%M %P\0' | sort -z | tr '\0\n' '\n?') > "$T/.same.b"
	cmp -s "$T/.same.a" "$T/.same.b" && return 0
	echo "types or modes differ: $1 $2"
	diff "$T/.same.a" "$T/.same.b" | head -n 20
	return 1
}

# counting_rsync: write $T/rsync, an rsync that appends "PID ARGS" to
# $T/runs and then becomes /usr/bin/rsync; use it as the `rsync =` key
counting_rsync() {
	cat > "$T/rsync" <<-EOF
	#!/bin/sh
	printf '%s\n' "\$\$ \$*" >> '$T/runs'
	exec /usr/bin/rsync "\$@"
	EOF
	chmod 755 "$T/rsync"
}

# runs [STRING]: print how many rsync runs the counting rsync saw (those
# whose arguments contain STRING)
runs() {
	[ -f "$T/runs" ] || { echo 0; return 0; }
	if [ $# = 0 ]; then
		wc -l < "$T/runs" | tr -d ' '
	else
		grep -cF -- "$1" "$T/runs"
	fi
	return 0
}

# runs_at_least N [STRING]
runs_at_least() {
	[ "$(runs ${2+"$2"})" -ge "$1" ]
}

# idle: no rsync started through the counting rsync is running
idle() {
	[ -f "$T/runs" ] || return 0
	while read -r _id_p _id_args; do
		alive "$_id_p" && [ "$(progname "$_id_p")" = rsync ] && return 1
	done < "$T/runs"
	return 0
}

# busy: some rsync started through the counting rsync is running
busy() {
	! idle
}

# mkconf FILE [LINE...]: a config with LINEs, plus wpath = $T/src,
# rnodes = $T/dst, edelay = 0.2 and rsync = $T/rsync (the counting rsync,
# written if missing) for those keys no LINE sets
mkconf() {
	_mc_f=$1
	shift
	[ -x "$T/rsync" ] || counting_rsync
	{
		for _mc_k in wpath rnodes edelay rsync; do
			_mc_has=
			for _mc_l; do
				case $_mc_l in "$_mc_k "* | "$_mc_k="*) _mc_has=1 ;; esac
			done
			[ -n "$_mc_has" ] && continue
			case $_mc_k in
			wpath) echo "wpath = $T/src" ;;
			rnodes) echo "rnodes = $T/dst" ;;
			edelay) echo "edelay = 0.2" ;;
			rsync) echo "rsync = $T/rsync" ;;
			esac
		done
		for _mc_l; do
			echo "$_mc_l"
		done
	} > "$_mc_f"
}

# boot [LINE...]: counting rsync, $T/src, $T/c.conf from mkconf, start the
# daemon as "d" and wait until every destination had its first sync
boot() {
	counting_rsync
	mkdir -p "$T/src"
	mkconf "$T/c.conf" "$@"
	start d -c "$T/c.conf"
	_bo_n=$(grep -c '^rnodes' "$T/c.conf")
	wait_for 10 runs_at_least "$_bo_n" || fail "no first sync to each of $_bo_n destinations"
	wait_for 10 idle || fail "first sync did not finish"
}

# synced [DST]: $T/src and DST (default $T/dst) are the same
synced() {
	same "$T/src" "${1:-$T/dst}"
}

# want EXCLUDE...: make $T/want, what rsync itself makes of $T/src with
# these excludes, to compare a destination with
want() {
	rm -rf "$T/want"
	_wa_n=$#
	for _wa_x; do
		set -- "$@" "--exclude=$_wa_x"
	done
	shift "$_wa_n"
	/usr/bin/rsync -a "$@" "$T/src/" "$T/want/" || fail "rsync for the expected tree failed"
}

# conf_error FILE LINE WORD [ARGS...]: inosync -t -c FILE ARGS fails with
# exit 2 and exactly one stderr line "inosync: FILE:LINE: ..." that has WORD
conf_error() {
	_ce_f=$1 _ce_l=$2 _ce_w=$3
	shift 3
	"$INOSYNC" -t -c "$_ce_f" "$@" > "$T/ce.out" 2> "$T/ce.err"
	_ce_rc=$?
	[ "$_ce_rc" = 2 ] || fail "exit $_ce_rc, want 2; stderr: $(cat "$T/ce.err")"
	[ "$(wc -l < "$T/ce.err")" = 1 ] || fail "want one stderr line, got: $(cat "$T/ce.err")"
	grep -qF -- "inosync: $_ce_f:$_ce_l: " "$T/ce.err" ||
		fail "want 'inosync: $_ce_f:$_ce_l: ...', got: $(cat "$T/ce.err")"
	grep -qi -- "$_ce_w" "$T/ce.err" || fail "want '$_ce_w' in: $(cat "$T/ce.err")"
	[ ! -s "$T/ce.out" ] || fail "nothing on stdout wanted, got: $(cat "$T/ce.out")"
}

# rsyncd_start [DIR]: an rsync daemon on 127.0.0.1 with module m at DIR
# (default $T/r), on a free port (the same as before, after rsyncd_stop);
# sets RSYNCD_PORT and RSYNCD_PID
rsyncd_start() {
	RSYNCD_DIR=${1:-${RSYNCD_DIR:-$T/r}}
	mkdir -p "$RSYNCD_DIR"
	cat > "$T/rsyncd.conf" <<-EOF
	use chroot = no
	munge symlinks = no
	[m]
	path = $RSYNCD_DIR
	read only = no
	uid = root
	gid = root
	EOF
	for _rd_try in 1 2 3 4 5 6 7 8 9 10; do
		_rd_port=${RSYNCD_PORT:-$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))}
		/usr/bin/rsync --daemon --no-detach --address=127.0.0.1 --port="$_rd_port" \
			--config="$T/rsyncd.conf" --log-file="$T/rsyncd.log" > /dev/null 2>&1 &
		RSYNCD_PID=$!
		remember "$RSYNCD_PID"
		if wait_for 5 rsyncd_up "$_rd_port" "$RSYNCD_PID"; then
			RSYNCD_PORT=$_rd_port
			return 0
		fi
		kill "$RSYNCD_PID" 2> /dev/null
		wait "$RSYNCD_PID" 2> /dev/null
		sleep 0.2 # a restart may wait for the old socket to go
	done
	fail "no rsync daemon could start (port ${RSYNCD_PORT:-random})"
}

# rsyncd_up PORT PID: the daemon PID runs and lists module m on PORT
rsyncd_up() {
	alive "$2" || return 1
	/usr/bin/rsync --contimeout=2 "rsync://127.0.0.1:$1/" 2> /dev/null | grep -q '^m\b'
}

# rsyncd_stop: stop the rsync daemon; the port stays in RSYNCD_PORT
rsyncd_stop() {
	kill -TERM "$RSYNCD_PID"
	wait_for 5 gone "$RSYNCD_PID" || fail "rsync daemon did not stop"
	wait "$RSYNCD_PID" 2> /dev/null
	return 0
}

# sysctl_set FILE VALUE: set a /proc/sys value; the runner puts the old
# one back after the test, whatever happens
sysctl_set() {
	[ "$(id -u)" = 0 ] || skip "needs root to write $1"
	[ -w "$1" ] || skip "$1 is not writable here"
	echo "$1 $(cat "$1")" >> "$T/.sysctl"
	echo "$2" 2> /dev/null > "$1" || skip "cannot write $1"
	[ "$(cat "$1")" = "$2" ] || skip "$1 did not take $2"
}

# sysctl_restore FILE: put FILE's first saved value back now
sysctl_restore() {
	_sr_v=$(grep -F "$1 " "$T/.sysctl" | head -n 1)
	echo "${_sr_v#* }" > "$1"
}

# log_has NAME STRING: $T/NAME.log contains STRING
log_has() {
	grep -qF -- "$2" "$T/$1.log"
}

# observe SECONDS: let time pass to see that something does NOT happen (an
# observation window; waiting for something to happen is wait_for's job)
observe() {
	sleep "$1"
}

# watches [PID]: print how many inotify watches the process holds
watches() {
	cat "/proc/${1:-$PID}/fdinfo/"* 2> /dev/null | grep -c '^inotify wd:'
}

# log_lines NAME N STRING: at least N lines of $T/NAME.log contain STRING
log_lines() {
	[ "$(grep -cF -- "$3" "$T/$1.log")" -ge "$2" ]
}

# synced_with SRC [DST]: $T/SRC and DST (default $T/dst) are the same
synced_with() {
	same "$T/$1" "${2:-$T/dst}"
}
