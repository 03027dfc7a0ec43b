# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# Destinations that are rsync daemons (on 127.0.0.1), and destinations that
# fail, hang or go away: the others never wait for them.

t_rsync_daemon_destination_is_mirrored() {
	rsyncd_start "$T/r"
	mkdir -p src/sub
	echo 1 > src/sub/one
	ln -s sub/one src/link
	(umask 077 && echo s > src/secret)
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced r || fail "remote not mirrored at start"
	echo 2 > src/sub/two
	mkdir -p src/new/deeper
	echo 3 > src/new/deeper/three
	rm src/sub/one
	wait_for 10 synced r || fail "changes not mirrored to the remote"
	stop
	rsyncd_stop
}

t_down_destination_holds_back_no_other_and_catches_up() {
	rsyncd_start "$T/r"
	mkdir -p src/sub
	echo 1 > src/sub/one
	boot "rnodes = $T/dst" "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	wait_for 10 synced r || fail "remote not mirrored at start"
	rsyncd_stop
	r0=$(runs rsync://)
	echo 2 > src/two
	mkdir src/new
	echo 3 > src/new/three
	wait_for 5 synced || fail "local destination held back while the remote is down"
	wait_for 10 runs_at_least $((r0 + 2)) rsync:// || fail "the down destination was not retried"
	echo 4 > src/sub/four
	wait_for 5 synced || fail "local destination held back while the remote is retried"
	[ ! -e r/two ] || fail "the remote got a change while down?"
	rsyncd_start
	wait_for 30 synced r || fail "the remote did not catch up after it came back"
	retries=$(($(runs rsync://) - r0))
	# back-off from 1 s, doubling: a handful of tries, not one per edelay
	[ "$retries" -le 8 ] || fail "$retries tries in a few seconds: no back-off"
	echo 5 > src/sub/five
	wait_for 10 synced r || fail "the remote does not get changes after it came back"
	stop
	rsyncd_stop
}

t_hung_destination_holds_back_no_other() {
	rsyncd_start "$T/r"
	boot "rnodes = $T/dst" "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	kill -STOP "$RSYNCD_PID" # connects, never answers
	echo 1 > src/one
	wait_for 5 synced || fail "local destination not synced"
	wait_for 5 busy || fail "no rsync to the hung destination"
	echo 2 > src/two
	wait_for 5 synced || fail "local destination held back by the hung one"
	kill -CONT "$RSYNCD_PID"
	wait_for 20 synced r || fail "the remote did not catch up once it answered"
	stop
	rsyncd_stop
}

t_sigterm_ends_a_hung_sync_and_exits_0() {
	rsyncd_start "$T/r"
	boot "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	kill -STOP "$RSYNCD_PID"
	echo 1 > src/one
	wait_for 5 busy || fail "no rsync to the hung destination"
	now
	t0=$NOW
	stop # exit 0, within 20 s, no rsync left
	now
	echo "stopped in $((NOW - t0))0 ms" >&2
	kill -CONT "$RSYNCD_PID"
	rsyncd_stop
}

t_failing_destination_stops_nothing_and_recovers() {
	mkdir -p src/sub
	echo 1 > src/sub/one
	# the parent of the second destination is missing: rsync fails (11)
	boot "rnodes = $T/dst" "rnodes = $T/later/dst"
	kill -0 "$PID" || fail "the daemon died"
	echo 2 > src/sub/two
	wait_for 5 synced || fail "the good destination was held back"
	kill -0 "$PID" || fail "the daemon died"
	mkdir later
	wait_for 30 synced later/dst || fail "the failing destination did not recover"
	stop
}

t_down_destination_is_retried_with_growing_back_off() {
	rsyncd_start "$T/r"
	rsyncd_stop # a port where nobody answers
	mkdir src
	echo a > src/a
	# an rsync that also notes when it ran, in centiseconds
	cat > rsync <<-EOF2
	#!/bin/sh
	read -r up idle < /proc/uptime
	echo "\$\$ \${up%.*}\${up#*.} \$*" >> '$T/runs'
	exec /usr/bin/rsync "\$@"
	EOF2
	chmod 755 rsync
	mkconf c.conf "rnodes = rsync://127.0.0.1:$RSYNCD_PORT/m/"
	start d -c c.conf
	wait_for 12 runs_at_least 4 || fail "fewer than 4 tries in 12 s"
	# shellcheck disable=SC2046 # numbers only
	set -- $(cut -d' ' -f2 runs)
	g1=$(($2 - $1)) g2=$(($3 - $2)) g3=$(($4 - $3))
	echo "gaps between tries: ${g1}0 ${g2}0 ${g3}0 ms" >&2
	[ $g1 -ge 80 ] || fail "second try ${g1}0 ms after the first, want about 1 s"
	[ $g2 -ge $((g1 * 3 / 2)) ] || fail "back-off does not grow: ${g1}0 ${g2}0 ms"
	[ $g3 -ge $((g2 * 3 / 2)) ] || fail "back-off does not grow: ${g1}0 ${g2}0 ${g3}0 ms"
	rsyncd_start
	wait_for 20 synced r || fail "not synced once the destination came back"
	stop
	rsyncd_stop
}

# ctldir PID: the control directory of the daemon PID, /run/inosync/PID-START
# (START: its start time, the 22nd field of /proc/PID/stat)
ctldir() {
	read -r _cd_s < "/proc/$1/stat" || return 1
	# shellcheck disable=SC2086 # split into fields: state is $2, start ${21}
	set -- "$1" ${_cd_s##*) }
	echo "/run/inosync/$1-${21}"
}

# masters DIR: print the pids of the ssh control masters in the control
# directory DIR (ssh retitles a master "ssh: SOCKET [mux]")
masters() {
	for _ma_p in $(procs_with "$1/"); do
		case $(tr '\0' ' ' 2> /dev/null < "/proc/$_ma_p/cmdline") in
		*"[mux]"*) echo "$_ma_p" ;;
		esac
	done
}

# has_master DIR: a control master runs in DIR (for wait_for, which
# runs it anew each time)
has_master() {
	[ -n "$(masters "$1")" ]
}

# ssh_boot: an sshd, src/one, and the daemon mirroring src to $T/r
# over ssh, its first sync done
ssh_boot() {
	sshd_start
	mkdir -p src r
	echo 1 > src/one
	boot "rnodes = 127.0.0.1:$T/r" "rsh = $SSH_RSH"
	wait_for 10 synced r || fail "not mirrored over ssh at start"
}

# logins: print how many times sshd let someone in
logins() {
	grep -c 'Accepted publickey' "$T/sshd.log"
}

t_ssh_destination_reuses_one_connection() {
	ssh_boot
	for n in 2 3 4; do
		echo $n > src/f$n
		wait_for 10 synced r || fail "change $n not mirrored"
	done
	# one login is sshd_start's own check
	[ "$(logins)" = 2 ] || fail "$(($(logins) - 1)) ssh logins for 4 syncs: no connection reuse"
	dir=$(ctldir "$PID")
	[ "$(stat -c '%a %u %F' "$dir")" = "700 0 directory" ] ||
		fail "control directory $dir: $(stat -c '%a %u %F' "$dir" 2>&1)"
	grep -qF -- "-o ControlPath=$dir/%C" ssh.args || fail "no ControlPath in the rsh: $(tail -n 1 ssh.args)"
	[ -n "$(masters "$dir")" ] || fail "no control master"
	stop
	[ -z "$(masters "$dir")" ] || fail "the control master outlived the daemon"
	[ ! -e "$dir" ] || fail "the control directory is left: $(ls -la "$dir")"
}

# a reload may change the rsh (another key, another user): the new config
# gets new connections, not the old config's masters
t_reload_closes_the_ssh_control_masters() {
	ssh_boot
	dir=$(ctldir "$PID")
	wait_for 5 has_master "$dir" || fail "no control master"
	m=$(masters "$dir")
	r=$(runs)
	kill -HUP "$PID"
	wait_for 10 runs_at_least $((r + 1)) || fail "no full sync after the reload"
	gone "$m" || fail "the old config's master $m still runs when the new config syncs"
	wait_for 10 idle || fail "the reload's sync did not end"
	echo 2 > src/two
	wait_for 10 synced r || fail "no sync over ssh after the reload"
	[ "$(logins)" = 3 ] || fail "$(logins) logins, want 3: sshd_start's, one before the reload, one after"
	stop
}

t_control_options_go_only_to_an_ssh_without_its_own() {
	sshd_start
	mkdir -p src r
	echo 1 > src/one
	boot "rnodes = 127.0.0.1:$T/r" "rsh = $SSH_RSH"
	grep -q 'ControlMaster=auto' ssh.args || fail "no control options for ssh: $(tail -n 1 ssh.args)"
	stop
	rm runs ssh.args
	echo 2 > src/two
	boot "rnodes = 127.0.0.1:$T/r" "rsh = $SSH_RSH -o controlmaster=no"
	wait_for 10 synced r || fail "not mirrored over ssh at start"
	grep -q 'ControlPath' ssh.args && fail "control options added to an rsh that has its own: $(tail -n 1 ssh.args)"
	[ ! -e "$(ctldir "$PID")" ] || fail "a control directory for an rsh with its own control options"
	stop
}

# where the control directory is not the daemon's own, mode 0700 (here a
# /run of a mount namespace of its own, with /run/inosync open to all),
# inosync says so and ssh connects anew for each sync
t_ssh_control_directory_not_ours_is_refused_and_syncs_go_on() {
	command -v unshare > /dev/null || skip "no unshare (util-linux)"
	unshare -m true 2> /dev/null || skip "cannot make a mount namespace here"
	sshd_start
	mkdir -p src r
	echo 1 > src/one
	counting_rsync
	mkconf c.conf "rnodes = 127.0.0.1:$T/r" "rsh = $SSH_RSH"
	# shellcheck disable=SC2016 # for the inner shell
	spawn d unshare -m sh -c 'mount -t tmpfs tmpfs /run && mkdir -m 777 /run/inosync &&
		exec "$1" -c "$2"' sh "$INOSYNC" "$T/c.conf"
	wait_for 10 synced r || fail "not mirrored over ssh at start"
	wait_for 5 log_has d "/run/inosync: not a directory of ours with mode 0700" ||
		fail "no line says why connections are not reused"
	grep -q 'ControlPath' runs && fail "control options despite a control directory open to all"
	echo 2 > src/two
	wait_for 10 synced r || fail "no sync without connection reuse"
	stop
}

# a daemon killed (SIGKILL) leaves its control directory and masters
# behind; the next one asks those masters to exit and removes the
# directory, and a directory named after the pid and the start time is
# never one a later daemon with the same pid takes for its own. Both
# daemons run in a mount namespace with a /run/inosync of its own
# (seen from here below /proc/NS/root): any daemon with an ssh
# destination that starts meanwhile, such as another suite's beside this
# one, sweeps the killed one's directory from a shared /run/inosync.
t_a_killed_daemons_ssh_masters_are_closed_by_the_next() {
	command -v nsenter > /dev/null || skip "no nsenter (util-linux)"
	unshare -m true 2> /dev/null || skip "cannot make a mount namespace here"
	[ -d /run/inosync ] || mkdir -m 0700 /run/inosync
	# shellcheck disable=SC2016 # for the inner shell
	unshare -m sh -c 'mount -t tmpfs -o mode=0700 inosync /run/inosync &&
		echo ready > "$1" && exec sleep 600' sh "$T/ns" &
	ns=$!
	remember "$ns"
	wait_for 5 test -s ns || fail "no mount namespace"
	sshd_start
	mkdir -p src r
	echo 1 > src/one
	counting_rsync
	mkconf c.conf "rnodes = 127.0.0.1:$T/r" "rsh = $SSH_RSH"
	spawn d nsenter -t "$ns" -m -- "$INOSYNC" -c "$T/c.conf"
	wait_for 10 synced r || fail "not mirrored over ssh at start"
	dir=$(ctldir "$PID")
	[ -d "/proc/$ns/root$dir" ] || fail "no control directory $dir: $(ls "/proc/$ns/root/run/inosync")"
	wait_for 5 has_master "$dir" || fail "no control master"
	m=$(masters "$dir")
	remember "$m"
	kill -KILL "$PID"
	wait_for 5 gone "$PID" || fail "the daemon outlived SIGKILL"
	alive "$m" || fail "the master died with the daemon: nothing to test"
	echo 2 > src/two
	spawn d2 nsenter -t "$ns" -m -- "$INOSYNC" -c "$T/c.conf"
	wait_for 10 synced r || fail "the next daemon does not sync"
	wait_for 10 gone "$m" || fail "the killed daemon's master still runs"
	[ ! -e "/proc/$ns/root$dir" ] || fail "the killed daemon's control directory is left: $(ls -la "/proc/$ns/root$dir")"
	[ -d "/proc/$ns/root$(ctldir "$PID")" ] || fail "the next daemon has no control directory"
	stop
}
