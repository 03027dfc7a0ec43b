/* inosync compile-time defaults. Each can be overridden at build time,
 * e.g. make CPPFLAGS='-DEDELAY_MS=2000'. The config file overrides these,
 * the command line overrides the config file. */

#ifndef VERSION
#define VERSION "0.1"
#endif

/* config file read when no -c and no SRC DEST are given */
#ifndef CONFFILE
#define CONFFILE "/etc/inosync.conf"
#endif

/* rsync binary (absolute path); the `rsync` key overrides it */
#ifndef RSYNC
#define RSYNC "/usr/bin/rsync"
#endif

/* default `edelay`: milliseconds to collect events before syncing */
#ifndef EDELAY_MS
#define EDELAY_MS 10000
#endif

/* default `wsettle`: milliseconds a file still being written is held back
 * from the syncs, waiting for its close; long enough for an upload over a
 * slow link */
#ifndef WSETTLE_MS
#define WSETTLE_MS 60000
#endif

/* largest `wsettle` accepted, in seconds */
#ifndef WSETTLE_MAX
#define WSETTLE_MAX 86400
#endif

/* largest `edelay` accepted, in seconds */
#ifndef EDELAY_MAX
#define EDELAY_MAX 86400
#endif

/* largest `rspeed` accepted, in KiB/s */
#ifndef RSPEED_MAX
#define RSPEED_MAX 1048576
#endif

/* default `emask`: the events that start a sync */
#ifndef EMASK
#define EMASK (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB)
#endif

/* flags given to every rsync run, before the ones inosync adds; must not
 * contain -r (-a does not imply it with --files-from). --modify-window=-1
 * compares nanoseconds, so a same-size rewrite in the same second is seen;
 * -S keeps a sparse file sparse, so a user's 1 GiB of nothing, which takes
 * no room in wpath, does not fill a destination. */
#ifndef RSYNC_FLAGS
#define RSYNC_FLAGS "-aS", "--modify-window=-1"
#endif

/* destinations at most (one bit each in a directory's dirty mask, so
 * 32 at most: a larger value does not compile) */
#ifndef MAXDESTS
#define MAXDESTS 32
#endif

/* exclude patterns at most, rexcludes, rexcludefrom files' lines and -x
 * together: each is a word of every rsync's command line, which all must
 * fit in (ARG_MAX) */
#ifndef PATSMAX
#define PATSMAX 4096
#endif

/* longest config line, in bytes, newline included */
#ifndef LINEMAX
#define LINEMAX 4096
#endif

/* longest line of rsync output logged as one line, in bytes */
#ifndef LOGLINE
#define LOGLINE 512
#endif

/* bytes of a child's output read from one of its pipes in a poll round:
 * a pipe's whole capacity, so what an exited rsync left is all read */
#ifndef DRAINMAX
#define DRAINMAX 65536
#endif

/* bytes read from the inotify or fanotify fd at once */
#ifndef EVBUF
#define EVBUF 65536
#endif

/* reads of EVBUF bytes from each watcher's fd in one round of the loop, at
 * most: then the signals and the rsyncs' pipes have their turn */
#ifndef EVREADS
#define EVREADS 8
#endif

/* default `watcher`: 0 auto (fanotify where it can be had, else
 * inotify), 1 inotify, 2 fanotify */
#ifndef WATCHER
#define WATCHER 0
#endif

/* ms after fanotify's event of a file found open for writing that it is
 * looked at again (a writer that closed it may not have let go yet) */
#ifndef CLOSECHECK_MS
#define CLOSECHECK_MS 50
#endif

/* ms fanotify is not read after events all outside the tree (the rest of
 * a filesystem), so that a flood there is read in batches: FANWAIT_MS
 * at first, twice as long at each read that finds it going on, up to
 * FANWAITMAX_MS (a change in the tree waits that long at most while it
 * lasts) */
#ifndef FANWAIT_MS
#define FANWAIT_MS 10
#endif
#ifndef FANWAITMAX_MS
#define FANWAITMAX_MS 80
#endif

/* filesystems (mounts) in wpath that fanotify keeps apart at most; a
 * directory on one more is watched by inotify */
#ifndef FSMAX
#define FSMAX 32
#endif

/* more dirty directories than this for one destination: one full sync */
#ifndef FULLDIRS
#define FULLDIRS 10000
#endif

/* first retry of a failed destination, and the cap of its back-off, in ms */
#ifndef RETRY_MS
#define RETRY_MS 1000
#endif
#ifndef RETRYMAX_MS
#define RETRYMAX_MS 60000
#endif

/* while some directories cannot be watched (watch limit, missing wpath):
 * milliseconds between rescans, each followed by a full sync */
#ifndef RESCAN_MS
#define RESCAN_MS 30000
#endif

/* while the source is held (or without /proc/self/mountinfo to tell when
 * a mount changes): milliseconds between looks at wpath */
#ifndef HOLDCHECK_MS
#define HOLDCHECK_MS 1000
#endif

/* milliseconds from a change of the mount table to reading it: an
 * unmount's IN_UNMOUNT events come just after the change, and are read
 * first; a burst of mounts is read once */
#ifndef MOUNTWAIT_MS
#define MOUNTWAIT_MS 100
#endif

/* files held back while being written, at most; past that one goes as it
 * is, as with wsettle 0. Half of them at most are files that stall rsync
 * (a user's leases; see HELDSTALL), so that those leave room to the ones
 * being written */
#ifndef HELDMAX
#define HELDMAX 1024
#endif

/* lines of a child's output logged for one sync (or placing) at most: a
 * remote that writes without end fills no log; the rest are counted */
#ifndef LOGLINES
#define LOGLINES 200
#endif

/* files one user (a file's owner) may have held back at once, at most;
 * past that the user's next one goes as it is */
#ifndef HELDUSER
#define HELDUSER 64
#endif

/* files that stall rsync (a lease, a FIFO swapped in) held back one by
 * one, at most; past that the next merges with one held into the lowest
 * directory they share that its owner may write in, held back whole: a
 * user who does it at each start again of a sync costs it a few starts a
 * wsettle, not one a second */
#ifndef HELDSTALL
#define HELDSTALL 8
#endif

/* moves remembered to be placed at the destinations before their next
 * sync, at most, and their paths' bytes at most; a move past either is
 * sent as any new entry */
#ifndef MOVESMAX
#define MOVESMAX 4096
#endif
#ifndef MOVESALL
#define MOVESALL 262144
#endif

/* rsyncs that place moves at one destination before its sync, at most
 * (a local one renames without rsync): the moves past them go as plain
 * transfers, so that a flood of moves is no flood of rsyncs */
#ifndef PASSMAX
#define PASSMAX 16
#endif

/* largest /proc/self/mountinfo read, in bytes */
#ifndef MOUNTMAX
#define MOUNTMAX (4 * 1024 * 1024)
#endif

/* rsync is given a directory's changed names, not the directory, while
 * they take at most NAMESMAX bytes, and all directories' at most NAMESALL */
#ifndef NAMESMAX
#define NAMESMAX 1024
#endif
#ifndef NAMESALL
#define NAMESALL 65536
#endif

/* bytes of each block the directory nodes are cut from: a little under
 * 64 KiB, so that malloc's own header still fits in 64 KiB */
#ifndef NODEBLOCK
#define NODEBLOCK 65504
#endif

/* on SIGTERM: milliseconds running syncs may take to finish before they
 * are terminated, then milliseconds before they are killed */
#ifndef TERMWAIT_MS
#define TERMWAIT_MS 10000
#endif
#ifndef KILLWAIT_MS
#define KILLWAIT_MS 3000
#endif

/* milliseconds between looks for a child's process that waits in open()
 * for the writer of a FIFO swapped in under it (see unjam()) */
/* files that one look for leases (see leasedfor()) tries at most: a
 * few tens of milliseconds of the loop on a PC, tenfold on a router */
#ifndef LOOKFILES
#define LOOKFILES 16384
#endif

#ifndef JAMCHECK_MS
#define JAMCHECK_MS 1000
#endif

/* renames whose IN_MOVED_FROM waits for its IN_MOVED_TO at once: other
 * renames' events may come between the two (see pairing()) */
#ifndef PENDMOVES
#define PENDMOVES 4
#endif

/* bytes of a directory's entries read at a time when it is scanned */
#ifndef DIRBUF
#define DIRBUF 4096
#endif

/* milliseconds an rhook may run when rtimeout is 0; then it is killed */
#ifndef HOOKWAIT_MS
#define HOOKWAIT_MS 600000
#endif

/* syslog facility used after -d */
/* 1: the daemon's own small allocator in place of libc's (inosync.c,
 * "Memory"), 5 to 9 KB less on musl; glibc's malloc stays, for the sanitizer
 * and valgrind builds among others */
#ifndef OWNMALLOC
#ifdef __GLIBC__
#define OWNMALLOC 0
#else
#define OWNMALLOC 1
#endif
#endif

#ifndef FACILITY
#define FACILITY LOG_DAEMON
#endif

/* largest config file read, in bytes */
#ifndef CONFMAX
#define CONFMAX (1024 * 1024)
#endif

/* default `rtimeout`: seconds of I/O silence before rsync gives up (its
 * --timeout; also --contimeout for rsync daemons and ssh's ConnectTimeout) */
#ifndef RTIMEOUT
#define RTIMEOUT 60
#endif

/* largest `rtimeout` and `efull` accepted, in seconds */
#ifndef RTIMEOUT_MAX
#define RTIMEOUT_MAX 86400
#endif
#ifndef EFULL_MAX
#define EFULL_MAX (86400 * 365)
#endif

/* default `rprocs`: rsyncs running at once at most, all destinations
 * together; 0 = no cap, one per destination */
#ifndef RPROCS
#define RPROCS 0
#endif

/* where ssh's control sockets go, one directory per daemon
 * (CTLDIR/PID-START, START its start time), each made mode 0700 and
 * checked to be the daemon's own; short, as a socket's path is at most
 * 107 bytes */
#ifndef CTLDIR
#define CTLDIR "/run/inosync"
#endif

/* seconds an idle ssh control master stays (ControlPersist): masters are
 * closed on exit and reload, so this only bounds those of a daemon that
 * was killed, until the next start closes them */
#ifndef CTLPERSIST
#define CTLPERSIST 300
#endif
