# shellcheck shell=sh disable=SC2154,SC1003 # T, PID, INOSYNC... come from lib.sh; names end in backslashes
# rexcludes: the daemon's matcher (tests/match) keeps exactly what rsync
# keeps, pattern by pattern (DESIGN §6), and excluded changes start no rsync.

# table: a tree with names that the patterns below match and nearly match,
# at several depths; $T/paths lists it as tests/match reads it
table() {
	[ -d table ] && return 0
	for p in foo/bar foo/x foo/sub/bar/f foo.bak afoo foox \
		bar/foo/bar bar/foo/y bar/foo.bak bar/x/y bar/x/q/y bar/x/q/r/y \
		sub/foo sub/dir/f sub/a.bak sub/ac sub/bc sub/cc sub/abc sub/x sub/y 'sub/a\b' \
		x/y x/z/y/f x/z/w/q/y x/z/x \
		dir/f dir/sub/f dirt/f sub/dirt \
		a.bak abc ac bc cc 'a\b' 'a*c' '[ab]c' 'a?c' .hidden .dot/f \
		'[' 'a[b' 'x[' 'x\' '\' ']' ':' 'd[/f' 'sub/a[b' \
		deep/a/b/c/foo deep/a/b/c/x.bak deep/a/b/c/d/y; do
		case $p in */*) mkdir -p "table/${p%/*}" ;; esac
		echo "$p" > "table/$p"
	done
	mkdir -p table/empty table/sub/empty/foo
	(cd table && find . -mindepth 1 \( -type d -printf '%P/\n' -o -printf '%P\n' \)) |
		LC_ALL=C sort > paths
}

# rsync_keeps PATTERN...: print what rsync -a --exclude=PATTERN... keeps
rsync_keeps() {
	rm -rf kept
	n=$#
	for p; do
		set -- "$@" "--exclude=$p"
	done
	shift "$n"
	/usr/bin/rsync -a "$@" table/ kept/ || fail "rsync $* failed"
	(cd kept && find . -mindepth 1 \( -type d -printf '%P/\n' -o -printf '%P\n' \)) |
		LC_ALL=C sort
}

# matcher_keeps PATTERN...: print what tests/match says is kept: the paths
# with no excluded ancestor-or-self (awk tells the files apart by name: with
# NR == FNR an empty list of excluded paths would swallow the paths)
matcher_keeps() {
	"$ROOT/tests/match" "$@" < paths > excluded || fail "tests/match $* failed"
	awk 'FILENAME == ARGV[1] { x[$0] = 1; next }
	{
		n = split($0, c, "/"); pre = ""
		for (i = 1; i <= n; i++) {
			if (c[i] == "") continue
			pre = pre c[i]
			if ((i < n ? pre "/" : pre) in x) next
			pre = pre "/"
		}
		print
	}' excluded paths | LC_ALL=C sort
}

# agree PATTERN...: for all the patterns together and for each alone, the
# matcher keeps what rsync keeps
agree() {
	[ -x "$ROOT/tests/match" ] || skip "tests/match is not built (make tests/match)"
	table
	bad=
	compare "$@"
	for p; do
		compare "$p"
	done
	[ -z "$bad" ] || fail "the matcher disagrees with rsync"
}

# compare PATTERN...: say how the matcher and rsync differ; set bad if so
compare() {
	rsync_keeps "$@" > want.list
	matcher_keeps "$@" > got.list
	cmp -s want.list got.list && return 0
	echo "patterns $*: < kept by rsync only, > kept by the matcher only" >&2
	diff want.list got.list | grep '^[<>]' >&2
	bad=1
}

t_exclude_name_matches_at_any_depth() {
	agree foo x y bar empty
}

t_exclude_leading_slash_anchors_at_the_top() {
	agree /foo /x /sub/foo /foo/bar /bar/x/ /deep/a
}

t_exclude_trailing_slash_matches_only_directories() {
	agree foo/ x/ y/ bar/ empty/ /dir/ sub/dir/
}

t_exclude_inner_slash_matches_the_end_of_the_path() {
	agree foo/bar x/y sub/dir foo/sub/bar/ a/b/c b/c/foo
}

t_exclude_star_stays_within_a_name() {
	agree '*.bak' 'a*' '*c' '*/f' 'sub/*' '*' 'foo*' '*foo' 'x/*/y' '.*' 'd*/'
}

t_exclude_double_star_crosses_slashes() {
	agree '**/x' '**/y' 'x/**/y' 'foo/**' '**/sub/**' '/x/**' '**' 'deep/**/foo' '/**/y'
}

t_exclude_triple_star_takes_a_directory_and_its_content() {
	agree 'dir/***' '/dir/***' 'x/***' 'z/***' '/deep/a/***'
}

t_exclude_brackets_and_question_mark_match_one_character() {
	agree '[ab]c' 'a?c' '[!a]c' '[^a]c' '[a-b]c' '[[:alpha:]]c' '?' '??' 'sub/?c' '[a]*'
}

t_exclude_backslash_is_literal_without_wildcards() {
	agree 'a\b' 'sub/a\b' 'a\*c' '\[ab\]c' '*\b' 'a\?c'
}

# rsync's wildmatch matches nothing with an unterminated [ or [:class:],
# an unknown class or a trailing backslash (a pattern without * ? [ is
# compared literally, so x\ still matches x\)
t_exclude_broken_brackets_and_trailing_backslash_match_nothing() {
	agree '[' 'a[b' '*[' '?[' 'd[/***' 'd[/' '[!]' '[\' '[![:foo:]]' '[[:alpha:]' \
		'*\' 'x\' '[[:x]' '[[:]' 'a[b]' '[[]'
}

# --- the daemon end to end

t_excluded_paths_are_not_copied() {
	mkdir -p src/sub/cache src/build src/logs/old src/keep/build
	for f in a.tmp sub/b.tmp sub/cache/c build/o keep/build/o logs/old/l keep/k top; do
		echo "$f" > "src/$f"
	done
	boot "rexcludes = *.tmp" "rexcludes = cache/" "rexcludes = /build" "rexcludes = logs/***"
	want '*.tmp' 'cache/' '/build' 'logs/***'
	wait_for 10 same want dst || fail "first sync copied excluded paths"
	echo n > src/new.tmp
	mkdir -p src/keep/cache src/logs/new
	echo x > src/keep/cache/x
	echo y > src/keep/y
	echo z > src/logs/new/z
	echo p > src/keep/build/p
	mkdir src/cache.d
	echo q > src/cache.d/q
	want '*.tmp' 'cache/' '/build' 'logs/***'
	wait_for 10 same want dst || fail "a change copied excluded paths or missed others"
	# renames across the line
	mv src/new.tmp src/new.txt
	mv src/keep/y src/keep/y.tmp
	want '*.tmp' 'cache/' '/build' 'logs/***'
	wait_for 10 same want dst || fail "renames into and out of excluded names not mirrored"
	stop
}

t_changes_only_in_excluded_paths_start_no_rsync() {
	WATCHER=inotify # it counts inotify's watches
	mkdir -p src/sub/cache src/build
	echo o > src/build/o
	boot "rexcludes = *.tmp" "rexcludes = cache/" "rexcludes = /build" "rexcludes = **/scratch"
	n=$(runs)
	mkdir -p src/scratch src/sub/scratch
	echo s > src/scratch/s
	echo s > src/sub/scratch/s
	echo a > src/a.tmp
	echo b > src/sub/b.tmp
	echo c > src/sub/cache/c
	echo o2 > src/build/o
	mkdir -p src/cache/deep src/build/new
	echo d > src/cache/deep/d
	echo e > src/build/new/e
	mv src/a.tmp src/a2.tmp
	rm src/sub/b.tmp
	rm -r src/sub/cache
	observe 1 # 5 edelays
	[ "$(runs)" = "$n" ] || fail "excluded changes started $(($(runs) - n)) rsync runs"
	echo control > src/sub/control
	wait_for 10 test -f dst/sub/control || fail "control change not copied"
	wait_for 10 idle
	observe 0.6
	[ "$(runs)" = $((n + 1)) ] || fail "$(($(runs) - n)) rsync runs for one control change"
	stop
}

# heard WORD: a change that is not excluded still reaches the mirror, so
# that "no rsync ran" before it was the excludes at work, not a deaf daemon
heard() {
	echo "$1" > src/control
	wait_for 10 cmp -s src/control dst/control || fail "a change not excluded was not synced ($1): is the daemon deaf?"
}

# watches_above N: the daemon holds more than N inotify watches
watches_above() {
	[ "$(watches)" -gt "$1" ]
}

t_directory_patterns_do_not_hide_files_of_that_name() {
	boot "rexcludes = cache/***" "rexcludes = logs/"
	# rsync copies files named cache or logs: only directories are excluded
	echo c > src/cache
	wait_for 5 test -f dst/cache || fail "a file 'cache' (rexcludes = cache/***) never synced"
	echo l > src/logs
	wait_for 5 test -f dst/logs || fail "a file 'logs' (rexcludes = logs/) never synced"
	mkdir -p src/sub/logs src/sub2
	echo x > src/sub/logs/x
	echo c > src/sub2/cache
	want 'cache/***' 'logs/'
	wait_for 5 same want dst || fail "excludes misapplied"
	stop
}

t_excluded_directories_cost_no_watches() {
	WATCHER=inotify # it counts inotify's watches
	mkdir -p src/a src/b
	for i in 1 2 3 4 5 6 7 8 9 10; do
		mkdir -p "src/node_modules/m$i/lib" "src/a/node_modules/m$i"
	done
	boot "rexcludes = node_modules/"
	w=$(watches)
	[ "$w" -ge 3 ] || fail "$w watches for 3 directories"
	[ "$w" -lt 10 ] || fail "$w watches for 3 directories not excluded"
	mkdir -p src/b/node_modules/x src/c
	wait_for 5 watches_above "$w" || fail "new directory src/c not watched"
	observe 0.5
	[ "$(watches)" = $((w + 1)) ] || fail "$(watches) watches after adding one plain directory to $w"
	stop
}

t_src_dest_form_x_patterns_keep_what_rsync_keeps() {
	mkdir -p src/sub/x src/y
	for f in a.o sub/b.o sub/x/c y/d e; do
		echo "$f" > "src/$f"
	done
	start d -e 0.2 -x '*.o' -x '/y' -x 'sub/x/' "$T/src" "$T/dst"
	want '*.o' '/y' 'sub/x/'
	wait_for 10 same want dst || fail "-x patterns not applied"
	stop
}

t_exclude_odd_corners_agree_with_rsync() {
	agree 'a**c' '**c' '**.bak' '*/**/f' 'foo/**/' '/**' '*/' '[]a]c' 'x/**' \
		'sub/*/' 'deep/**/' '**/' '/*' '/*/' 'b*/foo' '[a-c][a-c]' '*[!c]'
}

t_names_a_broken_pattern_seems_to_match_are_synced() {
	boot 'rexcludes = a[b' 'rexcludes = *[' 'rexcludes = *\'
	echo a > 'src/a[b'
	echo x > 'src/x\'
	mkdir 'src/d['
	echo f > 'src/d[/f'
	want 'a[b' '*[' '*\'
	wait_for 10 same want dst || fail "names rsync copies were never synced"
	stop
}

# rsync strips one "- " from --exclude=- - foo and excludes "- foo", the
# pattern the daemon matches; not foo
t_pattern_after_a_dash_prefix_is_the_one_rsync_gets() {
	boot 'rexcludes = - - foo' 'rexcludes = - *.tmp'
	echo a > 'src/- foo'
	echo b > src/foo
	echo c > src/c.tmp
	want '- - foo' '*.tmp'
	wait_for 10 same want dst || fail "rsync did not get the pattern the daemon matches"
	stop
}

t_directory_renamed_out_of_an_excluded_name_is_copied_and_watched() {
	WATCHER=inotify # it counts inotify's watches
	mkdir -p src/cache/sub
	echo x > src/cache/sub/x
	boot "rexcludes = cache/"
	mv src/cache src/kept
	want 'cache/'
	wait_for 10 same want dst || fail "directory renamed from an excluded name not copied"
	echo y > src/kept/sub/y
	want 'cache/'
	wait_for 10 same want dst || fail "directory renamed from an excluded name not watched"
	stop
}

# watches_are N: the daemon holds exactly N inotify watches
watches_are() {
	[ "$(watches)" = "$1" ]
}

# mv y x with /x/cache excluded: the watched y/cache becomes the excluded
# x/cache; rsync does not check the parents of a --files-from name against
# the excludes, so a watch left on it would copy every write in it
t_directory_moved_under_an_excluded_path_is_unwatched() {
	WATCHER=inotify # it counts inotify's watches
	mkdir -p src/y/cache/sub src/z
	echo a > src/y/cache/a
	boot 'rexcludes = /x/cache'
	wait_for 5 watches_are 5 || fail "$(watches) watches for 5 directories"
	mv src/y src/x
	want /x/cache
	wait_for 10 same want dst || fail "the move was not mirrored"
	wait_for 5 watches_are 3 || fail "$(watches) watches for the 3 directories not excluded"
	wait_for 10 idle
	n=$(runs)
	echo b > src/x/cache/b
	echo c > src/x/cache/sub/c
	observe 1
	[ "$(runs)" = "$n" ] || fail "writes in the now excluded x/cache started $(($(runs) - n)) rsync runs"
	heard after
	want /x/cache
	same want dst || fail "the now excluded x/cache was copied"
	stop
}

t_directory_renamed_to_an_excluded_name_is_removed_and_ignored() {
	mkdir -p src/d/sub
	echo x > src/d/sub/x
	boot "rexcludes = cache/"
	mv src/d src/cache
	want 'cache/'
	wait_for 10 same want dst || fail "directory renamed to an excluded name still mirrored"
	wait_for 10 idle
	n=$(runs)
	echo y > src/cache/sub/y
	observe 1
	[ "$(runs)" = "$n" ] || fail "a change in the renamed, now excluded directory started rsync"
	heard after
	stop
}

t_rexcludefrom_patterns_start_no_rsync_and_reload_on_sighup() {
	mkdir -p src/sub
	echo k > src/sub/keep
	printf '%s\n' '# objects' '*.o' > excl
	boot "rexcludefrom = $T/excl"
	r=$(runs)
	echo o > src/sub/a.o
	observe 1
	[ "$(runs)" = "$r" ] || fail "an rsync ran for a change excluded by the file"
	heard before-the-reload
	echo c > src/sub/c
	wait_for 10 test -f dst/sub/c || fail "no sync of a change not excluded"
	[ ! -e dst/sub/a.o ] || fail "an excluded file was copied"
	echo '*.log' >> excl
	r=$(runs)
	kill -HUP "$PID"
	wait_for 10 runs_at_least $((r + 1)) || fail "no full sync after the reload"
	wait_for 10 idle || fail "the reload's full sync did not end"
	r=$(runs)
	echo l > src/sub/b.log
	observe 1
	[ "$(runs)" = "$r" ] || fail "the pattern added to the file before SIGHUP was not applied"
	heard after-the-reload
	want '*.o' '*.log'
	wait_for 10 same want dst || fail "the destination is not what rsync keeps"
	stop
}
