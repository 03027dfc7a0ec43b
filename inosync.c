/* inosync - see the README for copyright and license details. */

/*
 * inosync mirrors one directory tree (wpath) to one or more destinations
 * (rnodes) in near real time: fanotify (a mark a filesystem) or inotify
 * (a watch a directory) tells it what changed, rsync copies it. Root runs
 * it, and acts only on what it saw, whatever a user who may write in
 * wpath swaps in.
 *
 * An event's way: poll() wakes on the fanotify or inotify fd,
 * readevents() hands each record, as inotify's, to event() (fanotify's
 * through fanto(), which passes over a directory not in the tree), which
 * passes over what is excluded and marks the directory it happened in as
 * owed, one bit per destination (mark(): a thousand events there are one
 * mark, its changed names kept while few).
 * The first mark arms a deadline edelay away; at it startdue() gives each
 * idle destination one rsync for all it owes (spawnsync()), the names or
 * directories NUL-separated on its stdin (--files-from=-); reap() logs its
 * end. A moved entry is placed first, a file being written is held back,
 * and no rsync starts while the source is held (an unmounted wpath).
 *
 * Signals come as poll() events too (a signalfd): SIGTERM and SIGINT let
 * running syncs finish (bounded) and exit; SIGHUP reloads the config
 * file, keeping the running one if the new one is broken; SIGUSR1 runs a
 * full sync now; SIGUSR2 logs the status, which the statusfile and, in
 * Prometheus' format, the metricsfile also hold; SIGCHLD reaps. SIGPIPE
 * is ignored: a write to a closed pipe fails with EPIPE.
 *
 * The sections, each using only those above it (one exception, declared
 * before drop()): Types and state; Memory; Helpers and log; Exclude
 * matcher; Config; Batching policy; Watchers; The watch tree; Held
 * writes; Moves; The jail; ssh masters; rhook; Children; Mounts and the
 * source guard; Events; Status; The loop; Start-up and main. Start
 * reading at main(), at the bottom.
 *
 * PLACEMENT RULE: a new feature gets a section of its own with its types,
 * state and functions, below what it uses and above the core that calls
 * it, which reaches it through a few named functions. If it would touch
 * twenty places, the seam is missing: add the seam before the feature.
 */

#include <sys/fanotify.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/random.h> /* GRND_NONBLOCK */
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/sysmacros.h> /* major, minor */
#include <sys/un.h>
#include <sys/vfs.h> /* fstatfs */
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h> /* malloc_usable_size */
#include <poll.h>
#include <sched.h> /* unshare */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h> /* offsetof */
#include <stdint.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

/* ===== Types and state ===== */

#define LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
/* a limit the compiler checks, as dwm checks its tag count: a false cond
 * makes an array of negative size */
#define CHECK(name, cond) typedef char name[(cond) ? 1 : -1]

/* the system call that reads a clock as two longs, where one holds the
 * seconds (64-bit CPUs; 32-bit musl has clock_gettime64 alone), else 0:
 * clock_gettime() finds the vDSO's with an ELF reader of 0.8 KB, to save
 * a tenth of a microsecond a call that the daemon has no need of */
#if defined(SYS_clock_gettime) && LONG_MAX > 0x7fffffffL
#define CLOCKCALL SYS_clock_gettime
#else
#define CLOCKCALL 0
#endif

/* musl's fcntl() (0.4 KB) is for locks and F_GETOWN, which the daemon
 * does not use: it takes the system call. So does stat() and its kin on
 * the 64-bit CPUs whose kernel's struct stat is libc's, whose fstatat()
 * (0.4-0.5 KB) copies one into the other field by field */
#define fcntl(...) syscall(SYS_fcntl, __VA_ARGS__)
#if defined(SYS_newfstatat) && (defined(__x86_64__) || defined(__aarch64__))
#define fstatat(fd, p, st, f) ((int)syscall(SYS_newfstatat, fd, p, st, f))
#define stat(p, st) fstatat(AT_FDCWD, p, st, 0)
#define lstat(p, st) fstatat(AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW)
#define fstat(fd, st) fstatat(fd, "", st, AT_EMPTY_PATH)
#endif

struct pat {                    /* one rexcludes pattern */
	char *opt;              /* "--exclude=- PATTERN", for rsync, which
	                         * strips the one "- ": PATTERN reaches it
	                         * verbatim, whatever it begins with */
	const char *given;      /* PATTERN, in opt */
	char *s;                /* PATTERN without leading or trailing '/' */
	int slashes;            /* '/' inside s */
	unsigned char anchored; /* leading '/': only at the top of wpath */
	unsigned char dironly;  /* trailing '/': only directories */
	unsigned char wild;     /* has * ? or [: glob, else literal */
	unsigned char wild2;    /* has **: may match across '/' */
	int from;               /* 1 + its rexcludefrom file, 0: rexcludes */
};

struct conf {
	const char *file;       /* config file, NULL for the SRC DEST form */
	char *wpath;            /* resolved, no trailing '/' ("" for /) */
	char *wguard;           /* a name that must be in wpath for syncs */
	char *rpath;
	char *rnodes[MAXDESTS];
	char *rwhere[MAXDESTS]; /* "FILE:LINE" of each, for its errors */
	int nrnodes;
	struct pat *pats;
	int npats;
	char **xfiles;          /* rexcludefrom, as given */
	int nxfiles;
	int needpath;           /* some pattern needs the whole path */
	long rspeed;            /* KiB/s, 0 = no limit */
	uint32_t emask;
	long edelay;            /* milliseconds */
	long wsettle;           /* ms a file being written is held, 0 = never */
	char *rsync;
	char *logopt;           /* "--log-file=FILE", for rsync */
	char *logfile;          /* FILE, in logopt */
	char *rsh;              /* remote shell, as given */
	char *rargs;            /* extra rsync arguments, NUL-separated */
	char **rargv;
	int nrargs;
	unsigned noplace;       /* kinds (1 << LOCAL...) where rargs keep
	                         * moves from being placed; NOLINK */
	long rtimeout;          /* seconds of I/O silence, 0 = no limit */
	long efull;             /* seconds between periodic full syncs, 0 = never */
	int rdelete;            /* which syncs delete: DELSEEN, DELFULL */
	long rprocs;            /* rsyncs running at once at most, 0 = one each */
	int rinit;              /* full sync at start (no: mirrors are current) */
	char *rhook;
	char *pidfile;
	char *statusfile;
	char *metricsfile;
	int jail;               /* rsync runs jailed where it can (rjail) */
	char **jails;           /* rjail's paths, shown in each jail */
	int njails;
	int watcher;            /* WAUTO, WINOTIFY or WFANOTIFY */
	unsigned seen;          /* single-value keys already given */
	/* made from the above for rsync */
	char *src;              /* "WPATH/" */
	char *specs[MAXDESTS];  /* rnodes + rpath, local ones made absolute */
	char *rshopt;           /* -e for SHELL destinations, after JAILRSH
	                         * and a blank (see rshopt()) */
	char topt[32], ctopt[32]; /* --timeout=, --contimeout= */
};

enum { LOCAL, SHELL, DAEMON };  /* how rsync reaches a destination */
enum { DELSEEN = 1, DELFULL = 2 }; /* incremental syncs delete, full ones do */

struct node {                   /* one watched directory */
	struct node *parent, *child, *sibling;
	struct node *hnext;     /* next in its hash bucket */
	char *name;             /* after the node, unless renamed since */
	int wd;                 /* its inotify watch; below 0, fanotify's:
	                         * a hash of its key, which follows the name
	                         * it was made with (The watch tree) */
	unsigned dslot : 30;    /* 1 + index in dirt[], 0 when clean */
	unsigned moved : 1;     /* IN_MOVED_FROM seen, IN_MOVED_TO not yet */
	unsigned held : 1;      /* held back whole, with all below (holdwhole()) */
};

struct ev {                     /* an event in a watched directory */
	uint32_t mask;          /* inotify's bits (fanotify's are the same) */
	uint32_t cookie;        /* pairs the halves of a rename, 0: none */
	const char *name;       /* the entry, NULL for the directory itself */
};

struct dirt {                   /* a directory some destination still owes */
	struct node *n;
	uint32_t dirty;         /* destinations that owe it */
	uint32_t sent;          /* destinations whose running rsync has it */
	char *names;            /* its changed entries, each ending in '\0' */
	size_t nlen;
	int whole;              /* the whole directory is owed (no names) */
};

struct child {                  /* a process a destination started */
	pid_t pid;              /* it, and its process group; 0 if none */
	int64_t start;          /* when it started */
	int killed;             /* we stopped it: its end is no news */
};

struct dest {
	const char *spec;       /* as rsync takes it */
	uint32_t bit;           /* its bit in the masks (struct dirt, move) */
	int kind;               /* LOCAL, SHELL or DAEMON */
	struct child run;       /* its rsync, or its mover (moving) */
	unsigned moving;        /* moves the running mover places, 0: rsync */
	int placed;             /* its mover ran: its sync is next, whatever
	                         * moved since, so that moves cannot starve it */
	int fd[3];              /* its stdin, stdout, stderr; -1 when closed */
	char *list;             /* its rsync's stdin (--files-from): each
	                         * directory or changed name as "./PATH\0" */
	size_t len, off;
	char line[2][LOGLINE];  /* partial lines of its stdout and stderr */
	size_t llen[2];
	unsigned pending;       /* directories owed */
	unsigned ndirs;         /* directories in the running sync */
	int needfull, full;     /* owes a full sync; the running one is */
	unsigned errs, stays;   /* its rsync's error lines; those of them that
	                         * say a directory stays where the source has
	                         * a file or symlink now (see staying()) */
	unsigned lines;         /* its child's lines of output (LOGLINES) */
	int queued;             /* due, but waits for a turn under rprocs */
	int64_t due;            /* when its owed work is due, 0 = none owed */
	int64_t retry;          /* not before this, after a failure */
	int64_t backoff;        /* current back-off, ms */
	unsigned long nsyncs;   /* syncs started (status: runs) */
	unsigned long nfails;   /* of them, those that failed */
	unsigned long nplaced;  /* moves its movers placed */
	time_t lastok;          /* wall clock of the last successful sync */
	time_t owedsince;       /* wall clock of the oldest change owed, or 0 */
	struct child hook;      /* its running rhook */
	int hookwait;           /* a sync ended while it ran: its rhook is next */
	int hookcode, hookfull; /* that sync's status and kind */
	time_t lasterrat;
	char lasterr[80];
};

static struct conf conf;        /* the running configuration */
static struct conf *newconf;    /* a reloaded one waiting for idle rsyncs */
static struct dest dests[MAXDESTS];
CHECK(maxdests_fits_the_masks, MAXDESTS >= 1 && MAXDESTS <= 32);
static int ndests;

static int ifd = -1, sfd = -1;  /* inotify, signalfd */
static int ffd = -1;            /* fanotify, -1 where inotify watches alone */
static int jailok;              /* kinds of destination (1 << LOCAL...)
                                 * whose children run jailed (The jail) */
#define JAILED(d) (jailok >> (d)->kind & 1)
#define RELAY "/.inosync"         /* our own program in a jail: the relay */
#define JAILRSH RELAY " --rsh"  /* a jailed rsync's remote shell */
static int verbose, pretend, usesyslog, quitting, degraded, rescanning;
static int64_t stopat, rescanat, fullat;
static int statuswant;          /* the status changed since statusfile */
static char ctldir[49];         /* CTLDIR/PID-START, ssh's control sockets,
                                 * or "" */

/* the names of the inotify events emask takes, each ending in a NUL: the
 * NSINGLE single ones first, in the order of their bits (IN_ACCESS is
 * 1 << 0), then the shorthands, never printed, whose masks are in
 * shorthands[] */
static const char events[] =
	"IN_ACCESS\0IN_MODIFY\0IN_ATTRIB\0IN_CLOSE_WRITE\0IN_CLOSE_NOWRITE\0"
	"IN_OPEN\0IN_MOVED_FROM\0IN_MOVED_TO\0IN_CREATE\0IN_DELETE\0"
	"IN_DELETE_SELF\0IN_MOVE_SELF\0"
	"IN_CLOSE\0IN_MOVE\0IN_ALL_EVENTS\0";
static const uint32_t shorthands[] = { IN_CLOSE, IN_MOVE, IN_ALL_EVENTS };
#define NSINGLE 12           /* the single events */
CHECK(nsingle_is_each_event, IN_ALL_EVENTS == (1u << NSINGLE) - 1);
#define EVNAMES 256             /* room for every single event's name */

/* ===== Memory ===== */

/* musl's malloc (mallocng, 6 KB: a twelfth of the binary) is built for
 * programs that free much and run threads; the daemon cuts its tree from
 * blocks of its own (nalloc()) and mallocs little else, single-threaded.
 * So where OWNMALLOC (config.h: on musl) it has this allocator instead,
 * for itself and for libc. A small block (CHUNKMAX bytes at most) comes
 * from a 4 KiB chunk of blocks of one size, a multiple of 16, whose
 * header (struct chunk) says that size and which of its blocks are in
 * use: a block's address rounded down to 4 KiB finds it, so no block has
 * a header of its own. Freed blocks wait on a list of their size; chunks
 * are never given back, since what the daemon frees it soon needs again.
 * A larger block is a mapping of its own, with a header of the same
 * size before it (found the same way), unmapped when freed. As with
 * mallocng, a block freed twice aborts the daemon rather than let two
 * owners share it, and so does a pointer no malloc() gave, where the
 * header it rounds down to can tell (inside a larger block it may not). */
#if OWNMALLOC
#include <sys/mman.h>

#define CHUNK 4096
struct chunk {
	size_t size;                            /* of each block */
	unsigned char used[CHUNK / 16 / 8];     /* a bit a block */
};
#define HEAD ((sizeof(struct chunk) + 15) & ~(size_t)15)
#define CHUNKMAX ((CHUNK - HEAD) / 2 & ~(size_t)15) /* two blocks a chunk */
#define AREA (64 * CHUNK)            /* mapped at a time for chunks */

static void *freeblocks[CHUNKMAX / 16 + 1];
static char *area, *areaend;

/* the chunk or mapping of the block at p */
static struct chunk *
chunkof(void *p)
{
	return (struct chunk *)((uintptr_t)p & ~(uintptr_t)(CHUNK - 1));
}

/* p's byte in its chunk's used[], its bit at *bit (set while p is in
 * use); if p is no block of that chunk, the daemon aborts */
static unsigned char *
inuse(struct chunk *c, void *p, unsigned char *bit)
{
	size_t off = (char *)p - (char *)c - HEAD;

	if (!c->size || off % c->size || off >= CHUNK - HEAD)
		abort(); /* no block of ours: memory is corrupt already */
	*bit = 1u << (off / c->size % 8);
	return &c->used[off / c->size / 8];
}

static void *
mapped(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* a new chunk of blocks of size, each on the free list: its head, or
 * NULL if no memory is left */
static void *
carve(size_t size)
{
	char *c, *b;

	if (area == areaend) {
		if (!(c = mapped(AREA)))
			return NULL;
		area = c;
		areaend = c + AREA;
	}
	c = area;
	area += CHUNK;
	((struct chunk *)c)->size = size;
	for (b = c + HEAD; b + size <= c + CHUNK; b += size) {
		*(void **)b = freeblocks[size / 16];
		freeblocks[size / 16] = b;
	}
	return freeblocks[size / 16];
}

/* a block of more than CHUNKMAX bytes: a mapping of its own */
static void *
bigblock(size_t n)
{
	size_t len = (n + HEAD + CHUNK - 1) & ~(size_t)(CHUNK - 1);
	char *p;

	if (n > SIZE_MAX - 2 * CHUNK || !(p = mapped(len)))
		return NULL;
	((struct chunk *)p)->size = len - HEAD;
	return p + HEAD;
}

void *
malloc(size_t n)
{
	size_t size = n ? (n + 15) & ~(size_t)15 : 16;
	unsigned char bit, *u;
	void **b;

	if (n > CHUNKMAX)
		b = bigblock(n);
	else if ((b = freeblocks[size / 16] ? freeblocks[size / 16] : carve(size))) {
		freeblocks[size / 16] = *b;
		u = inuse(chunkof(b), b, &bit);
		*u |= bit;
	}
	if (!b)
		errno = ENOMEM;
	return b;
}

void
free(void *p)
{
	struct chunk *c = chunkof(p);
	unsigned char bit, *u;

	if (!p)
		return;
	if (c->size > CHUNKMAX) {
		if ((char *)p != (char *)c + HEAD)
			abort();
		munmap(c, c->size + HEAD);
		return;
	}
	if (!(*(u = inuse(c, p, &bit)) & bit))
		abort(); /* freed twice */
	*u &= ~bit;
	*(void **)p = freeblocks[c->size / 16];
	freeblocks[c->size / 16] = p;
}

size_t
malloc_usable_size(void *p)
{
	return p ? chunkof(p)->size : 0;
}

void *
calloc(size_t n, size_t m)
{
	void *p;

	if (m && n > SIZE_MAX / m) {
		errno = ENOMEM;
		return NULL;
	}
	/* a mapping is zeros already: no page of it is touched */
	if ((p = malloc(n * m)) && n * m <= CHUNKMAX)
		memset(p, 0, n * m);
	return p;
}

void *
realloc(void *p, size_t n)
{
	size_t had = malloc_usable_size(p);
	void *q;

	if (p && n <= had)
		return p;
	if ((q = malloc(n)) && p) {
		memcpy(q, p, had);
		free(p);
	}
	return q;
}
#endif

/* ===== Helpers and log ===== */

/* The formatting routines below take printf's formats, checked by the
 * compiler (PRINTF), but only this subset of them: %s %c %d %u %x with
 * l, ll or z, a zero-padded width, and %%. vfmt writes at most size bytes,
 * NUL included, and returns the length the whole would have had. */
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
static int vfmt(char *, size_t, const char *, va_list) PRINTF(3, 0);
static int fmt(char *, size_t, const char *, ...) PRINTF(3, 4);
static void out(const char *, ...) PRINTF(1, 2);
static void logmsg(int, const char *, ...) PRINTF(2, 3);
static void die(int, const char *, ...) PRINTF(2, 3);
static int cerr(const char *, const char *, ...) PRINTF(2, 3);
/* z is read as l: size_t is an unsigned long on every Linux ABI */
CHECK(size_t_is_a_long, sizeof(size_t) == sizeof(long));

static const char hexdigits[] = "0123456789abcdef";

/* vsnprintf: stdio's would bring float formatting into a static binary
 * for nothing */
static int
vfmt(char *buf, size_t size, const char *f, va_list ap)
{
	char num[24], *s;
	unsigned long long u;
	size_t n = 0;
	int width, lng, neg, base;

	for (; *f; f++) {
		if (*f != '%' || !*++f) {
			s = (char *)f;
			width = 1;
			goto copy;
		}
		for (width = 0; isdigit((unsigned char)*f); f++)
			width = width * 10 + *f - '0';
		for (lng = 0; *f == 'l' || *f == 'z'; f++)
			lng++;
		s = num + sizeof(num) - 1;
		*s = '\0';
		if (*f == 's') {
			if (!(s = va_arg(ap, char *)))
				s = "(null)";
		} else if (*f == 'c') {
			*--s = (char)va_arg(ap, int);
		} else if (*f == 'd' || *f == 'u' || *f == 'x') {
			base = *f == 'x' ? 16 : 10;
			/* read as unsigned, a signed one too (the same
			 * bits on every ABI), then sign-extended */
			if (lng >= 2)
				u = va_arg(ap, unsigned long long);
			else if (lng)
				u = va_arg(ap, unsigned long);
			else
				u = va_arg(ap, unsigned);
			if (*f == 'd' && lng < 2)
				u = lng ? (unsigned long long)(long)u : (unsigned long long)(int)u;
			if ((neg = *f == 'd' && (long long)u < 0))
				u = -u;
			do
				*--s = hexdigits[u % base];
			while ((u /= base) || num + sizeof(num) - 1 - s < width);
			if (neg)
				*--s = '-';
		} else {
			*--s = *f;
		}
		width = strlen(s);
copy:
		for (; width--; s++, n++)
			if (n + 1 < size)
				buf[n] = *s;
	}
	if (size)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}

static int
fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vfmt(buf, size, f, ap);
	va_end(ap);
	return n;
}

/* formatted, on stdout */
static void
out(const char *f, ...)
{
	char buf[LINEMAX + 64];
	va_list ap;
	int n;

	va_start(ap, f);
	n = vfmt(buf, sizeof(buf), f, ap);
	va_end(ap);
	if (write(1, buf, MIN((size_t)n, sizeof(buf) - 1)) < 0)
		exit(1);
}

/* syslog(3) would bring time zones and strftime into a static binary;
 * syslogd stamps the time itself. Never blocks, and without a syslogd the
 * line is lost, not the daemon. */
static void
tosyslog(int prio, char *msg, size_t n)
{
	static const struct sockaddr_un sa = { AF_UNIX, "/dev/log" };
	static int fd = -1;
	char head[40];
	int h;

	if (fd < 0 && (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	h = fmt(head, sizeof(head), "<%d>inosync[%d]: ", FACILITY | prio, (int)getpid());
	memcpy(msg - h, head, h);
	sendto(fd, msg - h, n + h, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (const struct sockaddr *)&sa, sizeof(sa));
}

/* stderr may be a pipe to a log service that reads slowly or not at all
 * (svlogd, s6-log, journald): a line goes only when the pipe takes it at
 * once, since a pipe that poll() finds writable takes PIPE_BUF bytes
 * without blocking; else it is dropped, and the next line says so */
static int
tostderr(const char *s, size_t n)
{
	struct pollfd p = { 2, POLLOUT, 0 };

	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLOUT | POLLERR)) != POLLOUT)
		return -1;
	return write(2, s, n) == (ssize_t)n ? 0 : -1;
}

#define LOGHEAD 128             /* room before a line for its prefixes */

static void
logmsg(int prio, const char *f, ...)
{
	static unsigned long dropped;
	char buf[LOGHEAD + PIPE_BUF], *msg = buf + LOGHEAD, *s = msg - 9;
	size_t max = PIPE_BUF - LOGHEAD;
	va_list ap;
	int n, h;

	if (prio == LOG_DEBUG && !verbose)
		return;
	va_start(ap, f);
	n = vfmt(msg, max, f, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= max) { /* say that it was cut */
		n = max - 1;
		memcpy(msg + n - 3, "...", 3);
	}
	if (usesyslog) {
		tosyslog(prio, msg, n);
		return;
	}
	memcpy(s, "inosync: ", 9);
	msg[n++] = '\n';
	if (dropped) { /* in the same write, before the line */
		h = fmt(buf, LOGHEAD - 9, "inosync: %lu log lines dropped: "
		    "the log reader was too slow\n", dropped);
		memmove(s -= h, buf, h);
		n += h;
	}
	if (tostderr(s, n + 9) < 0)
		dropped++;
	else
		dropped = 0;
}

static void
die(int status, const char *f, ...)
{
	char buf[LOGLINE];
	va_list ap;

	va_start(ap, f);
	vfmt(buf, sizeof(buf), f, ap);
	va_end(ap);
	if (f[0] && f[strlen(f) - 1] == ':')
		logmsg(LOG_ERR, "%s %s", buf, strerror(errno));
	else
		logmsg(LOG_ERR, "%s", buf);
	exit(status);
}

/* clock c in microseconds (time() would be one more routine) */
static int64_t
usclock(clockid_t c)
{
	struct timespec ts;
	long t[2];

	if (CLOCKCALL) {
		syscall(CLOCKCALL, c, t);
		return (int64_t)t[0] * 1000000 + t[1] / 1000;
	}
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* the wall clock's seconds */
static time_t
wall(void)
{
	return usclock(CLOCK_REALTIME) / 1000000;
}

/* milliseconds since boot, the clock of every deadline */
static int64_t
now(void)
{
	return usclock(CLOCK_MONOTONIC) / 1000;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	return s;
}

/* s holds sub, in any case if fold: strstr's two-way search would cost
 * the static binary a KiB for the few short words looked for, and
 * strncasecmp() as much as this whole loop */
static int
has(const char *s, const char *sub, int fold)
{
	size_t n = strlen(sub), i;

	for (; *s; s++) {
		for (i = 0; i < n && (s[i] == sub[i] || (fold && s[i] &&
		    tolower((unsigned char)s[i]) == tolower((unsigned char)sub[i]))); i++)
			;
		if (i == n)
			return 1;
	}
	return 0;
}

/* a regular file with one link, as a file the daemon writes must be:
 * not a FIFO that blocks it, nor a hard link to a file it would overwrite */
static int
plainfile(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	errno = EPERM;
	return S_ISREG(st.st_mode) && st.st_nlink == 1;
}

/* the names of the single events in mask, each after a blank, in
 * buf[EVNAMES] */
static char *
evnames(uint32_t mask, char *buf)
{
	const char *s = events;
	size_t n = 0;
	int i;

	*buf = '\0';
	for (i = 0; i < NSINGLE; i++, s += strlen(s) + 1)
		if (mask & 1u << i)
			n += fmt(buf + n, EVNAMES - n, " %s", s);
	return buf;
}

/* the decimal number s begins with, 0 for none or NULL */
static int64_t
digits(const char *s)
{
	int64_t v = 0;

	for (; s && isdigit((unsigned char)*s); s++)
		v = v * 10 + *s - '0';
	return v;
}

static char *
cat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s;

	if (!(s = malloc(la + lb + lc + 1)))
		return NULL;
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

static void
closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* directory path under the directory root (the source's or a local
 * destination's), opened without following a symlink: -1 unless each of
 * its components is a real directory */
static int
openpath(int root, const char *path)
{
	char buf[PATH_MAX], *s, *e;
	int fd = dup(root), next;

	fmt(buf, sizeof(buf), "%s", path);
	for (s = buf; fd >= 0 && *s; s = e) {
		e = s + strcspn(s, "/");
		if (*e)
			*e++ = '\0';
		if (!*s)
			continue; /* "a//b" */
		next = openat(fd, s, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
	}
	return fd;
}

/* name in dir opened to read, if it is a regular file (st: its stat),
 * without waiting for a FIFO's writer, a lease's break or a device; -1
 * if it cannot be (errno), -2 if it is no regular file */
static int
openreg(int dir, const char *name, struct stat *st)
{
	if (fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st->st_mode))
		return -2;
	return openat(dir, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
}

/* the directory of the absolute path, reached from / without following
 * a symlink (a user who may write above it could swap one in), and in
 * *base its last component; -1 if it cannot be */
static int
opendirof(const char *path, const char **base)
{
	char dir[PATH_MAX];
	int root, fd;

	*base = strrchr(path, '/') + 1;
	fmt(dir, MIN(sizeof(dir), (size_t)(*base - path)), "%s", path);
	if ((root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	fd = openpath(root, dir);
	close(root);
	return fd;
}

/* A directory's entries, read with getdents64: fdopendir() would bring
 * 1 KB of musl (its own fstat and fcntl) to check what the O_DIRECTORY
 * and O_CLOEXEC of our open did. */
struct entries {
	long buf[DIRBUF / sizeof(long)]; /* aligned for struct dirent */
	long k, off;            /* bytes read into buf (-1: an error), taken */
};

/* the next entry of the directory open as fd, read through r (zeroed
 * before the first): NULL at its end, or after an error (r->k < 0) */
static struct dirent *
nextentry(int fd, struct entries *r)
{
	struct dirent *e;

	if (r->off >= r->k) {
		if ((r->k = syscall(SYS_getdents64, fd, r->buf, sizeof(r->buf))) <= 0)
			return NULL;
		r->off = 0;
	}
	e = (struct dirent *)((char *)r->buf + r->off);
	r->off += e->d_reclen;
	return e;
}

/* /proc/PID/NAME from offset off in buf of size bytes, NUL-terminated:
 * its length, or -1. The doubled '/' is the kernel's path all the same,
 * but not the one qemu-user fakes for its own process ("/proc/self/..."
 * and "/proc/ITSPID/..."), whose start time no other reader sees: a
 * daemon run by qemu names its ssh directory as every other does */
static ssize_t
procread(const char *pid, const char *name, char *buf, size_t size, off_t off)
{
	char path[64];
	ssize_t n = -1;
	int fd;

	fmt(path, sizeof(path), "/proc//%s/%s", pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = pread(fd, buf, size - 1, off);
		close(fd);
	}
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* field k of /proc/PID/stat (3: state, 5: process group, 22: start
 * time since boot), read into st[STATLEN]; NULL without it. The
 * process's name (field 2, in parentheses) may hold any byte */
#define STATLEN 1024
static const char *
statfield(const char *pid, int k, char *st)
{
	const char *s = NULL;

	if (procread(pid, "stat", st, STATLEN, 0) >= 0)
		for (s = strrchr(st, ')'); s && k-- > 2;)
			s = strchr(s + 1, ' ');
	return s ? s + 1 : NULL;
}

/* why d cannot hold the sockets, made if missing; NULL if it can */
static const char *
owndir(const char *d)
{
	struct stat st;

	if (mkdir(d, 0700) < 0 && errno != EEXIST)
		return strerror(errno);
	if (lstat(d, &st) < 0)
		return strerror(errno);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 07777) != 0700)
		return "not a directory of ours with mode 0700";
	return NULL;
}

/* Children. Each starts through spawn(): the daemon's in a process
 * group of their own (their children stay in it, so that one kill reaches
 * all), with fds 0-2 set, every other fd closed (a fork that never execs,
 * as the mover, keeps every fd: O_CLOEXEC does nothing for it) and the
 * signals as they were before us. */

static int inchild;             /* this process is a child of the daemon */
static int relayfd = -1;        /* in a jail: the relay's socket, kept */

/* every fd from lo up closed; before Linux 5.9 (no close_range), those
 * below 1024: the daemon's own are far fewer */
static void
closeabove(int lo)
{
	if (syscall(SYS_close_range, lo, ~0u, 0) < 0)
		while (lo < 1024)
			close(lo++);
}

/* in a child: say on stderr what it cannot do, and exit 127, as rsync
 * does when it cannot be run */
static void
childfail(const char *what, const char *arg)
{
	char msg[LOGLINE];
	int n = fmt(msg, sizeof(msg), "cannot %s %s: %s\n", what, arg, strerror(errno));

	if (write(2, msg, MIN((size_t)n, sizeof(msg) - 1)) < 0)
		_exit(127);
	_exit(127);
}

/* $PATH keeps only its absolute elements, so that neither we nor rsync
 * (which runs the remote shell itself when unjailed) ever run a program
 * from the current directory: an empty element, ".", "bin". With none
 * left it goes, since execvp() reads an empty $PATH as "." too, and an
 * unset one as the system's directories */
static void
safepath(void)
{
	char *p = getenv("PATH"), *r = p, *w = p, *e;

	for (; r && *r; r = e + !!*e) {
		e = r + strcspn(r, ":");
		if (*r != '/')
			continue;
		if (w != p)
			*w++ = ':';
		memmove(w, r, e - r);
		w += e - r;
	}
	if (w == p)
		unsetenv("PATH");
	else
		*w = '\0';
}

/* exec argv; a name without a '/' (ssh, say) by $PATH, as rsync runs
 * it, whose elements safepath() left absolute: musl's execvp() takes
 * 0.5 KB of a static binary for this loop */
static void
execargv(char **argv)
{
	char path[PATH_MAX];
	const char *p = getenv("PATH"), *e;
	size_t k, l = strlen(argv[0]) + 1;

	if (strchr(argv[0], '/'))
		execv(argv[0], argv);
	else
		for (p = p ? p : "/usr/local/bin:/bin:/usr/bin";; p = e + 1) {
			e = p + strcspn(p, ":");
			if ((k = e - p) + 1 + l <= sizeof(path)) {
				memcpy(path, p, k);
				path[k] = '/';
				memcpy(path + k + 1, argv[0], l);
				execv(path, argv);
			}
			if (!*e)
				break;
		}
	childfail("run", argv[0]);
}

/* fork(), less what only threads need: we run one thread and install
 * no atfork handler, and musl's fork() takes every lock of libc's for
 * threads we do not have (1.7 KB of a static binary) */
static pid_t
newproc(void)
{
	return _Fork();
}

/* fork a child with fds 0-2 from io (-1: as they are) that runs fn(arg),
 * which does not return, or execs argv if fn is NULL; its pid, or -1 */
static pid_t
spawn(char **argv, const int io[3], void (*fn)(void *), void *arg)
{
	sigset_t none;
	pid_t pid;
	int k;

	if ((pid = newproc()) != 0) {
		if (pid > 0 && !inchild)
			setpgid(pid, pid);
		return pid;
	}
	if (!inchild)
		setpgid(0, 0);
	inchild = 1;
	for (k = 0; k < 3; k++)
		if (io[k] >= 0 && dup2(io[k], k) != k)
			_exit(127);
	closeabove(relayfd >= 0 ? relayfd + 1 : 3);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGIO, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if (fn)
		fn(arg);
	execargv(argv);
	return -1;
}

/* sig to c's process group, if it runs, whose end is then no news */
static void
stopchild(struct child *c, int sig)
{
	if (c->pid) {
		c->killed = 1;
		kill(-c->pid, sig);
	}
}

/* ===== Exclude matcher ===== */

/* Exclude patterns follow rsync's rules and are matched here as well as
 * given to rsync, so a change in an excluded path starts no rsync at all. */

/* [...] at p (after the '['): length of the class, and whether c is in
 * it; -1 if it is malformed (unterminated, or an unknown [:name:]), which
 * in rsync's wildmatch makes the whole pattern match nothing. Step by
 * step as there: a '-' after a range or a [:name:] is literal, and a "[:"
 * whose first ']' is not after a ':' is a literal '[' */
static int
class(const char *p, int c, int *in)
{
	static const struct { const char *name; int (*is)(int); } cls[] = {
		{ "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank },
		{ "cntrl", iscntrl }, { "digit", isdigit }, { "graph", isgraph },
		{ "lower", islower }, { "print", isprint }, { "punct", ispunct },
		{ "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
	};
	const char *s = p, *e;
	int neg, prev = 0, ch;
	size_t i, n;

	if ((neg = *s == '!' || *s == '^'))
		s++;
	*in = 0;
	ch = (unsigned char)*s;
	do {
		if (!ch)
			return -1;
		if (ch == '\\') {
			if (!(ch = (unsigned char)*++s))
				return -1;
			*in |= c == ch;
		} else if (ch == '-' && prev && s[1] && s[1] != ']') {
			if ((ch = (unsigned char)*++s) == '\\' && !(ch = (unsigned char)*++s))
				return -1;
			*in |= c >= prev && c <= ch;
			ch = 0;
		} else if (ch == '[' && s[1] == ':') {
			for (e = s + 2; *e && *e != ']'; e++)
				;
			if (!*e)
				return -1;
			if (e == s + 2 || e[-1] != ':') {
				*in |= c == '[';
				continue;
			}
			n = e - s - 3;
			for (i = 0; i < LEN(cls) && (strlen(cls[i].name) != n ||
			    strncmp(s + 2, cls[i].name, n)); i++)
				;
			if (i == LEN(cls))
				return -1;
			*in |= cls[i].is(c) != 0;
			s = e;
			ch = 0;
		} else {
			*in |= c == ch;
		}
	} while (prev = ch, (ch = (unsigned char)*++s) != ']');
	*in ^= neg;
	return s + 1 - p;
}

/* rsync's wildmatch: * stops at a slash, ** does not, "dir/" then "***"
 * at the end also matches dir itself; ?, [...] never match a slash.
 * Returns MATCH, NOMATCH, or one of the aborts that tell a star's loop
 * that no later start can match, which keeps "*a*a*a*b" from taking
 * exponential time. */
enum { NOMATCH, MATCH, ABORTALL, ABORTSTAR };

static int
wild(const char *p, const char *t, int isdir)
{
	int n, in, r;

	for (; *p; p++, t++) {
		if (*p == '/' && !strcmp(p, "/***"))
			return *t == '/' || (!*t && isdir) ? MATCH : NOMATCH;
		if (!*t && *p != '*')
			return ABORTALL;
		switch (*p) {
		case '?':
			if (*t == '/')
				return NOMATCH;
			break;
		case '*':
			if (p[1] != '*') {
				for (;; t++) {
					if ((r = wild(p + 1, t, isdir)) != NOMATCH)
						return r;
					if (!*t)
						return ABORTALL;
					if (*t == '/')
						return ABORTSTAR;
				}
			}
			while (*p == '*')
				p++;
			for (;; t++) {
				if ((r = wild(p, t, isdir)) != NOMATCH && r != ABORTSTAR)
					return r;
				if (!*t)
					return ABORTALL;
			}
		case '[':
			if ((n = class(p + 1, (unsigned char)*t, &in)) < 0)
				return ABORTALL;
			if (*t == '/' || !in)
				return NOMATCH;
			p += n;
			break;
		case '\\':
			p++; /* a trailing one: '\0' matches no text left */
			/* fall through */
		default:
			if (*p != *t)
				return NOMATCH;
		}
	}
	return *t ? NOMATCH : MATCH;
}

static int
glob(const char *p, const char *t, int isdir)
{
	return wild(p, t, isdir) == MATCH;
}

static int
patcmp(const struct pat *x, const char *s, int isdir)
{
	if (!x->wild)
		return !strcmp(x->s, s);
	/* as in rsync, a leading double star and slash may match nothing */
	return glob(x->s, s, isdir) ||
	    (!strncmp(x->s, "**/", 3) && glob(x->s + 3, s, isdir));
}

/* does pattern x exclude path (relative to wpath, no leading '/')? */
static int
match(const struct pat *x, const char *path, int isdir)
{
	const char *s;
	int n;

	if (x->dironly && !isdir)
		return 0;
	if (x->anchored)
		return patcmp(x, path, isdir);
	if (x->wild2) {
		for (s = path; s; s = strchr(s, '/'))
			if (patcmp(x, s += *s == '/', isdir))
				return 1;
		return 0;
	}
	/* the last slashes+1 components */
	n = x->slashes + 1;
	for (s = path + strlen(path); s > path; s--)
		if (s[-1] == '/' && !--n)
			break;
	return patcmp(x, s, isdir);
}

static int
excluded(const char *path, int isdir)
{
	int i;

	for (i = 0; i < conf.npats; i++)
		if (match(&conf.pats[i], path, isdir))
			return 1;
	return 0;
}

/* ===== Config ===== */

/* -e and -x from the command line, applied over every config */
static long argdelay = -1;
static char **argexcl;
static int nargexcl;
static const char *argpidfile;  /* -P */

static int
cerr(const char *where, const char *f, ...)
{
	char buf[LOGLINE];
	va_list ap;

	va_start(ap, f);
	vfmt(buf, sizeof(buf), f, ap);
	va_end(ap);
	logmsg(LOG_ERR, "%s: %s", where, buf);
	return -1;
}

/* a decimal number with up to `decimals` digits after the point, scaled */
static int
parsenum(const char *s, int decimals, long max, long *v, const char *where)
{
	long n = 0, scale = 1;
	const char *p = s;
	int d;

	for (d = 0; d < decimals; d++)
		scale *= 10;
	if (!isdigit((unsigned char)*p))
		return cerr(where, "'%s' is not a number", s);
	for (; isdigit((unsigned char)*p); p++) {
		if (n > max)
			return cerr(where, "%s is out of range (0 to %ld)", s, max);
		n = n * 10 + (*p - '0');
	}
	n *= scale;
	if (*p == '.' && !decimals && isdigit((unsigned char)p[1]))
		return cerr(where, "'%s' is not a whole number", s);
	if (*p == '.' && decimals) {
		for (p++, d = 0; isdigit((unsigned char)*p) && d < decimals; p++, d++)
			n += (*p - '0') * (scale /= 10);
		if (d == 0)
			return cerr(where, "'%s' is not a number", s);
		if (isdigit((unsigned char)*p))
			return cerr(where, "'%s' has too many decimals: at most "
			    "%d decimals are allowed", s, decimals);
	}
	if (*p)
		return cerr(where, "'%s' is not a number (junk at '%s')", s, p);
	if (n > max * (decimals ? scale : 1))
		return cerr(where, "%s is out of range (0 to %ld)", s, max);
	*v = n;
	return 0;
}

/* the directory path as the kernel names it (symlinks, "." and ".."
 * resolved) in buf[PATH_MAX]: getcwd() after a chdir(), and back; libc's
 * realpath() would cost the static binary 1.4 KB */
static int
resolve(const char *path, char *buf)
{
	int here = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), r, e;

	r = here >= 0 && chdir(path) == 0 && getcwd(buf, PATH_MAX) ? 0 : -1;
	e = errno;
	if (here >= 0 && (fchdir(here) < 0 || close(here) < 0))
		r = -1;
	errno = e;
	return r;
}

static int
setwpath(struct conf *c, const char *v, const char *where)
{
	char buf[PATH_MAX];
	size_t n;

	if (resolve(v, buf) < 0)
		return cerr(where, errno == ENOTDIR ? "wpath %s is not a "
		    "directory" : "wpath %s: %s", v, strerror(errno));
	n = strlen(buf);
	if (buf[n - 1] == '/')
		buf[n - 1] = '\0';
	if (!(c->wpath = strdup(buf)))
		return cerr(where, "out of memory");
	return 0;
}

static int
setwguard(struct conf *c, const char *v, const char *where)
{
	if (strchr(v, '/') || !strcmp(v, ".") || !strcmp(v, ".."))
		return cerr(where, "wguard %s is not a name in wpath (no '/')", v);
	return (c->wguard = strdup(v)) ? 0 : cerr(where, "out of memory");
}

static int
setrnodes(struct conf *c, const char *v, const char *where)
{
	if (c->nrnodes == MAXDESTS)
		return cerr(where, "too many rnodes (at most %d)", MAXDESTS);
	if (*v == '-')
		return cerr(where, "destination '%s' begins with '-': rsync "
		    "would take it for an option (write ./%s)", v, v);
	if (!(c->rnodes[c->nrnodes] = strdup(v)) ||
	    !(c->rwhere[c->nrnodes] = strdup(where)))
		return cerr(where, "out of memory");
	c->nrnodes++;
	return 0;
}

static int
setlogfile(struct conf *c, const char *v, const char *where)
{
	if (!(c->logopt = cat3("--log-file=", v, "")))
		return cerr(where, "out of memory");
	c->logfile = c->logopt + strlen("--log-file=");
	return 0;
}

/* *to = v, an absolute path of an executable file; one that does not exist
 * yet only if it may come later (rsync on a medium mounted after boot) */
static int
setprog(char **to, const char *key, const char *v, const char *where, int later)
{
	struct stat st;

	if (v[0] != '/')
		return cerr(where, "%s %s is not an absolute path", key, v);
	if (later && stat(v, &st) < 0 && errno == ENOENT)
		logmsg(LOG_WARNING, "%s: warning: %s %s does not exist; every "
		    "sync fails until it does", where, key, v);
	else if (stat(v, &st) < 0 || !S_ISREG(st.st_mode) || access(v, X_OK) < 0)
		return cerr(where, "%s %s is not executable", key, v);
	free(*to);
	return (*to = strdup(v)) ? 0 : cerr(where, "out of memory");
}

#define FILTERS "include and filter rules (--include, --filter, -f, -F, " \
    "--include-from, --exclude-from) would make rsync copy what the " \
    "daemon's matcher excludes; use rexcludes"
#define DELETES "--del and --delete-* change what rsync deletes; inosync " \
    "gives it --delete and --delete-missing-args"
#define NOBACKUP "a rename there would back nothing up"
#define BELOW "placing one below the top would find no relative DIR there"

/* the kinds of destination where moves are not placed: a local one
 * places by a rename, outside rsync; a remote one by an rsync rooted at
 * the moved entry's directory, below the destination's top */
#define NOLOCAL (1 << LOCAL)
#define NOREMOTE (1 << SHELL | 1 << DAEMON)
/* rsync writes files in place: a placed move is never a hard link to its
 * old path, which the source may have made again (mv log log.1, a new
 * log), so that the sync writing one would write the other */
#define NOLINK (1 << 3)

/* The rargs policy, all of it. Refused (why, and noplace and rel 0): what
 * changes what rsync copies or deletes behind the exclude matcher's back.
 * Let by, but moves are not placed at the kinds of destination noplace
 * says (and rel too, when the value is a relative DIR), since placing
 * could not keep what the option promises: --backup, --backup-dir and
 * --suffix a backup of what a move replaces, --temp-dir its DIR,
 * --append a file that only grows (placed from --fuzzy's basis, it would
 * get nothing). With --inplace a placed move is a copy (NOLINK);
 * --partial-dir and --delay-updates agree with placing. Long names as rsync spells them (it takes no abbreviations;
 * "delete" stands for every --delete-*), short letters; val: the long
 * one takes a value */
static const struct rargopt {
	char c;
	unsigned char val, noplace, rel;
	const char *name, *why;
} rargopts[] = {
	{ 0, 0, 0, 0, "include", FILTERS }, { 0, 0, 0, 0, "include-from", FILTERS },
	{ 0, 0, 0, 0, "exclude-from", FILTERS }, { 'f', 0, 0, 0, "filter", FILTERS },
	{ 'F', 0, 0, 0, "filter", FILTERS },
	{ 0, 0, 0, 0, "files-from", "inosync gives rsync its own --files-from: "
	    "the directories that changed" },
	{ 'r', 0, 0, 0, "recursive", "recursion (-r, --recursive) would make "
	    "every sync walk whole subtrees, not the directories that changed" },
	{ 0, 0, 0, 0, "del", DELETES }, { 0, 0, 0, 0, "delete", DELETES },
	{ 'b', 0, NOLOCAL, 0, "backup", NOBACKUP },
	{ 0, 1, NOLOCAL, NOREMOTE, "backup-dir", NOBACKUP "; " BELOW },
	{ 0, 1, NOLOCAL, 0, "suffix", NOBACKUP },
	{ 'T', 1, 0, NOREMOTE, "temp-dir", BELOW },
	{ 0, 0, NOREMOTE, 0, "append", "an rsync placing one from --fuzzy's "
	    "basis would append nothing" },
	{ 0, 0, NOREMOTE, 0, "append-verify", "an rsync placing one from "
	    "--fuzzy's basis would append nothing" },
	{ 0, 0, NOLINK, 0, "inplace", NULL },
};

/* rargs word a has option o, with value v (NULL: none): refused, or moves
 * are not placed where it says; the first word that keeps them from a
 * kind of destination says so */
static int
rargopt(struct conf *c, const struct rargopt *o, const char *a, const char *v,
    const char *where)
{
	static const char *kinds[] = { "", "local", "remote", "all" };
	unsigned k = o->noplace | (!v || *v != '/' ? o->rel : 0);

	if (!o->noplace && !o->rel)
		return cerr(where, "rargs '%s' is refused: %s", a, o->why);
	if (k & ~c->noplace & (NOLOCAL | NOREMOTE))
		logmsg(LOG_NOTICE, "%s: rargs %s: moves go as plain transfers "
		    "to %s destinations: %s", where, a,
		    kinds[(k & NOLOCAL ? 1 : 0) | (k & NOREMOTE ? 2 : 0)], o->why);
	c->noplace |= k;
	return 0;
}

/* the options of word *k of rargs, long (--name, --name=VALUE, --name
 * VALUE) or short (a bundle like -avb, -T DIR, -TDIR), each by rargopt();
 * *k: the last word they take */
static int
rargword(struct conf *c, int *k, const char *where)
{
	const struct rargopt *o, *end = rargopts + LEN(rargopts);
	const char *w = c->rargv[*k], *a = w, *next;
	size_t n;
	int val;

	next = *k + 1 < c->nrargs ? c->rargv[*k + 1] : NULL;
	if (a[0] != '-' || !a[1])
		return 0;
	if (a[1] == '-') {
		n = strcspn(a += 2, "=");
		for (o = rargopts; o < end && (strncmp(a, o->name, strlen(o->name)) ||
		    (strlen(o->name) != n && strcmp(o->name, "delete"))); o++)
			;
		if (o == end)
			return 0;
		*k += o->val && !a[n] && next;
		return rargopt(c, o, w, a[n] ? a + n + 1 : o->val ? next : NULL, where);
	}
	/* what follows a letter that takes a value is that value */
	for (a++; *a; a++) {
		for (o = rargopts; o < end && o->c != *a; o++)
			;
		val = strchr("@BeMT", *a) != NULL;
		if (o < end && rargopt(c, o, w, !val ? NULL : a[1] ? a + 1 : next,
		    where) < 0)
			return -1;
		if (val) {
			*k += !a[1] && next;
			break;
		}
	}
	return 0;
}

/* split on blanks, never through a shell */
static int
setrargs(struct conf *c, const char *v, const char *where)
{
	size_t n = strlen(v), i;
	int k;
	char *s;

	if (!(c->rargs = malloc(n + 1)) || !(c->rargv = calloc(n / 2 + 1, sizeof(char *))))
		return cerr(where, "out of memory");
	memcpy(c->rargs, v, n + 1);
	for (i = 0, s = c->rargs; i < n; i++) {
		if (s[i] == ' ' || s[i] == '\t')
			s[i] = '\0';
		else if (!i || !s[i - 1])
			c->rargv[c->nrargs++] = s + i;
	}
	for (k = 0; k < c->nrargs; k++)
		if (rargword(c, &k, where) < 0)
			return -1;
	return 0;
}

/* a file the daemon writes: absolute, since -d goes to / */
static int
setpath(char **to, const char *v, const char *where)
{
	char cwd[PATH_MAX];

	if (v[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return cerr(where, "getcwd: %s", strerror(errno));
	*to = v[0] == '/' ? strdup(v) : cat3(cwd, "/", v);
	return *to ? 0 : cerr(where, "out of memory");
}

/* rjail = no, or an absolute path the jails show (each a key of its own) */
/* the first of path and the directories above it that a user other
 * than root may change (owns, or may write: group or others, unless
 * sticky, as /tmp is, where none may rename what is root's), as a static
 * string; NULL if none (those missing are no one's yet) */
static const char *
othersmay(const char *path)
{
	static char p[PATH_MAX];
	struct stat st;
	char *s = p, c;

	fmt(p, sizeof(p), "%s", path);
	do {
		s += strcspn(s + 1, "/") + 1;
		c = *s;
		*s = '\0';
		if (lstat(p, &st) < 0)
			return NULL;
		if (st.st_uid || (!S_ISLNK(st.st_mode) && !(st.st_mode & S_ISVTX) &&
		    st.st_mode & (S_IWGRP | S_IWOTH)))
			return p;
	} while ((*s = c));
	return NULL;
}

static int
setrjail(struct conf *c, const char *v, const char *where)
{
	const char *p;
	char **j;

	if (!strcmp(v, "no") && !c->njails && c->jail) {
		c->jail = 0;
		return 0;
	}
	if (v[0] != '/' || !c->jail)
		return cerr(where, "rjail %s: 'no' alone, or absolute paths", v);
	if (!geteuid() && (p = othersmay(v)))
		return cerr(where, "rjail %s: every jail shows it as it is, but "
		    "a user other than root may change %s: refused", v, p);
	if (!(j = realloc(c->jails, (c->njails + 1) * sizeof(*j))) ||
	    !(j[c->njails] = strdup(v)))
		return cerr(where, "out of memory");
	c->jails = j;
	c->njails++;
	return 0;
}

/* the words a key of kind SWORD takes (keywords[max]), its int the index
 * of the one given: rdelete's each at that of its DELSEEN | DELFULL bits
 * (startup lets only full syncs delete, running only what is seen
 * deleted), watcher's at that of theirs (WAUTO...) */
static const char *const keywords[][5] = {
	{ "no", "yes" },
	{ "no", "running", "startup", "yes" },
	{ "auto", "inotify", "fanotify" },
};
enum { WYESNO, WRDELETE, WWATCHER };    /* the rows */
enum { WAUTO, WINOTIFY, WFANOTIFY };

static int
setemask(struct conf *c, const char *v, const char *where)
{
	char buf[LINEMAX], *t, *e;
	const char *n;
	size_t i;

	fmt(buf, sizeof(buf), "%s", v);
	c->emask = 0;
	for (t = buf; *(t += strspn(t, " \t,|")); t = e) {
		e = t + strcspn(t, " \t,|");
		if (*e)
			*e++ = '\0';
		for (i = 0, n = events; *n && strcmp(n, t); i++)
			n += strlen(n) + 1;
		if (!*n)
			return cerr(where, "unknown event '%s'", t);
		c->emask |= i < NSINGLE ? 1u << i : shorthands[i - NSINGLE];
	}
	if (!c->emask)
		return cerr(where, "emask names no event");
	if (c->emask & (IN_ACCESS | IN_OPEN | IN_CLOSE_NOWRITE))
		logmsg(LOG_WARNING, "%s: warning: IN_ACCESS, IN_OPEN and "
		    "IN_CLOSE_NOWRITE fire when rsync reads the tree: "
		    "every sync will start another", where);
	return 0;
}

static int
setrexcludes(struct conf *c, const char *v, const char *where)
{
	struct pat *x, *p;
	size_t n;

	if (!strncmp(v, "- ", 2))
		v += 2;
	if (!strncmp(v, "+ ", 2) || !strcmp(v, "!"))
		return cerr(where, "'%s': include rules and '!' are not supported", v);
	if (!*v || !strcmp(v, "/"))
		return cerr(where, "empty exclude pattern");
	if (c->npats == PATSMAX)
		return cerr(where, "more than %d exclude patterns (PATSMAX)", PATSMAX);
	if (!(p = realloc(c->pats, (c->npats + 1) * sizeof(*p))))
		return cerr(where, "out of memory");
	c->pats = p;
	x = &p[c->npats];
	memset(x, 0, sizeof(*x));
	if (!(x->opt = cat3("--exclude=- ", v, "")))
		return cerr(where, "out of memory");
	c->npats++;
	x->given = x->s = x->opt + strlen("--exclude=- ");
	x->anchored = *x->s == '/';
	x->s += x->anchored;
	n = strlen(x->s);
	x->dironly = n > 1 && x->s[n - 1] == '/';
	if (!(x->s = strdup(x->s)))
		return cerr(where, "out of memory");
	x->s[n - x->dironly] = '\0';
	for (v = x->s; *v; v++)
		x->slashes += *v == '/';
	x->wild = strpbrk(x->s, "*?[") != NULL;
	x->wild2 = has(x->s, "**", 0);
	c->needpath |= x->anchored || x->slashes || x->wild2;
	return 0;
}

/* the whole file, opened with flags besides O_RDONLY, NUL-terminated, in
 * *buf; with flags, -1 and errno 0 if it is not a regular file */
static ssize_t
slurp(const char *file, int flags, char **buf, struct stat *st)
{
	size_t len = 0, cap = 0;
	ssize_t n = 1;
	char *b;
	int fd;

	*buf = NULL;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | flags)) < 0)
		return -1;
	if (fstat(fd, st) < 0)
		n = -1;
	else if (flags && !S_ISREG(st->st_mode))
		n = -1, errno = 0;
	while (n > 0) {
		if (len + 1 >= cap) {
			if (cap >= CONFMAX)
				errno = EFBIG;
			if (cap >= CONFMAX ||
			    !(b = realloc(*buf, cap = MIN(cap * 2 + 4096, CONFMAX))))
				break;
			*buf = b;
		}
		if ((n = read(fd, *buf + len, cap - len - 1)) > 0)
			len += n;
	}
	close(fd);
	if (n)
		return -1;
	(*buf)[len] = '\0';
	return len;
}

/* fn on each line of file, opened with flags (slurp), with "FILE:LINE"
 * for its errors. Root reads only a file only root may write: the config
 * names programs it runs, and a rexcludefrom file's patterns go to every
 * rsync. The lines read, -1 on an error, -2 if it cannot be read. */
static int
eachline(struct conf *c, const char *file, int flags,
    int (*fn)(struct conf *, char *, const char *))
{
	char where[PATH_MAX + 32], *buf, *s, *e;
	struct stat st;
	ssize_t len;
	int n = 0, r = 0;

	if ((len = slurp(file, flags, &buf, &st)) < 0) {
		free(buf);
		return -2;
	}
	fmt(where, sizeof(where), "%s:0", file);
	if (!geteuid() && (st.st_uid || st.st_mode & (S_IWGRP | S_IWOTH)))
		r = cerr(where, "root reads it, but %s may write it: refused",
		    st.st_uid ? "a user other than root" : "group or others");
	for (s = buf; !r && s < buf + len; s = e + 1) {
		if (!(e = memchr(s, '\n', buf + len - s)))
			e = buf + len;
		*e = '\0';
		fmt(where, sizeof(where), "%s:%d", file, ++n);
		if (e - s >= LINEMAX)
			r = cerr(where, "line longer than %d bytes", LINEMAX - 1);
		else if (strlen(s) != (size_t)(e - s))
			r = cerr(where, "NUL byte in line");
		else
			r = fn(c, s, where);
	}
	free(buf);
	return r ? -1 : n;
}

/* a line of a rexcludefrom file: a pattern, blanks trimmed as from a
 * config line; blank lines and '#' comments are skipped */
static int
patline(struct conf *c, char *s, const char *where)
{
	s = trim(s);
	if (!*s || *s == '#')
		return 0;
	if (setrexcludes(c, s, where) < 0)
		return -1;
	c->pats[c->npats - 1].from = c->nxfiles;
	return 0;
}

static int
setrexcludefrom(struct conf *c, const char *v, const char *where)
{
	char **x;

	if (!(x = realloc(c->xfiles, (c->nxfiles + 1) * sizeof(*x))) ||
	    !(x[c->nxfiles] = strdup(v)))
		return cerr(where, "out of memory");
	c->xfiles = x;
	c->nxfiles++;
	switch (eachline(c, v, O_NONBLOCK | O_NOFOLLOW, patline)) {
	case -2:
		return cerr(where, "rexcludefrom %s: %s", v, errno == ELOOP ?
		    "a symlink, not followed" : errno ? strerror(errno) :
		    "not a regular file");
	case -1:
		return -1;
	}
	return 0;
}

/* how -t prints a key, in the order of keys[]; every row says it, as
 * -Wextra warns of one that does not */
enum {
	PSTR,                   /* the string at off, or "# KEY (unset)" */
	PNUM,                   /* the long at off */
	PMS,                    /* the long at off, ms as seconds */
	PWORD,                  /* the int at off, as a word of keywords[max] */
	PWITH,                  /* with the key before it */
	PWPATH, PNODES, PPATS, PEMASK, PRARGS, PJAIL /* their own */
};

#define OFF(field) offsetof(struct conf, field)

/* how a key without a setter of its own takes its value, at off */
enum {
	SSTR,                   /* as it is */
	SPATH,                  /* a file the daemon writes (setpath) */
	SPROG,                  /* a program (setprog); max 1: it may come later */
	SNUM,                   /* a whole number, 0 to max */
	SMS,                    /* seconds with 3 decimals, 0 to max, as ms */
	SWORD,                  /* one of keywords[max], as its index */
};

static const struct key {
	const char *name;
	int (*set)(struct conf *, const char *, const char *); /* or kind */
	unsigned char list : 1; /* may be repeated */
	unsigned char kind : 3; /* how it is set without set */
	unsigned char print;    /* how -t prints it */
	unsigned short off;     /* where its value is, for PSTR to PWORD */
	unsigned max;
} keys[] = {
	{ "wpath", setwpath, 0, 0, PWPATH, 0, 0 },
	{ "wguard", setwguard, 0, 0, PSTR, OFF(wguard), 0 },
	{ "rpath", NULL, 0, SSTR, PSTR, OFF(rpath), 0 },
	{ "rnodes", setrnodes, 1, 0, PNODES, 0, 0 },
	{ "rexcludes", setrexcludes, 1, 0, PPATS, 0, 0 },
	{ "rexcludefrom", setrexcludefrom, 1, 0, PWITH, 0, 0 },
	{ "rspeed", NULL, 0, SNUM, PNUM, OFF(rspeed), RSPEED_MAX },
	{ "emask", setemask, 0, 0, PEMASK, 0, 0 },
	{ "edelay", NULL, 0, SMS, PMS, OFF(edelay), EDELAY_MAX },
	{ "wsettle", NULL, 0, SMS, PMS, OFF(wsettle), WSETTLE_MAX },
	{ "rsync", NULL, 0, SPROG, PSTR, OFF(rsync), 1 },
	{ "logfile", setlogfile, 0, 0, PSTR, OFF(logfile), 0 },
	{ "rsh", NULL, 0, SSTR, PSTR, OFF(rsh), 0 },
	{ "rargs", setrargs, 0, 0, PRARGS, 0, 0 },
	{ "rtimeout", NULL, 0, SNUM, PNUM, OFF(rtimeout), RTIMEOUT_MAX },
	{ "efull", NULL, 0, SNUM, PNUM, OFF(efull), EFULL_MAX },
	{ "rdelete", NULL, 0, SWORD, PWORD, OFF(rdelete), WRDELETE },
	{ "rprocs", NULL, 0, SNUM, PNUM, OFF(rprocs), MAXDESTS },
	{ "rinit", NULL, 0, SWORD, PWORD, OFF(rinit), WYESNO },
	{ "rhook", NULL, 0, SPROG, PSTR, OFF(rhook), 0 },
	{ "rjail", setrjail, 1, 0, PJAIL, 0, 0 },
	{ "pidfile", NULL, 0, SPATH, PSTR, OFF(pidfile), 0 },
	{ "statusfile", NULL, 0, SPATH, PSTR, OFF(statusfile), 0 },
	{ "metricsfile", NULL, 0, SPATH, PSTR, OFF(metricsfile), 0 },
	{ "watcher", NULL, 0, SWORD, PWORD, OFF(watcher), WWATCHER },
};
CHECK(keys_fit_seen, LEN(keys) <= sizeof(((struct conf *)0)->seen) * CHAR_BIT);

/* key k, of kind SWORD, to v */
static int
setword(int *p, const struct key *k, const char *v, const char *where)
{
	const char *const *w = keywords[k->max];
	int i;

	for (i = 0; w[i]; i++)
		if (!strcmp(v, w[i]))
			return *p = i, 0;
	return cerr(where, "%s %s is none of the words it takes (inosync(8))",
	    k->name, v);
}

/* key k, which has no setter of its own, to v, as its kind says */
static int
setplain(struct conf *c, const struct key *k, const char *v, const char *where)
{
	void *p = (char *)c + k->off;

	switch (k->kind) {
	case SWORD:
		return setword(p, k, v, where);
	case SNUM:
	case SMS:
		return parsenum(v, k->kind == SMS ? 3 : 0, k->max, p, where);
	case SPATH:
		return setpath(p, v, where);
	case SPROG:
		return setprog(p, k->name, v, where, k->max);
	}
	return (*(char **)p = strdup(v)) ? 0 : cerr(where, "out of memory");
}

/* the index in keys[] of the key named by the n bytes at k; LEN(keys)
 * if none is */
static size_t
findkey(const char *k, size_t n)
{
	size_t i;

	for (i = 0; i < LEN(keys) && (strncmp(keys[i].name, k, n) ||
	    keys[i].name[n]); i++)
		;
	return i;
}

/* the index in keys[] of key k, given now (once: even a list key), or -1 */
static int
keyof(struct conf *c, const char *k, int once, const char *where)
{
	size_t i = findkey(k, strlen(k));

	if (i == LEN(keys))
		return cerr(where, "unknown key '%s'", k);
	if ((once || !keys[i].list) && c->seen & 1u << i)
		return cerr(where, "'%s' given twice", k);
	c->seen |= 1u << i;
	return i;
}

/* keys[i] to v */
static int
setval(struct conf *c, size_t i, const char *v, const char *where)
{
	if (!*v)
		return cerr(where, "'%s' needs a value", keys[i].name);
	return keys[i].set ? keys[i].set(c, v, where) :
	    setplain(c, &keys[i], v, where);
}

/* The original's dialect: its config files were Python that only
 * assigned variables, so a file of it is read as it is. A file is in it
 * when the first assignment of more than a bare number has a string or
 * a list there (pyish()); then every assignment is, else none may be.
 * A value becomes the string that a key = value line would give the
 * key, and goes to setval() as that line's would; one that no such line
 * could give is refused, so that -t prints either dialect as lines that
 * read back the same. rpath is only a name there: the original's files
 * append it themselves. */
enum { UNDECIDED, NATIVE, PYTHON };

static struct py {
	int dialect;            /* UNDECIDED, NATIVE, PYTHON */
	int line;               /* the line being read */
	int open;               /* the line the assignment under way began */
	size_t key;             /* 1 + its key, or 0 */
	int state;              /* a row of pygrammar */
	char *var[LEN(keys)];   /* the value of each key of one value given
	                         * so far, for a later '+' (malloc'd) */
	size_t len;             /* of the value being read */
	char val[LINEMAX];      /* it: for a key of one value, a list's
	                         * items blank-separated */
} py;

/* The grammar: for the state of an assignment (a row) and what comes
 * next (a column: a string, a number, a key given before, '+', '[', ',',
 * ']', the line's end), the next state in the low 4 bits, PYEND at the
 * assignment's end, or '.' if it may not come; with PYEMIT when a list
 * key's value ends there. Rows 0 to 4, outside a list: after '=', '+',
 * a string or key, a number, ']'; 5 to 8 in one: after '[' or ',', '+',
 * a string or key, a number. After a number only its end may come, so
 * that 1 + 2 is not read as "12". */
#define PYEMIT 0x40
#define PYEND 15
static const char pygrammar[][9] = {
	"232.5...", "232.....", "...1...O", ".......O", ".......?",
	"787...45", "787....6", "...6.ED7", ".....ED8",
};

/* v begins as the original's dialect does: a string that the line's end,
 * a '+' or a comment follows, or a list of strings. A quoted word that
 * more words follow is a key = value line's (rsh = "/opt/my ssh" -p 2) */
static int
pyish(const char *v)
{
	const char *e = v + 1;

	if (*v == '[')
		return strchr("\"']#", v[1 + strspn(v + 1, " \t")]) != NULL;
	if (*v != '"' && *v != '\'')
		return 0;
	for (; *e && *e != *v; e += 1 + (*e == '\\' && e[1]))
		;
	e += *e ? 1 + strspn(e + 1, " \t") : 0;
	return !*e || *e == '+' || *e == '#';
}

/* n bytes at s after the value, which leaves room on a line for the
 * longest key and " = " */
static int
pyput(const char *s, size_t n, const char *where)
{
	if (py.len + n >= LINEMAX - 16)
		return cerr(where, "value longer than %d bytes", LINEMAX - 17);
	memcpy(py.val + py.len, s, n);
	py.val[py.len += n] = '\0';
	return 0;
}

/* the string literal at *p, its quote first, put after the value; *p
 * past it. Python's escapes \\ \' \" \n \t are read; its others, and
 * those Python keeps as a backslash and a letter, are refused */
static int
pystr(char **p, const char *where)
{
	static const char in[] = "\\'\"nt", out[] = "\\'\"\n\t";
	char *s = *p, *e, ch;

	while (*++s != **p) {
		if (!*s)
			return cerr(where, "string not closed");
		ch = *s;
		if (ch == '\\' && (!s[1] || !(e = strchr(in, *++s))))
			return cerr(where, "unknown escape \\%c", *s);
		if (ch == '\\')
			ch = out[e - in];
		if (pyput(&ch, 1, where) < 0)
			return -1;
	}
	*p = s + 1;
	return 0;
}

/* v to key k, if a key = value line could give it: no newline in it,
 * and not begun as the original's dialect */
static int
pyvalue(struct conf *c, size_t k, const char *v, const char *where)
{
	py.len = 0;
	if (strchr(v, '\n') || pyish(v))
		return cerr(where, "a value no key = value line can hold");
	return setval(c, k, v, where);
}

/* what a line holds of the assignment under way, by pygrammar: a list
 * key takes each value of a list as a line of its own would; a key of
 * one value takes the whole at the end, and keeps it for a later '+' */
static int
pyvalues(struct conf *c, char *s, const char *where)
{
	static const char tokens[] = "\"'+[,]#",
	    column[] = { 0, 0, 3, 4, 5, 6, 7, 7 }; /* ... and the NUL */
	size_t k = py.key - 1, n;
	char *e, *x, next;
	int t;

	for (;;) {
		s += strspn(s, " \t");
		for (e = s; isalnum((unsigned char)*e) || *e == '_' || *e == '.'; e++)
			;
		n = findkey(s, e - s);
		x = strchr(tokens, *s);
		t = x ? column[x - tokens] : isdigit((unsigned char)*s) ? 1 :
		    n < LEN(keys) && py.var[n] ? 2 : 8;
		if (t == 8 || (next = pygrammar[py.state][t]) == '.')
			return cerr(where, "unexpected '%s' in the original's "
			    "dialect", s);
		if (t == 0 && pystr(&s, where) < 0)
			return -1;
		if ((t == 1 || t == 2) && pyput(t == 1 ? s : py.var[n], t == 1 ?
		    (size_t)(e - s) : strlen(py.var[n]), where) < 0)
			return -1;
		if (next & PYEMIT && (keys[k].list ? pyvalue(c, k,
		    trim(py.val), where) : pyput(" ", 1, where)) < 0)
			return -1;
		if ((next & 15) == PYEND)
			break;
		if (t == 7)
			return 0;
		py.state = next & 15;
		s = t == 0 ? s : t <= 2 ? e : s + 1;
	}
	py.key = 0;
	if (keys[k].list)
		return 0;
	if (!(py.var[k] = strdup(trim(py.val))))
		return cerr(where, "out of memory");
	return keys[k].off == OFF(rpath) ? 0 : pyvalue(c, k, py.var[k], where);
}

static int
parseline(struct conf *c, char *s, const char *where)
{
	char *v;
	int k, p;

	py.line++;
	s = trim(s);
	if (!*s || *s == '#')
		return 0;
	if (py.key)
		return pyvalues(c, s, where);
	if (!(v = strchr(s, '=')))
		return cerr(where, "expected 'key = value'");
	*v++ = '\0';
	s = trim(s);
	p = pyish(v = trim(v));
	if (!py.dialect && v[strspn(v, "0123456789.")])
		py.dialect = p ? PYTHON : NATIVE;
	if (py.dialect == NATIVE && p)
		return cerr(where, "'%s' is the original's dialect, in a key = "
		    "value file", v);
	if ((k = keyof(c, s, py.dialect == PYTHON, where)) < 0)
		return -1;
	if (py.dialect != PYTHON)
		return setval(c, k, v, where);
	py.key = k + 1;
	py.open = py.line;
	py.state = py.len = 0;
	*py.val = '\0';
	return pyvalues(c, v, where);
}

static void
initconf(struct conf *c)
{
	size_t i;

	for (i = 0; i < LEN(keys); i++)
		free(py.var[i]);
	memset(&py, 0, offsetof(struct py, val));
	memset(c, 0, sizeof(*c));
	c->emask = EMASK;
	c->edelay = EDELAY_MS;
	c->rtimeout = RTIMEOUT;
	c->rdelete = DELSEEN | DELFULL;
	c->wsettle = WSETTLE_MS;
	c->rprocs = RPROCS;
	c->rinit = 1;
	c->jail = 1;
	c->watcher = WATCHER;
}

static void
freeconf(struct conf *c)
{
	int i;

	for (i = 0; i < c->nrnodes; i++) {
		free(c->rnodes[i]);
		free(c->rwhere[i]);
		free(c->specs[i]);
	}
	for (i = 0; i < c->npats; i++) {
		free(c->pats[i].opt);
		free(c->pats[i].s);
	}
	free(c->pats);
	for (i = 0; i < c->nxfiles; i++)
		free(c->xfiles[i]);
	free(c->xfiles);
	for (i = 0; i < c->njails; i++)
		free(c->jails[i]);
	free(c->jails);
	free(c->wpath);
	free(c->wguard);
	free(c->rpath);
	free(c->rsync);
	free(c->logopt);
	free(c->rsh);
	free(c->rargs);
	free(c->rargv);
	free(c->rhook);
	free(c->pidfile);
	free(c->statusfile);
	free(c->metricsfile);
	free(c->src);
	free(c->rshopt);
	initconf(c);
}

/* rsync's rule: a ':' before any '/' names a remote host, "::" or
 * rsync:// an rsync daemon */
static int
kindof(const char *d)
{
	size_t n = strcspn(d, ":/");

	if (!strncmp(d, "rsync://", 8) || (d[n] == ':' && d[n + 1] == ':'))
		return DAEMON;
	return d[n] == ':' ? SHELL : LOCAL;
}

#define RSH(c) ((c)->rsh ? (c)->rsh : "ssh -o BatchMode=yes")

/* the remote shell is OpenSSH's ssh: the first word's last component */
static int
isssh(const char *rsh)
{
	size_t n = strcspn(rsh, " \t");
	const char *base;

	for (base = rsh + n; base > rsh && base[-1] != '/'; base--)
		;
	return rsh + n - base == 3 && !strncmp(base, "ssh", 3);
}

/* ssh that may reuse its connections: one that sets none of its control
 * options (ControlMaster, ControlPath, ControlPersist) itself */
static int
reusable(const char *rsh)
{
	return isssh(rsh) && !has(rsh, "control", 1);
}

/* the remote shell; when it is ssh, with a connect timeout unless it has
 * one, and with a control master of ours (one connection per host, kept
 * alive: a dead link is dropped after about rtimeout) if it may. After
 * JAILRSH and a blank, which a jailed rsync is given too: it splits the
 * words as for any -e, and the relay hands them out of the jail. */
static char *
rshopt(const struct conf *c)
{
	const char *rsh = RSH(c);
	char t[64] = "", m[192] = "", *s;
	int ssh = isssh(rsh);
	size_t n;

	if (ssh && c->rtimeout && !has(rsh, "ConnectTimeout", 0))
		fmt(t, sizeof(t), " -o ConnectTimeout=%ld", c->rtimeout);
	if (*ctldir && reusable(rsh))
		fmt(m, sizeof(m), " -o ControlMaster=auto -o ControlPersist=%d "
		    "-o ControlPath=%s/%%C -o ServerAliveInterval=%ld", CTLPERSIST,
		    ctldir, c->rtimeout ? (c->rtimeout + 2) / 3 : 0);
	n = sizeof(JAILRSH) + strlen(rsh) + strlen(t) + strlen(m) + 1;
	if ((s = malloc(n)))
		fmt(s, n, "%s %s%s%s", JAILRSH, rsh, t, m);
	return s;
}

/* the absolute path buf without "." and ".." components or doubled and
 * trailing '/': each ".." takes the name before it away, as the kernel
 * does where no symlink is on the way */
static void
lexical(char *buf)
{
	char *r = buf, *w = buf;
	size_t n;

	while (*(r += strspn(r, "/"))) {
		n = strcspn(r, "/");
		if (n == 2 && r[0] == '.' && r[1] == '.')
			while (w > buf && *--w != '/')
				;
		else if (n != 1 || *r != '.') {
			*w++ = '/';
			memmove(w, r, n);
			w += n;
		}
		r += n;
	}
	if (w == buf)
		*w++ = '/';
	*w = '\0';
}

/* the absolute path d as it is now, in buf of PATH_MAX bytes, whether it
 * exists yet or not: its longest prefix that does resolved, the rest as
 * given but for "." and ".." (lexical()); a symlink on its way that a
 * user swaps in later is not followed (see jailown()). -1 if it is too
 * long */
static int
canon(const char *d, char *buf)
{
	char real[PATH_MAX], *p;
	const char *t;

	fmt(buf, PATH_MAX, "%s", d); /* shorter than PATH_MAX (setdests) */
	while (resolve(buf, real) < 0) {
		if (!(p = strrchr(buf, '/')) || (p == buf && !p[1])) {
			*buf = '\0'; /* nothing resolves: the path as given */
			fmt(real, sizeof(real), "/");
			break;
		}
		if (p == buf)
			p++; /* keep the root */
		*p = '\0';
	}
	for (t = d + strlen(buf); *t == '/'; t++)
		;
	if ((size_t)fmt(buf, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "",
	    t) >= PATH_MAX)
		return -1;
	lexical(buf);
	return 0;
}

/* the canonical path buf relative to c's wpath, if it is inside wpath
 * and neither it (a directory if isdir) nor a directory above it is
 * excluded, so that rsync would mirror what changes there: "" for wpath
 * itself; else NULL */
static char *
unexcluded(const struct conf *c, char *buf, int isdir)
{
	size_t w = strlen(c->wpath);
	char *rel, *p, save;
	int i;

	if (w && (strncmp(buf, c->wpath, w) || (buf[w] && buf[w] != '/')))
		return NULL;
	for (rel = buf + w; *rel == '/'; rel++)
		;
	/* rel and each of its ancestors, as a directory */
	for (p = rel; *rel; p++) {
		if (*p && *p != '/')
			continue;
		save = *p;
		*p = '\0';
		for (i = 0; i < c->npats && !match(&c->pats[i], rel, save || isdir); i++)
			;
		if ((*p = save), i < c->npats)
			return NULL; /* buf as it was */
		if (!save)
			break;
	}
	return rel;
}

/* a local destination inside wpath, and not excluded (or under an
 * excluded directory), would be mirrored into itself forever; one that
 * holds wpath would lose it to --delete, since wpath's own name is not in
 * what is mirrored there */
static int
checkdest(const struct conf *c, char **spec, const char *where)
{
	char buf[PATH_MAX], *p, *rel;
	const char *d = *spec;
	size_t w = strlen(c->wpath), n;

	if (canon(d, buf) < 0)
		return cerr(where, "destination %s: %s", d, strerror(ENAMETOOLONG));
	if (!(p = strdup(buf)))
		return cerr(where, "out of memory");
	free(*spec);
	d = *spec = p;
	for (n = strlen(buf); n && buf[n - 1] == '/'; n--)
		;
	if (n < w && !strncmp(buf, c->wpath, n) && c->wpath[n] == '/')
		return cerr(where, "destination %s holds wpath %s: rsync's "
		    "--delete would empty wpath", d, c->wpath);
	if (!(rel = unexcluded(c, buf, 1)))
		return 0;
	if (!*rel)
		return cerr(where, "destination %s is wpath itself", d);
	return cerr(where, "destination %s is inside wpath %s and not excluded: "
	    "it would be mirrored into itself", d, *c->wpath ? c->wpath : "/");
}

/* the statusfile or metricsfile (key) at path, rewritten at each change
 * of state as a file of a new name beside it (path.NUMBER, see
 * rewrite()) renamed over it, would start a sync each time, for ever,
 * where either name is in wpath and not excluded */
static int
checkown(const struct conf *c, const char *key, const char *path, const char *where)
{
	char buf[PATH_MAX];

	if (!path || canon(path, buf) < 0 || strlen(buf) + 3 > PATH_MAX ||
	    (!unexcluded(c, buf, 0) && !unexcluded(c, strcat(buf, ".1"), 0)))
		return 0;
	return cerr(where, "%s %s is in wpath %s, and it or the new file "
	    "written beside it (%s.NUMBER) is not excluded: each rewrite of it "
	    "would start a sync", key, path, *c->wpath ? c->wpath : "/", path);
}

/* a and b name one destination, but for trailing slashes (not the one
 * after "host:": its root, not its home) */
static int
samedest(const char *a, const char *b)
{
	size_t n = strlen(a), m = strlen(b);

	while (n > 1 && a[n - 1] == '/' && a[n - 2] != ':')
		n--;
	while (m > 1 && b[m - 1] == '/' && b[m - 2] != ':')
		m--;
	return n == m && !strncmp(a, b, n);
}

static int
setdests(struct conf *c, const char *where)
{
	char cwd[PATH_MAX], *d;
	int i, j;

	if (!(c->src = cat3(c->wpath, "/", "")) || !(c->rshopt = rshopt(c)))
		return cerr(where, "out of memory");
	if (c->rtimeout) {
		fmt(c->topt, sizeof(c->topt), "--timeout=%ld", c->rtimeout);
		fmt(c->ctopt, sizeof(c->ctopt), "--contimeout=%ld", c->rtimeout);
	}
	for (i = 0; i < c->nrnodes; i++) {
		d = cat3(c->rnodes[i], c->rpath ? c->rpath : "", "");
		if (d && kindof(d) == LOCAL && d[0] != '/') {
			if (!getcwd(cwd, sizeof(cwd)))
				return cerr(where, "getcwd: %s", strerror(errno));
			c->specs[i] = cat3(cwd, "/", d);
			free(d);
		} else {
			c->specs[i] = d;
		}
		if (!c->specs[i])
			return cerr(where, "out of memory");
		if (strlen(c->specs[i]) >= PATH_MAX)
			return cerr(c->rwhere[i], "destination longer than %d bytes "
			    "(with rpath)", PATH_MAX - 1);
		for (j = 0; j < i; j++)
			if (samedest(c->specs[i], c->specs[j]))
				return cerr(c->rwhere[i], "destination %s is given "
				    "twice", c->specs[j]);
		if (kindof(c->specs[i]) == LOCAL &&
		    checkdest(c, &c->specs[i], c->rwhere[i]) < 0)
			return -1;
	}
	return 0;
}

/* a and b are both set and the same path */
static int
same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* what only the whole configuration can tell */
static int
checkconf(struct conf *c, const char *where)
{
	char e[LOGLINE];
	int i;

	if (py.key)
		return cerr(where, "the list of line %d is not closed", py.open);
	if (py.dialect == PYTHON) { /* rpath only a name, even one given
		                     * before the file showed its dialect */
		free(c->rpath);
		c->rpath = NULL;
	}
	if (!c->wpath)
		return cerr(where, "missing 'wpath'");
	if (!c->nrnodes)
		return cerr(where, "missing 'rnodes'");
	if (same(c->pidfile, c->statusfile) || same(c->pidfile, c->metricsfile) ||
	    same(c->statusfile, c->metricsfile))
		return cerr(where, "pidfile, statusfile and metricsfile must "
		    "be three files");
	if (checkown(c, "statusfile", c->statusfile, where) < 0 ||
	    checkown(c, "metricsfile", c->metricsfile, where) < 0)
		return -1;
	if (!c->rsync && setprog(&c->rsync, "rsync", RSYNC, where, 1) < 0)
		return -1;
	fmt(e, sizeof(e), "%s/", c->wpath);
	for (i = 0; i < c->npats; i++)
		if (*c->wpath && !strncmp(c->pats[i].given, e, strlen(e)))
			logmsg(LOG_WARNING, "%s: warning: exclude '%s' begins "
			    "with wpath, but patterns are relative to wpath",
			    where, c->pats[i].given);
	return setdests(c, where);
}

/* -e and -x given with the config file override and extend it */
static int
applyargs(struct conf *c)
{
	int i;

	if (argdelay >= 0)
		c->edelay = argdelay;
	if (argpidfile) {
		free(c->pidfile);
		if (setpath(&c->pidfile, argpidfile, "-P") < 0)
			return -1;
	}
	for (i = 0; i < nargexcl; i++)
		if (setrexcludes(c, argexcl[i], "-x") < 0)
			return -1;
	return 0;
}

static int
loadconf(struct conf *c, const char *file)
{
	char where[PATH_MAX + 32];
	int n, r = 0;

	initconf(c);
	fmt(where, sizeof(where), "%s:0", file);
	if ((n = eachline(c, file, 0, parseline)) == -2)
		r = cerr(where, "%s", strerror(errno));
	else if (n < 0)
		r = -1;
	fmt(where, sizeof(where), "%s:%d", file, n);
	if (!r)
		r = applyargs(c);
	if (!r)
		r = checkconf(c, where);
	if (r)
		freeconf(c);
	c->file = file;
	return r;
}

/* the SRC DEST... form */
static int
argconf(struct conf *c, char **argv, int argc)
{
	const char *w = "command line";
	int i;

	initconf(c);
	if (setwpath(c, argv[0], w) < 0)
		return -1;
	for (i = 1; i < argc; i++)
		if (setrnodes(c, argv[i], w) < 0)
			return -1;
	if (applyargs(c) < 0)
		return -1;
	return checkconf(c, w);
}

/* room in an argv for the words baseargs() adds besides RSYNC_FLAGS and
 * rargs (7 at most: -s, -e and the shell for ssh), and for the most any
 * caller adds besides patterns and held files (mkargv 8, passargv 10,
 * each with the NULL) */
#define ARGVMAX 17

static const char *rsyncflags[] = { RSYNC_FLAGS };

/* an argv with room for ARGVMAX words and more */
static const char **
newargv(size_t more)
{
	return malloc((LEN(rsyncflags) + conf.nrargs + ARGVMAX + more) *
	    sizeof(char *));
}

/* the words every rsync for d begins with: the program, RSYNC_FLAGS,
 * rspeed, the log, the timeouts, the remote shell and rargs; how many.
 * Over ssh, -s: the paths go to the other rsync over the protocol, not
 * on a command line that the remote shell reads (rsync before 3.5.0
 * leaves a newline in a path there, which ends the command) */
static size_t
baseargs(const struct dest *d, const char **v)
{
	static char bw[32];
	size_t n = 0, i;

	v[n++] = conf.rsync;
	for (i = 0; i < LEN(rsyncflags); i++)
		v[n++] = rsyncflags[i];
	if (conf.rspeed) {
		fmt(bw, sizeof(bw), "--bwlimit=%ld", conf.rspeed);
		v[n++] = bw;
	}
	if (conf.logopt)
		v[n++] = conf.logopt;
	if (conf.rtimeout)
		v[n++] = conf.topt;
	if (conf.rtimeout && d->kind == DAEMON)
		v[n++] = conf.ctopt;
	if (d->kind == SHELL) {
		v[n++] = "-s";
		v[n++] = "-e";
		v[n++] = conf.rshopt + (JAILED(d) ? 0 : sizeof(JAILRSH));
	}
	for (i = 0; i < (size_t)conf.nrargs; i++)
		v[n++] = conf.rargv[i];
	return n;
}

static void
printms(const char *key, long ms)
{
	char frac[8];
	int n = fmt(frac, sizeof(frac), ".%03ld", ms % 1000);

	while (frac[n - 1] == '0')
		frac[--n] = '\0';
	out("%s = %ld%s\n", key, ms / 1000, n > 1 ? frac : "");
}

static void
printstr(const char *key, const char *v)
{
	if (v)
		out("%s = %s\n", key, v);
	else
		out("# %s (unset)\n", key);
}

/* rexcludes, each with its "- " when the pattern itself begins with
 * one, so that it reads back the same; then each rexcludefrom with its
 * patterns */
static void
printpats(const struct conf *c)
{
	const char *p;
	int i, f;

	for (f = 0; f <= c->nxfiles; f++) {
		if (f)
			out("rexcludefrom = %s\n", c->xfiles[f - 1]);
		for (i = 0; i < c->npats; i++) {
			p = c->pats[i].given;
			if (c->pats[i].from == f)
				out("%s%s%s\n", f ? "#   " : "rexcludes = ",
				    strncmp(p, "- ", 2) ? "" : "- ", p);
		}
	}
	if (!c->npats)
		out("# rexcludes (unset)\n");
}

/* key k of c, as it reads back the same */
static void
printkey(const struct conf *c, const struct key *k)
{
	const void *v = (const char *)c + k->off;
	char buf[EVNAMES];
	int i;

	switch (k->print) {
	case PSTR:
		printstr(k->name, *(char *const *)v);
		break;
	case PNUM:
		out("%s = %ld\n", k->name, *(const long *)v);
		break;
	case PMS:
		printms(k->name, *(const long *)v);
		break;
	case PWORD:
		out("%s = %s\n", k->name, keywords[k->max][*(const int *)v]);
		break;
	case PWPATH:
		printstr(k->name, *c->wpath ? c->wpath : "/");
		break;
	case PNODES:
		for (i = 0; i < c->nrnodes; i++)
			out("rnodes = %s\n", c->rnodes[i]);
		break;
	case PPATS:
		printpats(c);
		break;
	case PEMASK:
		out("emask =%s\n", evnames(c->emask, buf));
		break;
	case PRARGS:
		out(c->nrargs ? "rargs =" : "# rargs (unset)");
		for (i = 0; i < c->nrargs; i++)
			out(" %s", c->rargv[i]);
		out("\n");
		break;
	case PJAIL:
		if (!c->jail)
			out("rjail = no\n");
		for (i = 0; i < c->njails; i++)
			out("rjail = %s\n", c->jails[i]);
		if (c->jail && !c->njails)
			out("# rjail (unset)\n");
		break;
	}
}

/* -t: every key as keys[] has them, then what rsync is given */
static void
printconf(const struct conf *c)
{
	const struct key *k;
	int i;

	for (k = keys; k < keys + LEN(keys); k++)
		printkey(c, k);
	for (i = 0; i < c->nrnodes; i++)
		out("# destination %d: %s/ -> %s\n", i + 1, c->wpath, c->specs[i]);
}

/* ===== Batching policy ===== */

/* An event marks the directory it happened in as dirty, with one bit
 * per destination, and a thousand events in one directory are one mark;
 * the changed name is kept with the mark while the directory has few (at
 * most 1 KiB of them), so no event costs more than a short scan. The first
 * mark arms a deadline edelay seconds away. At the deadline each idle
 * destination gets a single rsync for all it owes, its list written,
 * NUL-separated, to rsync's stdin (--files-from=-): a directory with few
 * changed names as those names, which rsync copies or deletes, any other
 * as the directory, whose entries rsync sends while it deletes what is
 * gone. So one new file in a directory of 100,000 does not make rsync list
 * the 100,000. When too much is owed, after a queue overflow, at start and
 * on SIGUSR1, a destination gets one full recursive rsync instead (after
 * the sync of what it owes, where full syncs do not delete: rdelete =
 * running). */

/* The batching policy, each part in one place: whether a destination
 * owes work, when that work is due, when it may start. */

/* the events emask must have for the changed names to be all that changed
 * in a directory (IN_ATTRIB: a chmod or touch after the close); with fewer,
 * an event syncs its whole directory */
#define NAMEMASK (IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
                  IN_MOVED_TO | IN_ATTRIB)

static struct dirt *dirt;
static size_t ndirt, cdirt, allnames; /* allnames: bytes of every names */

/* d owes work: directories, or a full sync */
static int
owes(const struct dest *d)
{
	return d->pending || d->needfull;
}

/* d's owed work is due by t at the latest: edelay after the first change
 * owed, at once for a full sync or after a failure */
static void
dueby(struct dest *d, int64_t t)
{
	if (!d->due || d->due > t)
		d->due = t;
}

/* d may owe nothing now: then it has no deadline, and the next change
 * owed arms one edelay away */
static void
undue(struct dest *d)
{
	if (!owes(d))
		d->due = 0;
}

/* when d's owed work may start: when it is due, and not before the retry
 * after a failure */
static int64_t
startat(const struct dest *d)
{
	return d->due > d->retry ? d->due : d->retry;
}

static void
wantfull(void)
{
	int64_t t = now();
	int i;

	for (i = 0; i < ndests; i++) {
		dests[i].needfull = 1;
		dueby(&dests[i], t);
		if (!dests[i].owedsince)
			dests[i].owedsince = wall();
	}
}

/* dirty directories */

static uint32_t
alldests(void)
{
	return ndests == 32 ? 0xffffffffu : (1u << ndests) - 1;
}

static void
delrec(size_t i)
{
	free(dirt[i].names);
	allnames -= dirt[i].nlen;
	dirt[i].n->dslot = 0;
	dirt[i] = dirt[--ndirt];
	if (i < ndirt)
		dirt[i].n->dslot = i + 1;
}

static void
owe(struct dest *d)
{
	d->pending++;
	dueby(d, now() + conf.edelay);
	if (!d->owedsince)
		d->owedsince = wall();
}

/* r's whole directory is owed, not only some of its entries */
static void
whole(struct dirt *r)
{
	r->whole = 1;
	free(r->names);
	r->names = NULL;
	allnames -= r->nlen;
	r->nlen = 0;
}

/* name is owed in r, unless it already is or the whole directory is;
 * past NAMESMAX bytes of names in one directory, or NAMESALL in all, the
 * whole directory is owed instead */
static void
addname(struct dirt *r, const char *name)
{
	size_t len = strlen(name) + 1, k;
	char *p;

	if (r->whole)
		return;
	for (k = 0; k < r->nlen; k += strlen(r->names + k) + 1)
		if (!strcmp(r->names + k, name))
			return;
	if (r->nlen + len > NAMESMAX || allnames + len > NAMESALL ||
	    !(p = realloc(r->names, r->nlen + len))) {
		whole(r);
		return;
	}
	memcpy(p + r->nlen, name, len);
	r->names = p;
	r->nlen += len;
	allnames += len;
}

/* the destinations in bits owe n's entry name, or n whole if name is NULL:
 * rsync gets the changed names of a directory while they are few, so one
 * changed file in a huge directory does not make it list the directory */
static void
mark(struct node *n, const char *name, uint32_t bits)
{
	struct dirt *r;
	uint32_t fresh;
	int i;

	if (!bits)
		return;
	if (!n->dslot) {
		if (ndirt == cdirt) {
			if (!(r = realloc(dirt, (cdirt * 2 + 64) * sizeof(*r)))) {
				logmsg(LOG_ERR, "out of memory: falling back to full syncs");
				wantfull();
				return;
			}
			dirt = r;
			cdirt = cdirt * 2 + 64;
		}
		dirt[ndirt] = (struct dirt){ .n = n };
		n->dslot = ++ndirt;
	}
	r = &dirt[n->dslot - 1];
	if (!name)
		whole(r);
	else
		addname(r, name);
	fresh = bits & ~r->dirty;
	r->dirty |= bits;
	statuswant |= fresh != 0;
	for (i = 0; fresh; i++, fresh >>= 1)
		if (fresh & 1)
			owe(&dests[i]);
}

/* every destination owes top whole, and each directory below it: a walk
 * of the tree as it is, which changes nothing in it (a release of held
 * files may come in the middle of a walk of them) */
static void
markall(struct node *top)
{
	struct node *n = top;

	for (;;) {
		mark(n, NULL, alldests());
		if (n->child) {
			n = n->child;
			continue;
		}
		for (; n != top && !n->sibling; n = n->parent)
			;
		if (n == top)
			return;
		n = n->sibling;
	}
}

/* n is going away: nobody owes it any more (its parent is dirty) */
static void
undirt(struct node *n)
{
	uint32_t bits;
	int i;

	if (!n->dslot)
		return;
	bits = dirt[n->dslot - 1].dirty;
	for (i = 0; bits; i++, bits >>= 1) {
		if (bits & 1) {
			dests[i].pending--;
			undue(&dests[i]);
		}
	}
	delrec(n->dslot - 1);
}

/* what of its directory an event with a name makes owed: the name, unless
 * emask misses changes the names would not tell (then the directory) */
static const char *
named(const char *name)
{
	return (conf.emask & NAMEMASK) == NAMEMASK ? name : NULL;
}

/* the sync of d ended: forget what it sent, or owe it again */
static void
settle(struct dest *d, int failed)
{
	uint32_t bit = d->bit;
	size_t j;

	for (j = ndirt; j-- > 0;) {
		if (dirt[j].sent & bit) {
			dirt[j].sent &= ~bit;
			if (failed && !(dirt[j].dirty & bit)) {
				dirt[j].dirty |= bit;
				d->pending++;
			}
		}
		if (!dirt[j].dirty && !dirt[j].sent)
			delrec(j);
	}
}

/* ===== Watchers ===== */

/* inotify events the watch tree needs whatever emask says */
#define TREEMASK (IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF | \
                  IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* the events a watch asks for */
static uint32_t
wmask(void)
{
	return TREEMASK | (conf.emask & IN_ALL_EVENTS) |
	    (conf.wsettle ? IN_MODIFY | IN_CLOSE_WRITE : 0);
}

/* One fanotify mark on a filesystem (FAN_MARK_FILESYSTEM) reports every
 * change on all of it as the handle of the directory it happened in and
 * the entry's name (FAN_REPORT_DFID_NAME, Linux 5.9). So a directory is
 * watched with no kernel memory of its own and no limit on how many:
 * the tree holds its key (its handle, name_to_handle_at()) where
 * inotify's watch would be, and an event whose handle it does not hold
 * (the rest of the filesystem, an excluded directory) costs a hash
 * lookup. Each filesystem in wpath is marked when the walk first meets
 * it; the directories of one that takes no mark (overlayfs, FUSE, NFS,
 * ubifs, jffs2: no handles, or no fsid) are watched by inotify, as is
 * the whole tree where wpath's own takes none, where the daemon is not
 * root, on a kernel without fanotify, or with watcher = inotify. */

/* the kernel's ABI where musl 1.2.3's headers lack it, with the Linux
 * that gave it */
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000   /* 5.17, and 5.15.154, 5.10.220 */
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10 /* as FAN_RENAME */
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

/* a key: its handle's length, its filesystem (an index in fss[]), its
 * type, then the handle (8 bytes on ext4, 12 on tmpfs) */
#define KEYMAX (3 + 64)
#define KEYLEN(k) (3 + (k)[0])

static struct fs {              /* a filesystem in wpath the walk met */
	dev_t dev;
	int32_t fsid[2];        /* as events name it */
	int marked;             /* 0: inotify watches it */
} fss[FSMAX];
static int nfs;
static uint64_t fanmask;        /* what each mark asks for */
static int fanerr;              /* why the last key was not made */
static char watching[112];      /* "fanotify", or "inotify: " and why
                                 * not fanotify (WHYAT on) */
#define WHYAT 9
static int64_t fanat;           /* fanotify is read from then on, 0: now */
static int fanhit;              /* an event read since was in the tree */

/* the filesystem dev, met at the directory open as fd (path, for the
 * log), marked or left to inotify (one whose fsid another has, as events
 * name filesystems by it): its index in fss[], -1 if there is no room */
static int
fsof(int fd, dev_t dev, const char *path)
{
	struct fs *f = &fss[nfs];
	struct statfs sf;
	int i;

	for (i = 0; i < nfs; i++)
		if (fss[i].dev == dev)
			return i;
	if (nfs == FSMAX || fstatfs(fd, &sf) < 0)
		return -1;
	*f = (struct fs){ dev, { 0, 0 }, 0 };
	memcpy(f->fsid, &sf.f_fsid, sizeof(f->fsid));
	for (i = 0; i < nfs && memcmp(fss[i].fsid, f->fsid, sizeof(f->fsid)); i++)
		;
	while (i == nfs && !(f->marked = !fanotify_mark(ffd, FAN_MARK_ADD |
	    FAN_MARK_FILESYSTEM, fanmask, fd, ".")) && errno == EINVAL &&
	    fanmask & FAN_RENAME) {
		fanmask ^= FAN_RENAME | IN_MOVE;
		logmsg(LOG_WARNING, "no FAN_RENAME (Linux 5.17): no move placed");
	}
	fanerr = i < nfs ? EXDEV : errno; /* EXDEV: an fsid not its own */
	if (!f->marked && path)
		logmsg(LOG_WARNING, "fanotify cannot watch %s (%s): inotify "
		    "does", path, strerror(fanerr));
	return nfs++;
}

/* the key of the directory name in the one open as at ("": at itself),
 * opened without following a symlink, in key[KEYMAX]; 1 if made, 0 if
 * inotify is to watch it (fanerr says why), -1 if it cannot be opened */
static int
fankey(int at, const char *name, const char *path, unsigned char *key)
{
	union {
		struct file_handle h;
		unsigned char b[sizeof(struct file_handle) + KEYMAX];
	} u;
	struct stat st;
	int fd = at, mnt, i, k;

	if (ffd < 0)
		return 0;
	if (*name && (fd = openat(at, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	u.h.handle_bytes = KEYMAX - 3;
	k = !fstat(fd, &st) && (i = fsof(fd, st.st_dev, path)) >= 0 &&
	    fss[i].marked && !name_to_handle_at(fd, "", &u.h, &mnt, AT_EMPTY_PATH) &&
	    u.h.handle_type < 256;
	fanerr = k ? 0 : errno; /* EOPNOTSUPP: no handles (overlayfs) */
	if (k) {
		key[0] = u.h.handle_bytes;
		key[1] = i;
		key[2] = u.h.handle_type;
		memcpy(key + 3, u.h.f_handle, key[0]);
	}
	if (fd != at)
		close(fd);
	return k;
}

/* a filesystem marked has lost its mark: its superblock went (the
 * fanotify fd's fdinfo lists a mark a superblock, by its kernel dev), so
 * one mounted again (wpath's own, or a USB stick in it), with the same
 * dev to fsof(), is to be marked anew, with every other (a rescan) */
static int
fangone(void)
{
	char b[FSMAX * 80 + 256], name[32], mark[32];
	int i, k = 0;

	fmt(name, sizeof(name), "fdinfo/%d", ffd);
	if (ffd < 0 || procread("self", name, b, sizeof(b), 0) <= 0)
		return 0;
	for (i = 0; i < nfs && !k; i++) {
		fmt(mark, sizeof(mark), "sdev:%x ", major(fss[i].dev) << 20 | minor(fss[i].dev));
		k = fss[i].marked && !has(b, mark, 0);
	}
	return k;
}

/* fanotify for the tree, where watcher lets it and wpath's filesystem
 * takes a mark; else inotify alone, and watching says why (the start-up
 * line, -t and the status) */
static void
fanstart(void)
{
	unsigned char key[KEYMAX];
	const char *why = "";
	int ok = 0;

	closefd(&ffd);
	nfs = fanerr = 0;
	fanmask = (wmask() & IN_ALL_EVENTS & ~IN_MOVE) | FAN_RENAME | FAN_ONDIR;
	if (conf.watcher == WINOTIFY)
		why = "watcher = inotify";
	else if ((ffd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME |
	    FAN_NONBLOCK | FAN_CLOEXEC, O_RDONLY)) < 0)
		why = "fanotify_init", fanerr = errno;
	else if (!(ok = fankey(AT_FDCWD, conf.src, NULL, key) > 0))
		why = "wpath's filesystem";
	fmt(watching, sizeof(watching), ok ? "fanotify" : "inotify: %s%s%s", why,
	    fanerr ? ": " : "", fanerr ? strerror(fanerr) : "");
	if (!ok)
		closefd(&ffd);
}

/* ===== The watch tree ===== */

/* Every directory of the tree that is not excluded is watched (an
 * inotify watch, or its key held for fanotify) and has a node in a small
 * tree (struct node), found by its watch descriptor or key through one
 * hash. A new directory is scanned and synced whole, since files made in
 * it before its watch existed raise no event. */

static struct node *root;
static struct node **htab;      /* wd -> node, two to a bucket on average */
static size_t hsize, nnodes;
static int toldother;           /* a watch failure was logged this scan */

/* fanotify's key of n, after the name it was made with */
static const unsigned char *
nodekey(const struct node *n)
{
	const char *s = (const char *)(n + 1);

	return (const unsigned char *)s + strlen(s) + 1;
}

/* the node of inotify's wd, or of fanotify's key with wd its hash */
static struct node *
lookup(int wd, const unsigned char *key)
{
	struct node *n = hsize ? htab[(unsigned)wd & (hsize - 1)] : NULL;

	while (n && (n->wd != wd || (key && memcmp(key, nodekey(n), KEYLEN(key)))))
		n = n->hnext;
	return n;
}

/* a key's wd: below 0, so that no inotify watch has it (FNV-1a) */
static int
keyhash(const unsigned char *key)
{
	uint32_t h = 2166136261u;
	int i;

	for (i = 0; i < KEYLEN(key); i++)
		h = (h ^ key[i]) * 16777619u;
	return (int)(h | 0x80000000u);
}

static int
hgrow(void)
{
	size_t i, size = hsize ? hsize * 2 : 256;
	struct node **t, *n, *next;

	if (!(t = calloc(size, sizeof(*t))))
		return -1;
	for (i = 0; i < hsize; i++) {
		for (n = htab[i]; n; n = next) {
			next = n->hnext;
			n->hnext = t[(unsigned)n->wd & (size - 1)];
			t[(unsigned)n->wd & (size - 1)] = n;
		}
	}
	free(htab);
	htab = t;
	hsize = size;
	return 0;
}

static void
adopt(struct node *parent, struct node *n)
{
	n->parent = parent;
	n->moved = 0;
	if (parent) {
		n->sibling = parent->child;
		parent->child = n;
	}
}

static void
orphan(struct node *n)
{
	struct node **pp;

	if (!n->parent)
		return;
	for (pp = &n->parent->child; *pp != n; pp = &(*pp)->sibling)
		;
	*pp = n->sibling;
}

/* Nodes are cut from blocks of NODEBLOCK bytes, not malloc'd one by one:
 * with tens of thousands of directories malloc's rounding and headers
 * would cost a third of the memory. A freed node waits on a list of its
 * size, 8 bytes a step, for the next node of that size. */
static void *blocks;            /* every block, linked through its first
                                 * word; never freed (the tree lasts as
                                 * long as the daemon) nor read: it keeps
                                 * each block's start in reach, for leak
                                 * checkers (valgrind calls a block only
                                 * its nodes point into "possibly lost") */
static char *blk;               /* what is left of the newest */
static size_t blkleft;
static void *freenodes[(sizeof(struct node) + NAME_MAX + KEYMAX + 8) / 8 + 1];

/* the size of a node, from the name it was made with and its key */
static size_t
nodesize(const struct node *n)
{
	return (sizeof(*n) + strlen((const char *)(n + 1)) +
	    (n->wd < 0 ? KEYLEN(nodekey(n)) : 0) + 8) & ~(size_t)7;
}

static struct node *
nalloc(size_t len)
{
	size_t size = (sizeof(struct node) + len + 8) & ~(size_t)7;
	void **f, *p;

	if (size / 8 >= LEN(freenodes)) /* a name over NAME_MAX bytes (vfat) */
		return calloc(1, size);
	if ((p = *(f = &freenodes[size / 8]))) {
		*f = *(void **)p;
		return memset(p, 0, size);
	}
	if (blkleft < size) {
		if (!(p = calloc(1, NODEBLOCK)))
			return NULL;
		*(void **)p = blocks;
		blocks = p;
		blk = (char *)p + 16;
		blkleft = NODEBLOCK - 16;
	}
	p = blk;
	blk += size;
	blkleft -= size;
	return p;
}

static void
nfree(struct node *n)
{
	size_t k = nodesize(n) / 8;

	if (k >= LEN(freenodes)) {
		free(n);
		return;
	}
	*(void **)n = freenodes[k];
	freenodes[k] = n;
}

/* a node for parent's directory name, watched as wd, or by fanotify's
 * key if key */
static struct node *
newnode(struct node *parent, const char *name, int wd, const unsigned char *key)
{
	size_t len = strlen(name), kl = key ? KEYLEN(key) : 0;
	struct node *n, **b;

	if (nnodes >= 2 * hsize && hgrow() < 0)
		return NULL;
	if (!(n = nalloc(len + kl)))
		return NULL;
	n->name = (char *)(n + 1);
	memcpy(n->name, name, len + 1);
	if (key)
		memcpy(n->name + len + 1, key, kl);
	n->wd = key ? keyhash(key) : wd;
	adopt(parent, n);
	b = &htab[(unsigned)n->wd & (hsize - 1)];
	n->hnext = *b;
	*b = n;
	nnodes++;
	return n;
}

/* a watched directory renamed or moved within the tree; the name it was
 * made with stays after the node, which nodesize() reads */
static int
relink(struct node *n, struct node *parent, const char *name)
{
	char *s = (char *)(n + 1);

	if (strcmp(name, s) && !(s = strdup(name)))
		return -1;
	if (n->name != (char *)(n + 1))
		free(n->name);
	n->name = s;
	orphan(n);
	adopt(parent, n);
	return 0;
}

static struct node *
findchild(const struct node *parent, const char *name)
{
	struct node *n;

	for (n = parent->child; n && strcmp(n->name, name); n = n->sibling)
		;
	return n;
}

static int
isancestor(const struct node *a, const struct node *n)
{
	for (; n; n = n->parent)
		if (n == a)
			return 1;
	return 0;
}

/* n or a directory it is in is held back whole (holdwhole()) */
static int
covered(const struct node *n)
{
	for (; n; n = n->parent)
		if (n->held)
			return 1;
	return 0;
}

/* the lowest directory that a and b are both in (themselves included):
 * in steps as many as they are deep, however deep a user made them */
static struct node *
lca(struct node *a, struct node *b)
{
	const struct node *p;
	long k = 0;

	for (p = a; p->parent; p = p->parent)
		k++;
	for (p = b; p->parent; p = p->parent)
		k--;
	for (; k > 0; k--)
		a = a->parent;
	for (; k < 0; k++)
		b = b->parent;
	for (; a != b; b = b->parent)
		a = a->parent;
	return a;
}

/* path of n relative to wpath, "" for the root; -1 if longer than size */
static int
pathof(const struct node *n, char *buf, size_t size)
{
	const struct node *p;
	size_t len = 0, pos, l;

	for (p = n; p->parent; p = p->parent)
		len += strlen(p->name) + 1; /* the name, and a '/' or the NUL */
	if (len + !len > size)
		return -1;
	pos = len ? len - 1 : 0;
	buf[pos] = '\0';
	for (p = n; p->parent; p = p->parent) {
		l = strlen(p->name);
		pos -= l;
		memcpy(buf + pos, p->name, l);
		if (pos)
			buf[--pos] = '/';
	}
	return len ? (int)len - 1 : 0;
}

/* dir's path relative to wpath, then "/name" if name, in buf of size
 * bytes; -1 if it does not fit */
static int
relpath(const struct node *dir, const char *name, char *buf, size_t size)
{
	int n = pathof(dir, buf, size);
	size_t l = name ? strlen(name) : 0;

	if (n < 0 || n + (name && n) + l + 1 > size)
		return -1;
	if (name && n)
		buf[n++] = '/';
	memcpy(buf + n, name ? name : "", l + 1);
	return n + l;
}

/* the absolute path of dir/name (name may be NULL) in buf[PATH_MAX]; -1
 * if it does not fit */
static int
fullpath(const struct node *dir, const char *name, char *buf)
{
	size_t w = strlen(conf.wpath);
	int n;

	if (!dir)
		return fmt(buf, PATH_MAX, "%s", *conf.wpath ? conf.wpath : "/");
	if (w + 2 > PATH_MAX ||
	    (n = relpath(dir, name, buf + w + 1, PATH_MAX - w - 1)) < 0)
		return -1;
	memcpy(buf, conf.wpath, w);
	buf[w] = '/';
	if (!n && w)
		buf[w] = '\0';
	return w + 1 + n;
}

/* lstat() of dir's entry name (of dir if name is NULL) into st: 0, or -1
 * (errno) */
static int
statin(const struct node *dir, const char *name, struct stat *st)
{
	char path[PATH_MAX];

	return fullpath(dir, name, path) < 0 ? -1 : lstat(path, st);
}

/* append dir's entry name to the list *l (*len bytes of *cap), or with
 * name NULL dir itself as "dir/" (its entries, deleting what is gone);
 * each begins with "./", or rsync would skip one beginning with '#' or
 * ';' as a comment. -1: out of memory, or a path longer than PATH_MAX,
 * which only a full sync covers */
static int
listadd(char **l, size_t *len, size_t *cap, const struct node *dir,
    const char *name)
{
	char path[PATH_MAX + 4], *p;
	int n = relpath(dir, name, path + 2, PATH_MAX);

	if (n < 0)
		return -1;
	memcpy(path, "./", 2);
	n += 2;
	if (!name && n > 2)
		path[n++] = '/';
	path[n++] = '\0';
	if (*len + n > *cap) {
		if (!(p = realloc(*l, *cap * 2 + n + 4096)))
			return -1;
		*l = p;
		*cap = *cap * 2 + n + 4096;
	}
	memcpy(*l + *len, path, n);
	*len += n;
	return 0;
}

static int
excludedin(const struct node *dir, const char *name, int isdir)
{
	char path[PATH_MAX];

	if (!conf.npats)
		return 0;
	if (!conf.needpath)
		return excluded(name, isdir);
	/* too long for rsync too: not excluded, so full syncs cover it */
	return relpath(dir, name, path, sizeof(path)) >= 0 && excluded(path, isdir);
}

/* a directory left unwatched: say why, and repair it with full syncs */
static void
unwatched(const char *path, int err)
{
	static int toldspc;

	if (err == ENOSPC && !toldspc)
		logmsg(LOG_ERR, "cannot watch %s: the inotify watch limit is "
		    "reached; raise fs.inotify.max_user_watches. Until then a "
		    "full sync runs every %d s", path, RESCAN_MS / 1000);
	else if (err != ENOSPC && !toldother)
		logmsg(LOG_WARNING, "cannot watch %s: %s (others not said); a "
		    "full sync runs every %d s", path, strerror(err), RESCAN_MS / 1000);
	toldother |= err != ENOSPC;
	toldspc |= err == ENOSPC;
	degraded = 1;
	if (!rescanat)
		rescanat = now() + RESCAN_MS;
}

/* an entry of dir whose absolute path is longer than PATH_MAX: named by
 * the deepest ancestor whose path still fits */
static void
toolong(const struct node *dir)
{
	char path[PATH_MAX], what[PATH_MAX + 64];

	while (dir->parent && fullpath(dir, NULL, path) < 0)
		dir = dir->parent;
	if (fullpath(dir, NULL, path) < 0)
		fmt(path, sizeof(path), "%s", conf.src);
	fmt(what, sizeof(what), "a directory under %s", path);
	unwatched(what, ENAMETOOLONG);
}

static int noproc;              /* no /proc/self/fd: watches go by path */

/* watch dir/name, the root if dir is NULL; at >= 0: name is an entry of
 * the directory open as fd at, dir's own (scan()), and is watched through
 * it, so that no symlink swapped in on the way since is followed */
static struct node *
watch(struct node *dir, const char *name, int at)
{
	char path[PATH_MAX], via[NAME_MAX + 32];
	unsigned char key[KEYMAX];
	struct node *n;
	int wd = -1, k;

	if (fullpath(dir, name, path) < 0) {
		toolong(dir);
		return NULL;
	}
	if (at >= 0 && !noproc)
		fmt(via, sizeof(via), "/proc/self/fd/%d/%s", at, name);
	k = fankey(at >= 0 ? at : AT_FDCWD, at >= 0 ? name : path, path, key);
	if (!k)
		wd = inotify_add_watch(ifd, at >= 0 && !noproc ? via : path, wmask());
	if (k < 0 || (!k && wd < 0)) {
		if (dir && errno != ENOENT && errno != ENOTDIR)
			unwatched(path, errno);
		return NULL; /* the root's callers say why */
	}
	if ((n = k ? lookup(keyhash(key), key) : lookup(wd, NULL))) {
		/* known: moved here from elsewhere in the tree */
		if (n == root || isancestor(n, dir) || relink(n, dir, name) < 0)
			return NULL;
		return n;
	}
	if (!(n = newnode(dir, dir ? name : "", wd, k ? key : NULL))) {
		if (!k)
			inotify_rm_watch(ifd, wd);
		errno = ENOMEM;
		if (dir)
			unwatched(path, ENOMEM);
	}
	return n;
}

/* the node of the directory open as fd: its key, or re-adding the
 * watch through /proc/self/fd/N gives the wd of the one its inode has;
 * NULL for one not watched (whose new watch goes again) or without /proc
 * (noproc) */
static struct node *
nodeof(int fd)
{
	unsigned char key[KEYMAX];
	char p[32];
	int wd, k = fankey(fd, "", NULL, key);

	if (k)
		return k > 0 ? lookup(keyhash(key), key) : NULL;
	fmt(p, sizeof(p), "/proc/self/fd/%d", fd);
	if ((wd = inotify_add_watch(ifd, p, wmask() & ~IN_DONT_FOLLOW)) < 0) {
		noproc = errno == ENOENT;
		return NULL;
	}
	if (!lookup(wd, NULL))
		inotify_rm_watch(ifd, wd);
	return lookup(wd, NULL);
}

/* fd is the directory n watches, not one a symlink swapped in on the way
 * since leads to (its own watch would be another); without /proc, taken
 * to be */
static int
ours(int fd, const struct node *n)
{
	const struct node *m = nodeof(fd);

	return m ? m == n : noproc;
}

/* lstat() of dir's entry name (of dir if name is ".") into st, as
 * statin(), but in the directory dir watches, not one a symlink swapped
 * in on its path leads to: 0, or -1 */
static int
statours(const struct node *dir, const char *name, struct stat *st)
{
	char path[PATH_MAX];
	int fd, k = -1;

	if (fullpath(dir, NULL, path) >= 0 &&
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		if (ours(fd, dir))
			k = fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW);
		close(fd);
	}
	return k;
}

/* The one forward declaration: the watch tree and held writes use each
 * other. A held file is named by its directory's node and path (Held
 * writes comes after the tree it uses), and a node that goes takes its
 * held files with it (drop), but for those that stall rsync. */
static void forgetunclosed(const struct node *n);

static void
drop(struct node *n, int rm)
{
	while (n->child)
		drop(n->child, rm);
	if (rm && ifd >= 0 && n->wd >= 0)
		inotify_rm_watch(ifd, n->wd);
	orphan(n);
	for (struct node **pp = &htab[(unsigned)n->wd & (hsize - 1)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			break;
		}
	}
	nnodes--;
	undirt(n);
	forgetunclosed(n);
	if (n->name != (char *)(n + 1))
		free(n->name);
	if (n == root)
		root = NULL;
	nfree(n);
}

/* watch the subdirectories of dir; push them on *stack. One that is
 * excluded but watched was moved here from a place it was not excluded
 * (mv y x, /x/cache excluded): it loses its watch and subtree, since
 * rsync would copy what changes in it (it does not check the parents of
 * a --files-from name against the excludes) */
static void
scan(struct node *dir, struct node ***stack, size_t *n, size_t *cap)
{
	char path[PATH_MAX];
	struct entries r = { .k = 0 };
	struct dirent *e;
	struct node *c, **s;
	struct stat st;
	int fd;

	if (fullpath(dir, NULL, path) < 0) {
		toolong(dir);
		return;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		if (errno != ENOENT && errno != ENOTDIR && errno != ELOOP)
			unwatched(path, errno);
		return;
	}
	if (!ours(fd, dir)) {
		close(fd);
		return;
	}
	while ((e = nextentry(fd, &r))) {
		if (e->d_type != DT_DIR && (e->d_type != DT_UNKNOWN ||
		    fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode)))
			continue;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (excludedin(dir, e->d_name, 1)) {
			if ((c = findchild(dir, e->d_name)))
				drop(c, 1);
			continue;
		}
		if (!(c = watch(dir, e->d_name, fd)))
			continue;
		if (*n == *cap) {
			if (!(s = realloc(*stack, (*cap * 2 + 64) * sizeof(*s)))) {
				errno = ENOMEM;
				r.k = -1;
				break;
			}
			*stack = s;
			*cap = *cap * 2 + 64;
		}
		(*stack)[(*n)++] = c;
	}
	if (r.k < 0)
		unwatched(path, errno);
	close(fd);
}

/* watch everything under top; mark each directory for the bits */
static void
addtree(struct node *top, uint32_t bits)
{
	struct node **stack = NULL, *d;
	size_t n = 0, cap = 0, done = 0;

	scan(top, &stack, &n, &cap);
	mark(top, NULL, bits);
	while (n) {
		d = stack[--n];
		mark(d, NULL, bits);
		scan(d, &stack, &n, &cap);
		if (++done % 10000 == 0)
			logmsg(LOG_DEBUG, "watching %zu directories", nnodes);
	}
	free(stack);
}

/* a directory name appeared in n (made, moved in, or shown by a mount):
 * watch it, and sync it whole, since what was made in it before its watch
 * raised no event */
static void
newdir(struct node *n, const char *name)
{
	struct node *c;

	mark(n, named(name), alldests());
	if ((c = watch(n, name, -1)))
		addtree(c, alldests());
}

/* Seen deletions under rdelete = running, whose full syncs delete
 * nothing: what a destination owes is never folded into a full sync, or
 * a deletion seen would be lost. spawnsync() runs the incremental sync of
 * it first, and the full one right after; where the tree is built anew
 * (a rescan, the source held, a reload) what is owed is kept as paths,
 * then owed again in the new tree. */

static struct kept {            /* a destination's owed paths, as its list */
	char *s;
	size_t len, cap;
} kept[MAXDESTS];

/* c's incremental syncs delete, its full ones do not */
static int
seendel(const struct conf *c)
{
	return (c->rdelete & (DELSEEN | DELFULL)) == DELSEEN;
}

/* before the tree goes, if c (the config that syncs next) deletes only
 * what is seen: keep what each destination owes, and what its running
 * sync has, which may yet fail (what cannot be kept, for want of memory,
 * only the full sync covers) */
static void
keepowed(const struct conf *c)
{
	const struct dirt *r;
	struct kept *l;
	uint32_t bits;
	size_t j, k;

	for (j = 0; j < ndirt && seendel(c); j++) {
		r = &dirt[j];
		for (l = kept, bits = r->dirty | r->sent; bits; l++, bits >>= 1) {
			if (!(bits & 1))
				continue;
			if (r->whole)
				listadd(&l->s, &l->len, &l->cap, r->n, NULL);
			for (k = 0; k < r->nlen; k += strlen(r->names + k) + 1)
				listadd(&l->s, &l->len, &l->cap, r->n, r->names + k);
		}
	}
}

/* owe destination bit again the entry e of a kept list ("./PATH" or
 * "./DIR/"), in the deepest directory of its way that is still watched */
static void
reoweone(const char *e, uint32_t bit)
{
	char buf[PATH_MAX + 4], *s, *c;
	struct node *n = root, *k;
	size_t l = fmt(buf, sizeof(buf), "%s", e + 2);
	int whole = !l || buf[l - 1] == '/';

	if (l && whole)
		buf[l - 1] = '\0';
	for (s = buf; *s; s = c) {
		c = s + strcspn(s, "/");
		if (*c)
			*c++ = '\0';
		if ((!*c && !whole) || !(k = findchild(n, s))) {
			mark(n, named(s), bit);
			return;
		}
		n = k;
	}
	mark(n, NULL, bit);
}

/* the tree is built anew: what was kept is owed again */
static void
reowe(void)
{
	struct kept *l;
	size_t k;

	for (l = kept; root && l < kept + MAXDESTS; l++) {
		for (k = 0; k < l->len; k += strlen(l->s + k) + 1)
			reoweone(l->s + k, 1u << (l - kept));
		free(l->s);
		*l = (struct kept){ NULL, 0, 0 };
	}
}

/* a reload to c: what the running config owes goes to the destination
 * of c with the same spec, if c mirrors the same wpath and deletes only
 * what is seen (whatever the running one did: its deletions seen are
 * owed); else it is dropped, since c says so */
static void
carry(const struct conf *c)
{
	struct kept k[MAXDESTS] = { { NULL, 0, 0 } };
	int i, j;

	keepowed(c);
	while (ndirt)
		delrec(ndirt - 1);
	for (i = 0; i < conf.nrnodes; i++) {
		for (j = 0; j < c->nrnodes && (k[j].s ||
		    strcmp(conf.specs[i], c->specs[j])); j++)
			;
		if (j < c->nrnodes && seendel(c) && !strcmp(conf.wpath, c->wpath))
			k[j] = kept[i];
		else
			free(kept[i].s);
	}
	memcpy(kept, k, sizeof(k));
}

/* forget the tree and build it again, keeping what is owed where full
 * syncs do not delete; then every destination syncs fully */
static void
rescan(void)
{
	int fd, was = degraded;

	rescanning = degraded = toldother = 0;
	rescanat = 0;
	statuswant = 1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		unwatched(conf.src, errno);
		wantfull();
		return;
	}
	if (ifd >= 0)
		close(ifd);
	ifd = fd;
	keepowed(&conf);
	if (root)
		drop(root, 0);
	fanstart();
	if ((root = watch(NULL, NULL, -1))) {
		addtree(root, 0);
		reowe();
	} else {
		unwatched(conf.src, errno);
	}
	wantfull();
	if (was && !degraded)
		logmsg(LOG_INFO, "all %zu directories are watched again", nnodes);
}

/* ===== Held writes ===== */

/* Files being written. A regular file created or modified is left out of
 * the syncs until it is closed (IN_CLOSE_WRITE) or has been open wsettle
 * ms, so that a mirror never shows it half written; then it is owed as
 * any change. What gets no close (a hard link, a symlink, mknod) is never
 * held: only a new regular file with one link is taken for one being
 * written. One renamed within the tree while open stays held under its
 * new name. Kept in a small array: a handful are open at once (and at
 * most HELDMAX / 2 files that stall rsync, held as these are). */

struct unclosed {               /* a file held back: being written, or
                                 * one that stalls rsync, or a directory */
	struct node *n;         /* its directory */
	char *name;             /* "": n itself, held whole (holdwhole()) */
	int64_t since;
	uint32_t mask;          /* the events held back with it */
	uid_t uid;              /* its owner, who may hold HELDUSER at most */
	int stall;              /* held as one that stalls rsync (holdstall()) */
	int64_t check;          /* when to look again whether it is still
	                         * open for writing (STILLOPEN), 0: never */
};

/* an event bit of our own, beside inotify's: the file was open for
 * writing when its event, fanotify's, was read (fanto()) */
#define STILLOPEN 0x1000
CHECK(stillopen_is_no_event, !(STILLOPEN & (IN_ALL_EVENTS | IN_UNMOUNT |
    IN_Q_OVERFLOW | IN_IGNORED | IN_ISDIR)));

/* The rename pairing. A rename within the tree is an IN_MOVED_FROM and
 * an IN_MOVED_TO of one cookie; the first is kept here until the second
 * comes, in one of PENDMOVES records, since other renames' events may
 * come between the two. A file being written that moved is held where
 * it lands (unclosedevent()), and not placed; a move that may be placed
 * is recorded from it (moved()); each reads what the other wrote there,
 * in whichever order event() calls them. A directory keeps a mark of its
 * own (struct node's moved), since a rename out of the tree has no
 * second. */
static struct pending {
	uint32_t cookie;        /* the IN_MOVED_FROM's; 0: paired, or none */
	uint32_t bits;          /* the destinations that may place it */
	size_t len;             /* of s */
	char s[PATH_MAX];       /* "FROMDIR\0FROM\0" (see struct move) */
	struct unclosed held;   /* it was being written; name NULL if not */
} pend[PENDMOVES];

static struct unclosed *unclosed;
static size_t nunclosed;

static struct unclosed *
findunclosed(const struct node *n, const char *name)
{
	struct unclosed *u;

	for (u = unclosed; u < unclosed + nunclosed; u++)
		if (u->n == n && !strcmp(u->name, name))
			return u;
	return NULL;
}

/* u is closed, gone (the events of mask), or held long enough: owe it
 * if emask has any of its events (a directory held whole: all below it) */
static void
release(struct unclosed *u, uint32_t mask)
{
	if (!*u->name) { /* a directory held whole: all below it is owed */
		u->n->held = 0;
		markall(u->n);
	} else if ((u->mask | mask) & conf.emask) {
		mark(u->n, named(u->name), alldests());
	}
	free(u->name);
	*u = unclosed[--nunclosed];
	statuswant = 1; /* held_files */
}

/* n is going away: its files' holds go with it (its parent is owed),
 * but for one that stalls rsync, which stays as a hold of n's name in
 * its parent: a user who removes the directory each time still has
 * theirs counted, and merged past HELDSTALL */
static void
forgetunclosed(const struct node *n)
{
	size_t i;
	char *s;

	for (i = nunclosed; i-- > 0;) {
		if (unclosed[i].n != n)
			continue;
		s = unclosed[i].stall && n->parent ? strdup(n->name) : NULL;
		free(unclosed[i].name);
		if ((unclosed[i].name = s))
			unclosed[i].n = n->parent;
		else
			unclosed[i] = unclosed[--nunclosed];
	}
}

/* a new entry name of n that is a regular file with one link: one that is
 * being written, not a link, a symlink or a device */
static int
isnewfile(const struct node *n, const char *name)
{
	struct stat st;

	return statin(n, name, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_nlink == 1;
}

/* n's entry name may be held: its owner holds fewer than HELDUSER files,
 * so that no user can hold back more, however many files it truncates;
 * or, for a file that stalls rsync (stall), fewer than HELDSTALL such are
 * held, past which they merge, or fewer than HELDMAX / 2 where one cannot
 * (stall 2), so that they leave half the room to the files being written.
 * One already gone by the time its event is read (renamed on) counts as
 * of an owner of its own, (uid_t)-1. */
static int
mayhold(const struct node *n, const char *name, uid_t *uid, int stall)
{
	struct stat st;
	size_t i, k = 0;

	*uid = statin(n, name, &st) == 0 ? st.st_uid : (uid_t)-1;
	for (i = 0; i < nunclosed; i++)
		k += stall ? unclosed[i].stall : unclosed[i].uid == *uid;
	return k < (stall > 1 ? HELDMAX / 2 : stall ? HELDSTALL : HELDUSER);
}

/* name in n left out of every sync from since on, held with the events
 * in mask, as one that stalls rsync if stall (2: where it cannot merge);
 * 0 if it cannot be (HELDMAX, memory, or mayhold()) */
static int
holdback(struct node *n, const char *name, uint32_t mask, int64_t since,
    int stall)
{
	struct unclosed *p;
	uid_t uid;

	if (nunclosed == HELDMAX || !mayhold(n, name, &uid, stall) ||
	    !(p = realloc(unclosed, (nunclosed + 1) * sizeof(*p))))
		return 0;
	unclosed = p;
	if (!(p[nunclosed].name = strdup(name)))
		return 0;
	p[nunclosed].n = n;
	p[nunclosed].mask = mask;
	p[nunclosed].uid = uid;
	p[nunclosed].stall = stall != 0;
	p[nunclosed].check = 0;
	p[nunclosed++].since = since;
	statuswant = 1;
	return 1;
}

/* n's file name is open for writing now: a read lease, which the kernel
 * refuses while it is, cannot be had (a brief one: its close ends it).
 * n is fanotify's, and reached by its handle (open_by_handle_at()) on
 * the filesystem its path leads to: the directory the event was in,
 * whatever a user swapped in on that path, in a few system calls however
 * deep it is, where a walk of the path without following a symlink would
 * take one a directory (a user's deep tree would make each event cost
 * thousands) */
static int
writing(const struct node *n, const char *name)
{
	union {
		struct file_handle h;
		unsigned char b[sizeof(struct file_handle) + KEYMAX];
	} u;
	const unsigned char *key = nodekey(n);
	char path[PATH_MAX];
	struct stat st;
	int dir = -1, fd = -1, w = 0;

	if (n->wd >= 0)
		return 0; /* inotify's: no merged close */
	u.h.handle_bytes = key[0];
	u.h.handle_type = key[2];
	memcpy(u.h.f_handle, key + 3, key[0]);
	if (fullpath(n, NULL, path) >= 0 &&
	    (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		dir = open_by_handle_at(fd, &u.h, O_PATH | O_DIRECTORY | O_CLOEXEC);
	closefd(&fd);
	errno = 0; /* as openreg() leaves it for a name that is no regular file */
	if (dir >= 0 && (fd = openreg(dir, name, &st)) >= 0)
		w = fcntl(fd, F_SETLEASE, F_RDLCK) < 0 && errno == EAGAIN;
	else
		w = dir >= 0 && errno == ENOENT; /* renamed: held where it lands */
	closefd(&fd);
	closefd(&dir);
	return w;
}

/* an event on file name of n while wsettle holds files being written:
 * 1 if it is held back, 0 if it is owed now */
static int
unclosedevent(struct node *n, const char *name, uint32_t mask, struct pending *p)
{
	struct unclosed *u = findunclosed(n, name);
	int64_t since = now(), check = mask & STILLOPEN ? since + CLOSECHECK_MS : 0;

	if (u && u->stall)
		return 1; /* it stalled rsync: held wsettle whatever comes, so
		           * that a user who removes or renames it at once
		           * still has it counted (HELDSTALL) */
	if (mask & (IN_CREATE | IN_MODIFY | IN_ATTRIB) && u && !(mask & IN_CLOSE_WRITE)) {
		u->mask |= mask;
		u->check = check ? check : u->check;
		return 1;
	}
	if (u && mask & IN_MOVED_FROM) { /* its old name is owed, as gone */
		if (mask & conf.emask)
			mark(n, named(name), alldests());
		p->held = *u; /* held where it lands */
		*u = unclosed[--nunclosed];
		return 1;
	}
	if (u) { /* closed or deleted */
		release(u, mask);
		return 1;
	}
	if (mask & IN_MOVED_TO && p && p->held.name) {
		mask = p->held.mask; /* still being written, under its new name */
		since = p->held.since;
		check = p->held.check;
	} else if (mask & IN_CLOSE_WRITE || !(mask & IN_MODIFY ||
	    (mask & IN_CREATE && isnewfile(n, name)))) {
		return 0; /* a close, alone or with the writes before it */
	}
	if (!holdback(n, name, mask, since, 0))
		return 0;
	unclosed[nunclosed - 1].check = check;
	return 1;
}

/* unclosed[i] is looked at again (STILLOPEN): released if no longer
 * open for writing, since its close came already */
static void
recheck(size_t i)
{
	unclosed[i].check = 0;
	if (!writing(unclosed[i].n, unclosed[i].name))
		release(&unclosed[i], IN_CLOSE_WRITE);
}

/* unclosed[i], held wsettle ms: owed as it is now, and said if a file */
static void
overdue(size_t i)
{
	char path[PATH_MAX];

	if (relpath(unclosed[i].n, unclosed[i].name, path, sizeof(path)) < 0)
		fmt(path, sizeof(path), "%s", unclosed[i].name);
	if (*unclosed[i].name) /* not a directory held whole */
		logmsg(LOG_INFO, "/%s still open after %ld s: syncing it as it is",
		    path, conf.wsettle / 1000);
	release(&unclosed[i], 0);
}

/* "--exclude=- /PATH", NUL-separated, of each file held back while it is
 * written, so that no sync sends it half written, not even one of its
 * whole directory or a full one (rsync's --delete spares what is
 * excluded), and of each that stalls rsync; a directory held whole is
 * "PATH/" then "***", itself and all below it, since rsync sends a
 * --files-from name below an excluded directory. PATH's wildcards are
 * escaped where the rule has any, since rsync then matches with them,
 * and only then. NULL: out of memory. */
static char *
unclosedopts(size_t *len)
{
	char path[PATH_MAX], *b;
	size_t i, k, size = 1;
	int wild, n;

	for (i = 0; i < nunclosed; i++) /* each byte escaped at most */
		size += 17 + 2 * (strlen(unclosed[i].name) + 1 +
		    pathof(unclosed[i].n, path, sizeof(path)));
	if (!(b = malloc(size)))
		return NULL;
	for (*len = i = 0; i < nunclosed; i++) {
		if ((n = relpath(unclosed[i].n, unclosed[i].name, path, sizeof(path))) < 0)
			continue;
		*len += fmt(b + *len, 14, "--exclude=- /");
		wild = strpbrk(path, "*?[") || !*unclosed[i].name;
		for (k = 0; k < (size_t)n; k++) {
			if (wild && strchr("*?[\\", path[k]))
				b[(*len)++] = '\\';
			b[(*len)++] = path[k];
		}
		if (!*unclosed[i].name)
			*len += fmt(b + *len, 4, "***");
		b[(*len)++] = '\0';
	}
	return b;
}

/* a file being written is in dir, whose path is relative to wpath */
static int
heldin(const char *dir)
{
	char path[PATH_MAX];
	size_t i, l = strlen(dir);

	for (i = 0; i < nunclosed; i++)
		if (relpath(unclosed[i].n, unclosed[i].name, path, sizeof(path)) < 0 ||
		    (!strncmp(path, dir, l) && path[l] == '/'))
			return 1;
	return 0;
}

/* ===== Moves ===== */

/* Moves. An entry moved within the tree (an IN_MOVED_FROM and the
 * IN_MOVED_TO of its cookie, both outside the excludes) is placed at
 * each destination before that destination's next sync, from the copy
 * it has at the old path, so that the data does not cross the wire or
 * get written again: a local destination renames the copy, any other
 * gets an rsync of the new path with the old one as --link-dest (a hard
 * link where the name is the same; --copy-dest, a copy, where rdelete
 * keeps the old path or rargs have --inplace: the old path must share
 * no inode with the new one) and as --fuzzy's basis (a delta of
 * nothing). Where rdelete keeps old paths a local destination places
 * nothing (only a hard link would spare the copy), nor does one where
 * rargs have an option that placing cannot agree with there (see
 * rargopts[]). Placing is only a head start: the sync that follows has
 * both paths as any change, and puts right whatever was not placed. A
 * move is placed only at the destinations that owe nothing on the way
 * to either path, so that they hold there what the source held at their
 * last sync: real directories, none a symlink that placing would follow
 * out of the mirror. */

struct move {                   /* an entry moved within the tree */
	char *s;                /* "FROMDIR\0FROM\0TODIR\0TO\0", each
	                         * directory relative to wpath ("" for it) */
	size_t len;
	uint32_t owed;          /* destinations where it is still to place */
	uint32_t given;         /* destinations whose running mover has it */
	int isdir;
	dev_t dev;              /* what moved, as the event showed it: the */
	ino_t ino;              /* mover places nothing else */
};

static struct move *moves;
static size_t nmoves, allmoves; /* allmoves: bytes of every s */
static unsigned long renames;   /* renames inside wpath seen (metrics) */

/* the destinations that place moves at all */
static uint32_t
placers(void)
{
	uint32_t bits = 0;
	int i;

	for (i = 0; i < ndests; i++)
		if (!(conf.noplace & 1u << dests[i].kind) &&
		    (dests[i].kind != LOCAL || conf.rdelete & DELSEEN))
			bits |= dests[i].bit;
	return bits;
}

/* the destinations that owe nothing of dir/name or of a directory above
 * it; dir NULL: wpath's own, which none owes */
static uint32_t
settled(const struct node *dir, const char *name)
{
	uint32_t bits = alldests();
	const struct dirt *r;
	size_t k;

	for (; dir; name = dir->name, dir = dir->parent) {
		if (!dir->dslot)
			continue;
		r = &dirt[dir->dslot - 1];
		for (k = 0; k < r->nlen; k += strlen(r->names + k) + 1)
			if (!strcmp(r->names + k, name))
				break;
		if (r->whole || k < r->nlen)
			bits &= ~(r->dirty | r->sent);
	}
	return bits;
}

/* the directory at path may be placed whole: no exclude pattern that
 * depends on where a path is (anchored, or with a '/') may match in it,
 * since the rsync that places it is rooted there, and a rename takes all
 * it holds along; an anchored literal one elsewhere does not matter */
static int
placeable(const char *path)
{
	size_t l = strlen(path);
	const struct pat *p;

	for (p = conf.pats; p < conf.pats + conf.npats; p++) {
		if (!(p->anchored || p->slashes || p->wild2))
			continue;
		if (!p->anchored || p->wild ||
		    (!strncmp(p->s, path, l) && p->s[l] == '/'))
			return 0;
	}
	return 1;
}

static void
addmove(const char *from, size_t flen, const struct node *n,
    const char *name, const struct stat *st, uint32_t bits)
{
	char to[PATH_MAX];
	int tl = pathof(n, to, sizeof(to));
	size_t nl = strlen(name) + 1, len = flen + tl + 1 + nl;
	struct move *m;
	char *s;

	if (tl < 0 || nmoves == MOVESMAX || allmoves + len > MOVESALL ||
	    !(m = realloc(moves, (nmoves + 1) * sizeof(*m))))
		return;
	moves = m;
	if (!(s = malloc(len)))
		return;
	memcpy(s, from, flen);
	memcpy(s + flen, to, tl + 1);
	memcpy(s + flen + tl + 1, name, nl);
	moves[nmoves++] = (struct move){ s, len, bits, 0, S_ISDIR(st->st_mode),
	    st->st_dev, st->st_ino };
	allmoves += len;
}

/* the destinations where the way to n's entry name is settled. A file
 * is an entry of the rsync that places it, which replaces whatever it
 * meets there, so only the way to n matters, not what n owes: a thousand
 * files moved out of n leave n owing names past NAMESMAX, which says
 * nothing of n itself */
static uint32_t
wayto(const struct node *n, const char *name, int isdir)
{
	return isdir ? settled(n, name) : settled(n->parent, n->name);
}

/* path names nothing but itself at the other end: the rsync that places
 * a move names its directories, and the remote rsync (also with -s) or
 * daemon expands * ? [ ] and \ as a glob ("[a]" is "a", and ".[.]" is
 * ".." to dash), and a control character may end a command line there */
static int
plainpath(const char *s)
{
	while ((unsigned char)*s >= 0x20 && *s != 0x7f && !strchr("*?[]\\", *s))
		s++;
	return !*s;
}

/* an IN_MOVED_FROM or IN_MOVED_TO in n, p its record in the pairing,
 * before it marks anything: the first keeps its old path there; the
 * second records what is at the new path now, which alone is placed. A
 * move whose old or new path is not plain is not kept, and goes as any
 * new entry */
static void
moved(const struct node *n, const struct ev *ev, int isdir,
    struct pending *p)
{
	char path[PATH_MAX];
	uint32_t bits;
	struct stat st;
	int l;

	if (ev->mask & IN_MOVED_TO && p)
		renames++, statuswant = 1;
	if ((conf.emask & IN_MOVE) != IN_MOVE ||
	    relpath(n, ev->name, path, sizeof(path)) < 0 || !plainpath(path) ||
	    (isdir && !placeable(path)) ||
	    (!isdir && (findunclosed(n, ev->name) || (p && p->held.name))) ||
	    covered(n))
		return; /* being written, or in a directory held: it stays held */
	if (ev->mask & IN_MOVED_TO) {
		if (p && (bits = p->bits & wayto(n, ev->name, isdir)) &&
		    statin(n, ev->name, &st) == 0 && !S_ISDIR(st.st_mode) == !isdir)
			addmove(p->s, p->len, n, ev->name, &st, bits);
		return;
	}
	l = pathof(n, p->s, sizeof(p->s));
	if (l < 0 || l + 2 + strlen(ev->name) > sizeof(p->s))
		return;
	memcpy(p->s + l + 1, ev->name, strlen(ev->name) + 1);
	p->len = l + 2 + strlen(ev->name);
	p->bits = wayto(n, ev->name, isdir) & placers();
}

/* the destinations in bits will not have the moves placed; a move none
 * has left to place goes */
static void
forgetmoves(uint32_t bits)
{
	size_t i, k = 0;

	for (i = 0; i < nmoves; i++) {
		moves[i].owed &= ~bits;
		if (moves[i].owed || moves[i].given) {
			moves[k++] = moves[i];
			continue;
		}
		allmoves -= moves[i].len;
		free(moves[i].s);
	}
	nmoves = k;
}

/* something happened to n's entry name: if it is where an entry moved,
 * the move is not placed, since what is there may no longer be what
 * moved (made anew, swapped, written again: a mirror must not show it
 * half written, nor keep the old content under the new name because
 * size and time agree); the sync sends it */
static void
unmove(const struct node *n, const char *name)
{
	char dir[PATH_MAX];
	const char *p;
	size_t i;
	int l = -2;

	for (i = 0; i < nmoves; i++) {
		p = moves[i].s + strlen(moves[i].s) + 1;
		p += strlen(p) + 1; /* the new directory, then the new name */
		if (strcmp(p + strlen(p) + 1, name))
			continue;
		if (l == -2)
			l = pathof(n, dir, sizeof(dir));
		if (l < 0 || !strcmp(p, dir))
			moves[i].owed = 0;
	}
	if (l != -2) /* some move of that name: let go of those unowed */
		forgetmoves(0);
}

/* the moves destination bit still has to place, now its mover's: how many */
static unsigned
givemoves(uint32_t bit)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < nmoves; i++) {
		if (!(moves[i].owed & bit))
			continue;
		moves[i].owed &= ~bit;
		moves[i].given |= bit;
		n++;
	}
	return n;
}

/* Placing moves, in a child of the daemon (the mover), so that a
 * destination slow to answer holds up nothing else: it places at one
 * destination, in their order, the moves given to it, then exits. */

/* the four parts of m: from directory and name, to directory and name */
static void
parts(const struct move *m, const char *p[4])
{
	int k;

	p[0] = m->s;
	for (k = 1; k < 4; k++)
		p[k] = p[k - 1] + strlen(p[k - 1]) + 1;
}

/* what moved is still at its new path in the source (src): the inode
 * the event showed, reached without following a symlink; its stat in st */
static int
stillthere(int src, const struct move *m, struct stat *st)
{
	const char *p[4];
	int fd, ok;

	parts(m, p);
	if ((fd = openpath(src, p[2])) < 0)
		return 0;
	ok = fstatat(fd, p[3], st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st->st_dev == m->dev && st->st_ino == m->ino;
	close(fd);
	return ok;
}

/* place m at the local destination root by a rename: only if what moved
 * is still there in the source (src), its copy at the old path is of its
 * type and, unless a directory, of its size and mtime, and no directory
 * on either way is a symlink */
static int
localmove(int root, int src, const struct move *m)
{
	const char *p[4];
	struct stat o, c;
	int from, to, rc = -1;

	parts(m, p);
	from = openpath(root, p[0]);
	to = openpath(root, p[2]);
	if (from >= 0 && to >= 0 && fstatat(from, p[1], &o, AT_SYMLINK_NOFOLLOW) == 0 &&
	    stillthere(src, m, &c) && (o.st_mode & S_IFMT) == (c.st_mode & S_IFMT) &&
	    (S_ISDIR(c.st_mode) ||
	    (o.st_size == c.st_size && o.st_mtim.tv_sec == c.st_mtim.tv_sec &&
	    o.st_mtim.tv_nsec == c.st_mtim.tv_nsec)))
		rc = renameat(from, p[1], to, p[3]);
	if (from >= 0)
		close(from);
	if (to >= 0)
		close(to);
	return rc;
}

/* base, then "/" unless it ends in '/' or ':', then rel and "/" if rel
 * is not ""; malloc'd */
static char *
under(const char *base, const char *rel)
{
	size_t l = strlen(base), size = l + strlen(rel) + 3;
	char *s = malloc(size);

	if (s)
		fmt(s, size, "%s%s%s%s", base, l && !strchr("/:", base[l - 1]) ?
		    "/" : "", rel, *rel ? "/" : "");
	return s;
}

/* "--link-dest=", or "--copy-dest=" where a hard link would share its
 * inode with an old path that stays (rdelete) or may come back (NOLINK),
 * with olddir as seen from newdir (both relative to the destination's
 * top), as rsync takes it; malloc'd */
static char *
altdest(const char *newdir, const char *olddir)
{
	size_t up = *newdir != '\0', size, n;
	const char *p;
	char *s;

	for (p = newdir; *p; p++)
		up += *p == '/';
	size = 13 + 3 * up + strlen(olddir);
	if (!(s = malloc(size)))
		return NULL;
	n = fmt(s, size, conf.rdelete & DELSEEN && !(conf.noplace & NOLINK) ?
	    "--link-dest=" : "--copy-dest=");
	while (up--)
		n += fmt(s + n, size - n, "../");
	fmt(s + n, size - n, "%s", olddir);
	return s;
}

/* rsync's arguments to place at d moved entries under newdir from their
 * copies under olddir: the names on its stdin if files, else newdir
 * whole (with the exclude patterns not tied to where a path is: those
 * are what placeable() let by) */
static char **
passargv(const struct dest *d, const char *newdir, const char *olddir, int files)
{
	const char **v = newargv(conf.npats);
	const struct pat *p;
	size_t n;

	if (!v)
		return NULL;
	n = baseargs(d, v);
	if (files) {
		v[n++] = "--fuzzy"; /* twice: in the old directory too */
		v[n++] = "--fuzzy";
		v[n++] = "--from0";
		v[n++] = "--files-from=-";
	}
	if (strcmp(newdir, olddir) && !(v[n++] = altdest(newdir, olddir)))
		return NULL;
	v[n++] = "--ignore-missing-args";
	/* symlinks carry no data and are the sync's: rooted below the top, a
	 * daemon without chroot would cut a target's "../" short */
	v[n++] = "--no-links";
	for (p = conf.pats; !files && p < conf.pats + conf.npats; p++)
		if (!p->anchored)
			v[n++] = p->opt;
	if (!(v[n++] = under(conf.src, newdir)) || !(v[n++] = under(d->spec, newdir)))
		return NULL;
	v[n] = NULL;
	return (char **)v;
}

/* in the mover: run argv with list (len bytes) on its stdin; its exit
 * status, or -1 */
static int
forkwait(char **argv, const char *list, size_t len)
{
	size_t off = 0;
	ssize_t n = 0;
	pid_t pid;
	int p[2], io[3] = { -1, -1, -1 }, st;

	if (!argv || pipe2(p, O_CLOEXEC) < 0)
		return -1;
	io[0] = p[0];
	pid = spawn(argv, io, NULL, NULL);
	close(p[0]);
	while (pid > 0 && off < len && (n = write(p[1], list + off, len - off)) > 0)
		off += n;
	close(p[1]);
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* place at d the moved files from moves[i] on that have its two
 * directories and are still there in the source (src), with one rsync;
 * *j: the first move after them */
static int
passfiles(const struct dest *d, int src, size_t i, size_t *j)
{
	const char *p[4], *q[4];
	char *list = NULL, *l;
	size_t len = 0, nl;
	struct stat st;
	int gone = 0, rc;

	parts(&moves[i], p);
	for (*j = i; *j < nmoves; ++*j) {
		parts(&moves[*j], q);
		if (!(moves[*j].given & d->bit))
			continue;
		if (moves[*j].isdir || strcmp(p[0], q[0]) || strcmp(p[2], q[2]))
			break;
		if (!stillthere(src, &moves[*j], &st) && ++gone)
			continue;
		nl = strlen(q[3]) + 3;
		if (!(l = realloc(list, len + nl)))
			return -1;
		list = l;
		len += fmt(list + len, nl, "./%s", q[3]) + 1;
	}
	if (!len)
		return 1;
	return (rc = forkwait(passargv(d, p[2], p[0], 1), list, len)) ? rc : gone;
}

/* place at d the moved directory m whole, from what its copy at the old
 * path holds, if it is still there in the source (src) */
static int
passdir(const struct dest *d, int src, const struct move *m)
{
	const char *p[4];
	char *to, *from;
	struct stat st;

	parts(m, p);
	if (!(to = cat3(p[2], *p[2] ? "/" : "", p[3])) ||
	    !(from = cat3(p[0], *p[0] ? "/" : "", p[1])) || heldin(to) ||
	    !stillthere(src, m, &st))
		return -1;
	return forkwait(passargv(d, to, from, 0), NULL, 0);
}

/* rsync's exit codes that say the destination cannot be reached now:
 * the mover stops at the first, as each rsync after it would wait as long */
static int
unreachable(int code)
{
	return code == 5 || code == 10 || code == 12 || code == 30 ||
	    code == 35 || code == 255;
}

/* in the mover: place at d the moves given to it (with PASSMAX rsyncs at
 * most), then exit, 0 if every one was placed */
static void
mover(const struct dest *d)
{
	const struct move *m;
	int root = -1, src, rc = 0, r, passes = 0;
	size_t i, j;

	if ((src = open(conf.src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d->kind == LOCAL &&
	    (root = open(d->spec, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
		_exit(1);
	for (i = 0; i < nmoves; i = j) {
		m = &moves[i];
		j = i + 1;
		if (!(m->given & d->bit))
			continue;
		if (root >= 0)
			r = localmove(root, src, m) != 0;
		else if (++passes > PASSMAX)
			r = 1;
		else if (m->isdir)
			r = passdir(d, src, m);
		else
			r = passfiles(d, src, i, &j);
		if (unreachable(r))
			_exit(r);
		rc |= r != 0;
	}
	_exit(rc);
}

/* d's mover ended with code: its moves are done with, placed or not,
 * and its sync is next, as it was due */
static void
placed(struct dest *d, int code)
{
	size_t k;

	for (k = 0; k < nmoves; k++)
		moves[k].given &= ~d->bit;
	forgetmoves(0);
	logmsg(LOG_INFO, code ? "%s: %u move%s tried in %lld ms, not all placed: "
	    "the sync sends the rest" : "%s: %u move%s placed in %lld ms",
	    d->spec, d->moving, d->moving == 1 ? "" : "s",
	    (long long)(now() - d->run.start));
	d->nplaced += code ? 0 : d->moving;
	d->moving = 0;
	d->placed = 1;
	statuswant = 1;
}

/* ===== The jail ===== */

/* Whatever a user who may write in wpath swaps in, root acts only on what
 * it saw: every rsync and mover runs in a jail (a mount namespace that
 * shows wpath, the destination and what rsync needs, nothing root alone
 * may read), the remote shell runs outside it through a relay, the
 * daemon reaches directories without following a symlink, and a sync
 * whose rsync waits in open() on a FIFO swapped in or a user's lease
 * starts again without that file, which is held back (see unjam()). */

/* The jail. rsync's sender follows a symlink in a path it is given
 * itself (readlinkat, then openat along the target), so a user who can
 * swap a directory of wpath for a symlink between an event and the sync
 * could have root's rsync send whatever root may read. So every rsync
 * and mover runs in a mount namespace of its own whose root, a tmpfs on
 * CTLDIR made read-only once built, holds wpath (read-only) and the
 * local destination at their own paths, what rsync needs to run (/usr,
 * /bin, /lib..., a few files of /etc and /dev), the paths rjail names,
 * and nothing else: no /root, /home or keys, and no /proc, whose
 * /proc/1/root leads out. The remote shell needs keys, so it runs
 * outside: the jailed rsync runs our own program as its remote shell
 * (the relay, JAILRSH), which hands its arguments and fds through a
 * socket to the child outside that made the jail, and that one runs the
 * real remote shell with them. */

#define RELAYFD 3               /* the relay's socket in the jail */
#define RELAYMAX 65536          /* bytes of the relay's arguments at most */

static char selfexe[PATH_MAX];  /* our own program: the jail's relay */

/* what every jail shows of the host, read-only, each path ending in a
 * NUL; those missing are left out */
static const char jailsys[] =
	"/usr\0/bin\0/sbin\0/lib\0/lib32\0/lib64\0/libx32\0"
	"/etc/passwd\0/etc/group\0/etc/nsswitch.conf\0/etc/hosts\0"
	"/etc/resolv.conf\0/etc/services\0/etc/ld.so.cache\0/etc/localtime\0"
	"/dev/null\0/dev/zero\0/dev/random\0/dev/urandom\0";

/* path made in the jail's root, the current directory: its directories,
 * and itself as a directory or an empty file to mount on */
static int
jailmk(const char *path, int dir)
{
	char p[PATH_MAX], *s;
	int fd;

	if (fmt(p, sizeof(p), ".%s", path) >= (int)sizeof(p))
		return -1;
	for (s = p + 2; (s = strchr(s, '/')); *s++ = '/') {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -1;
	}
	if (dir)
		return mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
	if ((fd = open(p, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644)) < 0)
		return -1;
	return close(fd);
}

/* the host's from shown at to in the jail, read-only unless rw; a
 * top-level symlink (/bin -> usr/bin) made again; a missing from left out */
static int
jailat(const char *from, const char *to, int rw)
{
	char p[PATH_MAX], t[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (lstat(from, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	fmt(p, sizeof(p), ".%s", to);
	if (S_ISLNK(st.st_mode) && !strchr(from + 1, '/')) {
		if ((n = readlink(from, t, sizeof(t) - 1)) < 0)
			return -1;
		t[n] = '\0';
		return symlink(t, p) < 0 && errno != EEXIST ? -1 : 0;
	}
	if (stat(from, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (jailmk(to, S_ISDIR(st.st_mode)) < 0 ||
	    mount(from, p, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	return rw ? 0 : mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY |
	    (S_ISCHR(st.st_mode) ? MS_NOSUID : MS_NOSUID | MS_NODEV), NULL);
}

/* path (absolute), a directory (a local destination, resolved when the
 * config was read) or a file (rsync's log), shown writable at its place
 * in the jail, and reached without following a symlink: a user who may
 * write on its way and swaps in a symlink since has the sync fail, not
 * root's rsync write where it leads. rsync makes the last directory of a
 * destination, and its log file; so does this. Without the directory
 * above it, rsync says so in the jail, as outside. */
static int
jailown(const char *path, int dir)
{
	char p[PATH_MAX], *base = p;
	int at = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;

	fmt(p, sizeof(p), "%s", path + 1);
	if (strrchr(p, '/')) {
		base = strrchr(p, '/');
		*base++ = '\0';
		at = openpath(at, p);
	}
	if (at < 0)
		return errno == ENOENT ? 0 : -1;
	if (dir && mkdirat(at, base, 0755) < 0 && errno != EEXIST)
		return -1;
	fd = dir ? openat(at, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) :
	    openat(at, base, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0644);
	if (!dir && (fd < 0 || !plainfile(fd))) {
		/* the log swapped for a symlink or a FIFO by a user who may
		 * write beside it: rsync logs to nothing rather than fail or
		 * block on it, and says so */
		fmt(p, sizeof(p), "%s is no regular file: not logged to\n", path);
		if (write(2, p, strlen(p)) < 0)
			return -1;
		return jailat("/dev/null", path, 1);
	}
	if (fd < 0)
		return -1;
	fmt(p, sizeof(p), "/proc/self/fd/%d", fd);
	return jailat(p, path, 1);
}

/* what rsync writes besides the destination: its log file, and the
 * paths of rjail, as writable as they are; and wpath, read-only */
static int
jailrw(const struct dest *d)
{
	int i;

	if (conf.logfile && jailown(conf.logfile, 0) < 0)
		return -1;
	for (i = 0; i < conf.njails; i++)
		if (jailat(conf.jails[i], conf.jails[i], 1) < 0)
			return -1;
	if (jailat(conf.src, conf.src, 0) < 0)
		return -1;
	if (d->kind == LOCAL)
		return jailown(d->spec, 1);
	return d->kind == SHELL ? jailat(selfexe, RELAY, 0) : 0;
}

/* the exclude rules (each word of held and every pattern, without its
 * "--exclude="), NUL-separated, in the jail's /.x for --exclude-from */
static int
jailx(const char *held, size_t hlen)
{
	size_t i, l;
	int fd, ok;

	if ((fd = open(".x", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	ok = 1;
	for (i = 0; ok && i < (size_t)conf.npats; i++) {
		l = strlen(conf.pats[i].opt + 10) + 1;
		ok = write(fd, conf.pats[i].opt + 10, l) == (ssize_t)l;
	}
	for (i = 0; ok && i < hlen; i += l) {
		l = strlen(held + i) + 1;
		ok = write(fd, held + i + 10, l - 10) == (ssize_t)(l - 10);
	}
	return close(fd) == 0 && ok ? 0 : -1;
}

/* the jail's root, the current directory, becomes its namespace's root,
 * and the copy of every other mount that unshare() made is let go: a
 * jail pins no filesystem it does not show, so a disk unmounted outside
 * while a sync runs (a USB stick taken away) is released and written out
 * at once, not when the sync ends. Where the root cannot be pivoted
 * (rootfs, an initramfs), or the old one not let go (a sandbox that
 * refuses umount2(): trynamespace() tells), the jail is a chroot, which
 * shows the same and keeps the copy. */
static int chrootjail;

static int
pivot(void)
{
	if (chrootjail || syscall(SYS_pivot_root, ".", ".") < 0)
		return chroot(".");
	return umount2(".", MNT_DETACH);
}

/* in a child: a mount namespace of its own with an empty tmpfs on
 * CTLDIR, the current directory, to build a jail in */
static int
newjail(void)
{
	return unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("inosync", CTLDIR, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
	    chdir(CTLDIR) < 0 ? -1 : 0;
}

/* in a child: into a jail of its own for d, with held's exclude rules */
static void
enterjail(const struct dest *d, const char *held, size_t hlen)
{
	const char *s;

	if (newjail() < 0)
		childfail("make a jail on", CTLDIR);
	for (s = jailsys; *s; s += strlen(s) + 1)
		if (jailat(s, s, 0) < 0)
			childfail("show in the jail", s);
	if (jailat(conf.rsync, conf.rsync, 0) < 0 || jailrw(d) < 0)
		childfail("fill the jail for", d->spec);
	if (jailx(held, hlen) < 0 ||
	    mount(NULL, CTLDIR, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0 ||
	    pivot() < 0 || chdir("/") < 0)
		childfail("close the jail on", CTLDIR);
}

/* the NUL-separated words in args (len bytes) as an argv: the remote
 * shell and its arguments, as the jailed rsync split them */
static char **
words(char *args, size_t len)
{
	size_t n = 1, k;
	char **v;

	for (k = 0; k < len; k++)
		n += !args[k];
	if (!(v = calloc(n, sizeof(*v))))
		return NULL;
	for (n = k = 0; k < len; k += strlen(args + k) + 1)
		v[n++] = args + k;
	return v;
}

/* the child outside an ssh destination's jail, whose first process is
 * g: run the real remote shell for each relay inside, with the relay's
 * arguments and fds, and answer with its exit status; once nothing in the
 * jail holds the socket, exit as g did. SIGTERM is the jail's to heed:
 * this one outlives it, so that the daemon's kill still finds the group. */
static void
serverelay(int s, pid_t g)
{
	static char buf[RELAYMAX + 1];
	union { struct cmsghdr h; char b[CMSG_SPACE(3 * sizeof(int))]; } cm;
	struct iovec iov = { buf, RELAYMAX };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	char **argv;
	int io[3], st, w, gw = 0, gone = 0, k;
	ssize_t n;
	pid_t pid, p = 0;

	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	for (;;) {
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		if ((n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC)) <= 0)
			break;
		io[0] = io[1] = io[2] = -1;
		if (mh.msg_controllen >= CMSG_LEN(sizeof(io)) && cm.h.cmsg_type == SCM_RIGHTS)
			memcpy(io, CMSG_DATA(&cm.h), sizeof(io));
		buf[n] = '\0';
		pid = io[2] >= 0 && (argv = words(buf, n)) ? spawn(argv, io, NULL, NULL) : -1;
		for (k = 0; k < 3; k++)
			closefd(&io[k]);
		/* a remote shell that outlives the jail's rsync (a wedged
		 * peer) is of no more use: it goes */
		while (pid > 0 && (p = waitpid(-1, &w, 0)) != pid && p != -1) {
			if (p == g) {
				gw = w;
				gone = 1;
				kill(pid, SIGKILL);
			}
		}
		st = p == pid && WIFEXITED(w) ? WEXITSTATUS(w) : 255;
		if (gone || send(s, &st, sizeof(st), MSG_NOSIGNAL) < 0)
			break;
	}
	while (!gone && waitpid(g, &gw, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(gw)) {
		signal(WTERMSIG(gw), SIG_DFL);
		raise(WTERMSIG(gw));
	}
	_exit(WIFEXITED(gw) ? WEXITSTATUS(gw) : 127);
}

/* inosync --rsh ARGS: the remote shell of a jailed rsync. It hands ARGS
 * and its fds 0-2 to the child outside (serverelay), and exits as the
 * real remote shell did. */
static void
relay(int argc, char **argv)
{
	static char buf[RELAYMAX];
	union { struct cmsghdr h; char b[CMSG_SPACE(3 * sizeof(int))]; } cm;
	struct iovec iov = { buf, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.b, .msg_controllen = sizeof(cm.b) };
	int io[3] = { 0, 1, 2 }, st = 255, i;
	size_t l;

	for (i = 0; i < argc; i++) {
		if ((l = strlen(argv[i]) + 1) > RELAYMAX - iov.iov_len)
			_exit(255);
		memcpy(buf + iov.iov_len, argv[i], l);
		iov.iov_len += l;
	}
	cm.h.cmsg_level = SOL_SOCKET;
	cm.h.cmsg_type = SCM_RIGHTS;
	cm.h.cmsg_len = CMSG_LEN(sizeof(io));
	memcpy(CMSG_DATA(&cm.h), io, sizeof(io));
	if (!argc || sendmsg(RELAYFD, &mh, MSG_NOSIGNAL) < 0)
		_exit(255);
	close(0);
	close(1);
	if (read(RELAYFD, &st, sizeof(st)) != sizeof(st))
		st = 255;
	_exit(st);
}

/* in a child of forkchild(): rsync (argv), or the mover (NULL), jailed
 * where the daemon can jail; an ssh destination's jail is made by a
 * child of this one, which stays outside for the relay */
struct job { const struct dest *d; char **argv; const char *held; size_t hlen; };

static void
childmain(void *arg)
{
	const struct job *j = arg;
	int sv[2];
	pid_t g = -1;

	if (JAILED(j->d) && j->d->kind == SHELL) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
		    (g = newproc()) < 0)
			childfail("start", "the relay");
		if (g > 0) {
			close(sv[1]);
			serverelay(sv[0], g);
		}
		if (dup2(sv[1], RELAYFD) != RELAYFD || fcntl(RELAYFD, F_SETFD, 0) < 0)
			childfail("start", "the relay");
		relayfd = RELAYFD;
		closeabove(RELAYFD + 1);
	}
	if (JAILED(j->d))
		enterjail(j->d, j->held, j->hlen);
	if (!j->argv)
		mover(j->d);
	execargv(j->argv);
}

/* in a child: can it make a jail (exit 0), only a chroot one (2)? */
static void
trynamespace(void *arg)
{
	(void)arg;
	_exit(newjail() < 0 ? 1 : pivot() < 0 ? 2 : 0);
}

/* at start: may children be jailed? Not without root, /proc (which
 * names our program, the relay), CTLDIR or mount namespaces, nor for
 * wpath /, which a jail would show whole; said once. Nor may an ssh
 * destination's where our program cannot be run as the relay (an
 * emulator runs it: rsync could not) */
static void
probejail(void)
{
	static const int io[3] = { -1, -1, -1 };
	char *relay[] = { selfexe, "--rsh", NULL };
	const char *why = NULL;
	ssize_t n = 0;
	pid_t pid;
	int st;

	jailok = chrootjail = 0; /* the probe tries a pivot anew */
	if (!conf.jail || pretend) /* pretend: commands to paste as they are */
		return;
	if (geteuid())
		why = "it runs as a user other than root";
	else if (!*conf.wpath)
		why = "wpath is /";
	else if ((n = readlink("/proc/self/exe", selfexe, sizeof(selfexe) - 1)) <= 0)
		why = "no /proc/self/exe";
	else if (owndir(CTLDIR))
		why = "no directory " CTLDIR " of its own to make jails on";
	else if ((pid = spawn(NULL, io, trynamespace, NULL)) < 0 ||
	    waitpid(pid, &st, 0) != pid || st & ~(2 << 8)) /* exit 0 or 2 */
		why = "no mount namespaces";
	if (why) {
		logmsg(LOG_WARNING, "rsync runs unjailed: %s (see rjail in "
		    "inosync(8))", why);
		return;
	}
	selfexe[n] = '\0';
	chrootjail = st;
	jailok = 1 << LOCAL | 1 << DAEMON;
	/* the relay with no arguments exits 255 */
	if ((pid = spawn(relay, io, NULL, NULL)) > 0 && waitpid(pid, &st, 0) == pid &&
	    WIFEXITED(st) && WEXITSTATUS(st) == 255)
		jailok |= 1 << SHELL;
	else
		logmsg(LOG_WARNING, "rsync to ssh destinations runs unjailed: "
		    "%s does not run here as its remote shell", selfexe);
}

/* ===== ssh masters ===== */

/* ssh connection reuse. Each ssh that rsync runs becomes a control
 * master or goes through one (ControlMaster=auto), so a sync does not
 * pay a new handshake. The masters detach and outlive their rsync; their
 * sockets are in CTLDIR/PID-START, a directory of ours, mode 0700, never
 * in /tmp, named by the daemon's pid and start time, so that a later
 * daemon with the same pid cannot take a killed one's masters, made
 * under another config, for its own. On exit and before a reload applies
 * each is asked to exit (ssh -O exit), since a new config may log in
 * otherwise; a short ControlPersist instead would cost a new handshake
 * after every pause. A killed daemon's are asked at the next start. */

/* ssh -S SOCKET -O exit to each master in the directory dir, one after
 * the other within KILLWAIT_MS, then its socket removed, so that no ssh
 * finds a master on its way out */
static void
closemasters(const char *dir)
{
	char prog[LINEMAX], sock[sizeof(ctldir) + NAME_MAX + 1];
	char *argv[] = { prog, "-S", sock, "-O", "exit", "inosync", NULL };
	int64_t until = now() + KILLWAIT_MS;
	struct timespec ts = { 0, 100000000 };
	struct dirent *e;
	sigset_t chld;
	pid_t pid;
	int io[3], r;
	DIR *dp;

	if (!*dir || !(dp = opendir(dir)))
		return;
	io[0] = io[1] = io[2] = open("/dev/null", O_RDWR | O_CLOEXEC);
	fmt(prog, sizeof(prog), "%s", RSH(&conf));
	prog[strcspn(prog, " \t")] = '\0';
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		fmt(sock, sizeof(sock), "%s/%s", dir, e->d_name);
		pid = spawn(argv, io, NULL, NULL);
		for (r = 0; pid > 0 && !(r = waitpid(pid, NULL, WNOHANG)) &&
		    now() < until;)
			sigtimedwait(&chld, NULL, &ts);
		if (pid > 0 && !r && kill(pid, SIGKILL) == 0)
			waitpid(pid, NULL, 0);
		unlink(sock);
	}
	closedir(dp);
	if (io[0] >= 0)
		close(io[0]);
}

/* "PID-START" of process pid ("self" too) in buf[size]: fields 1 and 22
 * of /proc/PID/stat, its pid and start time since boot, which no other
 * process has had; -1 if it does not run, or there is no /proc */
static int
procname(const char *pid, char *buf, size_t size)
{
	char st[STATLEN];
	const char *s = statfield(pid, 22, st);
	size_t l, k;

	if (!s || (l = strcspn(st, " ")) + (k = strcspn(s, " ")) + 2 > size)
		return -1;
	memcpy(buf, st, l);
	buf[l] = '-';
	memcpy(buf + l + 1, s, k);
	buf[l + 1 + k] = '\0';
	return 0;
}

/* the directories in CTLDIR of daemons of ours that no longer run
 * (killed, so nobody closed their masters): their masters are asked to
 * exit, then they go */
static void
rmstale(void)
{
	char d[sizeof(ctldir)], id[48], pid[16];
	struct dirent *e;
	struct stat st;
	size_t n;
	DIR *dp;

	if (!(dp = opendir(CTLDIR)))
		return;
	while ((e = readdir(dp))) {
		n = strspn(e->d_name, "0123456789");
		if (!n || n >= sizeof(pid) || e->d_name[n] != '-' ||
		    fmt(d, sizeof(d), "%s/%s", CTLDIR, e->d_name) >= (int)sizeof(d) ||
		    lstat(d, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
			continue;
		memcpy(pid, e->d_name, n);
		pid[n] = '\0';
		if (procname(pid, id, sizeof(id)) == 0 && !strcmp(id, e->d_name))
			continue; /* its daemon runs */
		closemasters(d);
		rmdir(d);
	}
	closedir(dp);
}

/* at start and after a reload: the directory, if ssh destinations may
 * reuse connections and it is not there yet */
static void
mkctldir(void)
{
	char d[sizeof(ctldir)], id[48], *o;
	const char *why, *bad = CTLDIR;
	int i;

	for (i = 0; i < ndests && dests[i].kind != SHELL; i++)
		;
	if (*ctldir || pretend || i == ndests || !reusable(RSH(&conf)))
		return;
	if (procname("self", id, sizeof(id)) < 0)
		why = "no /proc/self/stat to name a directory by";
	else if (fmt(d, sizeof(d), "%s/%s", CTLDIR, id) >= (int)sizeof(d))
		why = "too long a path for ssh's control sockets";
	else if (!(why = owndir(CTLDIR))) {
		rmstale();
		why = owndir(bad = d);
	}
	if (why) {
		logmsg(LOG_WARNING, "%s: %s: each ssh sync makes a new "
		    "connection", bad, why);
		return;
	}
	memcpy(ctldir, d, sizeof(d));
	if ((o = rshopt(&conf))) {
		free(conf.rshopt);
		conf.rshopt = o;
	}
}

/* ===== rhook ===== */

/* rhook DEST STATUS KIND, after a sync; one at a time for a destination,
 * so a sync that ends while the last one's rhook runs has its own after it */
static void
starthook(struct dest *d, int code, int full)
{
	static const int io[3] = { -1, -1, -1 };
	char st[16], *argv[5];
	pid_t pid;

	if (!conf.rhook || pretend)
		return;
	d->hookwait = d->hook.pid != 0;
	d->hookcode = code;
	d->hookfull = full;
	if (d->hook.pid)
		return;
	fmt(st, sizeof(st), "%d", code);
	argv[0] = conf.rhook;
	argv[1] = (char *)d->spec;
	argv[2] = st;
	argv[3] = full ? "full" : "incremental";
	argv[4] = NULL;
	if ((pid = spawn(argv, io, NULL, NULL)) < 0) {
		logmsg(LOG_ERR, "%s: cannot run rhook: %s", d->spec, strerror(errno));
		return;
	}
	d->hook.pid = pid;
	d->hook.start = now();
	d->hook.killed = 0;
}

/* a reaped child that was no rsync: log a failed rhook, run the next */
static void
reaphook(pid_t pid, int st)
{
	struct dest *d;
	int i;

	for (i = 0; i < ndests && dests[i].hook.pid != pid; i++)
		;
	if (i == ndests)
		return;
	d = &dests[i];
	d->hook.pid = 0;
	if (st && !d->hook.killed)
		logmsg(LOG_WARNING, "%s: rhook %s failed (%s %d)", d->spec,
		    conf.rhook ? conf.rhook : "", WIFEXITED(st) ? "exit" : "signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	if (d->hookwait && !quitting && !newconf)
		starthook(d, d->hookcode, d->hookfull);
}

/* when a running rhook is killed: rtimeout, or HOOKWAIT_MS without one */
static int64_t
hookend(const struct dest *d)
{
	return d->hook.start + (conf.rtimeout ? conf.rtimeout * 1000 : HOOKWAIT_MS);
}

static void
killhook(struct dest *d, int64_t t)
{
	stopchild(&d->hook, SIGKILL);
	logmsg(LOG_WARNING, "%s: rhook %s killed after %lld s", d->spec,
	    conf.rhook, (long long)(t - d->hook.start + 500) / 1000);
}

/* ===== Children ===== */

/* rsync and the mover for each destination, started by spawnsync() and
 * ended by reap(). A failing destination is retried with growing back-off
 * and never holds back the others. */

static int64_t jamat;           /* next look for a child's process stuck
                                 * on a FIFO (see unjam()) */

/* rsync's exit codes and its man page's words for them: each code (its
 * decimal value in the comment) as the character before its words; a
 * table of pointers would take 0.3 KB more */
static const char exits[] =
	"\001" "syntax or usage error\0" /* 1 */
	"\002" "protocol incompatibility\0" /* 2 */
	"\003" "errors selecting input/output files, dirs\0" /* 3 */
	"\004" "requested action not supported\0" /* 4 */
	"\005" "error starting client-server protocol\0" /* 5 */
	"\006" "daemon unable to append to log-file\0" /* 6 */
	"\012" "error in socket I/O\0" /* 10 */
	"\013" "error in file I/O\0" /* 11 */
	"\014" "error in rsync protocol data stream\0" /* 12 */
	"\015" "errors with program diagnostics\0" /* 13 */
	"\016" "error in IPC code\0" /* 14 */
	"\024" "received SIGUSR1 or SIGINT\0" /* 20 */
	"\025" "some error returned by waitpid()\0" /* 21 */
	"\026" "error allocating core memory buffers\0" /* 22 */
	"\027" "partial transfer due to error\0" /* 23 */
	"\030" "partial transfer due to vanished source files\0" /* 24 */
	"\031" "the --max-delete limit stopped deletions\0" /* 25 */
	"\036" "timeout in data send/receive\0" /* 30 */
	"\043" "timeout waiting for daemon connection\0" /* 35 */
	"\177" "rsync could not be run\0" /* 127 */
	"\377" "remote shell failed\0" /* 255 */;

/* rsync's arguments for d's sync; each of held (hlen bytes, from
 * unclosedopts) is one, and each pattern's, unless a jail has them in
 * a file: then argv does not grow with them */
static char **
mkargv(const struct dest *d, int full, char *held, size_t hlen)
{
	const char **v;
	size_t n, i;
	int del;

	if (!(v = newargv(conf.npats + nunclosed)))
		return NULL;
	n = baseargs(d, v);
	del = conf.rdelete & (full ? DELFULL : DELSEEN);
	if (del)
		v[n++] = "--delete";
	if (!full) {
		/* a listed name that is gone: deleted, or passed over */
		v[n++] = del ? "--delete-missing-args" : "--ignore-missing-args";
		v[n++] = "--from0";
		v[n++] = "--files-from=-";
	}
	if (JAILED(d) && full)
		v[n++] = "--from0"; /* the file's rules end in NUL, as the list's */
	if (JAILED(d))
		v[n++] = "--exclude-from=/.x";
	for (i = 0; !JAILED(d) && i < (size_t)conf.npats; i++)
		v[n++] = conf.pats[i].opt;
	for (i = 0; !JAILED(d) && i < hlen; i += strlen(held + i) + 1)
		v[n++] = held + i;
	v[n++] = conf.src;
	v[n++] = d->spec;
	v[n] = NULL;
	return (char **)v;
}

/* argv as one line that a shell reads back as the same words */
static char *
quote(char **argv)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_@%+=:,./-";
	size_t len = 1, n = 0;
	char **a, *s, *p;

	for (a = argv; *a; a++)
		len += 4 * strlen(*a) + 3;
	if (!(s = malloc(len)))
		return NULL;
	for (a = argv; *a; a++) {
		if (a != argv)
			s[n++] = ' ';
		if (**a && strspn(*a, safe) == strlen(*a)) {
			n += strlen(strcpy(s + n, *a));
			continue;
		}
		s[n++] = '\'';
		for (p = *a; *p; p++) {
			if (*p == '\'')
				n += strlen(strcpy(s + n, "'\\''"));
			else
				s[n++] = *p;
		}
		s[n++] = '\'';
	}
	s[n] = '\0';
	return s;
}

static void
logcmd(int prio, const char *what, char **argv)
{
	char *s = quote(argv);

	logmsg(prio, "%s%s", what, s ? s : "(out of memory)");
	free(s);
}

/* move what d owes into its next sync; unless the sync is full (which
 * spawnsync() makes it past FULLDIRS directories), list each directory,
 * or each of its changed names (rsync deletes those that are gone). A
 * name that cannot be listed (out of memory, or a path longer than
 * PATH_MAX, which only a full sync covers) makes the sync full: 1 then */
static int
collect(struct dest *d, int full)
{
	uint32_t bit = d->bit;
	size_t j, k, cap = 0;
	struct dirt *r;

	d->len = d->off = 0;
	d->ndirs = 0;
	for (j = 0; j < ndirt; j++) {
		r = &dirt[j];
		if (!(r->dirty & bit))
			continue;
		r->dirty &= ~bit;
		r->sent |= bit;
		d->ndirs++;
		if (r->whole && !full)
			full = listadd(&d->list, &d->len, &cap, r->n, NULL) < 0;
		for (k = 0; k < r->nlen && !full; k += strlen(r->names + k) + 1)
			full = listadd(&d->list, &d->len, &cap, r->n, r->names + k) < 0;
	}
	d->pending = 0;
	if (full) {
		free(d->list);
		d->list = NULL;
		d->len = 0;
	}
	return full;
}

/* running rsyncs and movers, and rhooks if hooks */
static int
children(int hooks)
{
	int i, n = 0;

	for (i = 0; i < ndests; i++)
		n += (dests[i].run.pid != 0) + (hooks && dests[i].hook.pid);
	return n;
}

/* start rsync (argv), or the mover (NULL), with pipes for its stdin,
 * stdout and stderr; held: the words of the files held (unclosedopts),
 * which a jailed rsync reads from a file */
static int
forkchild(struct dest *d, char **argv, int full, const char *held, size_t hlen)
{
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } }, io[3], k;
	struct job j = { d, argv, held, hlen };
	pid_t pid = -1;

	for (k = 0; k < 3; k++)
		if (pipe2(p[k], O_CLOEXEC) < 0)
			break;
	for (k = 0; k < 3; k++)
		io[k] = p[k][k == 0 ? 0 : 1];
	if (io[2] >= 0)
		pid = spawn(NULL, io, childmain, &j);
	d->errs = d->stays = d->lines = 0;
	if (pid < 0)
		logmsg(LOG_ERR, "%s: cannot start %s: %s", d->spec,
		    argv ? "rsync" : "the mover", strerror(errno));
	for (k = 0; k < 3; k++) {
		closefd(&p[k][k == 0 ? 0 : 1]);
		d->fd[k] = p[k][k == 0 ? 1 : 0];
		if (d->fd[k] >= 0)
			fcntl(d->fd[k], F_SETFL, O_NONBLOCK);
	}
	if (pid < 0 || full || !d->len)
		closefd(&d->fd[0]);
	if (pid < 0) {
		closefd(&d->fd[1]);
		closefd(&d->fd[2]);
		return -1;
	}
	if (!children(0))
		jamat = now() + JAMCHECK_MS;
	d->run.pid = pid;
	return 0;
}

static const char *
describe(int code)
{
	static char buf[32];
	const char *s;

	if (code > 255) {
		fmt(buf, sizeof(buf), "killed by signal %d", code - 256);
		return buf;
	}
	for (s = exits; *s; s += strlen(s) + 1)
		if ((unsigned char)*s == code)
			return s + 1;
	return "unknown error";
}

/* finish()'s code for a sync that could not be set up for want of memory */
#define NOMEM (-1)

/* the sync of d ended at t, ok or not: when what it owes is next. A
 * failure owes again what the sync had (settle), the full sync if it was
 * one, and is retried with growing back-off, unless we stopped it */
static void
reschedule(struct dest *d, int ok, int64_t t)
{
	if (ok) {
		d->backoff = 0;
		d->lastok = wall();
		/* what it still owes came after the sync started */
		d->owedsince = owes(d) ? d->lastok - (t - d->run.start) / 1000 : 0;
		return;
	}
	if (!d->run.killed) {
		d->backoff = d->backoff ? MIN(d->backoff * 2, RETRYMAX_MS) : RETRY_MS;
		d->retry = t + d->backoff;
	}
	d->needfull |= d->full;
	dueby(d, t);
}

/* one line in the log for d's sync that ended with code after ms, and a
 * failure's in the status */
static void
logsync(struct dest *d, int code, int ok, long long ms)
{
	char what[48];

	if (d->full)
		fmt(what, sizeof(what), "full sync");
	else
		fmt(what, sizeof(what), "sync of %u director%s", d->ndirs,
		    d->ndirs == 1 ? "y" : "ies");
	if (ok) {
		logmsg(LOG_INFO, "%s: %s done in %lld ms (rsync exit %d)",
		    d->spec, what, ms, code);
		return;
	}
	if (d->run.killed) {
		logmsg(LOG_INFO, "%s: %s stopped after %lld ms", d->spec, what, ms);
		return;
	}
	if (code == NOMEM)
		fmt(d->lasterr, sizeof(d->lasterr), "out of memory");
	else if (code > 255)
		fmt(d->lasterr, sizeof(d->lasterr), "rsync %s", describe(code));
	else
		fmt(d->lasterr, sizeof(d->lasterr), "rsync exit %d: %s",
		    code, describe(code));
	d->lasterrat = wall();
	d->nfails++;
	logmsg(code == NOMEM || code == 1 || code == 2 || code == 4 ? LOG_ERR :
	    LOG_WARNING, "%s: %s failed after %lld ms (%s); retrying in %lld ms",
	    d->spec, what, ms, d->lasterr, (long long)d->backoff);
}

/* d's sync, which deletes nothing, ended with code 23 only because
 * directories the source has replaced by a file or a symlink stay where
 * they are: a backup (rdelete = no, and startup's incremental syncs)
 * keeps them, and the new entry is not put there. Retried, it would fail
 * so for ever: it is done. */
static int
staying(const struct dest *d, int code)
{
	return code == 23 && d->stays && d->stays == d->errs &&
	    !(conf.rdelete & (d->full ? DELFULL : DELSEEN));
}

/* the sync of d ended with code (exit status, 256 + signal, or NOMEM):
 * one line in the log, whatever happened, and its rhook (told 22, rsync's
 * own status for want of memory, for NOMEM) */
static void
finish(struct dest *d, int code)
{
	int64_t t = now();
	int ok = code == 0 || code == 24 || staying(d, code);

	if (d->moving) {
		placed(d, code);
		return;
	}
	free(d->list);
	d->list = NULL;
	statuswant = 1;
	settle(d, !ok);
	reschedule(d, ok, t);
	logsync(d, code, ok, t - d->run.start);
	if (!d->run.killed)
		starthook(d, code == NOMEM ? 22 : code, d->full);
}

/* d places what moved before its sync, unless a full sync is owed,
 * which leaves nothing to go by, or its mover just ran */
static int
place(struct dest *d, int64_t t)
{
	if (d->placed || d->needfull || pretend ||
	    !(d->moving = givemoves(d->bit)))
		return 0;
	d->run.start = t;
	d->run.killed = 0;
	d->len = 0;
	statuswant = 1;
	if (forkchild(d, NULL, 1, NULL, 0) < 0)
		placed(d, 127);
	return 1;
}

/* start d's mover, or its sync of what it owes. In order: startdue()
 * picks d, spawnsync() its argv, forkchild() forks, and in the child
 * inchild() sets up the fds and execargv() runs rsync */
static void
spawnsync(struct dest *d, int64_t t)
{
	char **argv = NULL, *held;
	size_t hlen;
	int full;

	if (place(d, t))
		return;
	/* what moved since the mover started goes with this sync, plainly:
	 * placed after it, a move would undo what the sync put right */
	forgetmoves(d->bit);
	d->placed = 0;
	full = d->needfull || d->pending > FULLDIRS;
	if (full && d->pending && seendel(&conf))
		full = 0; /* what is owed first: the full sync deletes nothing */
	full = collect(d, full);
	d->full = full;
	d->needfull &= !full;
	undue(d);
	d->run.start = t;
	d->run.killed = 0;
	d->nsyncs++;
	statuswant = 1;
	if (!(held = unclosedopts(&hlen)) || !(argv = mkargv(d, full, held, hlen))) {
		free(held);
		finish(d, NOMEM);
		return;
	}
	logmsg(LOG_DEBUG, full ? "%s: full sync" : "%s: sync of %u directories",
	    d->spec, d->ndirs);
	if (pretend) {
		logcmd(LOG_INFO, "pretend: ", argv);
		finish(d, 0);
	} else if (forkchild(d, argv, full, held, hlen) < 0) {
		finish(d, 127);
	}
	free(argv);
	free(held);
}

static void
emit(struct dest *d, int k)
{
	char *s = d->line[k];

	s[d->llen[k]] = '\0';
	d->llen[k] = 0;
	if (!*s)
		return;
	if (k && !has(s, "vanished", 0) && !has(s, "see previous errors", 0))
		d->errs++;
	d->stays += k && has(s, "could not make way for new", 0);
	/* stderr is for errors, but vanished files are a live tree's normal */
	if (++d->lines <= LOGLINES)
		logmsg(k && !has(s, "vanished", 0) ? LOG_ERR : LOG_DEBUG,
		    "%s: %s", d->spec, s);
}

/* read what rsync printed on fd[k] (1 stdout, 2 stderr), log it by lines;
 * at most DRAINMAX bytes a call, so that a child that never stops writing
 * holds back neither the other destinations nor the signals */
static void
drain(struct dest *d, int k)
{
	char buf[4096];
	ssize_t n = 0, j;
	size_t got = 0;

	while (got < DRAINMAX && (n = read(d->fd[k], buf, sizeof(buf))) > 0) {
		got += n;
		for (j = 0; j < n; j++) {
			if (buf[j] != '\n')
				d->line[k - 1][d->llen[k - 1]++] = buf[j];
			if (buf[j] == '\n' || d->llen[k - 1] == LOGLINE - 1)
				emit(d, k - 1);
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		emit(d, k - 1);
		closefd(&d->fd[k]);
	}
}

static void
feed(struct dest *d)
{
	ssize_t n = write(d->fd[0], d->list + d->off, d->len - d->off);

	if (n > 0)
		d->off += n;
	if (d->off == d->len || (n < 0 && errno != EAGAIN && errno != EINTR))
		closefd(&d->fd[0]);
}

static void
reap(void)
{
	struct dest *d;
	pid_t pid;
	int st, k;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (d = dests; d < dests + ndests && d->run.pid != pid; d++)
			;
		if (d == dests + ndests) {
			reaphook(pid, st);
			continue;
		}
		d->run.pid = 0;
		closefd(&d->fd[0]);
		for (k = 1; k < 3; k++)
			if (d->fd[k] >= 0)
				drain(d, k);
		for (k = 1; k < 3; k++)
			closefd(&d->fd[k]);
		if (d->lines > LOGLINES)
			logmsg(LOG_WARNING, "%s: %u more lines of its output not "
			    "logged", d->spec, d->lines - LOGLINES);
		finish(d, WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st));
	}
}

/* sig to every running rsync, and rhook if hooks, and to the processes
 * they started */
static void
stopall(int sig, int hooks)
{
	struct dest *d;

	for (d = dests; d < dests + ndests; d++) {
		stopchild(&d->run, sig);
		if (hooks)
			stopchild(&d->hook, sig);
	}
}

/* A user may swap a file that rsync has listed for a FIFO before rsync's
 * sender opens it, or hold a lease on a file of theirs (or on their copy
 * in a local destination, which the receiver opens): rsync then waits in
 * open(), for a writer that never comes or for the kernel to break the
 * lease (fs.lease-break-time, 45 s, a file), and rsync's --timeout,
 * which counts silence in its own I/O loop, does not fire.
 * So each JAMCHECK_MS that children run, a process of theirs (of their
 * process group) found waiting so (wchan wait_for_partner or
 * __break_lease; rsync opens no FIFO of its own) stops that sync, which
 * starts again at once without the file it was opening: that file,
 * found from its open call (/proc/PID/syscall, the path read from its
 * memory) as that process reaches it but without following a symlink,
 * is held back as one being written (wsettle), so that a user who does
 * it again at every sync delays nothing but their own file (past
 * HELDSTALL, the directory it is in: mergeat()). The look
 * reads the stat of every process, so the next waits at least twenty
 * times what it took. */

/* Files that stall rsync merge past HELDSTALL held, so that none waits
 * at every sync for its lease's break (a user's thousand leases: 45 s
 * each) and a user who takes one more lease or swaps in one more FIFO
 * each time a sync starts again costs it a few starts a wsettle, not one
 * a second for ever: the lowest directory below wpath that holds the
 * next one and one held already, and that the next one's owner may write
 * in, is held back whole in their place, with what else is in it,
 * whoever's it is. So a user can delay only the directories they write
 * in, not the syncs. One that merges with none (the first in each place
 * a user may write in, or a file of theirs in a directory they may not)
 * is held on its own: those places and files are not the user's to
 * make. Not past HELDMAX / 2 in all, so a user who may write in wpath's
 * top directory itself, whose files there merge with nothing, can still
 * make a sync wait. */

/* the owner of the file whose stat is f may write in the directory n:
 * it is theirs, or anyone's (a group's is not: a file's group tells no
 * group its owner is in); each stat is of the directory watched, so that
 * no symlink swapped in on the way lends another's owner */
static int
writablefor(const struct node *n, const struct stat *f)
{
	struct stat st;

	return statours(n, ".", &st) == 0 &&
	    (st.st_uid == f->st_uid || st.st_mode & S_IWOTH);
}

/* in f, n's file name that stalls rsync, for writablefor(): its stat, or
 * where it was renamed away since (a user's FIFO of a new name at each
 * round), its directory's, whose owner may have done it, or where that
 * is gone too, the nearest directory above that is not; with no owner
 * where anyone or a group may have; 0 if none can be had */
static int
stallowner(const struct node *n, const char *name, struct stat *f)
{
	if (statours(n, name, f) == 0)
		return 1;
	for (; n && statours(n, ".", f); n = n->parent)
		;
	if (n && f->st_mode & (S_IWOTH | S_IWGRP))
		f->st_uid = (uid_t)-1;
	return n != NULL;
}

/* where n's file, whose stat is f, merges (see above), in steps as many
 * as the held ones are deep; NULL: nowhere */
static struct node *
mergeat(struct node *n, const struct stat *f)
{
	struct node *l, *best = NULL;
	size_t i;

	for (i = 0; i < nunclosed; i++)
		if (unclosed[i].stall && (l = lca(n, unclosed[i].n))->parent &&
		    (!best || (l != best && isancestor(best, l))) &&
		    writablefor(l, f))
			best = l;
	return best;
}

/* l held back whole from since on, in place of the files that stall
 * rsync held in it, which are owed again (all it holds is, once it is
 * let go); said. 0 if it cannot be. */
static int
holdwhole(struct node *l, int64_t since)
{
	char path[PATH_MAX];
	size_t i;

	for (i = nunclosed; i-- > 0;)
		if (unclosed[i].stall && isancestor(l, unclosed[i].n))
			release(&unclosed[i], 0);
	if (!holdback(l, "", IN_CLOSE_WRITE, since, 2))
		return 0;
	l->held = 1;
	if (pathof(l, path, sizeof(path)) > 0)
		logmsg(LOG_WARNING, "/%s/ held back whole: files in it stall rsync",
		    path);
	return 1;
}

/* name in n held back as a file that stalls rsync, for wsettle
 * (WSETTLE_MS with wsettle = 0), whatever its owner holds already (each
 * one costs that user a race they won, or a lease): on its own while
 * fewer than HELDSTALL are (mayhold()), else with the directory a merge
 * holds whole, or on its own where it merges nowhere; 1 if it is */
static int
holdstall(struct node *n, const char *name)
{
	int64_t since = now() + (conf.wsettle ? 0 : WSETTLE_MS);
	struct node *l;
	struct stat st;

	if (covered(n) || findunclosed(n, name) ||
	    holdback(n, name, IN_CLOSE_WRITE, since, 1))
		return 1;
	if (stallowner(n, name, &st) && (l = mergeat(n, &st)))
		return holdwhole(l, since);
	return holdback(n, name, IN_CLOSE_WRITE, since, 2);
}

/* the file name in the directory open as dir held back as one that
 * stalls rsync (holdstall()). In a local destination, where a user may lease their own copy that rsync's
 * receiver opens as a changed file's basis, the file of that name in
 * wpath is held back instead, if it is theirs too (a name a user made
 * first in a destination's sticky directory holds back no other's file):
 * 1 if it is, 0 if it cannot be */
static int
holdin(int dir, const char *name)
{
	char p[PATH_MAX], q[PATH_MAX];
	const char *base, *s;
	struct node *n = nodeof(dir);
	struct stat a, b;
	struct dest *d;
	ssize_t k;
	size_t len;
	int fd, held = 0;

	if (n)
		return holdstall(n, name);
	fmt(q, sizeof(q), "/proc/self/fd/%d", dir);
	if ((k = readlink(q, p, sizeof(p) - 1)) <= 0 || k == sizeof(p) - 1)
		return 0; /* none, or cut short: another directory's name */
	p[k] = '\0';
	/* a jail's root, seen from outside its namespace, is CTLDIR */
	s = p + (strncmp(p, CTLDIR "/", sizeof(CTLDIR)) ? 0 : sizeof(CTLDIR) - 1);
	for (d = dests; d < dests + ndests && !held; d++) {
		len = strlen(d->spec); /* with no '/' at its end (checkdest()) */
		if (d->kind != LOCAL || strncmp(s, d->spec, len) ||
		    (s[len] && s[len] != '/') ||
		    fmt(q, sizeof(q), "%s%s/%s", conf.wpath, s + len, name) >= (int)sizeof(q) ||
		    (fd = opendirof(q, &base)) < 0)
			continue;
		held = !fstatat(dir, name, &a, AT_SYMLINK_NOFOLLOW) &&
		    !fstatat(fd, base, &b, AT_SYMLINK_NOFOLLOW) &&
		    a.st_uid == b.st_uid && holdin(fd, base); /* wpath is in no local destination */
		close(fd);
	}
	return held;
}

/* the file that process pid waits in open() for, held back (holdin()):
 * 1 if it is, 0 if it cannot be */
static int
holdstuck(const char *pid)
{
	char b[PATH_MAX], p[64], *name;
	const char *s = b, *dir = "", *h;
	uint64_t a[3] = { 0, 0, 0 }; /* 64 bits: a 32-bit daemon may watch a 64-bit rsync */
	int k, at, fd, held;

	if (procread(pid, "syscall", b, sizeof(b), 0) < 0)
		return 0;
	a[0] = digits(b); /* "NR 0xARG1 0xARG2 ..." */
	for (k = 1; k < 3 && (s = strchr(s, 'x')); k++)
		for (s++; (h = memchr(hexdigits, *s | 32, 16)); s++)
			a[k] = a[k] * 16 + (h - hexdigits);
	if (a[0] != SYS_openat) { /* open() or creat(): the path first */
		a[2] = a[1];
		a[1] = (unsigned)AT_FDCWD;
	}
	if (procread(pid, "mem", b, sizeof(b), (off_t)a[2]) <= 0)
		return 0;
	if (*b == '/' || (int)a[1] == AT_FDCWD)
		fmt(p, sizeof(p), "/proc//%s/%s", pid, *b == '/' ? "root" : "cwd");
	else /* a directory it holds open: rsync 3.4 on walks a path so */
		fmt(p, sizeof(p), "/proc/%s/fd/%d", pid, (int)a[1]);
	if ((name = strrchr(b, '/'))) {
		*name++ = '\0';
		dir = b + strspn(b, "/");
	} else {
		name = b;
	}
	at = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = at < 0 ? -1 : openpath(at, dir);
	held = fd >= 0 && holdin(fd, name);
	closefd(&at);
	closefd(&fd);
	return held;
}

/* A lease found on one file of a sync is looked for on every file that
 * sync may open, in wpath and in a local destination, and each found is
 * held back with it (holdstall()): leases a user placed beforehand cost
 * one restart, not one each (a thousand, minutes of every sync). A file
 * is leased if open(O_NONBLOCK) fails with EWOULDBLOCK, where rsync's
 * open would wait; that open starts the lease's break, as rsync's would
 * have. What is looked at is what the sync owes, a directory's changed
 * names or all its entries, LOOKFILES files a look at most, each look
 * going on at the next directory after the last one's, and none once no
 * more can be held; changes a full sync finds that no event told, and a
 * lease taken while the sync runs, cost a restart each, as before. */
static size_t lookfrom;         /* the dirt[] record the next look starts at */

/* 1 if name in dir is a regular file under a lease, 0 if it is another,
 * -1 if it is no regular file; its stat in st */
static int
leased(int dir, const char *name, struct stat *st)
{
	int fd = openreg(dir, name, st);

	if (fd >= 0)
		close(fd);
	return fd == -1 && errno == EWOULDBLOCK ? 1 : fd == -2 ? -1 : 0;
}

/* name in n, whose directory is open as src (and as dst in a local
 * destination, else -1), held back if a sync would wait at its open: it
 * is under a lease, or its copy in dst is and both are one user's (as
 * holdin() asks); 0 if it would and cannot be held: no more can be */
static int
lookat(struct node *n, int src, int dst, const char *name)
{
	struct stat a, b;
	int k = leased(src, name, &a);

	if (k < 0 || (!k && (dst < 0 || leased(dst, name, &b) <= 0 ||
	    b.st_uid != a.st_uid)))
		return 1;
	return holdstall(n, name);
}

/* the files of dirt[k] that a sync may open, *left of them at most; 0
 * once no more can be held or looked at. dirt[k] is read anew after each
 * file: a hold that merges owes what it let go, which may move dirt[]. */
#define R (&dirt[k])
static int
lookin(size_t k, int src, int dst, size_t *left)
{
	struct entries x = { .k = 0 };
	struct dirent *e;
	size_t j, i;

	for (j = 0; j < R->nlen; j = i) {
		i = j + strlen(R->names + j) + 1;
		if (!(*left)-- || !lookat(R->n, src, dst, R->names + j))
			return 0;
	}
	while (R->whole && (e = nextentry(src, &x)))
		if ((e->d_type == DT_REG || e->d_type == DT_UNKNOWN) &&
		    (!(*left)-- || !lookat(R->n, src, dst, e->d_name)))
			return 0;
	return 1;
}
#undef R

/* the files d's sync may open, in wpath and in d if it is local */
static void
leasedfor(const struct dest *d)
{
	char p[PATH_MAX];
	int src, dst = -1, fd, to = -1, go = 1;
	size_t left = LOOKFILES, i, j = 0;

	if ((src = open(conf.src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if (d->kind == LOCAL)
		dst = open(d->spec, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (i = 0; i < ndirt && go; i++) {
		j = (lookfrom + i) % ndirt;
		if (!(dirt[j].sent & d->bit) || pathof(dirt[j].n, p, sizeof(p)) < 0)
			continue;
		if ((fd = openpath(src, p)) >= 0 && ours(fd, dirt[j].n)) {
			if (dst >= 0)
				to = openpath(dst, p);
			go = lookin(j, fd, to, &left);
		}
		closefd(&fd);
		closefd(&to);
	}
	lookfrom = j + 1;
	close(src);
	closefd(&dst);
}

/* every sync one of whose processes waits in open() for a FIFO's writer
 * or a lease's break starts again, without that file */
static void
unjam(void)
{
	int64_t t = now();
	char st[STATLEN], w[32];
	const char *s;
	struct dirent *e;
	struct dest *d;
	pid_t g;
	DIR *dp;
	int k;

	if (!(dp = opendir("/proc")))
		return;
	while ((e = readdir(dp))) {
		/* "S PPID PGRP": asleep, in a child's group (an entry that is
		 * no process has no stat), and where a FIFO's opener waits */
		if (!(s = statfield(e->d_name, 3, st)) || *s != 'S' ||
		    !(s = strchr(s + 2, ' ')))
			continue;
		g = digits(s + 1);
		for (d = dests; d < dests + ndests; d++) {
			if (d->run.pid != g || d->run.killed || /* no pid is 0 */
			    procread(e->d_name, "wchan", w, sizeof(w), 0) < 0 ||
			    (strcmp(w, "wait_for_partner") && strcmp(w, "__break_lease")))
				continue;
			/* a lease is broken in lease-break-time: sooner than
			 * starting again and again at a file not held back */
			if (!(k = holdstuck(e->d_name)) && *w == '_')
				continue;
			if (k && *w == '_')
				leasedfor(d);
			logmsg(LOG_WARNING, "%s: rsync waited in open() on a FIFO "
			    "swapped in or a user's lease: it starts again%s",
			    d->spec, k ? ", without that file" : "");
			stopchild(&d->run, SIGKILL);
		}
	}
	closedir(dp);
	jamat = now();
	jamat += MAX(JAMCHECK_MS, 20 * (jamat - t));
}

static void
initdests(void)
{
	int i;

	ndests = conf.nrnodes;
	memset(dests, 0, sizeof(dests));
	renames = 0; /* its counters start again, as the destinations' do */
	for (i = 0; i < ndests; i++) {
		dests[i].spec = conf.specs[i];
		dests[i].bit = 1u << i;
		dests[i].kind = kindof(conf.specs[i]);
		dests[i].fd[0] = dests[i].fd[1] = dests[i].fd[2] = -1;
	}
}

/* ===== Mounts and the source guard ===== */

/* The mount table is followed, so that mounts and unmounts inside wpath
 * are watched and synced as they now are. */

/* the source guard: a destination never loses what the daemon did not
 * see deleted. An unmounted volume leaves an empty directory where wpath
 * was, or one something else wrote to; a full sync of that would empty
 * every mirror. So no rsync starts unless wpath is still the directory
 * last accepted and holds wguard; else the source is held, no rsync runs,
 * and wpath is looked at again until it can be accepted: on the
 * filesystem it was on, and not empty unless it is the very directory
 * accepted before. Then it is watched anew and fully synced. */

static char heldwhy[PATH_MAX]; /* why the source is held, "" if it is not */
static int64_t checkat;         /* next look at wpath, while held or no /proc */
static struct {                 /* the source as last accepted */
	dev_t dev;
	ino_t ino;
	size_t mnt;             /* wpath's prefix its filesystem is mounted on */
	int ok;                 /* accepted since start or reload */
} src;

static int mfd = -1;            /* /proc/self/mountinfo, -1 without /proc */
static int64_t mountsat;        /* when to read a changed mount table, or 0 */
static char *mounts;            /* mounts inside wpath: "ID PATH\0"... */
static size_t mountslen;

/* how much of wpath names where the filesystem dev is mounted */
static size_t
mountlen(dev_t dev)
{
	char p[PATH_MAX];
	struct stat st;
	size_t n = strlen(conf.wpath), k;

	memcpy(p, conf.wpath, n + 1);
	while (n) {
		for (k = n; p[k - 1] != '/'; k--)
			;
		p[k > 1 ? k - 1 : 1] = '\0'; /* the parent */
		if (stat(p, &st) < 0 || st.st_dev != dev)
			return n;
		n = k - 1;
	}
	return 0;
}

/* path is a directory with nothing in it, as an unmounted mount point */
static int
isempty(const char *path)
{
	struct dirent *e;
	DIR *dp;

	if (!(dp = opendir(path)))
		return 0; /* the sync will say what is wrong */
	while ((e = readdir(dp)) && (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")))
		;
	closedir(dp);
	return !e;
}

/* why no rsync may run now, NULL if it may; accepting: why wpath, as it
 * is now, cannot be accepted as the source (it is not held then) */
static const char *
srcfail(int accepting, struct stat *st)
{
	static char why[PATH_MAX + 64];
	char g[PATH_MAX];
	struct stat gs;
	int same;

	if (stat(conf.src, st) < 0) {
		fmt(why, sizeof(why), "wpath: %s", strerror(errno));
		return why;
	}
	same = src.ok && st->st_dev == src.dev && st->st_ino == src.ino;
	if (!accepting && !same)
		return mountlen(st->st_dev) != src.mnt ? "wpath's filesystem was "
		    "unmounted, or another mounted over it" :
		    "wpath was replaced by another directory";
	if (conf.wguard && (fmt(g, sizeof(g), "%s%s", conf.src, conf.wguard) >= PATH_MAX ||
	    lstat(g, &gs) < 0)) {
		fmt(why, sizeof(why), "wguard %s is missing", g);
		return why;
	}
	if (!accepting || same)
		return NULL;
	if (src.ok && mountlen(st->st_dev) != src.mnt)
		return "wpath is on another filesystem than before";
	if (isempty(conf.src))
		return "wpath is empty (is its volume mounted?)";
	return NULL;
}

/* hold the source: no rsync runs, the tree is forgotten; said once */
static void
hold(const char *why)
{
	checkat = now() + HOLDCHECK_MS;
	if (!*heldwhy)
		logmsg(LOG_ERR, "source held: %s: %s; no rsync runs, so no "
		    "destination loses anything, until it is back", conf.src, why);
	fmt(heldwhy, sizeof(heldwhy), "%s", why);
	statuswant = 1;
	rescanning = degraded = 0;
	forgetmoves(alldests());
	stopall(SIGTERM, 0);
	keepowed(&conf);
	if (root)
		drop(root, 1);
}

/* at start, after a reload, and while held: accept wpath as the source,
 * watch it anew and sync it fully, or hold it */
static void
takesource(void)
{
	struct stat st;
	const char *why = srcfail(1, &st);
	int was = *heldwhy != '\0';

	if (why) {
		hold(why);
		return;
	}
	src.dev = st.st_dev;
	src.ino = st.st_ino;
	src.mnt = mountlen(st.st_dev);
	src.ok = 1;
	heldwhy[0] = '\0';
	if (was)
		logmsg(LOG_INFO, "source back: %s is watched anew and fully synced", conf.src);
	rescan();
}

/* has the source gone, or come back? */
static void
looksource(void)
{
	struct stat st;
	const char *why;

	checkat = now() + HOLDCHECK_MS;
	if (*heldwhy)
		takesource();
	else if ((why = srcfail(0, &st)))
		hold(why);
}

/* mountinfo's octal escapes ("\040" for a blank) undone in place */
static void
unescape(char *s)
{
	char *d = s;

	for (; *s; s++, d++) {
		*d = *s;
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d = (s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0');
			s += 3;
		}
	}
	*d = '\0';
}

/* the whole of mountinfo in a buffer kept for the next time; NULL if it
 * cannot be read or is larger than MOUNTMAX */
static char *
readmountinfo(size_t *n)
{
	static char *buf;
	static size_t cap;
	ssize_t r = 1;
	char *b;

	*n = 0;
	if (lseek(mfd, 0, SEEK_SET) < 0)
		return NULL;
	while (r > 0) {
		if (*n + 1 >= cap) {
			errno = EFBIG;
			if (cap >= MOUNTMAX || !(b = realloc(buf, cap + 16384)))
				return NULL;
			buf = b;
			cap += 16384;
		}
		if ((r = read(mfd, buf + *n, cap - *n - 1)) > 0)
			*n += r;
	}
	if (r < 0)
		return NULL;
	buf[*n] = '\0';
	return buf;
}

/* the mounts inside wpath as "ID PATH\0"..., PATH relative to wpath */
static char *
listmounts(size_t *len)
{
	size_t n, w = strlen(conf.src), l;
	char *buf, *out, *line, *e, *f[5], *p;
	int i;

	*len = 0;
	if (!(buf = readmountinfo(&n)) || !(out = malloc(n + 1)))
		return NULL;
	for (line = buf; line < buf + n; line = e + 1) {
		if (!(e = strchr(line, '\n')))
			e = buf + n;
		*e = '\0';
		for (i = 0, p = line; i < 5 && p; i++)
			if ((p = strchr(f[i] = p, ' ')))
				*p++ = '\0';
		if (i < 5)
			continue;
		unescape(f[4]);
		if (strncmp(f[4], conf.src, w) || !f[4][w])
			continue;
		l = strlen(f[0]);
		memcpy(out + *len, f[0], l);
		out[*len + l] = ' ';
		*len += l + 1;
		l = strlen(f[4] + w) + 1;
		memcpy(out + *len, f[4] + w, l);
		*len += l;
	}
	return out;
}

static int
inlist(const char *list, size_t len, const char *s)
{
	size_t k;

	for (k = 0; k < len; k += strlen(list + k) + 1)
		if (!strcmp(list + k, s))
			return 1;
	return 0;
}

/* a mount or unmount at rel, inside wpath, changed what is there: forget
 * what was watched there, watch it anew and sync it whole */
static void
remount(const char *rel)
{
	struct node *p = root, *c;
	char name[PATH_MAX];
	size_t n;

	for (;;) {
		if ((n = strcspn(rel, "/")) >= sizeof(name))
			return;
		memcpy(name, rel, n);
		name[n] = '\0';
		if (!rel[n])
			break;
		if (!p || !(p = findchild(p, name)))
			return; /* below a directory not watched */
		rel += n + 1;
	}
	if (!p)
		return;
	if ((c = findchild(p, name)))
		drop(c, 1);
	if (!excludedin(p, name, 1))
		newdir(p, name);
}

/* the mount table cannot be read (errno says why): it is not followed
 * from then on, and the log says what that means */
static void
nomounts(void)
{
	logmsg(LOG_WARNING, "no /proc/self/mountinfo (%s): wpath is looked at "
	    "every %d ms instead, and a mount in it seen only by a rescan",
	    strerror(errno), HOLDCHECK_MS);
	closefd(&mfd);
}

/* follow the mount table, or say once why not */
static void
watchmounts(void)
{
	mfd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	if (mfd >= 0 && (mounts = listmounts(&mountslen)))
		return;
	nomounts();
}

/* the mount table changed: look at the source, and rescan each mount
 * point inside wpath that came or went */
static void
mountschanged(void)
{
	size_t len, k;
	char *now;

	if (!(now = listmounts(&len))) {
		nomounts();
		return;
	}
	looksource();
	rescanning |= fangone();
	for (k = 0; k < len && !*heldwhy; k += strlen(now + k) + 1)
		if (!inlist(mounts, mountslen, now + k))
			remount(strchr(now + k, ' ') + 1);
	for (k = 0; k < mountslen && !*heldwhy; k += strlen(mounts + k) + 1)
		if (!inlist(now, len, mounts + k))
			remount(strchr(mounts + k, ' ') + 1);
	free(mounts);
	mounts = now;
	mountslen = len;
}

/* ===== Events ===== */

static void
logevent(const struct node *n, const struct ev *ev)
{
	char path[PATH_MAX], names[EVNAMES];

	evnames(ev->mask, names);
	if (relpath(n, ev->name, path, sizeof(path)) < 0)
		strcpy(path, "(too long)");
	logmsg(LOG_DEBUG, "event%s%s%s%s: /%s", names,
	    ev->mask & IN_ISDIR ? " IN_ISDIR" : "",
	    ev->mask & IN_UNMOUNT ? " IN_UNMOUNT" : "",
	    ev->mask & IN_IGNORED ? " IN_IGNORED" : "", path);
}

/* the filesystem n is on was unmounted: wpath's holds the source, one
 * inside it shows the directory it was mounted on, watched anew */
static void
unmounted(struct node *n)
{
	struct node *parent = n->parent;
	char *name;

	if (n == root) {
		hold("wpath was unmounted");
		return;
	}
	if (!(name = strdup(n->name))) {
		unwatched(conf.src, ENOMEM);
		return;
	}
	drop(n, 0);
	newdir(parent, name);
	free(name);
}

/* ev's record in the rename pairing: an IN_MOVED_FROM's own, in place
 * of the oldest (what it held goes); an IN_MOVED_TO's, that of its
 * IN_MOVED_FROM, which then pairs with nothing more; NULL for any other
 * event, or an IN_MOVED_TO whose first was not kept */
static struct pending *
pairing(const struct ev *ev)
{
	static unsigned next;
	struct pending *p;

	if (ev->mask & IN_MOVED_FROM) {
		p = &pend[next++ % PENDMOVES];
		free(p->held.name);
		p->held.name = NULL;
		p->bits = 0;
		p->cookie = ev->cookie;
		return p;
	}
	for (p = pend; ev->mask & IN_MOVED_TO && p < pend + PENDMOVES; p++)
		if (p->cookie && p->cookie == ev->cookie) {
			p->cookie = 0;
			return p;
		}
	return NULL;
}

static void
event(struct node *n, const struct ev *ev)
{
	const int isdir = ev->mask & IN_ISDIR;
	struct node *c;
	struct pending *p;

	if (verbose)
		logevent(n, ev);
	if (ev->mask & IN_UNMOUNT) {
		unmounted(n);
		return;
	}
	if (ev->mask & (IN_IGNORED | IN_MOVE_SELF)) {
		if (n == root)
			hold("wpath was removed or moved");
		else if (ev->mask & IN_IGNORED || n->moved)
			drop(n, !(ev->mask & IN_IGNORED)); /* gone, or moved out */
		return;
	}
	if (!ev->name) {
		if (ev->mask & conf.emask)
			mark(n, NULL, alldests());
		return;
	}
	if (excludedin(n, ev->name, isdir))
		return;
	unmove(n, ev->name);
	p = pairing(ev);
	if (ev->mask & IN_MOVE)
		moved(n, ev, isdir, p);
	if (isdir && ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		newdir(n, ev->name);
		return;
	}
	if (isdir && ev->mask & IN_MOVED_FROM && (c = findchild(n, ev->name)))
		c->moved = 1;
	if (!isdir && conf.wsettle && unclosedevent(n, ev->name, ev->mask, p))
		return;
	if (ev->mask & conf.emask)
		mark(n, named(ev->name), alldests());
}

/* a watcher's queue overflowed: the tree is built anew */
static void
overflow(void)
{
	logmsg(LOG_WARNING, "event queue overflow: rescanning %s", conf.src);
	rescanning = 1;
}

/* inotify's event at p, left bytes at most, to event(); its length, 0
 * if it is cut short */
static size_t
inevent(const char *p, size_t left)
{
	const struct inotify_event *e = (const struct inotify_event *)(const void *)p;
	struct node *n;

	if (left < sizeof(*e) || left - sizeof(*e) < e->len)
		return 0;
	if (e->mask & IN_Q_OVERFLOW)
		overflow();
	else if ((n = lookup(e->wd, NULL)))
		event(n, &(struct ev){ e->mask, e->cookie, e->len ? e->name : NULL });
	return sizeof(*e) + e->len;
}

/* the event in fanotify's record r of rl bytes (DFID_NAME and its kin:
 * a header, the fsid, the directory's handle, the entry's name), as mask
 * and cookie, to event() as inotify's would be, if its handle is held:
 * "." names the directory itself, whose deletion ends its watch
 * (IN_IGNORED); a self event of another entry is passed over, as inotify
 * has none. fanotify merges a file's events while they wait, in no
 * order: a close may come with writes made after it, or before writes
 * made before it (merged into its creation). So a file is held back only
 * if it is open for writing when its event is read, and is looked at
 * again CLOSECHECK_MS later (STILLOPEN), as the writer that closed it
 * may not have let go yet (the kernel queues the event first); else
 * its events are those of a closed file. Returns the directory an
 * IN_MOVED_FROM moved, if it is watched */
static struct node *
fanto(const unsigned char *r, uint16_t rl, uint32_t mask, uint32_t cookie)
{
	unsigned char key[KEYMAX];
	const unsigned char *h = r + 20; /* the handle, then the name */
	const char *name;
	struct node *n;
	uint32_t hl;
	int32_t type, fsid[2];
	int i;

	if (rl < 24 || r[rl - 1]) /* a name, and NULs to the record's end */
		return NULL;
	memcpy(fsid, r + 4, sizeof(fsid));
	memcpy(&hl, r + 12, sizeof(hl));
	memcpy(&type, r + 16, sizeof(type));
	if (hl > KEYMAX - 3 || hl >= rl - 20u || (uint32_t)type > 255)
		return NULL;
	for (i = 0; i < nfs && (!fss[i].marked || memcmp(fss[i].fsid, fsid, sizeof(fsid))); i++)
		;
	key[0] = hl;
	key[1] = i;
	key[2] = type;
	memcpy(key + 3, h, hl);
	if (i == nfs || !(n = lookup(keyhash(key), key)))
		return NULL;
	fanhit = 1;
	name = strcmp((const char *)h + hl, ".") ? (const char *)h + hl : NULL;
	if (!name && mask & IN_DELETE_SELF)
		mask |= IN_IGNORED;
	else if (name)
		mask &= ~(IN_DELETE_SELF | IN_MOVE_SELF);
	if (name && conf.wsettle && !(mask & IN_ISDIR) &&
	    mask & (IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE))
		mask = writing(n, name) ? (mask & ~IN_CLOSE_WRITE) | STILLOPEN :
		    mask | IN_CLOSE_WRITE;
	if (mask & ~IN_ISDIR)
		event(n, &(struct ev){ mask, cookie, name });
	return mask & IN_MOVED_FROM && mask & IN_ISDIR ? findchild(n, name) : NULL;
}

/* fanotify's event at p, left bytes at most, to event() through its
 * records (fanto()): a rename's two, old and new, as the halves of one,
 * paired by a cookie of our own. A directory the rename took out of the
 * tree (or into an excluded name) goes with it, as IN_MOVE_SELF would
 * take it under inotify: fanotify may have merged that self event into
 * an earlier one of the directory (a chmod), read before the rename.
 * Its length, 0 if it is cut short */
static size_t
fanevent(const char *p, size_t left)
{
	static uint32_t cookie;
	struct fanotify_event_metadata m;
	const unsigned char *r, *end;
	struct node *out = NULL, *c;
	uint32_t mask;
	uint16_t rl;

	if (left < sizeof(m))
		return 0;
	memcpy(&m, p, sizeof(m));
	if (m.event_len > left || m.event_len < sizeof(m))
		return 0;
	if (m.mask & FAN_Q_OVERFLOW) /* m.fd is FAN_NOFD: handles, not fds */
		overflow();
	cookie += !!(m.mask & FAN_RENAME); /* 0 once in 2^32: that move goes plainly */
	end = (const unsigned char *)p + m.event_len;
	for (r = (const unsigned char *)p + m.metadata_len; r + 4 <= end; r += rl) {
		memcpy(&rl, r + 2, sizeof(rl));
		if (rl < 4 || rl > end - r)
			break;
		mask = *r == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ? IN_MOVED_FROM :
		    *r == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME ? IN_MOVED_TO :
		    *r == FAN_EVENT_INFO_TYPE_DFID_NAME ? m.mask & IN_ALL_EVENTS : 0;
		if (mask && (c = fanto(r, rl, mask | (m.mask & IN_ISDIR),
		    m.mask & FAN_RENAME ? cookie : 0)))
			out = c;
	}
	if (out && out->moved && m.mask & FAN_RENAME)
		drop(out, 1);
	return m.event_len;
}

/* what the watcher open as fd has to say, EVREADS reads at most: 1 if
 * it may have more (it had still not run out) */
static int
readevents(int fd)
{
	static union {
		struct inotify_event ev;
		struct fanotify_event_metadata m;
		char buf[EVBUF];
	} u;
	const char *p;
	ssize_t n;
	size_t k;
	int i;

	for (i = 0; i < EVREADS && !rescanning; i++) {
		if ((n = read(fd, u.buf, sizeof(u.buf))) <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				logmsg(LOG_ERR, "reading events: %s", strerror(errno));
				rescanning = 1;
			}
			return 0;
		}
		for (p = u.buf; p < u.buf + n && !rescanning; p += k)
			if (!(k = fd == ffd ? fanevent(p, u.buf + n - p) :
			    inevent(p, u.buf + n - p)))
				break;
	}
	return 1;
}

/* fanotify's events, read as inotify's. Where none of them was in the
 * tree, and none of the last ones either, read at most FANWAIT_MS after
 * the wait before them, the next are read later, after a wait twice the
 * last (FANWAIT_MS at first, FANWAITMAX_MS at most): a flood elsewhere
 * on a filesystem (a log, a build, a local destination's rsync) is read
 * in batches for as long as it lasts, few wake-ups a second, and a change
 * in the tree after a lone event elsewhere is not held up. Reads that
 * did not empty the queue wait not at all: a flood faster than the
 * waits let through would fill it, hold up the tree's events behind it
 * and overflow it (a rescan) */
static void
fanread(void)
{
	static int64_t missed;  /* when the last read found none in the tree */
	static int64_t wait;    /* before the next read, 0: none */
	int64_t t;
	int full;

	fanhit = 0;
	full = readevents(ffd);
	t = now();
	wait = !fanhit && !full && t - missed <= wait + FANWAIT_MS ?
	    MIN(MAX(2 * wait, FANWAIT_MS), FANWAITMAX_MS) : 0;
	fanat = wait ? t + wait : 0;
	missed = fanhit ? 0 : t;
}

/* ===== Status ===== */

static int64_t statusat;        /* when statusfile was last written */

static int pidfd = -1;
static char *lockfile;          /* the pidfile locked, NULL if none */

/* a destination's state, as the statusfile, SIGUSR2 and the metricsfile
 * name it (states[]) */
enum { IDLE, WAITING, QUEUED, RETRYING, SYNCING, PLACING, HELD };
static const char *const states[] = { "idle", "waiting", "queued",
    "retrying", "syncing", "placing", "held" };

static int
state(const struct dest *d)
{
	if (d->run.pid)
		return d->moving ? PLACING : SYNCING;
	if (*heldwhy)
		return HELD;
	if (!owes(d))
		return IDLE;
	if (d->queued)
		return QUEUED;
	return d->retry > now() ? RETRYING : WAITING;
}

/* the status as key=value lines; malloc'd */
static char *
status(size_t *len)
{
	size_t size = 384 + strlen(conf.src) + strlen(heldwhy), n, i;
	const struct dest *d;
	char *s;

	for (i = 0; i < (size_t)ndests; i++)
		size += 512 + 2 * strlen(dests[i].spec);
	if (!(s = malloc(size)))
		return NULL;
	n = fmt(s, size, "pid=%d\nwpath=%s\nsource=%s\nsource_reason=%s\n"
	    "watcher=%s\nwatched=%zu\nall_watched=%s\n"
	    "destinations=%d\n", (int)getpid(), conf.src, *heldwhy ? "held" : "ok",
	    heldwhy, ffd >= 0 ? "fanotify" : "inotify",
	    nnodes, degraded ? "no" : "yes", ndests);
	for (i = 0; i < (size_t)ndests; i++) {
		d = &dests[i];
		n += fmt(s + n, size - n, "dest%zu=%s\ndest%zu_state=%s\n"
		    "dest%zu_pending=%u\ndest%zu_full_pending=%s\ndest%zu_runs=%lu\n"
		    "dest%zu_last_ok=%lld\ndest%zu_owed_since=%lld\ndest%zu_last_error=%s\n"
		    "dest%zu_last_error_at=%lld\n", i + 1, d->spec, i + 1, states[state(d)],
		    i + 1, d->pending, i + 1, d->needfull ? "yes" : "no", i + 1,
		    d->nsyncs, i + 1, (long long)d->lastok, i + 1, (long long)d->owedsince,
		    i + 1, d->lasterr, i + 1, (long long)d->lasterrat);
	}
	*len = n;
	return s;
}

/* the metrics, "name\0help\0" each (a name in _total is a counter, the
 * rest gauges); from syncs_total on, one series a destination, and of
 * state one a state, 1 for the one it is in */
static const char metricdefs[] =
    "source_held\0" "1: the source is held, no rsync runs.\0"
    "watched_directories\0" "Directories watched.\0"
    "all_watched\0" "0: some directories go by full syncs only.\0"
    "held_files\0" "Files held back.\0"
    "moves_total\0" "Renames seen.\0"
    "syncs_total\0" "Syncs started.\0"
    "sync_failures_total\0" "Syncs failed.\0"
    "last_success_timestamp_seconds\0" "Last good sync, 0: none yet.\0"
    "owed_since_timestamp_seconds\0" "Oldest change owed, 0: none.\0"
    "pending_directories\0" "Directories owed.\0"
    "moves_placed_total\0" "Renames placed as moves.\0"
    "moves_plain_total\0" "Renames sent as new files.\0"
    "state\0" "Its state.\0";
#define DESTMETRICS 5 /* the first per destination */

/* a rename seen goes to d as a move placed, as new files, or is still
 * to be placed (a move recorded, owed or given to d's mover): so those
 * sent plainly are what is neither, and never fewer later */
static long long
metric(int k, const struct dest *d)
{
	long long plain;
	size_t i;

	switch (k) {
	case 0: return !!*heldwhy;
	case 1: return nnodes;
	case 2: return !degraded;
	case 3: return nunclosed;
	case 4: return renames;
	case 5: return d->nsyncs;
	case 6: return d->nfails;
	case 7: return d->lastok;
	case 8: return d->owedsince;
	case 9: return d->pending;
	case 10: return d->nplaced;
	}
	plain = renames - d->nplaced;
	for (i = 0; i < nmoves; i++)
		plain -= !!((moves[i].owed | moves[i].given) & d->bit);
	return plain;
}

/* the length of the UTF-8 character at v, 0 if it is none (a stray or
 * overlong byte, a surrogate, past U+10FFFF), as Prometheus checks it */
static int
utf8len(const unsigned char *v)
{
	int n = *v < 0xe0 ? 2 : *v < 0xf0 ? 3 : 4, i;

	if (*v < 0x80)
		return 1;
	if (*v < 0xc2 || *v > 0xf4 ||
	    v[1] < (*v == 0xe0 ? 0xa0 : *v == 0xf0 ? 0x90 : 0x80) ||
	    v[1] > (*v == 0xed ? 0x9f : *v == 0xf4 ? 0x8f : 0xbf))
		return 0;
	for (i = 2; i < n; i++)
		if ((v[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* d's series of metric k, name m, at s: the spec as a label's value,
 * its \ and " escaped (a spec has no newline, and is shorter than
 * PATH_MAX), a byte that is not UTF-8 as '?', or the whole file would
 * be refused */
static size_t
series(char *s, size_t size, const char *m, int k, const struct dest *d)
{
	char dest[2 * PATH_MAX], *to = dest;
	const unsigned char *v = (const unsigned char *)d->spec;
	size_t n = 0;
	int c, now = state(d);

	for (; *v; v += c) {
		if (*v == '\\' || *v == '"')
			*to++ = '\\';
		if (!(c = utf8len(v)))
			*to++ = '?', c = 1;
		else
			to = (char *)memcpy(to, v, c) + c;
	}
	*to = '\0';
	if (strcmp(m, "state"))
		return fmt(s, size, "inosync_%s{dest=\"%s\"} %lld\n", m, dest,
		    metric(k, d));
	for (k = 0; k < (int)LEN(states); k++)
		n += fmt(s + n, size - n, "inosync_state{dest=\"%s\",state=\"%s\"} "
		    "%d\n", dest, states[k], k == now);
	return n;
}

/* the metrics in Prometheus' text format; malloc'd */
static char *
metrics(size_t *len)
{
	size_t size = 3 * sizeof(metricdefs) + 1024, n = 0, i;
	const char *m, *h;
	char *s;
	int k;

	for (i = 0; i < (size_t)ndests; i++)
		size += 17 * (2 * strlen(dests[i].spec) + 80);
	if (!(s = malloc(size)))
		return NULL;
	for (m = metricdefs, k = 0; *m; m = h + strlen(h) + 1, k++) {
		h = m + strlen(m) + 1;
		n += fmt(s + n, size - n, "# HELP inosync_%s %s\n# TYPE inosync_%s "
		    "%s\n", m, h, m, has(m, "_total", 0) ? "counter" : "gauge");
		if (k < DESTMETRICS)
			n += fmt(s + n, size - n, "inosync_%s %lld\n", m, metric(k, NULL));
		for (i = 0; k >= DESTMETRICS && i < (size_t)ndests; i++)
			n += series(s + n, size - n, m, k, &dests[i]);
	}
	*len = n;
	return s;
}

/* SIGUSR2 */
static void
logstatus(void)
{
	char *s, *l, *e;
	size_t n;

	if (!(s = status(&n)))
		return;
	for (l = s; (e = strchr(l, '\n')); l = e + 1) {
		*e = '\0';
		logmsg(LOG_INFO, "status: %s", l);
	}
	free(s);
}

/* the statusfile or metricsfile (key) at path, made by what, anew:
 * written whole in a file of a new name beside it, random and opened
 * with O_EXCL (nothing planted there is opened), then renamed over the
 * old one; mkstemp() would bring 0.3 KB for the same. An error is told
 * once (told) until it is written again; 0 for one */
static int
rewrite(const char *key, const char *path, char *(*what)(size_t *), int *told)
{
	static unsigned long r;
	char tmp[PATH_MAX], *s;
	const char *base;
	size_t n;
	int dfd, fd, ok;

	if (!path || !(s = what(&n)))
		return 1;
	if (syscall(SYS_getrandom, &r, sizeof(r), GRND_NONBLOCK) < 0)
		r ^= usclock(CLOCK_MONOTONIC); /* no entropy yet, early at boot */
	errno = ENAMETOOLONG; /* fmt's, unless a call fails with its own */
	ok = (dfd = opendirof(path, &base)) >= 0 &&
	    fmt(tmp, sizeof(tmp), "%s.%lu", base, r) < (int)sizeof(tmp) &&
	    (fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) >= 0;
	if (ok) {
		/* a short write says nothing of its own: the disk is full */
		ok = plainfile(fd) && fchmod(fd, 0644) == 0 &&
		    (errno = ENOSPC, write(fd, s, n) == (ssize_t)n);
		ok = close(fd) == 0 && ok && renameat(dfd, tmp, dfd, base) == 0;
		if (!ok)
			unlinkat(dfd, tmp, 0);
	}
	if (!ok && !*told)
		logmsg(LOG_ERR, "%s %s: %s", key, path, strerror(errno));
	*told = !ok;
	if (dfd >= 0)
		close(dfd);
	free(s);
	return ok;
}

/* the statusfile and the metricsfile, and again a second later where
 * one could not be written (a full disk, a directory in its way) */
static void
writestatus(void)
{
	static int told[2];

	statusat = now();
	statuswant = (int)!rewrite("statusfile", conf.statusfile, status, &told[0]) |
	    !rewrite("metricsfile", conf.metricsfile, metrics, &told[1]);
}

/* systemd's notifications (sd_notify(3), Type=notify and notify-reload)
 * without libsystemd: one datagram a message to $NOTIFY_SOCKET, a path
 * or, after '@', an abstract name. READY=1 once the start is done,
 * STATUS= when the summary changes, RELOADING=1 then READY=1 on SIGHUP,
 * STOPPING=1 on exit, and WATCHDOG=1 from the loop itself at half of
 * $WATCHDOG_USEC, so that a loop that stalls is restarted. */
static struct sockaddr_un sdsa;
static socklen_t sdlen;         /* 0: no $NOTIFY_SOCKET, nothing is sent */
static int sdready;             /* READY=1 was sent for the running config */
static int64_t wdogms, wdogat;  /* WATCHDOG=1 every wdogms ms, next at */

static void
sdnotify(const char *msg)
{
	static int fd = -1;

	if (sdlen && (fd >= 0 || (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) >= 0))
		sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
		    (const struct sockaddr *)&sdsa, sdlen);
}

/* after -d: the socket, and the watchdog if it watches this process */
static void
sdinit(void)
{
	const char *s = getenv("NOTIFY_SOCKET"), *p = getenv("WATCHDOG_PID");
	size_t n = s ? strlen(s) : 0;

	if (n < 2 || n >= sizeof(sdsa.sun_path) || (*s != '/' && *s != '@'))
		return;
	sdsa.sun_family = AF_UNIX;
	memcpy(sdsa.sun_path, s, n);
	sdsa.sun_path[0] = *s == '@' ? '\0' : '/';
	sdlen = offsetof(struct sockaddr_un, sun_path) + n;
	if (!p || digits(p) == getpid())
		wdogms = (digits(getenv("WATCHDOG_USEC")) + 1999) / 2000;
}

/* READY=1 once the tree is watched and each destination's first full
 * sync has ended (at once with rinit = no), or the source is held: then
 * the daemon runs as it should, waiting for it */
static void
sdstart(void)
{
	int i;

	if (sdready || newconf)
		return;
	for (i = 0; i < ndests && conf.rinit && !*heldwhy; i++)
		if (!dests[i].nsyncs || dests[i].run.pid)
			return;
	sdnotify("READY=1");
	sdready = 1;
}

/* STATUS=: the watched directories, the destinations in sync, the last
 * error */
static void
sdstatus(void)
{
	char line[LOGLINE];
	const struct dest *d, *e = dests;
	int ok = 0;

	for (d = dests; d < dests + ndests; d++) {
		ok += !d->run.pid && !owes(d);
		if (d->lasterrat > e->lasterrat)
			e = d;
	}
	fmt(line, sizeof(line), "STATUS=%s%s%sdirectories watched: %zu, "
	    "destinations in sync: %d of %d%s%s%s%s", *heldwhy ? "source held: " : "",
	    heldwhy, *heldwhy ? "; " : "", nnodes, ok, ndests,
	    e->lasterrat ? "; last error: " : "", e->lasterrat ? e->spec : "",
	    e->lasterrat ? ": " : "", e->lasterrat ? e->lasterr : "");
	sdnotify(line);
}

/* one instance per pidfile: flock, which the detached child inherits;
 * the pidfile's fd, or -1 (said why) */
static int
lockpid(const char *file)
{
	char buf[32] = "";
	ssize_t n;
	int fd;

	if ((fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC, 0644)) < 0) {
		logmsg(LOG_ERR, "pidfile %s: %s", file, strerror(errno));
		return -1;
	}
	if (!plainfile(fd)) {
		logmsg(LOG_ERR, "pidfile %s is not a regular file with one "
		    "link: refused", file);
	} else if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if ((n = read(fd, buf, sizeof(buf) - 1)) > 0)
			buf[n] = '\0';
		logmsg(LOG_ERR, "pidfile %s is locked: inosync already runs "
		    "as pid %s", file, trim(buf));
	} else if (ftruncate(fd, 0) < 0) { /* no stale pid until ours */
		logmsg(LOG_ERR, "pidfile %s: %s", file, strerror(errno));
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

static void
writepid(pid_t pid)
{
	char buf[32];
	int n = fmt(buf, sizeof(buf), "%d\n", (int)pid);

	if (ftruncate(pidfd, 0) < 0 || pwrite(pidfd, buf, n, 0) != n)
		logmsg(LOG_ERR, "pidfile: %s", strerror(errno));
}

/* the statusfile or metricsfile at path, if now is not the same name;
 * reached as it was written */
static void
gone(const char *path, const char *now)
{
	const char *base;
	int dfd;

	if (path && (!now || strcmp(path, now)) &&
	    (dfd = opendirof(path, &base)) >= 0) {
		unlinkat(dfd, base, 0);
		close(dfd);
	}
}

/* a reload to c: a statusfile or metricsfile it no longer names goes,
 * or it would go stale; a pidfile it names anew is ours (locked, our pid
 * in it) before the old one goes, and where it cannot be (another
 * daemon holds it) the old one stays */
static void
movefiles(const struct conf *c)
{
	char *name = NULL;
	int fd = -1;

	gone(conf.statusfile, c->statusfile);
	gone(conf.metricsfile, c->metricsfile);
	if (pretend || !strcmp(c->pidfile ? c->pidfile : "", lockfile ? lockfile : ""))
		return;
	if (c->pidfile && (!(name = strdup(c->pidfile)) || (fd = lockpid(name)) < 0)) {
		free(name);
		return;
	}
	if (pidfd >= 0) {
		unlink(lockfile);
		close(pidfd);
	}
	free(lockfile);
	lockfile = name;
	if ((pidfd = fd) >= 0)
		writepid(getpid());
}

/* ===== The loop ===== */

/* One poll() is where the program waits: inotify, signals (a signalfd),
 * the mount table and the pipes of the running rsyncs and movers all come
 * through it, and its timeout is the nearest deadline (every timed
 * concern is in deadlines(), which also fires them); no child's output
 * and no slow log reader can hold it (output is read a pipe's worth at a
 * time, and a log line the log's pipe cannot take at once is dropped and
 * counted). Only work done in one go holds it: a rescan walks the whole
 * tree, and on exit and reload ssh's masters are closed in turn. Under
 * systemd it says when it is ready, what it does and that its loop runs
 * (see sdnotify()). */

static int stopsig;             /* what stopat sends the children next */
static int startfd = -1;        /* the start directory, after -d went to / */

static void
quit(void)
{
	int n = children(0);

	if (quitting) { /* asked twice: stop the syncs now */
		stopat = now();
		return;
	}
	quitting = 1;
	sdnotify("STOPPING=1");
	stopat = now() + TERMWAIT_MS;
	stopsig = SIGTERM;
	closefd(&ifd);
	closefd(&ffd);
	logmsg(LOG_INFO, n ? "exiting after %d running syncs" : "exiting", n);
}

static void
reload(void)
{
	struct conf *c;
	char msg[64];

	fmt(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%lld",
	    (long long)usclock(CLOCK_MONOTONIC));
	sdnotify(msg);
	sdready = 0;
	if (!conf.file) {
		logmsg(LOG_WARNING, "SIGHUP: no config file to reload");
		return;
	}
	/* relative paths in it mean what they meant at start */
	if (startfd >= 0 && fchdir(startfd) < 0)
		logmsg(LOG_ERR, "cannot go back to the start directory: %s", strerror(errno));
	if (!(c = malloc(sizeof(*c))) || loadconf(c, conf.file) < 0) {
		logmsg(LOG_ERR, "%s: not reloaded, keeping the running configuration",
		    conf.file);
		free(c);
		c = NULL;
	}
	if (startfd >= 0 && chdir("/") < 0)
		logmsg(LOG_ERR, "chdir /: %s", strerror(errno));
	if (!c)
		return;
	if (newconf) {
		freeconf(newconf);
		free(newconf);
	}
	newconf = c;
	stopall(SIGTERM, 1); /* then SIGKILL, as on exit, for one that ignores it */
	stopat = now() + KILLWAIT_MS;
	stopsig = SIGKILL;
	logmsg(LOG_INFO, "%s reloaded", conf.file);
}

/* the periodic full sync after the one at t: efull later */
static void
nextfull(int64_t t)
{
	fullat = t + (int64_t)conf.efull * 1000;
}

/* at start and after a reload: the destinations of conf, and the source
 * accepted anew, watched and fully synced (or held) */
static void
begin(void)
{
	initdests();
	src.ok = 0;
	takesource();
	nextfull(now());
}

/* the reloaded config, once no rsync of the old one runs */
static void
apply(void)
{
	closemasters(ctldir);
	carry(newconf);
	movefiles(newconf);
	freeconf(&conf);
	conf = *newconf;
	free(newconf);
	newconf = NULL;
	forgetmoves(~0u); /* the destinations may be others */
	begin();
	probejail();
	mkctldir();
	free(mounts);
	mounts = mfd >= 0 ? listmounts(&mountslen) : NULL;
	sdnotify("READY=1"); /* the new config runs */
	sdready = 1;
}

static void
readsignals(void)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			quit();
			break;
		case SIGHUP:
			reload();
			break;
		case SIGUSR1:
			logmsg(LOG_INFO, "full sync requested");
			wantfull();
			break;
		case SIGUSR2:
			logstatus();
			break;
		}
	}
	reap();
}

/* rprocs reached: a destination whose work is due waits for a turn */
static int
capped(void)
{
	return conf.rprocs && children(0) >= conf.rprocs;
}

/* start the syncs that are due; under rprocs in turn, from the one after
 * the last started, so that none that waits is passed over twice */
static void
startdue(void)
{
	static int next;
	int64_t t = now();
	const char *why;
	struct stat st;
	int i, k, from = next, looked = 0;
	struct dest *d;

	if (quitting || newconf || *heldwhy)
		return;
	for (k = 0; k < ndests; k++) {
		d = &dests[i = (from + k) % ndests];
		if (d->run.pid || !owes(d) || startat(d) > t) {
			d->queued = 0; /* its work went, or is not due yet */
			continue;
		}
		if (capped()) {
			statuswant |= !d->queued;
			d->queued = 1;
			continue;
		}
		if (!looked++ && (why = srcfail(0, &st))) {
			hold(why);
			return;
		}
		d->queued = 0;
		next = i + 1;
		spawnsync(d, t);
	}
}

/* a timed concern that is on, due at: with fire and at passed, true (the
 * caller does it now); else at is one of the deadlines that *next is
 * the nearest of */
static int
due(int64_t at, int fire, int64_t t, int64_t *next)
{
	if (fire && t >= at)
		return 1;
	*next = MIN(*next, at);
	return 0;
}

/* Every timed concern, in one place, so that poll()'s timeout and what
 * fires cannot disagree: with fire, those that are due are done; the
 * nearest deadline of the others is returned, INT64_MAX for none. Syncs
 * that are due start in startdue(): a queued destination's turn comes
 * when an rsync ends, a held source's when it is back */
static int64_t
deadlines(int fire)
{
	int64_t t = now(), next = INT64_MAX;
	int on = !quitting, cap = capped();
	struct dest *d;
	size_t k;

	for (d = dests; d < dests + ndests && on && !newconf && !*heldwhy; d++)
		if (!d->run.pid && owes(d) && !(cap && d->queued))
			due(startat(d), 0, t, &next);
	if ((quitting || newconf) && children(1) && due(stopat, fire, t, &next)) {
		stopall(stopsig, 1);
		stopsig = SIGKILL;
		stopat = t + KILLWAIT_MS;
	}
	for (d = dests; d < dests + ndests; d++)
		if (d->hook.pid && !d->hook.killed && due(hookend(d), fire, t, &next))
			killhook(d, t);
	for (k = nunclosed; k-- > 0;)
		if (due(unclosed[k].since + conf.wsettle, fire, t, &next))
			overdue(k);
		else if (unclosed[k].check && due(unclosed[k].check, fire, t, &next))
			recheck(k);
	if (children(0) && due(jamat, fire, t, &next))
		unjam();
	if (fanat && due(fanat, fire, t, &next))
		fanat = 0;
	if (on && mountsat && due(mountsat, fire, t, &next)) {
		mountsat = 0;
		mountschanged();
	}
	if (on && (*heldwhy || mfd < 0) && due(checkat, fire, t, &next))
		looksource();
	if (on && degraded && due(rescanat, fire, t, &next))
		rescanning = 1;
	if (fire && rescanning && on && !*heldwhy)
		rescan();
	if (on && conf.efull && due(fullat, fire, t, &next)) {
		logmsg(LOG_INFO, "periodic full sync");
		wantfull();
		nextfull(t);
	}
	if ((conf.statusfile || conf.metricsfile || sdlen) && statuswant &&
	    due(statusat + 1000, fire, t, &next)) {
		sdstatus();
		writestatus();
	}
	if (wdogms && due(wdogat, fire, t, &next)) {
		sdnotify("WATCHDOG=1");
		wdogat = t + wdogms;
	}
	return next;
}

/* milliseconds until the nearest deadline, -1 for none */
static int
timeout(void)
{
	int64_t t = now(), next = deadlines(0);

	if (next == INT64_MAX)
		return -1;
	return next <= t ? 0 : (int)MIN(next - t, INT_MAX);
}

static void
loop(void)
{
	struct pollfd pfd[4 + 3 * MAXDESTS];
	int owner[LEN(pfd)], n, i, k;
	struct dest *d;

	for (;;) {
		if (newconf && !children(1) && !quitting)
			apply();
		sdstart();
		startdue();
		if (quitting && !children(1))
			return;
		/* poll() passes over an fd below 0: no watcher while
		 * exiting, no fanotify where inotify watches alone, no
		 * mountinfo without /proc */
		n = 0;
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ifd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = mfd, .events = POLLPRI };
		pfd[n++] = (struct pollfd){ .fd = fanat ? -1 : ffd, .events = POLLIN };
		for (i = 0; i < ndests; i++) {
			for (k = 0; k < 3; k++) {
				if (dests[i].fd[k] < 0)
					continue;
				owner[n] = 3 * i + k;
				pfd[n++] = (struct pollfd){ .fd = dests[i].fd[k],
				    .events = k ? POLLIN : POLLOUT };
			}
		}
		if (poll(pfd, n, timeout()) < 0 && errno != EINTR)
			die(1, "poll:");
		for (i = 4; i < n; i++) {
			d = &dests[owner[i] / 3];
			k = owner[i] % 3;
			if (!pfd[i].revents || d->fd[k] != pfd[i].fd)
				continue;
			if (k)
				drain(d, k);
			else
				feed(d);
		}
		if (ifd >= 0 && pfd[1].fd == ifd && pfd[1].revents)
			readevents(ifd);
		/* while fanotify waits (fanread()), a signal reads it first:
		 * a reload must not drop what it holds */
		if (ffd >= 0 && ((pfd[3].fd == ffd && pfd[3].revents) ||
		    (fanat && pfd[0].revents)))
			fanread();
		if (mfd >= 0 && pfd[2].revents && !mountsat)
			mountsat = now() + MOUNTWAIT_MS;
		if (pfd[0].revents)
			readsignals();
		deadlines(1);
	}
}

/* ===== Start-up and main ===== */

static char *conffile;          /* -c, absolute, for every reload */
static int argi = 1;            /* nextopt()'s next word of argv */

static void
usage(int status)
{
	static const char text[] =
	    "usage: inosync [-c FILE] [-d] [-p] [-v] [-t] [-P PIDFILE]\n"
	    "       inosync [-d] [-p] [-v] [-P PIDFILE] [-e SECONDS] [-x PATTERN]... SRC DEST...\n"
	    "       inosync --version | -h | --help\n";

	if (write(status ? 2 : 1, text, sizeof(text) - 1) < 0)
		status = 2;
	exit(status);
}

/* fds 0-2 may be closed when started from an initramfs: fill them */
static void
keepstdio(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			open("/", O_RDONLY | O_DIRECTORY);
}

static void
daemonize(void)
{
	pid_t pid;
	int fd;

	switch ((pid = newproc())) {
	case -1:
		die(1, "fork:");
	case 0:
		break;
	default:
		/* the pidfile names the daemon by the time -d returns, for
		 * the init script that reads it next; the lock is shared */
		if (pidfd >= 0)
			writepid(pid);
		_exit(0);
	}
	setsid();
	startfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (chdir("/") < 0)
		die(1, "chdir /:");
	/* let go of the caller's terminal or pipe, even without /dev */
	if ((fd = open("/dev/null", O_RDWR)) >= 0 ||
	    (fd = open("/", O_RDONLY | O_DIRECTORY)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	usesyslog = 1;
}

/* what can fail before the loop: signals, the first watch; then detach */
static void
setup(int detach)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	sigset_t set;
	size_t i;
	int k;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGIO, SIG_IGN); /* a lease of writing()'s broken */
	sigemptyset(&set);
	for (i = 0; i < LEN(sigs); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		die(1, "signalfd:");
	begin();
	if (!root && !*heldwhy)
		die(1, "cannot watch %s", conf.src);
	if (conf.watcher == WFANOTIFY && ffd < 0 && !*heldwhy)
		die(1, "watcher = fanotify, but %s", watching);
	/* only a source accepted now: one held is fully synced once back */
	if (!conf.rinit && !*heldwhy) {
		for (k = 0; k < ndests; k++) {
			dests[k].needfull = 0;
			dests[k].owedsince = 0;
			undue(&dests[k]);
		}
		logmsg(LOG_INFO, "rinit = no: no full sync at start, the "
		    "destinations are taken to be current");
	}
	if (detach)
		daemonize();
	else if (pidfd >= 0)
		writepid(getpid());
	mkctldir(); /* in the daemon's own name */
	sdinit();
	/* after -d: their warnings are no error of the start */
	watchmounts();
	probejail();
	if (!*heldwhy)
		logmsg(LOG_INFO, "watching %zu directories in %s, %d destination%s, "
		    "with %s", nnodes, conf.src, ndests, ndests > 1 ? "s" : "", watching);
}

/* getopt(3) for the options in opts ("-dv", "-e5", "-e 5", "--"), the
 * operands from argv[argi] on; libc's getopt would bring in stdio for its
 * two messages, 4 KB of a static binary */
static int
nextopt(int argc, char **argv, const char *opts, char **val)
{
	static int at; /* the next letter in argv[argi], 0: a new word */
	const char *o;
	int c;

	if (!at && (argi >= argc || argv[argi][0] != '-' || !argv[argi][1]))
		return -1;
	if (!at && !strcmp(argv[argi], "--")) {
		argi++;
		return -1;
	}
	c = argv[argi][at ? at : 1];
	at = at ? at + 1 : 2;
	if (!argv[argi][at])
		argi++, at = 0;
	if (c == ':' || !(o = strchr(opts, c))) {
		logmsg(LOG_ERR, "unknown option -%c", c);
		return '?';
	}
	if (o[1] != ':')
		return c;
	if (!at && argi == argc) {
		logmsg(LOG_ERR, "-%c needs a value", c);
		return '?';
	}
	*val = argv[argi++] + at;
	at = 0;
	return c;
}

static void
addarg(const char *x)
{
	char **v;

	if (!(v = realloc(argexcl, (nargexcl + 1) * sizeof(*v))))
		die(1, "out of memory");
	argexcl = v;
	argexcl[nargexcl++] = (char *)x;
}

/* the options, and the config they name (-c FILE, the default file, or
 * SRC DEST...); exit 2 on a mistake in either */
static void
getconf(int argc, char *argv[], int *detach, int *check)
{
	const char *cfile = NULL;
	char *val = NULL;
	int c;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		out("inosync %s\n", VERSION);
		exit(0);
	}
	if (argc == 2 && !strcmp(argv[1], "--help"))
		usage(0);
	while ((c = nextopt(argc, argv, "c:de:hP:ptvx:", &val)) != -1) {
		switch (c) {
		case 'c': cfile = val; break;
		case 'd': *detach = 1; break;
		case 'e':
			if (parsenum(val, 3, EDELAY_MAX, &argdelay, "-e") < 0)
				exit(2);
			break;
		case 'h': usage(0); break;
		case 'P': argpidfile = val; break;
		case 'p': pretend = 1; break;
		case 't': *check = 1; break;
		case 'v': verbose = 1; break;
		case 'x': addarg(val); break;
		default: usage(2);
		}
	}
	argc -= argi;
	argv += argi;
	if ((cfile && argc) || argc == 1)
		usage(2);
	if (!argc && !cfile)
		cfile = CONFFILE;
	/* absolute, so SIGHUP finds it after -d went to /, but unresolved:
	 * SIGHUP follows a config symlink repointed since */
	if (cfile && setpath(&conffile, cfile, "-c") < 0)
		exit(2);
	if ((conffile ? loadconf(&conf, conffile) : argconf(&conf, argv, argc)) < 0)
		exit(2);
}

/* on the way out: ssh's masters, the statusfile and the pidfile go */
static void
cleanup(void)
{
	closemasters(ctldir);
	if (*ctldir)
		rmdir(ctldir);
	gone(conf.statusfile, NULL);
	gone(conf.metricsfile, NULL);
	if (pidfd >= 0)
		unlink(lockfile);
	free(lockfile);
	free(conffile);
	logmsg(LOG_INFO, "exited");
}

int
main(int argc, char *argv[])
{
	int check = 0, detach = 0;

	if (argc > 1 && !strcmp(argv[1], "--rsh"))
		relay(argc - 2, argv + 2); /* in a jail, for its rsync */
	keepstdio();
	safepath();
	getconf(argc, argv, &detach, &check);
	if (check) {
		printconf(&conf);
		fanstart();
		out("# watcher: %s\n", watching);
		return 0;
	}
	/* lockfile, not the key, which a reload frees */
	if (conf.pidfile && !pretend &&
	    (pidfd = lockpid(lockfile = strdup(conf.pidfile))) < 0)
		exit(1);
	setup(detach);
	loop();
	cleanup();
	return 0;
}
