# shellcheck shell=sh disable=SC2154 # T, INOSYNC... come from lib.sh
# The watchers: fanotify (one mark a filesystem) where it can be had, and
# inotify where it cannot, on filesystems of the tests' own (tmpfs, a
# loop-mounted ext4 image, overlayfs).

# ext4_image DIR SIZE: a fresh ext4 image of SIZE (truncate's) mounted at
# DIR, unmounted by the runner
ext4_image() {
	command -v mkfs.ext4 > /dev/null || skip "no mkfs.ext4 (e2fsprogs)"
	truncate -s "$2" "$T/.img.${1##*/}" || fail "cannot make an image"
	mkfs.ext4 -q -F "$T/.img.${1##*/}" 2> /dev/null || skip "mkfs.ext4 failed"
	mkdir -p "$1"
	mount -o loop "$T/.img.${1##*/}" "$1" 2> /dev/null || skip "cannot loop-mount an image here"
	echo "$1" >> "$T/.mounts"
}

# overlay DIR: an overlayfs mounted at DIR (its layers in $T/.ovl)
overlay() {
	mkdir -p "$T/.ovl/lower" "$T/.ovl/upper" "$T/.ovl/work" "$1"
	mount -t overlay overlay -o "lowerdir=$T/.ovl/lower,upperdir=$T/.ovl/upper,workdir=$T/.ovl/work" \
		"$1" 2> /dev/null || skip "cannot mount an overlayfs here"
	echo "$1" >> "$T/.mounts"
}

# watched_are N: the statusfile says N directories are watched
watched_are() {
	[ "$(statusval "$T/status" watched)" = "$1" ]
}

# full_syncs: how many rsyncs ran without a list (full syncs)
full_syncs() {
	grep -vc -- --files-from "$T/runs"
}

# A tree larger than the inotify watch limit is watched whole: 30,000
# directories with fs.inotify.max_user_watches at 1,000 while the daemon
# starts (restored once it has), every one watched without an inotify
# watch, and a change in the deepest arrives within edelay and one rsync,
# owing no full sync
t_fanotify_watches_a_tree_far_past_the_inotify_watch_limit() {
	mount_tmpfs "$T/src" 256m
	need_fanotify
	mkdirs src 29990
	mkdir -p src/z/y/x/w/v/u/t/s/r/q
	echo deep > src/z/y/x/w/v/u/t/s/r/q/f
	sysctl_set /proc/sys/fs/inotify/max_user_watches 1000
	boot "statusfile = $T/status" "watcher = fanotify"
	sysctl_restore /proc/sys/fs/inotify/max_user_watches
	n=$(find src -type d | wc -l)
	[ "$(statusval status watched)" = "$n" ] || fail "$(statusval status watched) of $n directories watched"
	[ "$(statusval status all_watched)" = yes ] || fail "the statusfile says not all are watched"
	[ "$(statusval status watcher)" = fanotify ] || fail "the statusfile names $(statusval status watcher)"
	[ "$(watches)" = 0 ] || fail "$(watches) inotify watches held"
	! log_has d "cannot watch" || fail "a directory was not watched: $(grep 'cannot watch' d.log)"
	echo changed > src/z/y/x/w/v/u/t/s/r/q/f
	now
	t0=$NOW
	wait_for 5 cmp -s src/z/y/x/w/v/u/t/s/r/q/f dst/z/y/x/w/v/u/t/s/r/q/f ||
		fail "a change in the deepest directory did not arrive"
	now
	echo "arrived after $((NOW - t0))0 ms (edelay 200 ms)" >&2
	[ "$(full_syncs)" = 1 ] || fail "$(full_syncs) full syncs, want the one at start"
	[ "$(statusval status all_watched)" = yes ] || fail "not all watched after the change"
	stop
}

# creates, writes, renames and deletes on an ext4 image and on a tmpfs are
# mirrored, a renamed directory placed as a move, and a change elsewhere on
# the same filesystem starts no rsync
t_fanotify_mirrors_every_kind_of_change_on_ext4_and_tmpfs() {
	need_fanotify
	for fs in ext4 tmpfs; do
		rm -rf "$T/runs" "$T/dst"
		mkdir -p "$T/$fs"
		if [ $fs = ext4 ]; then ext4_image "$T/$fs" 64M; else mount_tmpfs "$T/$fs" 64m; fi
		mkdir -p "$T/$fs/src/a/b" "$T/$fs/elsewhere" "$T/dst"
		echo 1 > "$T/$fs/src/a/b/f"
		boot "wpath = $T/$fs/src" "watcher = fanotify"
		log_has d "with fanotify" || fail "$fs: not watched with fanotify"
		r=$(runs)
		i=0
		while [ $i -lt 50 ]; do
			echo $i > "$T/$fs/elsewhere/f$i"
			i=$((i + 1))
		done
		rm "$T/$fs/elsewhere/f1"
		observe 1
		[ "$(runs)" = "$r" ] || fail "$fs: changes outside wpath started an rsync"
		mkdir "$T/$fs/src/new"
		echo 2 > "$T/$fs/src/new/g"
		mv "$T/$fs/src/a" "$T/$fs/src/moved"
		echo 3 > "$T/$fs/src/moved/b/h"
		rm "$T/$fs/src/moved/b/f"
		ln -s b "$T/$fs/src/moved/link"
		chmod 700 "$T/$fs/src/new"
		wait_for 10 same "$T/$fs/src" "$T/dst" || fail "$fs: not mirrored"
		log_has d "move placed" || log_has d "moves placed" || fail "$fs: the renamed directory was not placed"
		stop
	done
}

# wakes PID: how many times the process has slept and woken
wakes() {
	sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "/proc/$1/status"
}

# a flood of new files elsewhere on wpath's filesystem is read in batches
# (few wake-ups a second, however long it lasts, where one every 10 ms
# or an event each had been), and a change in the tree during it arrives
t_a_flood_beside_the_tree_is_read_in_batches() {
	need_fanotify
	mkdir -p src other
	echo 1 > src/f
	boot "watcher = fanotify"
	r=$(runs)
	touch flooding
	# shellcheck disable=SC2016 # expanded by perl
	perl -e 'for ($i = 0; -e $ARGV[1]; $i++) { open F, ">$ARGV[0]/f$i" or die;
		close F; unlink "$ARGV[0]/f" . ($i - 100) if $i >= 100 }' \
		"$T/other" "$T/flooding" &
	f=$!
	echo "$f" >> .pids
	observe 1
	w=$(wakes "$PID")
	observe 2
	w=$(($(wakes "$PID") - w))
	kill -0 "$f" || fail "the flood ended before its time"
	echo 2 > src/g
	wait_for 10 synced || fail "a change in the tree during the flood did not arrive"
	rm flooding
	wait "$f"
	echo "$w wake-ups in 2 s of the flood" >&2
	[ "$w" -le $((2 * 30 * TEST_SCALE)) ] || fail "$w wake-ups in 2 s of a flood elsewhere"
	[ "$(runs)" = $((r + 1)) ] || fail "$(($(runs) - r)) rsync runs, want one"
	stop
}

# a user's flood of long names beside the tree, faster than reads that
# wait let through (about 1,700 such events a read of EVREADS buffers),
# is read without waiting while the queue has more: it does not fill
# fanotify's queue, whose overflow would cost a rescan and a full sync
# each time, and hold up the tree's changes behind it
t_a_flood_of_long_names_beside_the_tree_overflows_nothing() {
	need_fanotify
	command -v cc > /dev/null || skip "no cc for the flooding helper"
	command -v setpriv > /dev/null || skip "no setpriv (util-linux)"
	cat > flood.c <<-'EOF'
	#include <fcntl.h>
	#include <stdio.h>
	#include <string.h>
	#include <time.h>
	#include <unistd.h>
	/* files of 250-byte names in DIR, made and removed, 60,000 a
	 * second at most, until FILE is gone: flood DIR FILE */
	int main(int argc, char **argv)
	{
		struct timespec ms = { 0, 10000000 };
		char n[251];
		long i;
		int fd;

		if (argc != 3 || chdir(argv[1]))
			return 2;
		memset(n, 'a', 250);
		n[250] = '\0';
		for (i = 0; i % 600 || access(argv[2], F_OK) == 0; i++) {
			n[snprintf(n, 13, "%012ld", i)] = 'a';
			if ((fd = open(n, O_CREAT | O_WRONLY | O_EXCL, 0644)) < 0)
				return 1;
			close(fd);
			unlink(n);
			if (i % 600 == 599)
				nanosleep(&ms, NULL);
		}
		return 0;
	}
	EOF
	cc -O2 -o flood flood.c || skip "cannot build the flooding helper"
	# a filesystem of its own: no other daemon hears the flood
	mount_tmpfs "$T/fs" 64m
	mkdir -p fs/src fs/o1 fs/o2
	echo 0 > fs/src/zero
	chmod 755 "$T" fs flood
	chown nobody fs/o1 fs/o2
	boot "wpath = $T/fs/src" "watcher = fanotify"
	r=$(runs)
	touch flooding
	f=
	for o in o1 o2; do
		setpriv --reuid=nobody --regid=nogroup --clear-groups ./flood "$T/fs/$o" "$T/flooding" &
		f="$f $!"
		echo $! >> .pids
	done
	observe 1
	for i in 1 2 3; do
		echo $i > fs/src/h$i
		wait_for 10 same fs/src dst || fail "change $i during the flood did not arrive"
		observe 0.5
	done
	# shellcheck disable=SC2086 # the two pids
	kill -0 $f || fail "the flood ended before its time"
	rm flooding
	# shellcheck disable=SC2086
	wait $f
	! log_has d overflow || fail "a flood beside the tree overflowed the queue: $(grep -c overflow d.log) rescans"
	[ "$(runs)" = $((r + 3)) ] || fail "$(($(runs) - r)) rsync runs for 3 changes"
	stop
}

# wpath on overlayfs (OpenWrt's root) takes no fanotify mark: auto watches
# with inotify, says why in the log and the statusfile, and mirrors; a
# forced fanotify is an error at start that names the reason
t_overlayfs_falls_back_to_inotify_and_a_forced_fanotify_says_why() {
	overlay "$T/src"
	echo x > src/x
	boot "statusfile = $T/status"
	log_has d "with inotify: " || fail "the start-up line does not say inotify and why"
	[ "$(statusval status watcher)" = inotify ] || fail "the statusfile names $(statusval status watcher)"
	mkdir src/d
	echo y > src/d/y
	wait_for 10 synced || fail "not mirrored with inotify"
	stop
	mkconf f.conf "watcher = fanotify"
	timeout 10 "$INOSYNC" -c "$T/f.conf" > f.log 2>&1 && fail "a forced fanotify on overlayfs started"
	grep -q "watcher = fanotify, but inotify: " f.log || fail "no error naming the reason: $(cat f.log)"
	"$INOSYNC" -t -c "$T/f.conf" | grep -q '^# watcher: inotify: ' || fail "-t does not say inotify and why"
}

# a filesystem mounted inside wpath is marked when the walk meets it; one
# that takes no mark (overlayfs) or whose fsid another has (a copied
# image) is watched by inotify, said by its path, and changes on each
# arrive; so do changes after one is unmounted
t_a_filesystem_in_wpath_without_fanotify_is_watched_by_inotify() {
	mount_tmpfs "$T/src" 64m
	need_fanotify
	ext4_image "$T/src/disk" 32M
	# a copy of the image: the same UUID, so the same fsid, which events
	# could not tell from the first's
	cp "$T/.img.disk" "$T/.img.twin"
	mkdir src/twin
	mount -o loop "$T/.img.twin" src/twin || fail "cannot mount the copy"
	echo "$T/src/twin" >> "$T/.mounts"
	overlay "$T/src/ovl"
	boot "watcher = fanotify"
	wait_for 5 log_has d "fanotify cannot watch $T/src/ovl" ||
		fail "the overlayfs inside wpath was not said"
	log_has d "fanotify cannot watch $T/src/twin" ||
		log_has d "fanotify cannot watch $T/src/disk" ||
		fail "the filesystem with another's fsid was not said"
	[ "$(watches)" -ge 2 ] || fail "$(watches) inotify watches for the overlayfs and the copy"
	mkdir src/ovl/sub src/disk/sub src/twin/sub
	echo 1 > src/ovl/sub/f
	echo 2 > src/disk/sub/f
	echo 5 > src/twin/sub/f
	echo 3 > src/top
	wait_for 10 synced || fail "changes on the three filesystems did not all arrive"
	umount src/ovl
	echo 4 > src/ovl/under
	wait_for 10 synced || fail "a change where the overlayfs was did not arrive"
	stop
}

# watcher = inotify is obeyed where fanotify could be had; -t says which
# watcher a config gets, SIGUSR2 which one watches
t_watcher_inotify_is_obeyed_and_t_says_which() {
	mount_tmpfs "$T/src" 16m
	need_fanotify
	mkconf a.conf
	"$INOSYNC" -t -c "$T/a.conf" | grep -qx '# watcher: fanotify' || fail "-t does not say fanotify"
	boot "watcher = inotify" "statusfile = $T/status"
	[ "$(statusval status watcher)" = inotify ] || fail "watcher = inotify not obeyed"
	[ "$(watches)" = 1 ] || fail "$(watches) inotify watches for one directory"
	kill -USR2 "$PID"
	wait_for 5 log_has d "status: watcher=inotify" || fail "SIGUSR2 does not say the watcher"
	stop
}

# the same filesystem unmounted and mounted again inside wpath (a USB
# stick plugged in again) is a new superblock with the old one's device:
# it is marked anew, and what is written there arrives
t_a_filesystem_mounted_again_in_wpath_is_watched_again() {
	mount_tmpfs "$T/src" 64m
	need_fanotify
	ext4_image "$T/src/stick" 32M
	echo 1 > src/stick/a
	boot "watcher = fanotify"
	umount src/stick
	wait_for 10 synced || fail "the unmount was not mirrored"
	mount -o loop "$T/.img.stick" src/stick || fail "cannot mount the image again"
	wait_for 10 synced || fail "the mount again was not mirrored"
	echo 2 > src/stick/b
	mkdir src/stick/sub
	echo 3 > src/stick/sub/c
	wait_for 10 synced || fail "changes on the filesystem mounted again did not arrive"
	stop
}

# wpath's own filesystem unmounted and mounted again at once (an fsck
# cycle, an automounter): fanotify has no unmount event and wpath looks
# the same as before, but the old superblock took its mark along; the
# mark is found gone, every filesystem is marked anew, and what is
# written after it arrives
t_wpath_mounted_again_at_once_is_watched_again() {
	need_fanotify
	ext4_image "$T/m" 32M
	mkdir "$T/m/src"
	echo 0 > "$T/m/src/zero"
	boot "wpath = $T/m/src" "watcher = fanotify"
	umount "$T/m" && mount -o loop "$T/.img.m" "$T/m" || fail "cannot mount the image again"
	echo b > "$T/m/src/b"
	mkdir "$T/m/src/sub"
	echo c > "$T/m/src/sub/c"
	wait_for 10 same "$T/m/src" "$T/dst" || fail "changes after the mount again did not arrive"
	stop
}

# a filesystem mounted and unmounted outside wpath (a container started,
# a USB stick elsewhere) leaves wpath's marks as they were: no rescan,
# no rsync, under both watchers
t_a_mount_outside_wpath_starts_no_sync() {
	for w in fanotify inotify; do
		[ $w = inotify ] || need_fanotify
		boot "watcher = $w"
		r=$(runs)
		for i in 1 2 3; do
			mount_tmpfs "$T/elsewhere" 1M
			umount "$T/elsewhere" || fail "cannot unmount $T/elsewhere"
		done
		observe 1
		[ "$(runs)" = "$r" ] || fail "$w: $(($(runs) - r)) rsync runs for mounts outside wpath"
		echo x > src/x
		wait_for 5 synced || fail "$w: a change after the mounts did not arrive"
		stop
		rm -f runs
	done
}

# a user's directory chmodded and moved out of wpath by one process: its
# self events merge, and the one that says it moved may come before the
# rename; the directory still leaves the tree, and what is done in it
# outside is no change of wpath's
t_a_directory_moved_out_leaves_the_tree_whatever_fanotify_merged() {
	need_fanotify
	command -v setpriv > /dev/null || skip "no setpriv (util-linux)"
	mkdir -p src/u/d/sub out
	echo 1 > src/u/d/f
	chmod 755 "$T" src
	chown -R nobody src/u out
	boot "watcher = fanotify" "statusfile = $T/status"
	kill -STOP "$PID" # so that the two events wait, and merge
	setpriv --reuid=nobody --regid=nogroup --clear-groups perl -e \
		'chmod 0700, $ARGV[0] or die; rename $ARGV[0], $ARGV[1] or die' \
		"$T/src/u/d" "$T/out/x" || fail "the user could not move the directory out"
	kill -CONT "$PID"
	wait_for 10 synced || fail "the move out was not mirrored"
	wait_for 5 watched_are 2 ||
		fail "$(statusval status watched) directories watched, want wpath and u"
	r=$(runs)
	setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c \
		'echo hi > "$1/new"; mkdir "$1/sub/z"' sh "$T/out/x"
	observe 1
	[ "$(runs)" = "$r" ] || fail "changes outside wpath started a sync"
	stop
}
