# shellcheck shell=sh disable=SC2154 # T, PID, INOSYNC... come from lib.sh
# What gets installed: the man page, the example config, the service files
# in contrib/, and make install / make uninstall.

# the config keys users must find documented: those of the contract, and
# every key `inosync -t` prints (each it knows, as set or "# KEY (unset)";
# rexcludefrom only when set, so it is here)
keys() {
	echo wpath rnodes rpath rexcludes rspeed emask edelay rsync logfile \
		rsh rargs rtimeout pidfile statusfile efull rhook
	mkdir -p "$T/k/s" "$T/k/d"
	: > "$T/k/x"
	printf 'wpath = %s\nrnodes = %s\nrexcludefrom = %s\n' "$T/k/s" "$T/k/d" "$T/k/x" > "$T/k/c"
	chmod 600 "$T/k/c"
	"$INOSYNC" -t -c "$T/k/c" | sed -n 's/^\(# \)\{0,1\}\([a-z][a-z]*\)\( = \| (unset)\).*/\2/p'
}

# options: the letters of the options `inosync --help` shows
options() {
	"$INOSYNC" --help | grep -oE -- '(^|[ [])-[A-Za-z]([] ]|$)' | tr -d ' []-' | sort -u | tr -d '\n'
}

# tags FILE: the tag lines of the man page's .TP paragraphs
tags() {
	awk 'prev == ".TP" { print } { prev = $0 }' "$1"
}

t_man_page_renders_without_warnings() {
	command -v man > /dev/null || skip "no man here (apt-get install man-db)"
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 \
		-l "$ROOT/inosync.8" > out 2> err
	rc=$?
	[ "$rc" = 0 ] || fail "man exited $rc: $(cat err)"
	[ ! -s err ] || fail "man warned: $(cat err)"
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS CONFIGURATION 'EXCLUDE PATTERNS' \
		SIGNALS 'EXIT STATUS' FILES EXAMPLES 'SEE ALSO'; do
		grep -qx "$s" out || fail "no section $s in the rendered page"
	done
	for m in 'rsync(1)' 'ssh(1)' 'rsyncd.conf(5)' 'inotify(7)'; do
		sed -n '/^SEE ALSO/,$p' out | grep -qF "$m" || fail "SEE ALSO lacks $m"
	done
	if command -v mandoc > /dev/null; then
		mandoc -T lint -W warning "$ROOT/inosync.8" > lint.out 2>&1 ||
			fail "mandoc -T lint: $(cat lint.out)"
	fi
}

t_man_page_documents_every_option_and_key() {
	tags "$ROOT/inosync.8" > tp
	opts=$(options)
	[ "${#opts}" -gt 8 ] || fail "inosync --help shows only the options '$opts'"
	# -P and -e, -x are in the contract whatever the parser says today
	for o in $(printf '%sPex\n' "$opts" | sed 's/./& /g'); do
		grep -qE "^\.B[IR]? \\\\-$o( |\$)" tp || fail "option -$o has no paragraph in OPTIONS"
	done
	for o in version help; do
		grep -qF -- "\\-\\-$o" tp || fail "option --$o has no paragraph in OPTIONS"
	done
	n=0
	for k in $(keys); do
		grep -qx "\\.B $k" tp || fail "key $k has no paragraph in CONFIGURATION"
		n=$((n + 1))
	done
	[ "$n" -gt 36 ] || fail "inosync -t printed too few keys: $(keys | tr '\n' ' ')"
	for s in SIGTERM SIGINT SIGHUP SIGUSR1 SIGUSR2; do
		grep -qF "$s" tp || fail "signal $s has no paragraph in SIGNALS"
	done
}

t_example_config_shows_every_key() {
	for k in $(keys); do
		grep -qE "^(# )?$k = " "$ROOT/inosync.conf" ||
			fail "key $k is not shown in inosync.conf"
	done
}

t_example_config_passes_the_check() {
	mkdir src
	sed "s|^wpath = .*|wpath = $T/src|" "$ROOT/inosync.conf" > c.conf
	chmod 644 c.conf
	grep -qx "wpath = $T/src" c.conf || fail "no active 'wpath = ' line in inosync.conf"
	"$INOSYNC" -t -c "$T/c.conf" > out 2> err
	rc=$?
	[ "$rc" = 0 ] || fail "inosync -t: exit $rc, want 0: $(cat err)"
	[ ! -s err ] || fail "inosync -t said on stderr: $(cat err)"
	grep -qx "rnodes = backup.example.com:/var/www" out ||
		fail "the example destination is not in the effective settings: $(cat out)"
}

# what a user gets by removing the '# ' of every commented-out key
t_example_config_commented_keys_are_valid_when_enabled() {
	mkdir src
	printf '#!/bin/sh\nexit 0\n' > hook
	chmod 755 hook
	echo '*.o' > excludes
	sed -e 's/^# \([a-z][a-z]* = \)/\1/' \
		-e "s|^wpath = .*|wpath = $T/src|" \
		-e "s|^rhook = .*|rhook = $T/hook|" \
		-e "s|^rexcludefrom = .*|rexcludefrom = $T/excludes|" \
		-e "s|^pidfile = .*|pidfile = $T/inosync.pid|" \
		-e "s|^statusfile = .*|statusfile = $T/status|" \
		-e "s|^metricsfile = .*|metricsfile = $T/m.prom|" \
		-e "s|^logfile = .*|logfile = $T/rsync.log|" \
		"$ROOT/inosync.conf" > all.conf
	chmod 644 all.conf
	"$INOSYNC" -t -c "$T/all.conf" > out 2> err
	rc=$?
	[ "$rc" = 0 ] || fail "inosync -t with every key enabled: exit $rc: $(cat err)"
	[ ! -e inosync.pid ] || fail "-t wrote the pidfile"
	[ ! -e status ] || fail "-t wrote the statusfile"
	[ ! -e m.prom ] || fail "-t wrote the metricsfile"
}

t_contrib_scripts_pass_sh_n_and_shellcheck() {
	for f in inosync.init inosync.openrc inosync.procd runit/run; do
		p=$ROOT/contrib/$f
		[ -f "$p" ] || fail "contrib/$f is missing"
		[ -x "$p" ] || fail "contrib/$f is not executable"
		sh -n "$p" 2> err || fail "sh -n contrib/$f: $(cat err)"
		if command -v shellcheck > /dev/null; then
			# the openrc and procd ones say in a directive which of
			# their variables the framework reads
			shellcheck -s sh "$p" > err 2>&1 || fail "shellcheck contrib/$f: $(cat err)"
		fi
	done
}

# verify UNIT: systemd-analyze verify passes on contrib/UNIT, with
# ExecStart's binary the one under test
verify() {
	u=$ROOT/contrib/$1
	grep -qx 'ExecStart=/usr/local/bin/inosync -c /etc/inosync.conf' "$u" ||
		fail "ExecStart is not the foreground inosync -c /etc/inosync.conf"
	grep -qx 'RestrictNamespaces=mnt' "$u" ||
		fail "$1 must allow mount namespaces, or every rsync runs unjailed"
	# verify wants ExecStart's binary and the Documentation= page to exist
	sed "s|^ExecStart=/usr/local/bin/inosync |ExecStart=$INOSYNC |" "$u" > "$1"
	mkdir -p man/man8
	cp "$ROOT/inosync.8" man/man8/
	if command -v man > /dev/null; then
		MANPATH=$T/man systemd-analyze verify "$T/$1" > out 2>&1
	else
		systemd-analyze verify --man=no "$T/$1" > out 2>&1
	fi
	rc=$?
	# other units of this machine may be reported too: only ours counts
	! grep -qF "$1" out || fail "systemd-analyze verify: $(cat out)"
	[ "$rc" = 0 ] || fail "systemd-analyze verify exited $rc: $(cat out)"
}

# the unit for systemd before 253 (Debian 12): Type=notify, SIGHUP by
# ExecReload
t_systemd_unit_passes_systemd_analyze_verify() {
	command -v systemd-analyze > /dev/null || skip "no systemd-analyze here"
	u=$ROOT/contrib/inosync-notify.service
	grep -qx 'Type=notify' "$u" || fail "inosync-notify.service is not Type=notify"
	# shellcheck disable=SC2016 # $MAINPID is systemd's
	grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$u" || fail "ExecReload does not send SIGHUP"
	grep -q '^WatchdogSec=' "$u" || fail "no WatchdogSec"
	verify inosync-notify.service
}

# the unit for systemd 253 and later: Type=notify-reload sends SIGHUP
# itself and waits for READY=1
t_systemd_notify_reload_unit_passes_systemd_analyze_verify() {
	command -v systemd-analyze > /dev/null || skip "no systemd-analyze here"
	v=$(systemd-analyze --version | sed -n 's/^systemd \([0-9]*\).*/\1/p')
	[ "${v:-0}" -ge 253 ] || skip "systemd $v knows no Type=notify-reload (253 does)"
	u=$ROOT/contrib/inosync.service
	grep -qx 'Type=notify-reload' "$u" || fail "inosync.service is not Type=notify-reload"
	grep -q '^WatchdogSec=' "$u" || fail "no WatchdogSec"
	verify inosync.service
}

# fulls: print how many full syncs (those without a list) were run
fulls() {
	echo $(($(runs) - $(runs --files-from)))
}

# fulls_more_than N
fulls_more_than() {
	[ "$(fulls)" -gt "$1" ]
}

t_init_script_starts_reloads_and_stops_the_daemon() {
	"$INOSYNC" -h | grep -qF -- '-P' || skip "this inosync has no -P option"
	# the script's status asks whether the pidfile's process is inosync
	! grep -q 'exec valgrind' "$INOSYNC" 2> /dev/null ||
		skip "under valgrind the process has valgrind's name, not inosync's"
	mkdir src
	echo a > src/a
	mkconf "$T/c.conf"
	cat > default <<-EOF
	INOSYNC=$INOSYNC
	CONF=$T/c.conf
	PIDFILE=$T/inosync.pid
	EOF
	sed "s|/etc/default/inosync|$T/default|g" "$ROOT/contrib/inosync.init" > init
	sh init status > out
	rc=$?
	[ "$rc" = 3 ] || fail "status before start: exit $rc, want 3: $(cat out)"
	sh init start > out 2>&1 || fail "start: exit $?: $(cat out)"
	wait_for 10 test -s inosync.pid || fail "no pidfile after start"
	read -r pid < inosync.pid
	remember "$pid"
	alive "$pid" || fail "the pidfile names no live process"
	wait_for 10 synced || fail "not mirrored after start"
	wait_for 10 idle || fail "first sync did not finish"
	sh init status > out || fail "status: exit $?, want 0: $(cat out)"
	grep -qF "$pid" out || fail "status does not name pid $pid: $(cat out)"
	sh init start > out 2>&1 || fail "second start: exit $?: $(cat out)"
	[ "$(daemons_with "$T/c.conf" | wc -l)" = 1 ] || fail "a second start started a second inosync"
	n=$(fulls)
	sh init reload > out 2>&1 || fail "reload: exit $?: $(cat out)"
	wait_for 10 fulls_more_than "$n" || fail "no full sync after reload"
	wait_for 10 idle || fail "the sync after reload did not finish"
	sh init stop > out 2>&1 || fail "stop: exit $?: $(cat out)"
	gone "$pid" || fail "inosync still running after stop returned"
	[ ! -e inosync.pid ] || fail "pidfile left after a clean exit"
	sh init status > out
	rc=$?
	[ "$rc" = 3 ] || fail "status after stop: exit $rc, want 3: $(cat out)"
}

# minstall TARGET: make TARGET into $T/root with PREFIX=/usr
minstall() {
	make -C "$ROOT" "$1" DESTDIR="$T/root" PREFIX=/usr > make.out 2>&1 ||
		fail "make $1 DESTDIR=$T/root PREFIX=/usr: exit $?: $(cat make.out)"
}

t_make_install_puts_binary_man_page_and_config_in_place() {
	command -v make > /dev/null || skip "no make here"
	minstall install
	b=root/usr/bin/inosync
	[ -f "$b" ] || fail "make install installed no $b"
	[ -x "$b" ] || fail "$b is not executable"
	"$b" --version > out || fail "the installed inosync does not run"
	cmp -s "$ROOT/inosync.8" root/usr/share/man/man8/inosync.8 ||
		fail "root/usr/share/man/man8/inosync.8 is not the man page"
	cmp -s "$ROOT/inosync.conf" root/etc/inosync.conf ||
		fail "root/etc/inosync.conf is not the example config"
	[ -z "$(find root/etc/inosync.conf -perm /022)" ] ||
		fail "the installed config is writable by group or others, which root refuses"
	echo '# mine' > root/etc/inosync.conf
	minstall install
	[ "$(cat root/etc/inosync.conf)" = '# mine' ] ||
		fail "a second make install overwrote an existing etc/inosync.conf"
}

t_make_uninstall_removes_binary_and_man_page() {
	command -v make > /dev/null || skip "no make here"
	minstall install
	[ -e root/usr/bin/inosync ] || fail "make install installed no binary"
	minstall uninstall
	[ ! -e root/usr/bin/inosync ] || fail "make uninstall left the binary"
	[ ! -e root/usr/share/man/man8/inosync.8 ] || fail "make uninstall left the man page"
	[ -e root/etc/inosync.conf ] || fail "make uninstall removed the config, which is the user's"
}

# qemu_for ARCH: print the qemu-user that runs make release's ARCH
qemu_for() {
	case $1 in
	armhf) echo qemu-arm-static ;;
	aarch64) echo qemu-aarch64-static ;;
	mipsel) echo qemu-mipsel-static ;;
	mips) echo qemu-mips-static ;;
	esac
}

t_release_tarballs_hold_a_static_binary_that_runs() {
	command -v make > /dev/null || skip "no make here"
	make -C "$ROOT" release VERSION=9.8 DIST="$T/dist" > make.out 2>&1 ||
		fail "make release VERSION=9.8 DIST=$T/dist: exit $?: $(cat make.out)"
	(cd dist && sha256sum -c SHA256SUMS) > sums.out 2>&1 ||
		fail "SHA256SUMS does not check: $(cat sums.out)"
	[ -f "dist/inosync-9.8-$(uname -m).tar.gz" ] ||
		fail "no tarball for this machine, $(uname -m): $(cat make.out)"
	mkdir src
	foreign=0 ran=0
	for f in dist/inosync-9.8-*.tar.gz; do
		d=${f#dist/}
		d=${d%.tar.gz}
		a=${d#inosync-9.8-}
		grep -qx "[0-9a-f]*  $d.tar.gz" dist/SHA256SUMS || fail "SHA256SUMS lacks $d.tar.gz"
		tar -xzf "$f" || fail "cannot unpack $f"
		for p in inosync.8 inosync.conf contrib/README contrib/inosync.service \
			contrib/inosync-notify.service \
			contrib/inosync.init contrib/inosync.openrc contrib/inosync.procd contrib/runit/run; do
			cmp -s "$ROOT/$p" "$d/$p" || fail "$d.tar.gz: $p is not the tree's"
		done
		[ -x "$d/contrib/inosync.init" ] || fail "$d.tar.gz: contrib/inosync.init is not executable"
		[ -z "$(find "$d/inosync.conf" -perm /022)" ] ||
			fail "$d.tar.gz: inosync.conf is writable by group or others, which root refuses"
		[ -x "$d/inosync" ] || fail "$d.tar.gz holds no executable inosync"
		run=
		if [ "$a" = "$(uname -m)" ]; then
			if command -v ldd > /dev/null; then
				ldd "$d/inosync" > ldd.out 2>&1
				grep -q -e 'not a dynamic executable' -e 'statically linked' ldd.out ||
					fail "$d.tar.gz: inosync is not static: $(cat ldd.out)"
			fi
		else
			foreign=$((foreign + 1))
			# through binfmt_misc, else under qemu-user (without -L, so
			# only a static binary runs)
			if ! "$d/inosync" --version > /dev/null 2>&1; then
				q=$(qemu_for "$a")
				[ -n "$q" ] || fail "$d.tar.gz: unknown architecture $a"
				command -v "$q" > /dev/null || continue
				run=$q
			fi
			ran=$((ran + 1))
		fi
		$run "$d/inosync" --version > out 2> err || fail "$d: inosync --version: exit $?: $(cat err)"
		[ "$(cat out)" = "inosync 9.8" ] || fail "$d: --version says '$(cat out)', want 'inosync 9.8'"
		sed "s|^wpath = .*|wpath = $T/src|" "$d/inosync.conf" > "$a.conf"
		$run "$d/inosync" -t -c "$T/$a.conf" > out 2> err ||
			fail "$d: inosync -t on the example config: exit $?: $(cat err)"
		grep -qx "rnodes = backup.example.com:/var/www" out ||
			fail "$d: the example destination is not in the effective settings: $(cat out)"
	done
	[ "$foreign" = 0 ] || [ "$ran" -gt 0 ] ||
		skip "no qemu-user-static to run the other architectures' tarballs (apt-get install qemu-user-static)"
}

# need_as_user WHAT...: run tests/need with only $T/bin on PATH, as nobody
# where we are root; its stderr goes to need.err, its exit status to $rc
need_as_user() {
	if [ "$(id -u)" = 0 ]; then
		# shellcheck disable=SC2016 # expanded by nobody's shell
		su nobody -s /bin/sh -c 'PATH=$0 exec need "$@"' "$T/bin" "$@" 2> need.err
	else
		PATH=$T/bin need "$@" 2> need.err
	fi
	rc=$?
}

t_need_without_root_names_what_is_missing_and_the_command() {
	if [ ! -f /etc/debian_version ] || ! command -v apt-get > /dev/null; then
		skip "not Debian"
	fi
	[ -e /usr/include/stdio.h ] || skip "no libc6-dev here, which tests/need test needs"
	mkdir bin
	for c in sh sed grep awk sort id cat tr dpkg apt-get; do
		p=$(command -v "$c") || skip "no $c"
		ln -s "$p" "bin/$c"
	done
	cp "$ROOT/tests/need" bin/need
	chmod 755 "$T" bin
	need_as_user test
	[ "$rc" = 1 ] || fail "without rsync, cc or make: exit $rc, want 1: $(cat need.err)"
	[ "$(wc -l < need.err)" = 1 ] || fail "want one line, got: $(cat need.err)"
	for w in 'test: needs' rsync 'as root: apt-get update && apt-get install --no-install-recommends'; do
		grep -qF -- "$w" need.err || fail "no '$w' in: $(cat need.err)"
	done
	# busybox is a want: named in the command, not needed
	sed 's/.*apt-get install//' need.err | grep -qw busybox-static ||
		fail "the command does not install busybox-static: $(cat need.err)"
	sed 's/as root:.*//' need.err | grep -qw busybox-static &&
		fail "busybox-static is a need: $(cat need.err)"
	for c in rsync cc make; do
		printf '#!/bin/sh\n' > "bin/$c"
		chmod 755 "bin/$c"
	done
	need_as_user test
	[ "$rc" = 0 ] || fail "with only wants missing: exit $rc, want 0: $(cat need.err)"
	grep -qF 'test: goes on without' need.err || fail "the missing wants are not named: $(cat need.err)"
	need_as_user nonsense
	[ "$rc" = 2 ] || fail "an unknown WHAT: exit $rc, want 2: $(cat need.err)"
}

# the README's way for OpenWrt and Buildroot, make CC=..., gets the flags
# of the compiler's target (aarch64's tiny code model) and fits its limit
t_cross_build_with_make_cc_takes_its_targets_flags() {
	cc=aarch64-linux-gnu-gcc
	command -v $cc > /dev/null || skip "no $cc (tests/need aarch64)"
	mkdir b
	cp "$ROOT/inosync.c" "$ROOT/config.h" "$ROOT/Makefile" b/
	make -C b CC=$cc inosync > make.out 2>&1 || fail "make CC=$cc failed: $(tail -n 3 make.out)"
	grep -q -- '-mcmodel=tiny' make.out || fail "no -mcmodel=tiny in: $(head -n 1 make.out)"
	"$($cc -print-prog-name=strip)" -R .comment -o b/s b/inosync
	max=$(sed -n 's/^AARCH64MAX = //p' "$ROOT/Makefile")
	[ "$(wc -c < b/s)" -le "$max" ] || fail "$(wc -c < b/s) bytes stripped, over $max"
}
