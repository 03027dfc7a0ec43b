# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# The command line: --version, help, usage errors, the SRC DEST... form.

t_version_prints_name_and_version() {
	"$INOSYNC" --version > out 2> err || fail "--version exited $?"
	grep -qxE 'inosync [0-9][^ ]*' out || fail "want 'inosync VERSION', got: $(cat out)"
	[ "$(wc -l < out)" = 1 ] || fail "want one line, got: $(cat out)"
	[ ! -s err ] || fail "stderr: $(cat err)"
}

t_help_prints_usage_on_stdout_and_exits_0() {
	for o in -h --help; do
		"$INOSYNC" "$o" > out 2> err
		rc=$?
		[ "$rc" = 0 ] || fail "$o exited $rc, want 0"
		grep -qi usage out || fail "$o: no usage on stdout: $(cat out)"
		grep -qF -- '-c' out || fail "$o: usage does not mention -c: $(cat out)"
		grep -qF -- 'SRC' out || fail "$o: usage does not mention SRC DEST: $(cat out)"
		[ ! -s err ] || fail "$o: stderr: $(cat err)"
	done
}

# usage_error ARGS...: inosync ARGS prints usage on stderr and exits 2
usage_error() {
	"$INOSYNC" "$@" > out 2> err
	rc=$?
	[ "$rc" = 2 ] || fail "inosync $*: exit $rc, want 2"
	grep -qi usage err || fail "inosync $*: no usage on stderr: $(cat err)"
	[ ! -s out ] || fail "inosync $*: stdout: $(cat out)"
}

t_bad_option_prints_usage_on_stderr_and_exits_2() {
	mkdir src
	usage_error -Z
	usage_error --bogus
	usage_error -c
	usage_error "$T/src"
	usage_error -e 0.2 -x
}

# as getopt(3) takes them: letters bundled, a value in the same word or
# the next (even one that begins with '-'), "--" before the operands
t_options_bundle_and_take_values_either_way() {
	mkdir src
	"$INOSYNC" -tv -e0.5 -x'*.o' -x -y -- src "$T/dst" > out 2> err ||
		fail "exit $?: $(cat err)"
	grep -qx 'edelay = 0.5' out || fail "-e0.5 not taken: $(cat out)"
	grep -qx 'rexcludes = \*.o' out || fail "-x'*.o' not taken: $(cat out)"
	grep -qx 'rexcludes = -y' out || fail "-x -y not taken: $(cat out)"
	usage_error -tq src "$T/dst"
	[ "$(head -n 1 err)" = "inosync: unknown option -q" ] || fail "said: $(cat err)"
}

t_bad_edelay_on_the_command_line_exits_2() {
	mkdir src
	for v in abc -1 0.2s 99999999999999999999; do
		timeout 10 "$INOSYNC" -e "$v" "$T/src" "$T/dst" > out 2> err
		rc=$?
		[ "$rc" = 2 ] || fail "-e $v: exit $rc, want 2"
		[ -s err ] || fail "-e $v: nothing said on stderr"
	done
	[ ! -e dst ] || fail "a destination was written"
}

t_src_dest_form_mirrors_to_each_dest_with_e_and_x() {
	mkdir -p src/sub src/cache
	echo a > src/a
	echo t > src/sub/x.tmp
	echo c > src/cache/c
	# relative SRC and DEST, from the cwd; default rsync
	start d -e 0.2 -x '*.tmp' -x 'cache/' src "$T/d1" ./d2
	want '*.tmp' 'cache/'
	wait_for 10 same want d1 || fail "first destination not mirrored at start"
	wait_for 10 same want d2 || fail "second (relative) destination not mirrored at start"
	echo b > src/sub/b
	mkdir src/sub/cache
	echo c > src/sub/cache/c
	echo y > src/y.tmp
	want '*.tmp' 'cache/'
	# the default edelay is 10 s: 5 s proves -e is used
	wait_for 5 same want d1 || fail "change not mirrored to the first destination"
	wait_for 5 same want d2 || fail "change not mirrored to the second destination"
	stop
}
