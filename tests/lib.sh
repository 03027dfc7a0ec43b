# shellcheck shell=sh
# Helpers for the inosync tests, sourced by tests/run into the shell that
# runs one test function. The runner sets:
#   T        a fresh, empty temporary directory (the cwd), removed afterwards
#   ROOT     the source tree; INOSYNC the binary under test
# Files in $T the runner reads after the test: .pids (processes to kill if
# still alive), .mounts (mount points to unmount), .sysctl ("FILE VALUE"
# lines to restore), .skip (a reason).
# POSIX sh only; no `local`, so helpers keep their variables apart with a
# prefix of their own.

: "${T:?}" "${ROOT:?}"
INOSYNC=${INOSYNC:-$ROOT/inosync}
# a whole number that stretches deadlines and observation windows, for a
# slow machine or an emulated inosync (tests/cross); 1 by default
TEST_SCALE=${TEST_SCALE:-1}
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
# SECONDS (times TEST_SCALE) have passed (1). On timeout CMD runs once more
# with its output shown, so a failing `same` prints the difference.
wait_for() {
	_wf_end=$(($(cs "$1") * TEST_SCALE))
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

# daemons_with STRING: procs_with's pids, less those whose parent is one
# of them: a daemon's child between its fork and its exec (a jail being
# made) still has the daemon's command line, for longer under an emulator
daemons_with() {
	_dw_l=$(procs_with "$1")
	_dw_all=" $(echo $_dw_l) "
	for _dw_p in $_dw_l; do
		read -r _dw_s 2> /dev/null < "/proc/$_dw_p/stat" || continue
		_dw_s=${_dw_s##*) }
		_dw_s=${_dw_s#* }
		case $_dw_all in *" ${_dw_s%% *} "*) continue ;; esac
		echo "$_dw_p"
	done
}

# progname PID: print the name of PID's program
progname() {
	cat "/proc/$1/comm" 2> /dev/null
}

# children PID: print the pids of PID's children (like pgrep -P, which a
# fresh Debian lacks: procps is not essential). This and the other looks
# at every process read /proc in one or two programs, not a fork each: a
# test of the suite beside this one may run 10,000 processes.
children() {
	cat /proc/[0-9]*/stat 2> /dev/null | awk -v p="$1" '
		{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); if (f[2] == p) print $1 }'
}

# procs_with STRING: print the pids of live processes one of whose
# arguments contains STRING (like pgrep -f, without regular expressions)
procs_with() {
	for _pw_f in $(grep -lzsF -- "$1" /proc/[0-9]*/cmdline); do
		_pw_p=${_pw_f#/proc/}
		_pw_p=${_pw_p%/cmdline}
		[ "$_pw_p" = "$$" ] && continue
		alive "$_pw_p" && echo "$_pw_p"
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
		read -r _lo_c 2> /dev/null < "/proc/$_lo_p/comm" && [ "$_lo_c" = rsync ] || continue
		case $(tr '\0' ' ' 2> /dev/null < "/proc/$_lo_p/cmdline") in
		*--daemon*) continue ;;
		esac
		echo "$_lo_p"
	done
}

no_leftover_rsync() {
	[ -z "$(leftover_rsync)" ]
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
	# the members of a sync's group the daemon stopped (on a reload, say)
	# end on their own once the signal reaches them, which a loaded
	# machine may take a moment to do
	wait_for 5 no_leftover_rsync ||
		fail "rsync still running 5 s after the daemon exited: $(leftover_rsync)"
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
# $T/runs and then becomes $REAL_RSYNC (default /usr/bin/rsync); use it as
# the `rsync =` key
counting_rsync() {
	cat > "$T/rsync" <<-EOF
	#!/bin/sh
	printf '%s\n' "\$\$ \$*" >> '$T/runs'
	exec ${REAL_RSYNC:-/usr/bin/rsync} "\$@"
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
# rnodes = $T/dst, edelay = 0.2, rsync = $T/rsync (the counting rsync,
# written if missing) and, after the LINEs, rjail = $T (the test's rsyncs
# write their records there from inside the jail) for those keys no LINE
# sets
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
		# last, so that the lines keep their numbers; /proc/uptime
		# for timed_rsync
		case "$*" in *rjail*) ;; *) printf 'rjail = %s\n' "$T" /proc/uptime ;; esac
		case "$*" in *watcher*) ;; *) echo "watcher = ${WATCHER:-auto}" ;; esac
	} > "$_mc_f"
}

# need_fanotify: skip unless the daemon can watch $T with fanotify (root,
# a kernel with it, a filesystem that takes its mark)
need_fanotify() {
	mkdir -p "$T/.fan"
	printf 'wpath = %s\nrnodes = h::m\nwatcher = fanotify\n' "$T/.fan" > "$T/.fan.conf"
	_nf=$("$INOSYNC" -t -c "$T/.fan.conf" 2>&1 | sed -n 's/^# watcher: //p')
	[ "$_nf" = fanotify ] || skip "no fanotify here: ${_nf:-inosync -t did not say}"
}

# boot [LINE...]: counting rsync, $T/src (with a file .boot if it is
# empty), $T/c.conf from mkconf, start the daemon as "d" and wait until
# every destination had its first sync
boot() {
	counting_rsync
	mkdir -p "$T/src"
	# an empty wpath at start is held, as an unmounted volume's would be
	[ -n "$(ls -A "$T/src")" ] || echo boot > "$T/src/.boot"
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
# exit 2 and exactly one stderr line "inosync: FILE:LINE: ..." that has WORD,
# within 10 s (a check that blocks fails with exit 124)
conf_error() {
	_ce_f=$1 _ce_l=$2 _ce_w=$3
	shift 3
	timeout $((10 * TEST_SCALE)) "$INOSYNC" -t -c "$_ce_f" "$@" > "$T/ce.out" 2> "$T/ce.err"
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
# sets RSYNCD_PORT and RSYNCD_PID. RSYNCD_CHROOT=yes chroots it (rsync's
# default; the tests' is no); with RSYNCD_XFERLOG set, $T/rsyncd.log has a
# line "XFER OP BYTES NAME" for each file, BYTES what crossed the wire
rsyncd_start() {
	RSYNCD_DIR=${1:-${RSYNCD_DIR:-$T/r}}
	mkdir -p "$RSYNCD_DIR"
	_rd_xfer=no
	[ -z "${RSYNCD_XFERLOG-}" ] || _rd_xfer=yes
	cat > "$T/rsyncd.conf" <<-EOF
	use chroot = ${RSYNCD_CHROOT:-no}
	munge symlinks = no
	log file = $T/rsyncd.log
	[m]
	path = $RSYNCD_DIR
	read only = no
	uid = root
	gid = root
	transfer logging = $_rd_xfer
	log format = XFER %o %b %n
	EOF
	for _rd_try in 1 2 3 4 5 6 7 8 9 10; do
		_rd_port=${RSYNCD_PORT:-$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))}
		/usr/bin/rsync --daemon --no-detach --address=127.0.0.1 --port="$_rd_port" \
			--config="$T/rsyncd.conf" > /dev/null 2>&1 &
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

# one_daemon PIDS WHERE: PIDS (a list from procs_with or procs_in_root)
# is exactly one daemon, which the runner kills if the test leaves it
# running (a detached daemon is not our child); sets DPID. WHERE ends the
# failure messages ("after -d").
one_daemon() {
	for _od_p in $1; do
		remember "$_od_p"
	done
	[ -n "$1" ] || fail "no daemon running $2"
	[ "$(echo "$1" | wc -l)" = 1 ] || fail "more than one daemon $2: $1"
	# shellcheck disable=SC2034 # for the test
	DPID=$1
}

# mount_tmpfs DIR SIZE: a tmpfs of SIZE (as mount's size=) on DIR, made if
# missing; the runner unmounts it after the test
mount_tmpfs() {
	[ "$(id -u)" = 0 ] || skip "needs root to mount a tmpfs"
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1" 2> /dev/null || skip "cannot mount a tmpfs here"
	echo "$1" >> "$T/.mounts"
}

# cputime PID: print the CPU time PID itself has used (user + system, its
# children aside), in centiseconds
cputime() {
	read -r _cp_s 2> /dev/null < "/proc/$1/stat" || return 1
	# shellcheck disable=SC2086 # split into fields: state is $1, utime $12
	set -- ${_cp_s##*) }
	_cp_hz=$(getconf CLK_TCK 2> /dev/null) || _cp_hz=100
	echo $(((${12} + ${13}) * 100 / _cp_hz))
}

# calm SECONDS [PID]: over an observation window of SECONDS the daemon
# (default $PID) uses at most a tenth of a CPU: it waits, it does not spin
calm() {
	_ca_p=${2:-$PID}
	_ca_a=$(cputime "$_ca_p") || return 1
	now
	_ca_t=$NOW
	observe "$1"
	_ca_b=$(cputime "$_ca_p") || return 1
	now
	echo "daemon CPU $((_ca_b - _ca_a))0 ms in $((NOW - _ca_t))0 ms" >&2
	[ $(((_ca_b - _ca_a) * 10)) -le $((NOW - _ca_t)) ]
}

# log_has NAME STRING: $T/NAME.log contains STRING
log_has() {
	grep -qF -- "$2" "$T/$1.log"
}

# observe SECONDS: let time pass to see that something does NOT happen (an
# observation window; waiting for something to happen is wait_for's job).
# The window grows with TEST_SCALE: a slower daemon takes longer to do what
# it should not.
observe() {
	_ob_cs=$(($(cs "$1") * TEST_SCALE))
	sleep "$((_ob_cs / 100)).$((_ob_cs / 10 % 10))$((_ob_cs % 10))"
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

# timed_rsync: like counting_rsync, but each line of $T/runs is
# "PID CENTISECONDS ARGS" (the time since boot when rsync started)
timed_rsync() {
	cat > "$T/rsync" <<-EOF2
	#!/bin/sh
	read -r up idle < /proc/uptime
	printf '%s\n' "\$\$ \${up%.*}\${up#*.} \$*" >> '$T/runs'
	exec /usr/bin/rsync "\$@"
	EOF2
	chmod 755 "$T/rsync"
}

# statusval FILE KEY: print the value of KEY in the key=value FILE
statusval() {
	sed -n "s/^$2=//p" "$1" 2> /dev/null
}

# blackhole_start: a TCP listener on 127.0.0.1 that accepts connections,
# holds them and never says a word (perl, which Debian always has); sets
# BH_PORT and BH_PID
blackhole_start() {
	command -v perl > /dev/null || skip "no perl for the black hole listener"
	rm -f "$T/blackhole.port"
	# shellcheck disable=SC2016 # perl's variables
	perl -e 'use Socket;
		socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
		bind($s, sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!\n";
		listen($s, 64) or die "listen: $!\n";
		my ($port) = sockaddr_in(getsockname($s));
		open(my $f, ">", "$ARGV[0].new") or die "$ARGV[0].new: $!\n";
		print $f "$port\n";
		close($f);
		rename("$ARGV[0].new", $ARGV[0]) or die "rename: $!\n";
		my @held;
		while (accept(my $c, $s)) { push @held, $c; }' \
		"$T/blackhole.port" > "$T/blackhole.log" 2>&1 &
	BH_PID=$!
	remember "$BH_PID"
	wait_for 5 test -s "$T/blackhole.port" || fail "the black hole listener did not start"
	# shellcheck disable=SC2034 # for the test
	BH_PORT=$(cat "$T/blackhole.port")
}

# sshd_start: an sshd on 127.0.0.1 on a free port, a child of the test,
# with a host key of its own, that lets root in with the key $T/id (made
# here) and nothing else; its log is $T/sshd.log. Sets SSHD_PORT, SSHD_PID
# and SSH_RSH (an rsh value that reaches it, through $T/bin/ssh, which
# records each ssh's arguments in $T/ssh.args). Skips, with the reason, where
# there is no sshd or it cannot let root in.
sshd_start() {
	[ -x /usr/sbin/sshd ] || skip "no /usr/sbin/sshd (apt-get install openssh-server)"
	for _ss_c in ssh ssh-keygen; do
		command -v "$_ss_c" > /dev/null || skip "no $_ss_c (apt-get install openssh-client)"
	done
	[ "$(id -u)" = 0 ] || skip "needs root: the test logs in to sshd as root"
	mkdir -p /run/sshd || skip "cannot make /run/sshd, which sshd needs"
	for _ss_k in sshd_host_key id; do
		ssh-keygen -q -t ed25519 -N '' -C inosync-test -f "$T/$_ss_k" > /dev/null ||
			skip "ssh-keygen failed"
	done
	cp "$T/id.pub" "$T/authorized_keys"
	cat > "$T/sshd_config" <<-EOF
	ListenAddress 127.0.0.1
	HostKey $T/sshd_host_key
	PidFile $T/sshd.pid
	AuthorizedKeysFile $T/authorized_keys
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	StrictModes no
	UsePAM no
	EOF
	for _ss_try in 1 2 3 4 5 6 7 8 9 10; do
		_ss_port=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		/usr/sbin/sshd -D -e -f "$T/sshd_config" -p "$_ss_port" > "$T/sshd.log" 2>&1 &
		SSHD_PID=$!
		remember "$SSHD_PID"
		wait_for 5 sshd_up "$_ss_port" || true
		if alive "$SSHD_PID" && log_has sshd "Server listening on 127.0.0.1 port $_ss_port"; then
			SSHD_PORT=$_ss_port
			break
		fi
		kill "$SSHD_PID" 2> /dev/null
		wait "$SSHD_PID" 2> /dev/null
	done
	[ -n "${SSHD_PORT-}" ] || skip "sshd did not start: $(tail -n 2 "$T/sshd.log" | tr '\n' ' ')"
	# ssh, which appends its arguments to $T/ssh.args: the daemon runs it
	# outside rsync's jail
	mkdir -p "$T/bin"
	printf '#!/bin/sh\necho "$*" >> %s/ssh.args\nexec ssh "$@"\n' "$T" > "$T/bin/ssh"
	chmod 755 "$T/bin/ssh"
	SSH_RSH="$T/bin/ssh -i $T/id -p $SSHD_PORT -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
	# shellcheck disable=SC2086 # SSH_RSH is words, as rsync splits it
	$SSH_RSH 127.0.0.1 true < /dev/null > "$T/ssh-check.out" 2>&1 ||
		skip "sshd does not let root in with a key here: $(tail -n 2 "$T/ssh-check.out" "$T/sshd.log" | tr '\n' ' ')"
}

# sshd_up PORT: sshd says it listens on PORT, or it has exited
sshd_up() {
	log_has sshd "Server listening on 127.0.0.1 port $1" || gone "$SSHD_PID"
}

# native_inosync: $INOSYNC is an ELF binary for this machine, not a script
# or a foreign binary that an emulator runs (tests/cross)
native_inosync() {
	[ "$(od -An -c -N4 "$INOSYNC" 2> /dev/null | tr -d ' ')" = 177ELF ] || return 1
	[ "$(od -An -tx1 -j18 -N2 "$INOSYNC")" = "$(od -An -tx1 -j18 -N2 "$(readlink -f /bin/sh)")" ]
}

# sanitized: $INOSYNC is an ASan build (make check-asan)
sanitized() {
	grep -q __asan_init "$INOSYNC" 2> /dev/null
}

# root_add FILE PATH: copy FILE to $ROOT_FS/PATH, with the shared
# libraries and the loader `ldd FILE` lists (none for a static binary)
root_add() {
	mkdir -p "$ROOT_FS/${2%/*}"
	cp -L "$1" "$ROOT_FS/$2" || fail "cannot copy $1 into $ROOT_FS"
	for _ra_l in $(ldd "$1" 2> /dev/null | sed -n \
		-e 's/.*=> \(\/[^ ]*\) (0x.*/\1/p' \
		-e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*/\1/p'); do
		[ -e "$ROOT_FS/$_ra_l" ] && continue
		mkdir -p "$ROOT_FS/${_ra_l%/*}"
		cp -L "$_ra_l" "$ROOT_FS/$_ra_l" || fail "cannot copy $_ra_l into $ROOT_FS"
	done
}

# bare_root: build ROOT_FS=$T/root, a root filesystem that holds BusyBox
# (/bin/busybox, /bin/sh), inosync (/bin/inosync), rsync (/usr/bin/rsync
# with its libraries and loader), /etc/inosync.conf (wpath = /src, rnodes =
# /dst, edelay = 0.2, rsync = /usr/bin/rsync) and /src, and nothing else:
# no /dev, no /proc, no /etc/passwd, no /dev/log. Lists what it holds in
# $T/root.files for root_untouched. Skips where it cannot be built or run.
bare_root() {
	ROOT_FS=$T/root
	[ "$(id -u)" = 0 ] || skip "needs root for chroot"
	native_inosync || skip "$INOSYNC is not a binary for this machine: it would need its emulator in the root"
	! sanitized || skip "a sanitizer build needs /proc, which the bare root lacks"
	_br_bb=$(command -v busybox) || skip "no busybox (apt-get install busybox-static)"
	command -v ldd > /dev/null || skip "no ldd to find rsync's libraries"
	root_add "$_br_bb" /bin/busybox
	ln -s busybox "$ROOT_FS/bin/sh"
	root_add "$INOSYNC" /bin/inosync
	root_add /usr/bin/rsync /usr/bin/rsync
	mkdir -p "$ROOT_FS/etc" "$ROOT_FS/src"
	printf '%s\n' 'wpath = /src' 'rnodes = /dst' 'edelay = 0.2' \
		'rsync = /usr/bin/rsync' > "$ROOT_FS/etc/inosync.conf"
	chroot "$ROOT_FS" /bin/sh -c : 2> "$T/chroot.err" ||
		skip "cannot run BusyBox in a chroot: $(cat "$T/chroot.err")"
	chroot "$ROOT_FS" /usr/bin/rsync --version > /dev/null 2> "$T/chroot.err" ||
		fail "rsync does not run in the bare root: $(cat "$T/chroot.err")"
	chroot "$ROOT_FS" /bin/inosync -t > /dev/null 2> "$T/chroot.err" ||
		fail "inosync -t fails in the bare root: $(cat "$T/chroot.err")"
	(cd "$ROOT_FS" && find . | sort) > "$T/root.files"
}

# root_untouched: ROOT_FS holds only what bare_root put there, besides
# what is under /src and /dst (nothing made /dev/null, /dev/log, a pidfile)
root_untouched() {
	(cd "$ROOT_FS" && find . | grep -v -e '^\./src/' -e '^\./dst$' -e '^\./dst/' | sort) > "$T/root.now"
	diff "$T/root.files" "$T/root.now" | sed -n 's/^> /new in the root: /p' > "$T/root.diff"
	[ ! -s "$T/root.diff" ] || { cat "$T/root.diff"; return 1; }
}

# procs_in_root DIR: print the pids of live inosync processes whose root
# directory is DIR (chroot DIR); a detached one is found no other way
procs_in_root() {
	find /proc/[0-9]*/root -maxdepth 0 -lname "$1" 2> /dev/null | while read -r _pr_d; do
		_pr_p=${_pr_d#/proc/}
		_pr_p=${_pr_p%/root}
		[ "$(progname "$_pr_p")" = inosync ] || continue
		alive "$_pr_p" && echo "$_pr_p"
	done
	return 0
}

# mkdirs DIR N: make N directories DIR/aI/bJ, 100 to an aI, quickly
mkdirs() {
	awk -v d="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s/a%d/b%d\n", d, int(i / 100), i }' |
		xargs mkdir -p || fail "cannot make $2 directories in $1"
}

# unwatched_dirs PID DIR: print the directories under DIR (DIR included)
# that the process PID holds no inotify watch on, by inode
unwatched_dirs() {
	cat "/proc/$1/fdinfo/"* 2> /dev/null |
		sed -n 's/^inotify wd:[0-9a-f]* ino:\([0-9a-f]*\) .*/\1/p' > "$T/.watched"
	find "$2" -type d -printf '%i %p\n' | awk '
		NR == FNR { w[$1]; next }
		!(sprintf("%x", $1) in w) { print substr($0, index($0, " ") + 1) }' "$T/.watched" -
}

# deepest: of the paths on stdin, print one with the most components
deepest() {
	awk -F/ 'NF > n { n = NF; p = $0 } END { if (n) print p }'
}

# least_as LO HI CMD...: the least address-space limit (KiB) from LO up to
# HI at which `CMD... KIB` succeeds, found by doubling, then halving the gap
# until it is HI/16 or less. Sets LEAST_OK (0 if none up to HI) and
# LEAST_BAD (the greatest limit tried at which CMD failed; 0 if none).
least_as() {
	_la_lo=0 _la_try=$1 _la_max=$2
	shift 2
	LEAST_OK=0 LEAST_BAD=0
	while [ "$_la_try" -le "$_la_max" ]; do
		if "$@" "$_la_try"; then
			LEAST_OK=$_la_try
			break
		fi
		_la_lo=$_la_try _la_try=$((_la_try * 2))
	done
	[ "$LEAST_OK" != 0 ] || { LEAST_BAD=$_la_lo; return 1; }
	while [ "$_la_lo" != 0 ] && [ $((LEAST_OK - _la_lo)) -gt $((LEAST_OK / 16)) ]; do
		_la_try=$(((_la_lo + LEAST_OK) / 2))
		if "$@" "$_la_try"; then
			LEAST_OK=$_la_try
		else
			_la_lo=$_la_try
		fi
	done
	# shellcheck disable=SC2034 # for the test
	LEAST_BAD=$_la_lo
}
