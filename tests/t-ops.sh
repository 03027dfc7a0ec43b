# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Operations: rsh, rargs and rtimeout (a real sshd, a destination that never
# answers), the pidfile, the config file's permissions, SIGUSR2 and the
# statusfile, efull, rhook, and what one sync logs.

# pretend LINE...: inosync -p with a config of LINEs (mkconf) until it has
# logged one rsync command line per destination; the lines are in $T/pretend
pretend() {
	mkdir -p "$T/src"
	echo x > "$T/src/x" # an empty wpath is held at start
	mkconf "$T/p.conf" "$@"
	start p -p -c "$T/p.conf"
	_pr_n=$(grep -c '^rnodes' "$T/p.conf")
	wait_for 10 log_lines p "$_pr_n" pretend: || fail "no 'pretend:' line for each destination"
	stop
	sed -n 's/^inosync: pretend: //p' "$T/p.log" > "$T/pretend"
}

# pretend_for DEST: print the command line of DEST (its last word)
pretend_for() {
	while read -r _pf_l; do
		case $_pf_l in *" $1") echo "$_pf_l" && return 0 ;; esac
	done < "$T/pretend"
}

# rsh_of RTIMEOUT [RSH]: set RSH to the remote shell (rsync -e) that
# inosync -p shows for the destination 127.0.0.1:/x with these keys
rsh_of() {
	pretend "rnodes = 127.0.0.1:/x" "rtimeout = $1" ${2+"rsh = $2"}
	RSH=$(sed -n "s/.* -e '\([^']*\)'.*/\1/p" "$T/pretend")
}

# within N LO HI: LO <= N <= HI
within() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# refused RC: RC is the exit status of a start that was refused (not 0, and
# not timeout's 124 for one that ran on)
refused() {
	case $1 in 0 | 124) return 1 ;; esac
}

# status_is LINE...: one read of $T/status has every LINE
status_is() {
	_si_s=$(cat "$T/status") || return 1
	for _si_l; do
		case "
$_si_s
" in
		*"
$_si_l
"*) ;;
		*) return 1 ;;
		esac
	done
}

# pidfile_is FILE PID: FILE holds PID
pidfile_is() {
	[ "$(cat "$1" 2> /dev/null)" = "$2" ]
}

# hooks_for DEST: one line in hook.out for each rsync run to DEST
hooks_for() {
	[ "$(grep -cF "|$1|" "$T/hook.out")" = "$(runs "$1")" ]
}

# hooks_logged: as many 'rhook ... failed' lines in d.log as hooks ran
hooks_logged() {
	[ "$(grep -c . "$T/hook.ran")" = "$(grep -c "rhook $T/hook failed" "$T/d.log")" ]
}

# mode FILE: print the permission bits of FILE in octal
mode() {
	stat -c %a "$1"
}

t_ssh_destination_is_mirrored_with_the_rsh_given() {
	sshd_start
	mkdir -p src/sub
	echo 1 > src/sub/one
	ln -s sub/one src/link
	boot "rnodes = 127.0.0.1:$T/dst" "rsh = $SSH_RSH"
	wait_for 10 synced || fail "not mirrored over ssh at start"
	echo 2 > src/sub/two
	mkdir -p src/new/deeper
	echo 3 > src/new/deeper/three
	rm src/sub/one
	wait_for 10 synced || fail "changes not mirrored over ssh"
	log_has sshd "Accepted publickey for root" || fail "rsync did not log in to the test's sshd"
	stop
}

t_ssh_rsh_gets_rtimeout_as_its_connect_timeout() {
	rsh_of 7
	[ "$RSH" = "ssh -o BatchMode=yes -o ConnectTimeout=7" ] || fail "default rsh: '$RSH'"
	rsh_of 7 "ssh -p 2222"
	[ "$RSH" = "ssh -p 2222 -o ConnectTimeout=7" ] || fail "rsh = ssh -p 2222 gives '$RSH'"
	# the README's own example: a key file, whose path has slashes
	rsh_of 7 "ssh -i $T/id -o BatchMode=yes"
	[ "$RSH" = "ssh -i $T/id -o BatchMode=yes -o ConnectTimeout=7" ] ||
		fail "rsh = ssh -i $T/id -o BatchMode=yes gives '$RSH', want ConnectTimeout=7 appended"
	rsh_of 7 "/usr/bin/ssh -p 2222"
	[ "$RSH" = "/usr/bin/ssh -p 2222 -o ConnectTimeout=7" ] || fail "rsh = /usr/bin/ssh gives '$RSH'"
	rsh_of 7 "ssh -o ConnectTimeout=3 -p 2222"
	[ "$RSH" = "ssh -o ConnectTimeout=3 -p 2222" ] || fail "a ConnectTimeout of the user's own became '$RSH'"
	rsh_of 7 "dbclient -y -i $T/id"
	[ "$RSH" = "dbclient -y -i $T/id" ] || fail "dbclient rsh became '$RSH'"
	rsh_of 0 "ssh -p 2222"
	[ "$RSH" = "ssh -p 2222" ] || fail "rtimeout = 0 still gives a ConnectTimeout: '$RSH'"
}

t_rtimeout_reaches_rsync_as_timeout_and_daemons_contimeout() {
	loc=$T/dst daemon=rsync://127.0.0.1:9/m/ shell=127.0.0.1:/x
	pretend "rnodes = $loc" "rnodes = $daemon" "rnodes = $shell" "rtimeout = 7"
	for d in "$loc" "$daemon" "$shell"; do
		case $(pretend_for "$d") in
		*" --timeout=7 "*) ;;
		*) fail "no --timeout=7 for $d: $(pretend_for "$d")" ;;
		esac
	done
	case $(pretend_for "$daemon") in
	*" --contimeout=7 "*) ;;
	*) fail "no --contimeout=7 for the rsync daemon: $(pretend_for "$daemon")" ;;
	esac
	for d in "$loc" "$shell"; do
		case $(pretend_for "$d") in
		*--contimeout*) fail "--contimeout for $d, which is no rsync daemon" ;;
		esac
	done
	# rsh is for host:path only (-e would mean something else to a daemon)
	case $(pretend_for "$shell") in *" -e "*) ;; *) fail "no -e for $shell" ;; esac
	for d in "$loc" "$daemon"; do
		case $(pretend_for "$d") in *" -e "*) fail "-e given for $d" ;; esac
	done
	pretend "rnodes = $daemon"
	case $(pretend_for "$daemon") in
	*" --timeout=60 --contimeout=60 "*) ;;
	*) fail "the default rtimeout is not 60: $(pretend_for "$daemon")" ;;
	esac
	pretend "rnodes = $daemon" "rtimeout = 0"
	grep -q timeout "$T/pretend" && fail "rtimeout = 0 still gives a timeout: $(cat "$T/pretend")"
	return 0
}

t_dead_destination_is_given_up_after_rtimeout_and_retried_while_the_other_syncs() {
	blackhole_start
	dead=rsync://127.0.0.1:$BH_PORT/m/
	timed_rsync
	mkdir src
	echo a > src/a
	mkconf c.conf "rnodes = $T/dst" "rnodes = $dead" "rtimeout = 2"
	start d -c c.conf
	wait_for 5 synced || fail "the local destination waits for the dead one"
	# the local destination gets each change at once while the dead one is
	# tried, given up on, and tried again
	n=0 worst=0
	now
	end=$((NOW + 2000))
	until log_lines d 2 "$dead: full sync failed"; do
		n=$((n + 1))
		echo "$n" > "src/f$n"
		now
		t0=$NOW
		wait_for 3 synced || fail "change $n did not reach the local destination within 3 s"
		now
		[ $((NOW - t0)) -gt $worst ] && worst=$((NOW - t0))
		[ "$NOW" -lt "$end" ] || fail "the dead destination was not given up on twice in 20 s"
		observe 0.3
	done
	grep -F "$dead: full sync failed" d.log | head -n 2 > failed
	while read -r line; do
		case $line in
		*"(rsync exit 30:"* | *"(rsync exit 35:"* | *"(rsync exit 10:"*) ;;
		*) fail "not a timeout: $line" ;;
		esac
	done < failed
	# shellcheck disable=SC2046 # numbers only
	set -- $(sed 's/.* failed after \([0-9]*\) ms .* retrying in \([0-9]*\) ms$/\1 \2/' failed)
	[ $# = 4 ] || fail "cannot read the failure lines: $(cat failed)"
	gave1=$1 retry1=$2 gave2=$3 retry2=$4
	code=$(sed -n '1s/.*(rsync exit \([0-9]*\):.*/\1/p' failed)
	# shellcheck disable=SC2046 # numbers only
	set -- $(grep -F "$dead" runs | cut -d' ' -f2)
	gap=$((($2 - $1) * 10))
	echo "dead destination (rtimeout = 2): given up after $gave1 ms and $gave2 ms (rsync exit $code)," \
		"retried $retry1 ms and $retry2 ms later; tries started $gap ms apart;" \
		"the local destination got each of $n changes within $((worst * 10)) ms" >&2
	within "$gave1" 1500 6000 ||
		fail "given up after $gave1 ms with rtimeout = 2"
	[ "$retry1.$retry2" = 1000.2000 ] ||
		fail "retries after $retry1 ms and $retry2 ms, want 1000 and 2000"
	within "$gap" $((gave1 + 900)) $((gave1 + 2000)) ||
		fail "second try $gap ms after the first, want about $gave1 + 1000 ms"
	kill "$BH_PID" # its connections close: a running try ends at once
	stop
}

t_rargs_reach_rsync_split_on_blanks() {
	mkdir -p src/sub
	echo 1 > src/sub/one
	chmod 644 src/sub/one
	chmod 755 src/sub
	boot "rargs = --chmod=F600 	  --chmod=D700"
	wait_for 5 test -f dst/sub/one || fail "no first sync"
	[ "$(mode dst/sub/one)" = 600 ] || fail "file mode $(mode dst/sub/one), want 600 from --chmod=F600"
	[ "$(mode dst/sub)" = 700 ] || fail "directory mode $(mode dst/sub), want 700 from --chmod=D700"
	echo 2 > src/sub/two
	wait_for 5 test -f dst/sub/two || fail "change not synced"
	[ "$(mode dst/sub/two)" = 600 ] || fail "a change got mode $(mode dst/sub/two), want 600"
	stop
}

t_pidfile_holds_the_daemon_pid_and_goes_on_clean_exit() {
	boot "pidfile = $T/inosync.pid"
	[ -f inosync.pid ] || fail "no pidfile"
	[ "$(cat inosync.pid)" = "$PID" ] || fail "pidfile holds '$(cat inosync.pid)', want $PID"
	if command -v flock > /dev/null; then
		flock -n -E 99 inosync.pid true
		[ $? = 99 ] || fail "the pidfile is not locked"
	fi
	stop
	[ ! -e inosync.pid ] || fail "pidfile left after a clean exit"
}

t_pidfile_of_a_detached_daemon_names_it_and_P_overrides_the_key() {
	mkdir src
	echo x > src/x
	counting_rsync
	mkconf c.conf "pidfile = $T/key.pid"
	timeout 10 "$INOSYNC" -d -P "$T/arg.pid" -c "$T/c.conf" > out 2>&1
	rc=$?
	got=$(cat arg.pid 2> /dev/null) # at once: an init script reads it now
	[ "$rc" = 0 ] || fail "-d: exit $rc, want 0: $(cat out)"
	pids=$(daemons_with "$T/c.conf")
	one_daemon "$pids" "after -d"
	[ "$got" = "$pids" ] || fail "pidfile held '$got' when -d returned, want $pids"
	[ ! -e key.pid ] || fail "-P did not override the pidfile key"
	wait_for 10 synced || fail "no first sync after -d"
	kill -TERM "$pids"
	wait_for 20 gone "$pids" || fail "detached daemon still running after SIGTERM"
	[ ! -e arg.pid ] || fail "pidfile left after a clean exit"
}

t_second_daemon_on_the_same_pidfile_refuses_to_start() {
	boot "pidfile = $T/inosync.pid"
	timeout 5 "$INOSYNC" -c "$T/c.conf" > out 2> err
	rc=$?
	[ "$rc" = 1 ] || fail "second daemon: exit $rc, want 1; stderr: $(cat err)"
	grep -qF "$T/inosync.pid" err || fail "the refusal does not name the pidfile: $(cat err)"
	grep -qw "$PID" err || fail "the refusal does not name the running pid $PID: $(cat err)"
	timeout 5 "$INOSYNC" -d -c "$T/c.conf" > out 2> err
	rc=$?
	refused "$rc" || fail "second daemon with -d: exit $rc, want an error"
	grep -qF "$T/inosync.pid" err || fail "-d: the refusal does not name the pidfile: $(cat err)"
	# the SRC DEST form, with -P naming the same file
	timeout 5 "$INOSYNC" -P "$T/inosync.pid" "$T/src" "$T/dst2" > out 2> err
	rc=$?
	[ "$rc" = 1 ] || fail "-P on a locked pidfile: exit $rc, want 1; stderr: $(cat err)"
	[ ! -e dst2 ] || fail "the refused daemon synced anyway"
	[ "$(daemons_with "$T/c.conf")" = "$PID" ] || fail "daemons running: $(daemons_with "$T/c.conf")"
	[ "$(cat inosync.pid)" = "$PID" ] || fail "the pidfile now holds '$(cat inosync.pid)'"
	echo x > src/x
	wait_for 10 synced || fail "the first daemon stopped syncing"
	stop
}

t_pidfile_that_is_a_symlink_is_refused_and_its_target_untouched() {
	mkdir src
	counting_rsync
	mkconf c.conf "pidfile = $T/inosync.pid"
	ln -s "$T/target" inosync.pid
	timeout 5 "$INOSYNC" -c "$T/c.conf" > out 2> err
	rc=$?
	refused "$rc" || fail "started with a symlink as pidfile: exit $rc"
	grep -qF "$T/inosync.pid" err || fail "the refusal does not name the pidfile: $(cat err)"
	[ ! -e target ] || fail "the symlink's target was created"
	echo precious > target
	timeout 5 "$INOSYNC" -d -c "$T/c.conf" > out 2> err
	rc=$?
	refused "$rc" || fail "-d started with a symlink as pidfile: exit $rc"
	[ "$(cat target)" = precious ] || fail "the symlink's target was written: $(cat target)"
	[ -L inosync.pid ] || fail "the symlink was replaced"
	[ -z "$(procs_with "$T/c.conf")" ] || fail "a daemon runs anyway"
	[ "$(runs)" = 0 ] || fail "rsync ran"
}

t_stale_pidfile_of_a_killed_daemon_does_not_block_a_new_start() {
	boot "pidfile = $T/inosync.pid"
	kill -KILL "$PID"
	wait_for 5 gone "$PID" || fail "the daemon survived SIGKILL"
	wait "$PID"
	[ -f inosync.pid ] || fail "no pidfile after SIGKILL"
	echo 123456789012 > inosync.pid # longer than any pid
	start d -c "$T/c.conf"
	wait_for 5 pidfile_is inosync.pid "$PID" ||
		fail "pidfile holds '$(cat inosync.pid)' after a new start, want $PID"
	echo x > src/x
	wait_for 10 synced || fail "the new daemon does not sync"
	stop
	[ ! -e inosync.pid ] || fail "pidfile left after a clean exit"
}

t_config_that_group_or_others_may_write_is_refused_as_root() {
	[ "$(id -u)" = 0 ] || skip "needs root: the check is for a config read by root"
	mkdir src
	echo x > src/x
	counting_rsync
	mkconf c.conf
	chmod 664 c.conf
	conf_error "$T/c.conf" 0 group
	grep -q others ce.err || fail "the refusal does not mention others: $(cat ce.err)"
	chmod 646 c.conf
	conf_error "$T/c.conf" 0 others
	chmod 664 c.conf
	timeout 5 "$INOSYNC" -c "$T/c.conf" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "started with a group-writable config: exit $rc, want 2"
	grep -qF "inosync: $T/c.conf:0: " err || fail "stderr: $(cat err)"
	[ "$(runs)" = 0 ] || fail "rsync ran"
	chmod 644 c.conf
	"$INOSYNC" -t -c "$T/c.conf" > out 2> err || fail "mode 644 refused: $(cat err)"
	start d -c "$T/c.conf"
	wait_for 10 synced || fail "no sync with a mode 644 config"
	stop
}

t_reload_refuses_a_config_made_writable_by_others() {
	[ "$(id -u)" = 0 ] || skip "needs root: the check is for a config read by root"
	boot
	mkconf c.conf "rnodes = $T/dst2"
	chmod 666 c.conf
	kill -HUP "$PID"
	wait_for 5 log_has d "$T/c.conf:0: " || fail "the writable config is not reported on SIGHUP"
	echo x > src/x
	wait_for 10 synced || fail "the old config stopped syncing"
	[ ! -e dst2 ] || fail "the writable config was loaded"
	stop
}

t_sigusr2_logs_one_status_block() {
	mkdir -p src/sub
	t0=$(date +%s)
	boot
	echo x > src/sub/x
	wait_for 10 synced || fail "not synced"
	wait_for 5 idle || fail "sync did not end"
	kill -USR2 "$PID"
	wait_for 5 log_has d "status: dest1_last_error_at=" || fail "no status block after SIGUSR2"
	grep -n '^inosync: status: ' d.log > block
	[ "$(grep -c 'status: pid=' block)" = 1 ] || fail "not one status block: $(cat block)"
	first=$(head -n 1 block | cut -d: -f1)
	last=$(tail -n 1 block | cut -d: -f1)
	[ $((last - first + 1)) = "$(wc -l < block)" ] || fail "the status block is split"
	for want in "pid=$PID" watched=2 "dest1=$T/dst" dest1_pending=0 \
		"dest1_runs=$(runs)" dest1_last_error=; do
		grep -qx "[0-9]*:inosync: status: $want" block || fail "no 'status: $want' in: $(cat block)"
	done
	ok=$(sed -n 's/.*status: dest1_last_ok=//p' block)
	within "$ok" "$t0" "$(date +%s)" || fail "dest1_last_ok=$ok, not the time of the sync"
	stop
}

t_statusfile_counts_runs_and_goes_on_clean_exit() {
	mkdir -p src/sub
	t0=$(date +%s)
	boot "statusfile = $T/status"
	wait_for 3 grep -qx dest1_runs=1 status || fail "no statusfile with dest1_runs=1 after the first sync"
	wait_for 3 grep -qx dest1_state=idle status || fail "dest1 not idle after the first sync"
	for want in "pid=$PID" "wpath=$T/src/" watched=2 all_watched=yes destinations=1 \
		"dest1=$T/dst" dest1_pending=0 dest1_full_pending=no dest1_last_error= \
		dest1_last_error_at=0; do
		grep -qx "$want" status || fail "no '$want' in: $(cat status)"
	done
	ok=$(statusval status dest1_last_ok)
	within "$ok" "$t0" "$(date +%s)" || fail "dest1_last_ok=$ok, not the time of the sync"
	echo x > src/sub/x
	wait_for 3 grep -qx dest1_runs=2 status || fail "dest1_runs did not rise after a change"
	stop
	[ ! -e status ] || fail "statusfile left after a clean exit"
	[ ! -e status.tmp ] || fail "status.tmp left after a clean exit"
}

t_statusfile_state_goes_waiting_syncing_idle() {
	boot "statusfile = $T/status" "edelay = 2" "rspeed = 100"
	wait_for 3 status_is dest1_state=idle || fail "not idle after the first sync: $(cat status)"
	head -c 300000 /dev/urandom > src/big # 3 s at 100 KiB/s
	wait_for 2 status_is dest1_state=waiting dest1_pending=1 ||
		fail "not waiting, 1 pending, during edelay: $(cat status)"
	wait_for 3 status_is dest1_state=syncing || fail "not syncing: $(cat status)"
	wait_for 10 status_is dest1_state=idle dest1_pending=0 dest1_runs=2 ||
		fail "not idle after the sync: $(cat status)"
	synced || fail "not synced"
	stop
}

t_statusfile_shows_the_last_error_of_a_failing_destination() {
	t0=$(date +%s)
	boot "statusfile = $T/status" "rnodes = $T/dst" "rnodes = $T/later/dst"
	wait_for 5 grep -q '^dest2_last_error=rsync exit [1-9]' status ||
		fail "no last error for the failing destination: $(cat status)"
	at=$(statusval status dest2_last_error_at)
	within "$at" "$t0" "$(date +%s)" || fail "dest2_last_error_at=$at"
	case $(statusval status dest2_state) in
	retrying | waiting | syncing) ;;
	*) fail "dest2_state=$(statusval status dest2_state) for a failing destination" ;;
	esac
	grep -qx dest2_last_ok=0 status || fail "a destination that never synced has a last_ok"
	grep -qx dest1_last_error= status || fail "the good destination has an error: $(cat status)"
	grep -qx dest1_state=idle status || fail "the good destination is not idle: $(cat status)"
	mkdir later
	wait_for 15 synced later/dst || fail "the failing destination did not recover"
	wait_for 3 grep -qx dest2_state=idle status || fail "dest2 not idle once it recovered: $(cat status)"
	[ "$(statusval status dest2_last_ok)" -ge "$t0" ] || fail "no last_ok once it recovered"
	stop
}

t_statusfile_is_replaced_whole_at_most_once_a_second() {
	mkdir src
	boot "statusfile = $T/status" "rnodes = $T/dst" "rnodes = $T/dst2"
	wait_for 3 test -f status || fail "no statusfile"
	# a change every 0.1 s for 3 s: a sync, and so a new status, every edelay
	d=$PID
	# shellcheck disable=SC2016 # expanded by the writer
	spawn writer sh -c 'i=0; while [ $i -lt 30 ]; do echo $i > src/f; sleep 0.1; i=$((i + 1)); done'
	w=$PID
	PID=$d
	nl='
'
	reads=0 rewrites=0 ino=$(stat -c %i status)
	while alive "$w"; do
		s=$(cat status) || fail "the statusfile was missing"
		case $s in "pid=$PID$nl"*) ;; *) fail "read a statusfile that begins: ${s%%"$nl"*}" ;; esac
		case ${s##*"$nl"} in
		dest2_last_error_at=*[0-9]) ;;
		*) fail "read a statusfile cut short, ending: ${s##*"$nl"}" ;;
		esac
		# written aside and renamed: each rewrite is a new file
		i=$(stat -c %i status)
		[ "$i" != "$ino" ] && rewrites=$((rewrites + 1)) ino=$i
		reads=$((reads + 1))
	done
	wait "$w"
	echo "$reads whole reads, $rewrites rewrites in 3 s" >&2
	[ "$rewrites" -ge 2 ] || fail "$rewrites rewrites (as a new file) in 3 s of syncing"
	[ "$rewrites" -le 5 ] || fail "$rewrites rewrites in 3 s: more than once a second"
	[ "$(runs)" -ge 8 ] || fail "only $(runs) rsync runs: the test made too few status changes"
	wait_for 10 synced || fail "not synced"
	stop
}

# metric LINE...: each LINE ("NAME{LABELS} VALUE") is in $T/m.prom
metric() {
	for _me_l; do
		grep -qxF -- "$_me_l" "$T/m.prom" || return 1
	done
}

# metricval NAME{LABELS}: its value in $T/m.prom
metricval() {
	awk -v k="$1" 'index($0, k " ") == 1 { print substr($0, length(k) + 2) }' "$T/m.prom"
}

# the metricsfile has the statusfile's figures in Prometheus' text format,
# for node_exporter's textfile collector: a destination whose spec has a
# '"' and a '\' is a label promtool reads back; a failing destination
# counts its failures; a rename is seen and placed; a clean exit removes it
t_metricsfile_counts_syncs_failures_and_moves_for_prometheus() {
	mkdir -p src/sub
	echo moved > src/a
	t0=$(date +%s)
	# a '"', a '\\', a Latin-1 byte (not UTF-8: '?') and a UTF-8 character
	q=$(printf '%s/q"b\\s\351\303\274' "$T")
	boot "metricsfile = $T/m.prom" "rnodes = $T/dst" "rnodes = $T/later/dst" "rnodes = $q"
	qe=$(printf '%s/q\\"b\\\\s?\303\274' "$T")
	wait_for 5 metric "inosync_state{dest=\"$T/dst\",state=\"idle\"} 1" \
		"inosync_state{dest=\"$qe\",state=\"idle\"} 1" ||
		fail "no idle state for each good destination: $(cat m.prom)"
	wait_for 5 metric "inosync_sync_failures_total{dest=\"$T/later/dst\"} 1" ||
		fail "the failing destination counts no failure: $(cat m.prom)"
	metric "inosync_source_held 0" "inosync_watched_directories 2" \
		"inosync_all_watched 1" "inosync_held_files 0" "inosync_moves_total 0" \
		"inosync_syncs_total{dest=\"$T/dst\"} 1" \
		"inosync_sync_failures_total{dest=\"$T/dst\"} 0" \
		"inosync_last_success_timestamp_seconds{dest=\"$T/later/dst\"} 0" \
		"inosync_pending_directories{dest=\"$T/dst\"} 0" \
		"inosync_state{dest=\"$T/dst\",state=\"syncing\"} 0" ||
		fail "a figure is missing or wrong: $(cat m.prom)"
	ok=$(metricval "inosync_last_success_timestamp_seconds{dest=\"$T/dst\"}")
	within "$ok" "$t0" "$(date +%s)" || fail "last success $ok, not the time of the sync"
	grep -qx '# TYPE inosync_syncs_total counter' m.prom || fail "syncs_total is no counter"
	grep -qx '# TYPE inosync_state gauge' m.prom || fail "state is no gauge"
	mv src/a src/sub/b
	wait_for 10 metric "inosync_moves_total 1" \
		"inosync_moves_placed_total{dest=\"$T/dst\"} 1" \
		"inosync_moves_plain_total{dest=\"$T/dst\"} 0" ||
		fail "the rename was not counted as placed: $(cat m.prom)"
	wait_for 10 synced || fail "not synced"
	# a name with a '*' is never placed (the other side would glob it)
	mv src/sub/b 'src/sub/c*'
	wait_for 10 metric "inosync_moves_total 2" \
		"inosync_moves_placed_total{dest=\"$T/dst\"} 1" \
		"inosync_moves_plain_total{dest=\"$T/dst\"} 1" ||
		fail "the rename not placed was not counted as sent plainly: $(cat m.prom)"
	wait_for 10 synced || fail "not synced"
	if command -v promtool > /dev/null; then
		promtool check metrics < m.prom > lint 2>&1 ||
			fail "promtool check metrics: $(cat lint)"
	fi
	# a file open for writing is held while nothing else happens
	exec 3> src/open
	wait_for 5 metric "inosync_held_files 1" || fail "the open file is not held: $(cat m.prom)"
	exec 3>&-
	wait_for 5 metric "inosync_held_files 0" || fail "the closed file is still held"
	# a reload starts the counters again, the renames' too
	kill -HUP "$PID"
	wait_for 10 metric "inosync_moves_total 0" \
		"inosync_moves_placed_total{dest=\"$T/dst\"} 0" \
		"inosync_moves_plain_total{dest=\"$T/dst\"} 0" ||
		fail "the counters did not start again after a reload: $(cat m.prom)"
	stop
	[ ! -e m.prom ] || fail "the metricsfile is left after a clean exit"
	command -v promtool > /dev/null ||
		skip "no promtool (Debian's prometheus) to check the format; the figures are right"
}

# a metricsfile that could not be written is tried again a second later,
# though nothing else changes: a full disk says so; a directory in its way
t_metricsfile_not_written_is_tried_again_and_says_why() {
	mkdir -p src m
	boot "metricsfile = $T/m/m.prom"
	wait_for 5 test -s m/m.prom || fail "no metricsfile"
	rm m/m.prom
	mkdir m/m.prom
	echo x > src/x
	wait_for 10 log_has d "metricsfile $T/m/m.prom: Is a directory" ||
		fail "no error for a directory in the way"
	wait_for 10 synced || fail "not synced"
	rmdir m/m.prom
	wait_for 5 test -s m/m.prom || fail "not written again once the way was clear"
	# a full disk is told as such
	mount_tmpfs "$T/full" 4k
	head -c 8192 /dev/zero > full/fill 2> /dev/null
	mkconf c.conf "metricsfile = $T/full/m.prom"
	kill -HUP "$PID"
	wait_for 10 log_has d "metricsfile $T/full/m.prom: No space left on device" ||
		fail "a full disk was not told as such: $(grep metricsfile d.log)"
	wait_for 10 synced || fail "not synced"
	rm full/fill
	wait_for 5 test -s full/m.prom || fail "not written again once there was room"
	[ "$(ls full)" = m.prom ] || fail "a temporary file is left: $(ls full)"
	stop
}

# the metricsfile's directory is reached without following a symlink: a
# user who may write above it cannot send root's file elsewhere
t_metricsfile_is_not_written_through_a_symlinked_directory() {
	mkdir -p src elsewhere
	ln -s elsewhere m
	boot "metricsfile = $T/m/m.prom"
	echo x > src/x
	wait_for 10 log_has d "metricsfile $T/m/m.prom: " || fail "no error for the symlink"
	wait_for 10 synced || fail "not synced"
	[ -z "$(ls elsewhere)" ] || fail "written through the symlink: $(ls elsewhere)"
	stop
}

t_efull_repairs_a_destination_changed_behind_its_back() {
	mkdir -p src/sub
	echo 1 > src/a
	echo 2 > src/sub/b
	boot "efull = 1"
	wait_for 10 synced || fail "not synced"
	echo "changed behind its back" > dst/a
	rm dst/sub/b
	echo stray > dst/sub/stray
	wait_for 5 synced || fail "efull = 1 did not repair the destination"
	log_has d "periodic full sync" || fail "no 'periodic full sync' in the log"
	stop
}

t_rhook_runs_after_each_sync_with_dest_status_and_kind() {
	mkdir -p src/sub
	# no shell between inosync and the hook: blanks stay inside arguments
	cat > "my hook" <<-EOF
	#!/bin/sh
	printf '%s|' "\$#" "\$@" >> '$T/hook.out'
	echo >> '$T/hook.out'
	EOF
	chmod 755 "my hook"
	boot "rnodes = $T/d st" "rnodes = $T/later/dst" "rhook = $T/my hook"
	wait_for 5 grep -qxF "3|$T/d st|0|full|" hook.out ||
		fail "no 'DEST 0 full' after the first sync: $(cat hook.out)"
	wait_for 5 grep -qF "3|$T/later/dst|" hook.out || fail "no hook for the failing destination"
	line=$(grep -F "3|$T/later/dst|" hook.out | head -n 1)
	case $line in
	*"|0|"*) fail "the failing sync gave the hook status 0: $line" ;;
	*"|"[1-9]*"|full|") ;;
	*) fail "hook of the failing destination got: $line" ;;
	esac
	echo x > src/sub/x
	wait_for 5 grep -qxF "3|$T/d st|0|incremental|" hook.out ||
		fail "no 'DEST 0 incremental' after a change: $(cat hook.out)"
	wait_for 5 idle || fail "sync did not end"
	wait_for 3 hooks_for "$T/d st" ||
		fail "$(grep -cF "|$T/d st|" hook.out) hooks for $(runs "$T/d st") syncs"
	stop
}

t_failing_rhook_is_logged_and_changes_nothing_else() {
	printf '#!/bin/sh\necho ran >> %s/hook.ran\nexit 1\n' "$T" > hook
	chmod 755 hook
	boot "rhook = $T/hook"
	wait_for 5 log_has d "rhook $T/hook failed (exit 1)" || fail "the failing rhook is not logged"
	echo x > src/x
	wait_for 10 synced || fail "no sync after the rhook failed"
	wait_for 5 log_lines d 2 "rhook $T/hook failed" || fail "the rhook did not run (or fail) again"
	r=$(runs)
	observe 2 # a failed sync would be retried after 1 s
	[ "$(runs)" = "$r" ] || fail "rsync ran again: the rhook's failure was taken for the sync's"
	log_has d "failed after" && fail "a sync was logged as failed"
	kill -0 "$PID" || fail "the daemon died"
	stop
}

t_every_failing_rhook_is_logged_even_when_hooks_overlap() {
	printf '#!/bin/sh\necho ran >> %s/hook.ran\nsleep 1\nexit 1\n' "$T" > hook
	chmod 755 hook
	boot "rhook = $T/hook"
	# a sync every 0.3 s or so, a hook of 1 s after each: they overlap
	for i in 1 2 3 4 5; do
		echo "$i" > "src/f$i"
		wait_for 5 synced || fail "change $i not synced"
	done
	wait_for 5 hooks_logged ||
		fail "$(grep -c . hook.ran) rhooks failed, $(grep -c "rhook $T/hook failed" d.log) logged"
	stop
}

t_each_sync_is_one_log_line_with_kind_duration_and_rsync_exit() {
	mkdir -p src/a src/b
	boot "rnodes = $T/dst" "rnodes = $T/later/dst"
	echo 1 > src/a/f
	echo 2 > src/b/g
	wait_for 10 synced || fail "not synced"
	wait_for 5 idle || fail "sync did not end"
	grep -F "inosync: $T/dst: " d.log > dst.lines
	grep -Eq ': full sync done in [0-9]+ ms \(rsync exit 0\)$' dst.lines ||
		fail "no 'DEST: full sync done in N ms (rsync exit 0)' line"
	grep -Eq ': sync of 2 directories done in [0-9]+ ms \(rsync exit 0\)$' dst.lines ||
		fail "no 'DEST: sync of 2 directories done in N ms (rsync exit 0)' line"
	[ "$(wc -l < dst.lines)" = "$(runs "$T/dst")" ] ||
		fail "$(wc -l < dst.lines) log lines for $(runs "$T/dst") syncs: $(cat dst.lines)"
	grep -F "inosync: $T/later/dst: " d.log | grep -Eq \
		': full sync failed after [0-9]+ ms \(rsync exit [1-9][0-9]*: [^)]+\); retrying in 1000 ms$' ||
		fail "no 'DEST: full sync failed after N ms (rsync exit N: ...); retrying in 1000 ms' line"
	log_has d "event IN_" && fail "event detail without -v"
	stop
}

t_event_detail_is_logged_only_with_v() {
	mkdir src
	echo x > src/x
	counting_rsync
	mkconf c.conf
	start d -c c.conf
	wait_for 10 runs_at_least 1 || fail "no first sync"
	echo x > src/quiet
	wait_for 10 synced || fail "not synced"
	stop
	log_has d "event IN_" && fail "event detail without -v: $(grep 'event IN_' d.log)"
	r=$(runs)
	start v -v -c c.conf
	wait_for 10 runs_at_least $((r + 1)) || fail "no first sync with -v"
	echo x > src/loud
	# fanotify may give a file's events as one, "event IN_CLOSE_WRITE
	# IN_CREATE: /loud"
	wait_for 5 event_logged v IN_CREATE /loud || fail "no 'event IN_CREATE: /loud' with -v"
	wait_for 5 event_logged v IN_CLOSE_WRITE /loud || fail "no 'event IN_CLOSE_WRITE: /loud' with -v"
	wait_for 10 synced || fail "not synced"
	stop
}

# event_logged NAME EVENT PATH: $T/NAME.log has -v's line of an event
# EVENT (among others) at PATH
event_logged() {
	grep -qE "^inosync: event( IN_[A-Z_]+)* $2( IN_[A-Z_]+)*: $3\$" "$T/$1.log"
}

# slow_rsync [SECONDS]: write $T/rsync, an rsync that notes its pid in
# $T/runs like the counting rsync, "+ PID" in $T/conc when it starts and
# "- PID" when it ends, and in between waits while $T/gate is missing and
# then SECONDS (a slow link) before it runs /usr/bin/rsync
slow_rsync() {
	cat > "$T/rsync" <<-EOF2
	#!/bin/sh
	printf '%s\n' "\$\$ \$*" >> '$T/runs'
	echo "+ \$\$" >> '$T/conc'
	while [ ! -e '$T/gate' ]; do sleep 0.05; done
	sleep ${1:-0}
	/usr/bin/rsync "\$@"
	rc=\$?
	echo "- \$\$" >> '$T/conc'
	exit \$rc
	EOF2
	chmod 755 "$T/rsync"
}

# most_at_once: print the most rsyncs of slow_rsync that ran at once
most_at_once() {
	awk '$1 == "+" { if (++n > m) m = n } $1 == "-" { n-- } END { print m + 0 }' "$T/conc"
}

# states_are STATE...: dest1_state, dest2_state... in $T/status, sorted,
# are the STATEs given (sorted)
states_are() {
	[ "$(sed -n 's/^dest[0-9]*_state=//p' "$T/status" | sort | tr '\n' ' ')" = \
		"$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ]
}

# three_dests [LINE...]: the daemon "d" mirroring to $T/d1, d2 and d3 with
# rprocs = 1 and LINEs, once each has had its first sync
three_dests() {
	mkconf c.conf "rnodes = $T/d1" "rnodes = $T/d2" "rnodes = $T/d3" \
		"rprocs = 1" "$@"
	start d -c c.conf
	for _td_n in 1 2 3; do
		wait_for 10 synced "$T/d$_td_n" || fail "d$_td_n not mirrored at start"
	done
}

t_rprocs_caps_the_rsyncs_running_at_once() {
	slow_rsync
	touch gate
	mkdir src
	echo 1 > src/one
	three_dests "statusfile = $T/status"
	wait_for 5 states_are idle idle idle || fail "not idle after the first syncs: $(grep _state= status)"
	rm gate
	echo 2 > src/two
	wait_for 5 states_are syncing queued queued ||
		fail "want one destination syncing and two queued: $(grep _state= status)"
	leftover_rsync > left
	[ "$(wc -l < left)" = 1 ] || fail "$(wc -l < left) rsyncs run, rprocs is 1: $(cat left) $(grep _state= status)"
	touch gate
	for n in 1 2 3; do
		wait_for 10 synced "$T/d$n" || fail "d$n not mirrored once the gate opened"
	done
	[ "$(most_at_once)" = 1 ] || fail "$(most_at_once) rsyncs ran at once, rprocs is 1"
	stop
}

# with one rsync at a time and changes that never stop, the destination
# that just synced owes again by the time its rsync ends; it must not go
# again before the others have had their turn
t_rprocs_serves_waiting_destinations_in_turn() {
	slow_rsync 0.3
	touch gate
	mkdir src
	echo 1 > src/one
	three_dests "edelay = 0.1"
	# a writer that never stops
	(while :; do echo x >> src/tick; sleep 0.05; done) &
	remember $!
	writer=$!
	echo m > src/marker
	for n in 1 2 3; do
		wait_for 10 test -e "$T/d$n/marker" || fail "d$n starved: no marker after 10 s"
	done
	kill "$writer"
	[ "$(most_at_once)" = 1 ] || fail "$(most_at_once) rsyncs ran at once, rprocs is 1"
	stop
}
