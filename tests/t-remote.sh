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
