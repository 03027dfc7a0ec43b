# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# The config file: its syntax, what each key does, every error with its file
# and line, and -t.

# lineof FILE STRING: the number of the first line of FILE with STRING
lineof() {
	grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1
}

# has_line FILE LINE: FILE has LINE as a whole line
has_line() {
	grep -qxF -- "$2" "$1" || fail "no line '$2' in: $(cat "$1")"
}

# shows LINE [CONFLINE...]: -t on c.conf from mkconf CONFLINEs prints LINE
shows() {
	_sh_l=$1
	shift
	mkconf c.conf "$@"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	has_line out "$_sh_l"
}

t_check_prints_every_key_as_given() {
	mkdir src
	counting_rsync
	cat > c.conf <<-EOF
	# a comment
	   # an indented comment

	wpath   =   $T/src   
	rpath = /sub
	rnodes = $T/dst
	rnodes = backup.example.org:/srv/mirror
	rnodes = backup.example.org::module
	rnodes = rsync://127.0.0.1:8873/m/
	rexcludes = *.tmp
	rexcludes = a # b = c
		rspeed=100
	emask = IN_CLOSE_WRITE|IN_ATTRIB, IN_CREATE IN_DELETE
	edelay = 0.25
	rsync = $T/rsync
	logfile = $T/rsync log
	EOF
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
	has_line out "wpath = $T/src"
	has_line out "rpath = /sub"
	for r in "$T/dst" backup.example.org:/srv/mirror backup.example.org::module \
		rsync://127.0.0.1:8873/m/; do
		grep -qxF -e "rnodes = $r" -e "rnodes = $r/sub" out ||
			fail "no 'rnodes = $r' in: $(cat out)"
	done
	has_line out "rexcludes = *.tmp"
	has_line out "rexcludes = a # b = c"
	has_line out "rspeed = 100"
	grep -qxE 'edelay = 0\.250*' out || fail "no 'edelay = 0.25' in: $(cat out)"
	has_line out "rsync = $T/rsync"
	has_line out "logfile = $T/rsync log"
	mask=$(sed -n 's/^emask = //p' out)
	for e in IN_CLOSE_WRITE IN_ATTRIB IN_CREATE IN_DELETE; do
		case " $(echo "$mask" | tr ',|' '  ') " in
		*" $e "*) ;;
		*) fail "emask '$mask' lacks $e" ;;
		esac
	done
	case $mask in *IN_MOVED*) fail "emask '$mask' has events not given" ;; esac
}

# -t prints a pattern so that it reads back as the same pattern: one that
# itself begins with "- " keeps its prefix, an ordinary one is as given
t_check_prints_patterns_that_read_back_the_same() {
	mkdir src
	mkconf c.conf 'rexcludes = - - foo' 'rexcludes = - *.tmp' 'rexcludes = -x'
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	has_line out 'rexcludes = - - foo'
	has_line out 'rexcludes = *.tmp'
	has_line out 'rexcludes = -x'
	grep '^rexcludes' out > printed
	{ grep -v '^rexcludes' c.conf; cat printed; } > again.conf
	"$INOSYNC" -t -c again.conf > out 2> err || fail "-t of the printed patterns exited $?: $(cat err)"
	grep '^rexcludes' out | cmp -s - printed ||
		fail "printed patterns read back as: $(grep '^rexcludes' out)"
}

t_check_prints_defaults_and_unset_keys() {
	mkdir src
	printf 'wpath = %s\nrnodes = %s\n' "$T/src" "$T/dst" > c.conf
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	has_line out "wpath = $T/src"
	has_line out "rnodes = $T/dst"
	has_line out "rspeed = 0"
	grep -qxE 'edelay = 10(\.0*)?' out || fail "no 'edelay = 10' in: $(cat out)"
	grep -qxE 'rsync = /.*rsync' out || fail "no default 'rsync = /...' in: $(cat out)"
	mask=$(sed -n 's/^emask = //p' out | tr ',|' '  ' | tr -s ' ' '\n' | sort | tr '\n' ' ')
	[ "$mask" = "IN_ATTRIB IN_CLOSE_WRITE IN_CREATE IN_DELETE IN_MOVED_FROM IN_MOVED_TO " ] ||
		fail "default emask is '$mask'"
	has_line out "# rpath (unset)"
	has_line out "# logfile (unset)"
	has_line out "# rexcludes (unset)"
}

t_check_on_a_sound_config_runs_no_rsync() {
	mkdir src
	echo a > src/a
	counting_rsync
	mkconf c.conf
	timeout 10 "$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	[ "$(runs)" = 0 ] || fail "-t ran rsync"
	[ ! -e dst ] || fail "-t wrote the destination"
}

t_default_config_is_etc_inosync_conf() {
	[ -e /etc/inosync.conf ] && skip "/etc/inosync.conf exists here"
	"$INOSYNC" -t > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "exit $rc, want 2"
	grep -qF "inosync: /etc/inosync.conf:0: " err || fail "stderr: $(cat err)"
}

t_rpath_is_appended_to_every_destination() {
	mkdir -p src/sub d1 d2
	echo a > src/sub/a
	boot "rnodes = $T/d1" "rnodes = $T/d2" "rpath = /mirror"
	wait_for 10 synced d1/mirror || fail "d1 + rpath not mirrored"
	wait_for 10 synced d2/mirror || fail "d2 + rpath not mirrored"
	echo b > src/sub/b
	wait_for 10 synced d1/mirror || fail "change not mirrored to d1 + rpath"
	wait_for 10 synced d2/mirror || fail "change not mirrored to d2 + rpath"
	[ "$(ls d1)" = mirror ] || fail "d1 holds more than mirror/: $(ls d1)"
	stop
}

t_rspeed_limits_rsync_bandwidth() {
	boot "rspeed = 100"
	grep -q -e '--bwlimit=100\b' -e '--bwlimit 100\b' runs || fail "no --bwlimit=100 in: $(cat runs)"
	head -c 300000 /dev/urandom > src/big
	now
	t0=$NOW
	wait_for 20 synced || fail "big file not copied"
	now
	# 300 kB at 100 KiB/s take nearly 3 s; unlimited, a few ms
	[ $((NOW - t0)) -ge 150 ] || fail "copied in $((NOW - t0))0 ms: no bandwidth limit"
	[ "$(runs)" = "$(runs --bwlimit)" ] || fail "a run without --bwlimit: $(cat runs)"
	stop
}

t_emask_decides_which_events_start_a_sync() {
	mkdir src
	echo old > src/f
	boot "emask = IN_CREATE"
	n=$(runs)
	echo rewritten > src/f # modify + close_write, no create
	chmod 600 src/f
	observe 1
	[ "$(runs)" = "$n" ] || fail "a rewrite started rsync with emask = IN_CREATE"
	echo new > src/g
	wait_for 10 test -f dst/g || fail "a create did not start rsync"
	wait_for 10 synced || fail "the directory was not synced"
	stop
}

t_rsync_key_names_the_rsync_that_runs() {
	boot
	[ "$(runs)" -ge 1 ] || fail "the rsync key was not used"
	echo x > src/x
	wait_for 10 synced || fail "not synced"
	[ "$(runs)" -ge 2 ] || fail "the rsync key was not used for the change"
	stop
}

t_logfile_is_given_to_rsync() {
	boot "logfile = $T/rsync log"
	echo x > src/probe.txt
	wait_for 10 synced || fail "not synced"
	wait_for 5 grep -q probe.txt "$T/rsync log" || fail "rsync's log file does not name probe.txt"
	stop
}

t_comments_blank_lines_and_spacing_are_ignored() {
	mkdir src
	echo a > src/a
	counting_rsync
	cat > c.conf <<-EOF

	# wpath = /nonexistent
	  	# rnodes = /nonexistent
	  wpath=$T/src  
	rnodes	=	$T/dst
	edelay = 0.2
	rsync = $T/rsync

	EOF
	start d -c c.conf
	wait_for 10 synced || fail "not synced"
	stop
}

t_unknown_key_is_an_error_with_file_and_line() {
	mkdir src
	mkconf c.conf "fnord = 1" "edelay = 1"
	conf_error "$T/c.conf" "$(lineof c.conf fnord)" "unknown key"
}

t_line_without_equals_is_an_error_with_file_and_line() {
	mkdir src
	printf '# x\nwpath = %s\nrnodes %s\n' "$T/src" "$T/dst" > c.conf
	conf_error "$T/c.conf" 3 ""
}

t_single_value_key_given_twice_is_an_error() {
	mkdir src
	for k in "wpath = $T/src" "edelay = 1" "rspeed = 1" "rpath = /x" "emask = IN_CREATE" \
		"rsync = /usr/bin/rsync" "logfile = $T/log"; do
		mkconf c.conf "$k" "$k"
		conf_error "$T/c.conf" "$(grep -nxF -- "$k" c.conf | tail -n 1 | cut -d: -f1)" twice
	done
}

# a destination (rnodes with rpath) of PATH_MAX bytes or more: every path
# the daemon makes of it has room, the metricsfile's label too
t_a_destination_past_path_max_is_an_error_at_its_line() {
	mkdir src
	a=$(printf '%04000d' 0 | tr 0 a)
	mkconf c.conf "rnodes = h:/$a" "rpath = /$(printf '%0100d' 0)"
	conf_error "$T/c.conf" "$(lineof c.conf "rnodes = h:")" "longer than 4095 bytes"
	mkconf c.conf "rnodes = h:/$a" "rpath = /$(printf '%090d' 0)"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "a destination of 4092 bytes: $(cat err)"
}

# each is rewritten or removed on its own: one file for two would be lost
t_pidfile_statusfile_and_metricsfile_must_differ() {
	mkdir src
	for pair in pidfile:statusfile pidfile:metricsfile statusfile:metricsfile; do
		mkconf c.conf "${pair%:*} = $T/f" "${pair#*:} = $T/f" "# end"
		conf_error "$T/c.conf" "$(wc -l < c.conf)" "three files"
	done
}

# two rsyncs would write one destination at once, and its metrics series
# would be given twice; "h:" (home) and "h:/" (root) are two
t_a_destination_given_twice_is_an_error_at_its_second_line() {
	mkdir src
	mkconf c.conf "rnodes = $T/d" "rnodes = $T/e" "rnodes = $T/d//"
	conf_error "$T/c.conf" "$(lineof c.conf "rnodes = $T/d//")" "given twice"
	mkconf c.conf "rnodes = h:/x" "rnodes = h:/x/"
	conf_error "$T/c.conf" "$(lineof c.conf "rnodes = h:/x/")" "given twice"
	mkconf c.conf "rnodes = h:" "rnodes = h:/"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "h: and h:/ were taken for one: $(cat err)"
}

t_list_keys_may_repeat() {
	mkdir src
	mkconf c.conf "rnodes = $T/d1" "rnodes = $T/d2" "rexcludes = a" "rexcludes = b"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	has_line out "rnodes = $T/d2"
	has_line out "rexcludes = b"
}

t_missing_required_key_is_an_error_at_the_last_line() {
	mkdir src
	printf 'wpath = %s\nedelay = 1\n# end\n\n' "$T/src" > c.conf
	conf_error "$T/c.conf" 4 missing
	printf 'rnodes = %s\n# end\n' "$T/dst" > c.conf
	conf_error "$T/c.conf" 2 missing
	: > c.conf
	conf_error "$T/c.conf" 0 missing
}

t_number_out_of_range_is_an_error() {
	mkdir src
	for v in "edelay = 99999999999999999999" "rspeed = 99999999999999999999"; do
		mkconf c.conf "$v" "logfile = $T/log"
		conf_error "$T/c.conf" "$(lineof c.conf 999)" range
	done
}

t_number_with_junk_is_an_error() {
	mkdir src
	for v in "edelay = 2s" "edelay = 0.2.3" "edelay = abc" "edelay = -1" \
		"edelay = 1e3" "rspeed = 10k" "rspeed = -5" "rspeed = 1.5" "rspeed = 0x10"; do
		mkconf c.conf "$v" "logfile = $T/log"
		conf_error "$T/c.conf" "$(lineof c.conf "$v")" ""
	done
}

# a number with more decimals than allowed says so, not "junk at '9'";
# also -e, which takes the same numbers
t_number_with_too_many_decimals_says_so() {
	mkdir src
	for v in "edelay = 86400.9999" "edelay = 0.0001" "edelay = 1.2345"; do
		mkconf c.conf "$v" "logfile = $T/log"
		conf_error "$T/c.conf" "$(lineof c.conf "$v")" "at most 3 decimals"
	done
	mkconf c.conf "rspeed = 1.5" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf rspeed)" "whole number"
	"$INOSYNC" -t -e 86400.9999 "$T/src" "$T/dst" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "-e 86400.9999: exit $rc, want 2"
	grep -qF "inosync: -e: " err || fail "stderr: $(cat err)"
	grep -qF "at most 3 decimals" err || fail "-e 86400.9999 does not say what is wrong: $(cat err)"
}

t_number_formats_that_are_allowed() {
	mkdir src
	for v in "edelay = 0" "edelay = 0.2" "edelay = 3" "edelay = 1.5" "rspeed = 0" "rspeed = 2048"; do
		mkconf c.conf "$v"
		"$INOSYNC" -t -c c.conf > out 2> err || fail "'$v' refused: $(cat err)"
	done
}

t_unknown_event_is_an_error() {
	mkdir src
	mkconf c.conf "emask = IN_CLOSE_WRITE IN_BOGUS" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf emask)" event
	mkconf c.conf "emask = IN_CLOSE_WRITE,IN_CREATEX" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf emask)" event
}

t_overlong_line_is_an_error() {
	mkdir src
	x=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx # 64
	x=$x$x$x$x$x$x$x$x # 512
	x=$x$x$x$x$x$x$x$x # 4096
	# 4095 bytes and a newline are fine, 4097 are too long
	v=$(printf '%s' "$x" | cut -c 1-$((4095 - 12)))
	mkconf c.conf "rexcludes = $v"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "a 4095-byte line was refused: $(cat err)"
	has_line out "rexcludes = $v"
	mkconf c.conf "# ${x}x" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf "# x")" long
	printf '# %s%s\nwpath = %s\n' "$x" "$x" "$T/src" > c.conf
	conf_error "$T/c.conf" 1 long
}

# rsync options that change what rsync copies or deletes behind the exclude
# matcher's back are refused, in each spelling rsync takes; options that
# only look alike are not
t_rargs_that_change_what_rsync_copies_are_refused() {
	mkdir src
	for a in '--include=x' '--include x' '--include-from=f' '--exclude-from f' \
		'--filter=+_x' '--filter x' '-f x' '-f+x' '-F' '-FF' '-rF' '-avr' '-r' \
		'--recursive' '--files-from=f' '--files-from f' '--del' '--delete' \
		'--delete-after' '--delete-excluded' '--delete-before' '--delete-during' \
		'--delete-delay' '--delete-missing-args' '--numeric-ids -Hr' '-vT /tmp -r'; do
		mkconf c.conf "rargs = $a" "logfile = $T/log"
		conf_error "$T/c.conf" "$(lineof c.conf rargs)" refused
	done
	grep -qF "'-r'" "$T/ce.err" ||
		fail "the error does not name the refused argument: $(cat "$T/ce.err")"
	for a in '--numeric-ids -H' '-T/tmp/rfx' '-vT /tmp/rF' '-T -r' '-B8192 -z' \
		'--no-r' '--no-recursive' '--exclude=x' '-C' '--chmod=D755,F644' '-e rsh'; do
		mkconf c.conf "rargs = $a"
		"$INOSYNC" -t -c c.conf > out 2> err || fail "rargs = $a refused: $(cat err)"
	done
}

# a destination beginning with '-' would reach rsync as an option
t_rnodes_beginning_with_a_dash_is_refused() {
	mkdir src
	mkconf c.conf "rnodes = $T/dst" "rnodes = --delete-excluded" "rnodes = $T/d2"
	conf_error "$T/c.conf" "$(lineof c.conf 'rnodes = --')" option
	"$INOSYNC" -t -- "$T/src" "$T/dst" -x > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "DEST -x: exit $rc, want 2; stderr: $(cat err)"
	[ "$(wc -l < err)" = 1 ] || fail "want one stderr line, got: $(cat err)"
	grep -qF 'inosync: command line: ' err || fail "stderr: $(cat err)"
	grep -qF -- "'-x'" err || fail "the error does not name -x: $(cat err)"
}

# a statusfile or metricsfile in a directory of wpath that is not excluded
# is rewritten (beside itself, then renamed) at each change of state, and
# each rewrite would start a sync, for ever: refused, whether the file is
# excluded by name or not (the new one beside it is not); one in an
# excluded directory or outside wpath is allowed, and one whose new name
# is excluded too (/run/*); and a ".." after a directory that does not
# exist yet takes that name away, as the kernel will once it is made
t_a_statusfile_or_metricsfile_in_wpath_is_refused() {
	mkdir -p src/sub src/run
	for k in statusfile metricsfile; do
		for f in "$T/src/$k" "$T/src/sub/$k" "$T/src/new/$k"; do
			mkconf c.conf "$k = $f" "rexcludes = /$k"
			conf_error "$T/c.conf" "$(wc -l < c.conf)" "$k $f is in wpath"
		done
		mkconf c.conf "$k = $T/src/sub/$k" "rexcludes = /sub/"
		"$INOSYNC" -t -c c.conf > out 2> err || fail "$k in an excluded directory refused: $(cat err)"
		mkconf c.conf "$k = $T/$k"
		"$INOSYNC" -t -c c.conf > out 2> err || fail "$k beside wpath refused: $(cat err)"
		for x in '/run/*' '/run/**' "/run/$k*"; do
			mkconf c.conf "$k = $T/src/run/$k" "rexcludes = $x"
			"$INOSYNC" -t -c c.conf > out 2> err ||
				fail "$k in run/ with rexcludes = $x refused: $(cat err)"
		done
		for f in "$T/src/excl/../$k" "$T/src/new/../../src/$k"; do
			mkconf c.conf "$k = $f" 'rexcludes = /excl' 'rexcludes = /new'
			conf_error "$T/c.conf" "$(wc -l < c.conf)" "$k $f is in wpath"
		done
	done
	echo a > src/a
	boot "statusfile = $T/src/run/status" 'rexcludes = /run/*'
	wait_for 10 test -s src/run/status || fail "no statusfile"
	echo b > src/b
	wait_for 10 runs_at_least 2 || fail "no sync of b"
	observe 3
	[ "$(runs)" -le 3 ] || fail "the statusfile's rewrites start syncs: $(runs) runs"
	stop
}

# a local destination inside wpath and not excluded would be mirrored into
# itself (mirror/mirror/...): refused at its own rnodes line, whether it
# exists yet or not, through a symlink, relative, with rpath; wpath itself
# too. One that a pattern excludes, or an ancestor of it, is allowed.
t_local_destination_inside_wpath_is_refused() {
	mkdir -p src/exists src/b
	ln -s src link
	for d in "$T/src/mirror" "$T/src/exists" "$T/src/new/deeper/" "$T/link/mirror" \
		"$T/src" "$T/src/" "$T/link" src/mirror "$T/src/b/../mirror" "$T/src//b/x"; do
		mkconf c.conf "rnodes = $d" "rnodes = $T/dst" "logfile = $T/log"
		conf_error "$T/c.conf" "$(lineof c.conf "rnodes = $d")" wpath
	done
	mkconf c.conf "rnodes = $T/dst" "rnodes = $T/" "rpath = src/m" "logfile = $T/log"
	conf_error "$T/c.conf" "$(grep -nxF "rnodes = $T/" c.conf | cut -d: -f1)" wpath
	mkconf c.conf "rnodes = $T/src/mirror" "rexcludes = /mirror/x" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf rnodes)" wpath
	# a ".." after a directory that does not exist yet (an excluded one)
	# takes that name away, as the kernel will once it is made
	mkconf c.conf "rnodes = $T/src/excl/../mirror" "rexcludes = /excl" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf rnodes)" wpath
	"$INOSYNC" -t "$T/src" "$T/dst" "$T/src/m" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "DEST inside SRC: exit $rc, want 2; stderr: $(cat err)"
	grep -qF 'inosync: command line: ' err || fail "stderr: $(cat err)"
	for x in /mirror mirror/ 'mirror/***' /mirror/ 'm*' mirror; do
		mkconf c.conf "rnodes = $T/src/mirror/" "rexcludes = $x"
		"$INOSYNC" -t -c c.conf > out 2> err || fail "destination excluded by $x refused: $(cat err)"
	done
	mkconf c.conf "rnodes = $T/link/backup/new/m" "rexcludes = /backup/"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "destination under an excluded directory refused: $(cat err)"
	mkconf c.conf "rnodes = $T/srcx" "rnodes = $T/src.d/m"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "destination beside wpath refused: $(cat err)"
	"$INOSYNC" -t -x /m "$T/src" "$T/src/m" > out 2> err || fail "DEST excluded by -x refused: $(cat err)"
}

# the other way round: a local destination that holds wpath would have
# rsync's --delete empty wpath (wpath's parent is mirrored from wpath's
# content, in which wpath is not); refused at its rnodes line, through a
# symlink, relative, with rpath, as /; one beside it is allowed
t_local_destination_holding_wpath_is_refused() {
	mkdir -p top/src top/srcx
	ln -s top link
	cd top || fail "no top"
	for d in "$T/top" "$T/top/" "$T/link" "$T" / .. "$T/top/srcx/.."; do
		mkconf c.conf "wpath = $T/top/src" "rnodes = $T/dst" "rnodes = $d" "logfile = $T/log"
		conf_error "$T/top/c.conf" "$(grep -nxF "rnodes = $d" c.conf | cut -d: -f1)" wpath
	done
	mkconf c.conf "wpath = $T/top/src" "rnodes = $T/" "rpath = top" "logfile = $T/log"
	conf_error "$T/top/c.conf" "$(lineof c.conf rnodes)" wpath
	"$INOSYNC" -t "$T/top/src" "$T/top" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "DEST holding SRC: exit $rc, want 2; stderr: $(cat err)"
	grep -qF 'inosync: command line: ' err || fail "stderr: $(cat err)"
	mkconf c.conf "wpath = $T/top/src" "rnodes = $T/top/srcx" "rnodes = $T/top/s"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "destination beside wpath refused: $(cat err)"
}

# SIGHUP reads the file that -c names as given, so a config symlink
# repointed since the start is followed; a relative -c is kept as the
# start directory and the name, symlink unresolved
t_sighup_follows_a_repointed_config_symlink() {
	mkdir src
	echo a > src/a
	counting_rsync
	mkconf a.conf "rnodes = $T/d1"
	mkconf b.conf "rnodes = $T/d2"
	ln -s a.conf link
	start d -c link
	wait_for 10 synced d1 || fail "a.conf's destination not synced"
	ln -sfn b.conf link
	kill -HUP "$PID"
	wait_for 10 log_has d "$T/link reloaded" || fail "no '$T/link reloaded' in the log"
	wait_for 10 synced d2 || fail "the reload did not read b.conf, which link names now"
	echo b > src/b
	wait_for 10 synced d2 || fail "a change after the reload did not reach b.conf's destination"
	stop
}

t_missing_config_file_is_an_error_at_line_0() {
	conf_error "$T/nope.conf" 0 "no such file"
}

t_wpath_must_be_a_directory() {
	echo > file
	mkconf c.conf "wpath = $T/file" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf wpath)" directory
	mkconf c.conf "wpath = $T/nonexistent" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf wpath)" ""
}

t_rsync_must_be_an_executable_file() {
	mkdir src dir
	echo '#!/bin/sh' > notexec
	for r in "$T/notexec" "$T/dir"; do
		mkconf c.conf "rsync = $r" "logfile = $T/log"
		conf_error "$T/c.conf" "$(lineof c.conf rsync)" executable
	done
	mkconf c.conf "rsync = rsync" "logfile = $T/log"
	conf_error "$T/c.conf" "$(lineof c.conf rsync)" ""
}

t_rsync_that_does_not_exist_yet_is_a_warning() {
	mkdir src
	mkconf c.conf "rsync = $T/later/rsync"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "exit $?, want 0: $(cat err)"
	[ "$(wc -l < err)" = 1 ] || fail "want one warning line, got: $(cat err)"
	grep -qF "inosync: $T/c.conf:$(lineof c.conf rsync): warning: rsync $T/later/rsync does not exist" err ||
		fail "the warning does not name the file, the line and the rsync: $(cat err)"
}

t_exclude_starting_with_wpath_warns_and_starts() {
	mkdir -p src/sub
	echo a > src/sub/a
	boot "rexcludes = $T/src/sub"
	grep -qi warning d.log || fail "no warning about the pattern: $(cat d.log)"
	grep -qF "$T/src/sub" d.log || fail "the warning does not name the pattern"
	wait_for 10 synced || fail "not synced"
	echo b > src/sub/b
	wait_for 10 synced || fail "change not synced"
	stop
}

t_config_error_at_start_exits_2_and_runs_no_rsync() {
	mkdir src
	echo a > src/a
	counting_rsync
	mkconf c.conf "fnord = 1"
	timeout 10 "$INOSYNC" -c c.conf > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "exit $rc, want 2"
	grep -qF "inosync: $T/c.conf:$(lineof c.conf fnord): " err || fail "stderr: $(cat err)"
	[ "$(runs)" = 0 ] || fail "rsync ran"
}

t_rprocs_is_a_count_of_destinations() {
	mkdir src
	shows "rprocs = 2" "rprocs = 2"
	shows "rprocs = 0"
	for v in 33 -1 x 1.5; do
		mkconf c.conf "rprocs = $v"
		conf_error "$T/c.conf" "$(lineof c.conf rprocs)" "$v"
	done
}

t_rexcludefrom_reads_one_pattern_a_line() {
	mkdir src
	printf '%s\n' '# build output' '*.o' '' '   ' '  /cache  ' '- - odd' '	# indented' > x1
	printf '%s\n' '.git/' > x2
	mkconf c.conf "rexcludes = *.tmp" "rexcludefrom = $T/x1" "rexcludefrom = x2"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	[ ! -s err ] || fail "stderr: $(cat err)"
	has_line out "rexcludes = *.tmp"
	has_line out "rexcludefrom = $T/x1"
	has_line out "rexcludefrom = x2"
	for p in '*.o' /cache '- - odd' .git/; do
		grep -qxF -- "#   $p" out || fail "pattern '$p' from a file not shown: $(cat out)"
	done
	[ "$(grep -c '^#   ' out)" = 4 ] || fail "blank lines or comments taken as patterns: $(cat out)"
}

# error_in FILE LINE WORD: inosync -t -c c.conf fails with exit 2 and one
# line "inosync: FILE:LINE: ..." that has WORD (FILE: another than c.conf)
error_in() {
	"$INOSYNC" -t -c "$T/c.conf" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "exit $rc, want 2; stderr: $(cat err)"
	[ "$(wc -l < err)" = 1 ] || fail "want one stderr line, got: $(cat err)"
	grep -qF -- "inosync: $1:$2: " err || fail "want 'inosync: $1:$2: ...', got: $(cat err)"
	grep -qi -- "$3" err || fail "want '$3' in: $(cat err)"
}

t_rexcludefrom_errors_name_the_file_and_its_line() {
	mkdir src
	printf '%s\n' '*.o' '# fine' '+ keep' > x
	mkconf c.conf "rexcludefrom = $T/x"
	error_in "$T/x" 3 "include"
	printf '*.o\n/\n' > x
	error_in "$T/x" 2 "empty"
	awk 'BEGIN { while (n++ < 5000) printf "x"; print "" }' > x
	error_in "$T/x" 1 "longer"
	mkconf c.conf "rexcludefrom = $T/missing"
	conf_error "$T/c.conf" "$(lineof c.conf rexcludefrom)" "$T/missing"
}

t_rinit_is_yes_or_no() {
	mkdir src
	shows "rinit = no" "rinit = no"
	shows "rinit = yes"
	mkconf c.conf "rinit = false"
	conf_error "$T/c.conf" "$(lineof c.conf rinit)" "is none of the words it takes"
}

# a rexcludefrom file is held to the config's rules, as it may sit where
# users write: a FIFO is refused, not waited for; a symlink is not
# followed (to a root-only file, its lines would be on every rsync's
# command line); as root, one that another user, group or others may
# write is refused
t_rexcludefrom_must_be_a_regular_file_only_root_may_write() {
	[ "$(id -u)" = 0 ] || skip "needs root: the owner check is for a file read by root"
	mkdir src
	mkfifo fifo
	printf '*.o\n' > x
	ln -s x link
	for f in fifo link; do
		mkconf c.conf "rexcludefrom = $T/$f"
		conf_error "$T/c.conf" "$(lineof c.conf rexcludefrom)" "$T/$f"
		grep -qF -e 'regular file' -e symlink "$T/ce.err" || fail "$f: $(cat "$T/ce.err")"
	done
	mkconf c.conf "rexcludefrom = $T/x"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "a root-owned mode 644 file refused: $(cat err)"
	chmod 664 x
	error_in "$T/x" 0 "may write"
	chmod 644 x
	chown nobody x
	error_in "$T/x" 0 "may write"
}

# exclude patterns are bounded (PATSMAX), rexcludes and the files'
# together, since each is a word on every rsync's command line: 150,000
# would put every rsync past ARG_MAX
t_exclude_patterns_are_bounded() {
	mkdir src
	awk 'BEGIN { for (i = 1; i < 4096; i++) print "p" i }' > x
	mkconf c.conf "rexcludes = *.tmp" "rexcludefrom = $T/x"
	"$INOSYNC" -t -c c.conf > out 2> err || fail "4096 patterns refused: $(cat err)"
	echo p4096 >> x
	error_in "$T/x" 4096 "4096"
	awk 'BEGIN { for (i = 1; i <= 150000; i++) print "a" }' > x
	error_in "$T/x" 4096 "PATSMAX"
}

# a FIFO put in a rexcludefrom file's place before SIGHUP blocks nothing:
# the daemon says why, keeps the running config and goes on syncing
t_reload_with_a_fifo_rexcludefrom_keeps_the_old_config() {
	mkdir -p src
	printf '*.o\n' > excl
	boot "rexcludefrom = $T/excl"
	rm excl
	mkfifo excl
	mkconf c.conf "rexcludefrom = $T/excl" "rnodes = $T/dst2"
	kill -HUP "$PID"
	wait_for 5 log_has d "rexcludefrom $T/excl: " ||
		fail "the FIFO is not reported on SIGHUP (is the daemon stuck opening it?)"
	log_has d "not reloaded" || fail "no 'not reloaded' in the log"
	echo x > src/x
	echo o > src/x.o
	wait_for 10 test -f dst/x || fail "no sync after the failed reload"
	[ ! -e dst/x.o ] || fail "the running config's exclude was dropped"
	[ ! -e dst2 ] || fail "the config with the FIFO was loaded"
	stop
}

# The original's dialect: the Python 0.2.3 config files, which only
# assign variables. Its documented example, as it shipped.
original_example() {
	cat <<-'EOF'
	# directory that should be watched for changes
	wpath = "/var/www/"

	# exclude list for rsync
	rexcludes = [
		"/localhost",
	]

	# common remote path
	rpath = "/var/www/"

	# remote locations in rsync syntax
	rnodes = [
		"a.mirror.com:" + rpath,
		"b.mirror.com:" + rpath,
		"c.mirror.com:" + rpath,
	]

	# limit remote sync speed (in KB/s, 0 = no limit)
	#rspeed = 0

	# event mask (only sync on these events)
	#emask = [
	#	"IN_CREATE",
	#	"IN_DELETE",
	#	"IN_MOVED_FROM",
	#	"IN_MOVED_TO",
	#]

	# event delay in seconds (this prevents huge
	# amounts of syncs, but dicreases the
	# realtime side of things)
	#edelay = 10

	# rsync binary path
	#rsync = "/usr/bin/rsync"
	EOF
}

# the example with wpath pointed at $T/src, each node at the local
# directory $T/a, $T/b, $T/c (made) and rpath at /www/; edelay and rsync
# set as its comments show; the jail shows $T, where the counting rsync
# writes, as mkconf has it
local_example() {
	mkdir -p "$T/a" "$T/b" "$T/c"
	original_example | sed -e "s|^wpath = \"/var/www/\"|wpath = \"$T/src/\"|" \
		-e 's|^rpath = "/var/www/"|rpath = "/www/"|' \
		-e "s|\"\\(.\\)\\.mirror\\.com:\"|\"$T/\\1\"|" \
		-e 's|^#edelay = 10|edelay = 0.2|' \
		-e "s|^#rsync = \"/usr/bin/rsync\"|rsync = \"$T/rsync\"|"
	printf 'rjail = ["%s", "/proc/uptime"]\n' "$T"
}

# in the original's dialect rpath is a variable, which the example
# appends to each node itself: the nodes' /var/www/, not /var/www/var/www/
t_the_originals_example_file_checks_as_it_is() {
	mkdir src
	original_example | sed "s|^wpath = \"/var/www/\"|wpath = \"$T/src/\"|" > c.conf
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	has_line out "wpath = $T/src"
	has_line out "rexcludes = /localhost"
	has_line out "# rpath (unset)"
	i=0
	for h in a b c; do
		i=$((i + 1))
		has_line out "rnodes = $h.mirror.com:/var/www/"
		has_line out "# destination $i: $T/src/ -> $h.mirror.com:/var/www/"
	done
	[ "$(grep -c '^rnodes' out)" = 3 ] || fail "not three rnodes: $(cat out)"
	! grep -qi error err || fail "stderr: $(cat err)"
}

t_the_originals_example_file_mirrors_to_each_node() {
	mkdir -p src/localhost
	echo a > src/index
	echo secret > src/localhost/x
	counting_rsync
	local_example > c.conf
	start d -c c.conf
	for h in a b c; do
		wait_for 10 cmp src/index $h/www/index || fail "index not mirrored to $h/www"
	done
	echo b > src/index
	for h in a b c; do
		wait_for 10 cmp src/index $h/www/index || fail "change not mirrored to $h/www"
		[ ! -e $h/www/localhost ] || fail "the excluded /localhost reached $h/www"
		[ "$(ls $h)" = www ] || fail "$h holds more than www/: $(ls $h)"
		[ ! -e $h/www/www ] || fail "rpath was appended twice in $h"
	done
	stop
}

# -t prints an original file as key = value lines: redirected, they are
# a file of today's dialect that prints the same and runs the same
t_an_original_file_converted_by_check_reads_back_the_same_and_runs() {
	mkdir -p src/localhost
	echo a > src/index
	counting_rsync
	local_example > old.conf
	"$INOSYNC" -t -c old.conf > new.conf 2> err || fail "-t old.conf exited $?: $(cat err)"
	"$INOSYNC" -t -c new.conf > again 2> err || fail "-t new.conf exited $?: $(cat err)"
	cmp -s new.conf again || fail "the converted file prints otherwise: $(diff new.conf again)"
	grep -q '^rpath' new.conf && fail "rpath converted as a suffix: $(cat new.conf)"
	start d -c new.conf
	for h in a b c; do
		wait_for 10 cmp src/index $h/www/index || fail "index not mirrored to $h/www"
		[ ! -e $h/www/localhost ] || fail "the excluded /localhost reached $h/www"
		[ ! -e $h/www/www ] || fail "rpath was appended twice in $h"
	done
	stop
}

# strings in either quote with Python's escapes, '+' joining strings and
# keys set before, lists over lines with or without a last comma,
# numbers, comments after a value; a number before the first string
# decides nothing; values are trimmed, as key = value ones are. Each
# prints as a key = value line that reads back.
t_original_dialect_values() {
	mkdir src
	counting_rsync
	sed "s|@T|$T|g" > c.conf <<-'EOF'
	edelay = 0.5
	wpath = '@T/src' # where
	rexcludes = [ 'it\'s', "say \"hi\"", 'back\\slash', 'tab\tin', ' trimmed ',
		# a comment in a list

		"x" + 'y' ,
		"q#" ]
	rpath = "/sub"
	rnodes = ["@T/d1" + rpath, '@T/d2' + rpath
	]
	emask = ["IN_CREATE", "IN_DELETE"]
	rspeed = 100
	rargs = "--numeric-ids -H"
	rsync = "@T/rsync"
	logfile = wpath + "/../log"
	EOF
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	for p in "it's" 'say "hi"' 'back\slash' "$(printf 'tab\tin')" trimmed xy 'q#'; do
		has_line out "rexcludes = $p"
	done
	has_line out "rnodes = $T/d1/sub"
	has_line out "rnodes = $T/d2/sub"
	has_line out "# rpath (unset)"
	has_line out "emask = IN_CREATE IN_DELETE"
	has_line out "edelay = 0.5"
	has_line out "rspeed = 100"
	has_line out "rargs = --numeric-ids -H"
	has_line out "logfile = $T/src/../log"
	"$INOSYNC" -t -c out > again 2> err || fail "-t of the printed file exited $?: $(cat err)"
	cmp -s out again || fail "the printed file prints otherwise: $(diff out again)"
}

# py_error LINE WORD LINES...: a file of LINES (@T for $T) fails at LINE
py_error() {
	_pe_l=$1 _pe_w=$2
	shift 2
	printf '%s\n' "$@" | sed "s|@T|$T|g" > c.conf
	conf_error "$T/c.conf" "$_pe_l" "$_pe_w"
}

# an assignment of the original's dialect that is broken, or that
# inosync does not read, is an error at its line; as is a line of one
# dialect in a file of the other
t_original_dialect_errors_name_file_and_line() {
	mkdir src
	w='wpath = "@T/src"'
	long=$(printf '%03000d' 0)
	py_error 2 'not closed' "$w" 'rnodes = ["@T/dst]'
	py_error 5 'list of line 3 is not closed' "$w" 'rsync = "/usr/bin/rsync"' 'rnodes = [' \
		'	"@T/dst",' '# end'
	py_error 2 "unexpected 'nope]'" "$w" 'rnodes = ["@T/d" + nope]'
	py_error 2 "unexpected 'rpath +" "$w" 'rpath = rpath + "/x"' 'rnodes = ["@T/d"]'
	py_error 3 "unexpected 'rnodes'" "$w" 'rnodes = ["@T/d"]' 'rexcludes = rnodes'
	py_error 2 "unexpected '\[\"a" "$w" 'rexcludes = [["a"]]' 'rnodes = ["@T/d"]'
	py_error 2 "unexpected '(" "$w" 'rnodes = ("@T/d1", "@T/d2")'
	py_error 2 "unexpected 'IN_CREATE,IN_DELETE' in the original's dialect" "$w" \
		'emask = IN_CREATE,IN_DELETE' 'rnodes = ["@T/d"]'
	py_error 2 "unexpected '/" "$w" 'rnodes = @T/d'
	py_error 2 "unexpected '\*" "$w" 'rnodes = ["@T/d" + *]'
	py_error 2 'escape \\x' "$w" 'rnodes = ["@T/d\x41"]'
	py_error 2 'escape \\d' "$w" 'rnodes = ["@T/d\d"]'
	py_error 2 "unexpected '+ 2'" "$w" 'edelay = 1 + 2' 'rnodes = ["@T/d"]'
	py_error 2 "unexpected '\"x\"'" "$w" 'rnodes = "@T/d" "x"'
	py_error 2 "unexpected '+ \[" "$w" 'rnodes = ["@T/d"] + ["@T/e"]'
	py_error 2 "unexpected ';" "$w" 'rnodes = "@T/d"; rpath = "x"'
	py_error 2 "unexpected ''" "$w" 'rnodes = "@T/d" +' '"x"'
	py_error 2 "unexpected ''" "$w" 'rnodes ='
	py_error 4 "unexpected '\"$T/d2\"'" "$w" 'rnodes = [' '"@T/d1"' '"@T/d2"' ']'
	py_error 3 'key = value' "$w" 'rnodes = ["@T/d"]' 'rexcludes = ["\"x\""]'
	py_error 3 'key = value' "$w" 'rnodes = ["@T/d"]' 'rexcludes = ["[ \"x"]'
	py_error 3 'key = value' "$w" 'rnodes = ["@T/d"]' 'rexcludes = ["x\ny"]'
	py_error 3 'longer' "$w" "rpath = \"/$long\"" 'rnodes = ["@T/d" + rpath + rpath]'
	py_error 2 'not closed' "$w" 'rnodes = ["a\"]'
	py_error 2 'escape' "$w" 'rnodes = ["a\' 'b"]'
	py_error 2 'unknown key' "$w" 'fnord = "x"' 'rnodes = ["@T/d"]'
	py_error 3 twice "$w" 'rnodes = ["@T/d"]' 'rnodes = ["@T/e"]'
	py_error 3 twice "$w" 'edelay = 1' 'edelay = 2' 'rnodes = ["@T/d"]'
	py_error 3 twice "$w" 'rpath = "/a"' 'rpath = "/b"' 'rnodes = ["@T/d"]'
	py_error 3 twice "$w" 'rnodes = []' 'rnodes = ["@T/d"]'
	py_error 3 twice 'edelay = 1' "$w" 'edelay = "2"' 'rnodes = ["@T/d"]'
	py_error 3 missing "$w" 'rnodes = []' '# end'
	py_error 3 dialect "$w" 'rnodes = ["@T/d"]' 'rsh = ssh -p 22'
	py_error 3 "'\"/x\"' is the original's dialect" 'wpath = @T/src' 'rnodes = @T/d' 'rpath = "/x"'
	py_error 3 "'\[' is the original's dialect" 'wpath = @T/src' 'rnodes = @T/d' 'rexcludes = [' '"x"' ']'
	py_error 3 "'\\[ 'x'' is the original" 'wpath = @T/src' 'rnodes = @T/d' "rexcludes = [ 'x'"
	py_error 2 "unknown key 'wpath2'" "$w" 'wpath2 = "@T/src"'
	printf 'wpath = "%s/src"\nrnodes = [\n"a\0b"\n]\n' "$T" > c.conf
	conf_error "$T/c.conf" 3 NUL
	{ printf 'wpath = "%s/src"\nrnodes = [\n"' "$T"; printf '%05000d' 0; printf '"\n]\n'; } > c.conf
	conf_error "$T/c.conf" 3 longer
}

# a key = value file stays as it was: a value may hold quotes and
# brackets, only not begin as the original's dialect does; one that
# begins with a bare number decides nothing
# a bare number decides no dialect, so an rpath of one before the first
# string was read as a key = value line's, a suffix of every rnodes,
# though the file is of the original's dialect, where rpath is only a
# name: the daemon mirrored (and --deleted) into $T/d2, not $T/d
t_a_number_for_rpath_before_the_first_string_is_only_a_name() {
	mkdir src
	printf 'rpath = 2\nwpath = "%s/src"\nrnodes = ["%s/d"]\n' "$T" "$T" > c.conf
	"$INOSYNC" -t -c c.conf > out 2> err || fail "-t exited $?: $(cat err)"
	has_line out "# destination 1: $T/src/ -> $T/d"
	printf 'wpath = "%s/src"\nrpath = 2\nrnodes = ["%s/d"]\n' "$T" "$T" > c2.conf
	"$INOSYNC" -t -c c2.conf > out2 2> err || fail "-t exited $?: $(cat err)"
	cmp -s out out2 || fail "the order of the assignments changes the file: $(diff out out2)"
	printf 'rpath = 2\nwpath = %s/src\nrnodes = %s/d\n' "$T" "$T" > c3.conf
	"$INOSYNC" -t -c c3.conf > out3 2> err || fail "-t exited $?: $(cat err)"
	has_line out3 "# destination 1: $T/src/ -> $T/d2"
}

t_key_value_values_may_hold_quotes_and_brackets() {
	mkdir src
	shows 'rsh = ssh -o "ProxyCommand none"' 'rsh = ssh -o "ProxyCommand none"'
	shows 'rexcludes = [ab]*.tmp' 'rexcludes = [ab]*.tmp'
	shows "rexcludes = it's" "rexcludes = it's"
	shows 'rsh = "/opt/my ssh/ssh" -p 2' 'rsh = "/opt/my ssh/ssh" -p 2'
	shows "rargs = '--chmod=D755' --no-perms" "rargs = '--chmod=D755' --no-perms"
	printf 'edelay = 1\nwpath = %s/src\nrnodes = %s/d\nrexcludes = "x\n' "$T" "$T" > c.conf
	conf_error "$T/c.conf" 4 dialect
}
