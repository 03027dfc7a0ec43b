/* inosync - see the README for copyright and license details. */

/*
 * benchtool: the small measuring and tree-making parts of bench/run, in C
 * so that they are fast and precise where a shell would be neither. One
 * program, one subcommand per job; bench/run builds it with the system
 * compiler. Times are CLOCK_REALTIME in microseconds, the clock of bash's
 * $EPOCHREALTIME, so the shell and this tool can subtract each other's
 * stamps.
 *
 *   lat FILE DSTDIR SIZE [CMD...]
 *	watch DSTDIR, write FILE (SIZE bytes), run CMD if given (the floor:
 *	a bare rsync of that file), and print the microseconds until a file
 *	of FILE's name and SIZE bytes is complete in DSTDIR (rsync writes a
 *	temporary file and renames it: IN_MOVED_TO; IN_CLOSE_WRITE covers
 *	writers that do not rename)
 *   waitlog SECONDS FILE STRING [FILE STRING]...
 *	wait until each STRING has appeared in its FILE (polled every 2 ms;
 *	a file that was replaced or truncated is read again from its top)
 *	and print, one line each, the time each was first seen, 0 for one
 *	not seen; exit 1 after SECONDS without them all
 *   same SRC DST
 *	exit 0 when DST holds the same names, types, sizes and modification
 *	times (nanoseconds) of regular files as SRC, at every depth; 1 if not
 *   flood DIR NDIRS NFILES NREWRITE NDELETE NRENAME
 *	as fast as possible: NFILES new 1 KiB files spread over DIR/d0..,
 *	then NREWRITE of them rewritten (1.5 KiB), NDELETE deleted, NRENAME
 *	renamed in place; print the start and end time of the burst
 *   mkdirs DIR N
 *	make N directories under DIR, in groups of 500 (g0/ and its 499
 *	subdirectories s0..s498)
 *   mkfiles DIR N SIZE
 *	make N files of SIZE bytes in DIR
 *   mkrand DIR N SIZE
 *	make N files of SIZE bytes (any size) of pseudo-random data in DIR,
 *	no two alike, so that no file can serve rsync as another's basis
 *   run [-s] LOG CMD...
 *	run CMD, append "start wall user sys status" (microseconds) to LOG,
 *	exit with CMD's status; the rsync wrappers count and time with it.
 *	With -s CMD is an rsync: it gets --stats and a --log-file of its own
 *	(with -q, rsync prints no stats, but still logs them), and the line
 *	goes on with "sent received literal": its Total bytes sent, Total
 *	bytes received and Literal data
 *   relay PORTFILE PORT TOTALS
 *	a TCP relay from a free port on 127.0.0.1 (written to PORTFILE, one
 *	line) to 127.0.0.1:PORT, counting what crosses it: TOTALS is
 *	rewritten in place with "up down connections", up being the bytes
 *	the clients sent; runs until killed
 *   pieces FILE DST N SIZE MS
 *	write FILE in N pieces of SIZE bytes, one every MS ms from its open,
 *	closing it MS ms after the last; stat DST every 20 ms from the open
 *	until it is N * SIZE bytes and FILE is closed, and print the number
 *	of distinct smaller sizes seen there (0 too), the ms from the close
 *	to DST's arrival (negative: before it), and those sizes; exit 1 if
 *	DST has not arrived 30 s after the close
 */

#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buf[65536];
static pid_t child;

static void
die(const char *what)
{
	fprintf(stderr, "benchtool: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long long
usnow(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void
writefile(int dfd, const char *name, size_t size, int c)
{
	int fd;

	memset(buf, c, size);
	if ((fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0)
		die(name);
	if (write(fd, buf, size) != (ssize_t)size)
		die(name);
	close(fd);
}

/* is NAME in DIR complete: SIZE bytes? */
static int
complete(const char *dir, const char *name, long size)
{
	char p[4096];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0 && st.st_size == size;
}

static int
lat(int argc, char **argv)
{
	const char *file = argv[0], *dst = argv[1], *name;
	long size = atol(argv[2]), us;
	struct pollfd pfd;
	long long t0;
	char *slash, *p;
	int ifd;

	if (size < 0 || size > (long)sizeof(buf))
		return 2;
	name = (slash = strrchr(file, '/')) ? slash + 1 : file;
	if ((ifd = inotify_init1(IN_CLOEXEC)) < 0)
		die("inotify_init1");
	if (inotify_add_watch(ifd, dst, IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
		die(dst);
	t0 = usnow();
	writefile(AT_FDCWD, file, size, 'n');
	if (argc > 3) {
		if ((child = fork()) < 0)
			die("fork");
		if (!child) {
			execv(argv[3], argv + 3);
			_exit(127);
		}
	}
	pfd.fd = ifd;
	pfd.events = POLLIN;
	for (;;) {
		ssize_t n;

		if (poll(&pfd, 1, 20000) <= 0) {
			fprintf(stderr, "benchtool: lat: %s never arrived\n", name);
			return 1;
		}
		if ((n = read(ifd, buf, sizeof(buf))) <= 0)
			die("read inotify");
		for (p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			p += sizeof(*e) + e->len;
			if (e->len && !strcmp(e->name, name) && complete(dst, name, size)) {
				us = usnow() - t0;
				printf("%ld\n", us);
				if (child)
					waitpid(child, NULL, 0);
				return 0;
			}
		}
	}
}

/* one FILE STRING pair of waitlog: where it has read to, what it kept */
struct seen {
	const char *file, *want;
	size_t wl, have;
	ino_t ino;
	off_t off;
	struct timespec mtime;
	long long at;
	char text[1 << 16];
};

/* read what was added to s->file; 1 when s->want is in it */
static int
look(struct seen *s)
{
	struct stat st;
	size_t keep;
	ssize_t n;
	int fd, found = 0;

	if ((fd = open(s->file, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	/* a status file is replaced, or rewritten in place (shorter, or as
	 * long but newer): read it again from its top */
	if (fstat(fd, &st) == 0 && (st.st_ino != s->ino || st.st_size < s->off ||
	    (st.st_size == s->off && (st.st_mtim.tv_sec != s->mtime.tv_sec ||
	    st.st_mtim.tv_nsec != s->mtime.tv_nsec)))) {
		s->ino = st.st_ino;
		s->off = 0;
		s->have = 0;
	}
	s->mtime = st.st_mtim;
	while (!found && (n = pread(fd, s->text + s->have,
	    sizeof(s->text) - s->have, s->off)) > 0) {
		s->off += n;
		s->have += n;
		found = memmem(s->text, s->have, s->want, s->wl) != NULL;
		/* keep a tail that may hold the start of the string */
		keep = s->have < s->wl ? s->have : s->wl - 1;
		memmove(s->text, s->text + s->have - keep, keep);
		s->have = keep;
	}
	close(fd);
	return found;
}

static int
waitlog(int argc, char **argv)
{
	long long end = usnow() + atoll(argv[0]) * 1000000LL;
	int i, n = (argc - 1) / 2, left = n;
	struct seen *s;

	if (n < 1 || argc % 2 == 0 || !(s = calloc(n, sizeof(*s))))
		return 2;
	for (i = 0; i < n; i++) {
		s[i].file = argv[1 + 2 * i];
		s[i].want = argv[2 + 2 * i];
		if ((s[i].wl = strlen(s[i].want)) == 0 || s[i].wl >= sizeof(s->text) / 2)
			return 2;
	}
	while (left && usnow() < end) {
		for (i = 0; i < n; i++) {
			if (!s[i].at && look(&s[i])) {
				s[i].at = usnow();
				left--;
			}
		}
		if (left)
			usleep(2000);
	}
	for (i = 0; i < n; i++)
		printf("%lld\n", s[i].at);
	return left ? 1 : 0;
}

static int
cmpname(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the names in directory fd, sorted; NULL on error */
static char **
names(int fd, size_t *np)
{
	char **v = NULL, **nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if ((fd = dup(fd)) < 0 || !(d = fdopendir(fd)))
		return NULL;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (!(nv = realloc(v, cap * sizeof(*v))))
				die("realloc");
			v = nv;
		}
		if (!(v[n++] = strdup(de->d_name)))
			die("strdup");
	}
	closedir(d);
	*np = n;
	if (!v) /* empty; qsort may not be given NULL */
		return calloc(1, sizeof(*v));
	qsort(v, n, sizeof(*v), cmpname);
	return v;
}

static void
freenames(char **v, size_t n)
{
	while (n)
		free(v[--n]);
	free(v);
}

static int
samedir(int sfd, int dfd)
{
	char **sv, **dv;
	size_t sn, dn, i;
	struct stat ss, ds;
	int r = 0, a, b;

	sv = names(sfd, &sn);
	dv = names(dfd, &dn);
	if (!sv || !dv || sn != dn)
		r = 1;
	for (i = 0; !r && i < sn; i++) {
		if (strcmp(sv[i], dv[i]) ||
		    fstatat(sfd, sv[i], &ss, AT_SYMLINK_NOFOLLOW) < 0 ||
		    fstatat(dfd, dv[i], &ds, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (ss.st_mode & S_IFMT) != (ds.st_mode & S_IFMT)) {
			r = 1;
		} else if (S_ISREG(ss.st_mode)) {
			r = ss.st_size != ds.st_size ||
			    ss.st_mtim.tv_sec != ds.st_mtim.tv_sec ||
			    ss.st_mtim.tv_nsec != ds.st_mtim.tv_nsec;
		} else if (S_ISDIR(ss.st_mode)) {
			a = openat(sfd, sv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			b = openat(dfd, dv[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			r = a < 0 || b < 0 || samedir(a, b);
			if (a >= 0)
				close(a);
			if (b >= 0)
				close(b);
		}
	}
	if (sv)
		freenames(sv, sn);
	if (dv)
		freenames(dv, dn);
	return r;
}

static int
same(char **argv)
{
	int s, d;

	if ((s = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (d = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 1;
	return samedir(s, d);
}

static int
flood(char **argv)
{
	long nd = atol(argv[1]), nf = atol(argv[2]), nw = atol(argv[3]);
	long ndel = atol(argv[4]), nmv = atol(argv[5]), i;
	char a[64], b[64];
	long long t0;
	int fd;

	if (nd < 1 || nw + ndel + nmv > nf)
		return 2;
	if ((fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[0]);
	t0 = usnow();
	for (i = 0; i < nf; i++) {
		snprintf(a, sizeof(a), "d%ld/f%ld", i % nd, i);
		writefile(fd, a, 1024, 'a' + i % 26);
	}
	for (i = 0; i < nw; i++) {
		snprintf(a, sizeof(a), "d%ld/f%ld", i % nd, i);
		writefile(fd, a, 1536, 'A' + i % 26);
	}
	for (i = nw; i < nw + ndel; i++) {
		snprintf(a, sizeof(a), "d%ld/f%ld", i % nd, i);
		if (unlinkat(fd, a, 0) < 0)
			die(a);
	}
	for (i = nw + ndel; i < nw + ndel + nmv; i++) {
		snprintf(a, sizeof(a), "d%ld/f%ld", i % nd, i);
		snprintf(b, sizeof(b), "d%ld/r%ld", i % nd, i);
		if (renameat(fd, a, fd, b) < 0)
			die(a);
	}
	printf("%lld %lld\n", t0, usnow());
	return 0;
}

static int
mkdirs(char **argv)
{
	long n = atol(argv[1]), i, s = 0, g = -1;
	char p[64];
	int fd;

	if ((fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[0]);
	for (i = 0; i < n; i++) {
		if (i % 500 == 0)
			snprintf(p, sizeof(p), "g%ld", ++g);
		else
			snprintf(p, sizeof(p), "g%ld/s%ld", g, s++ % 499);
		if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST)
			die(p);
	}
	return 0;
}

static int
mkfiles(char **argv)
{
	long n = atol(argv[1]), size = atol(argv[2]), i;
	char p[64];
	int fd;

	if (size < 0 || size > (long)sizeof(buf))
		return 2;
	if ((fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[0]);
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "f%ld", i);
		writefile(fd, p, size, 'a' + i % 26);
	}
	return 0;
}

static int
mkrand(char **argv)
{
	long n = atol(argv[1]), i;
	long long size = atoll(argv[2]), left;
	uint64_t x, *w;
	size_t k, j;
	char p[64];
	int dfd, fd;

	if (size < 0)
		return 2;
	if ((dfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(argv[0]);
	/* xorshift64, seeded by the directory's name and the file's number */
	x = 88172645463325252ULL;
	for (k = 0; argv[0][k]; k++)
		x = (x ^ (unsigned char)argv[0][k]) * 1099511628211ULL;
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "f%ld", i);
		if ((fd = openat(dfd, p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
			die(p);
		x ^= (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ULL;
		for (left = size; left > 0; left -= k) {
			k = left < (long long)sizeof(buf) ? (size_t)left : sizeof(buf);
			for (w = (uint64_t *)buf, j = 0; j < sizeof(buf) / 8; j++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				w[j] = x;
			}
			if (write(fd, buf, k) != (ssize_t)k)
				die(p);
		}
		close(fd);
	}
	return 0;
}

static void
pass(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* the number after "what" in rsync's log file of stats, commas skipped */
static long long
statnum(const char *text, const char *what)
{
	const char *p = strstr(text, what);
	long long v = 0;

	if (!p)
		return 0;
	for (p += strlen(what); *p == ',' || (*p >= '0' && *p <= '9'); p++)
		if (*p != ',')
			v = v * 10 + (*p - '0');
	return v;
}

static int
run(int argc, char **argv)
{
	struct rusage ru;
	long long t0, t1;
	int st, fd, stats = 0, i;
	char line[256], slog[4096], sopt[4200], **cmd;
	ssize_t n;

	if (!strcmp(argv[0], "-s")) {
		stats = 1;
		argv++;
		argc--;
	}
	if (argc < 2 || !(cmd = calloc(argc + 4, sizeof(*cmd))))
		return 2;
	cmd[0] = argv[1];
	i = 1;
	if (stats) {
		snprintf(slog, sizeof(slog), "%s.%ld", argv[0], (long)getpid());
		snprintf(sopt, sizeof(sopt), "--log-file=%s", slog);
		cmd[i++] = "--stats";
		cmd[i++] = sopt;
		cmd[i++] = "--log-file-format=";
	}
	memcpy(cmd + i, argv + 2, (argc - 2) * sizeof(*cmd));
	signal(SIGTERM, pass);
	signal(SIGINT, pass);
	t0 = usnow();
	if ((child = fork()) < 0)
		die("fork");
	if (!child) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		execv(cmd[0], cmd);
		_exit(127);
	}
	while (wait4(child, &st, 0, &ru) < 0)
		if (errno != EINTR)
			die("wait4");
	t1 = usnow();
	st = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	n = snprintf(line, sizeof(line), "%lld %lld %lld %lld %d", t0, t1 - t0,
	    ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
	    ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec, st);
	if (stats) {
		/* the summary is the log's last lines: its tail will do */
		ssize_t m = 0;
		off_t size;

		buf[0] = 0;
		if ((fd = open(slog, O_RDONLY | O_CLOEXEC)) >= 0) {
			size = lseek(fd, 0, SEEK_END);
			size = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
			if ((m = pread(fd, buf, sizeof(buf) - 1, size)) < 0)
				m = 0;
			buf[m] = 0;
			close(fd);
		}
		unlink(slog);
		n += snprintf(line + n, sizeof(line) - n, " %lld %lld %lld",
		    statnum(buf, "Total bytes sent: "),
		    statnum(buf, "Total bytes received: "),
		    statnum(buf, "Literal data: "));
	}
	snprintf(line + n, sizeof(line) - n, "\n");
	if ((fd = open(argv[0], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			st = st ? st : 1;
		close(fd);
	}
	return st;
}

/* relay: each connection is two flows, client to server (up, even) and
 * server to client (down, odd), each with a buffer between a read and
 * the writes that pass it on */
#define NCONN 32
struct flow {
	int from, to, eof;
	size_t off, len;
	char b[65536];
};
static struct flow flows[2 * NCONN];

/* move what flow f can without blocking; count what it wrote into *sum;
 * -1 when its connection failed */
static int
pump(struct flow *f, long long *sum)
{
	ssize_t n;

	if (f->off < f->len) {
		if ((n = write(f->to, f->b + f->off, f->len - f->off)) < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		*sum += n;
		if ((f->off += n) < f->len)
			return 0;
		f->off = f->len = 0;
		if (f->eof)
			shutdown(f->to, SHUT_WR);
		return 0;
	}
	if ((n = read(f->from, f->b, sizeof(f->b))) < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0) {
		f->eof = 1;
		shutdown(f->to, SHUT_WR);
	}
	f->len = n;
	return 0;
}

static void
drop(int k)
{
	close(flows[2 * k].from);
	close(flows[2 * k].to);
	flows[2 * k].from = flows[2 * k + 1].from = -1;
}

/* take a connection and connect it to 127.0.0.1:port */
static int
take(int lfd, int port)
{
	struct sockaddr_in a;
	int c, s, k;

	if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return 0;
	for (k = 0; k < NCONN && flows[2 * k].from >= 0; k++)
		;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (k == NCONN || (s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		close(c);
		return 0;
	}
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(c);
		close(s);
		return 0;
	}
	fcntl(c, F_SETFL, O_NONBLOCK);
	fcntl(s, F_SETFL, O_NONBLOCK);
	memset(&flows[2 * k], 0, 2 * sizeof(*flows));
	flows[2 * k].from = flows[2 * k + 1].to = c;
	flows[2 * k].to = flows[2 * k + 1].from = s;
	return 1;
}

static void
relay(char **argv)
{
	struct pollfd pfd[1 + 2 * NCONN];
	int who[1 + 2 * NCONN], lfd, tfd, fd, port = atoi(argv[1]), i, n, k;
	long long sum[2] = { 0, 0 }, conns = 0, was = -1;
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	struct flow *f;
	char line[80];

	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &al) < 0)
		die("relay: listen");
	if ((tfd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die(argv[2]);
	for (i = 0; i < 2 * NCONN; i++)
		flows[i].from = -1;
	for (;;) {
		/* the totals, rewritten in place whenever they change: fixed
		 * width, so a reader never sees a mix of two */
		if (sum[0] + sum[1] + conns != was) {
			was = sum[0] + sum[1] + conns;
			snprintf(line, sizeof(line), "%20lld %20lld %10lld\n", sum[0], sum[1], conns);
			if (pwrite(tfd, line, strlen(line), 0) < 0)
				die(argv[2]);
			if (argv[0]) {
				/* the port, once the totals exist */
				if ((fd = open(argv[0], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
					die(argv[0]);
				dprintf(fd, "%d\n", ntohs(a.sin_port));
				close(fd);
				argv[0] = NULL;
			}
		}
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		who[0] = -1;
		for (n = 1, i = 0; i < 2 * NCONN; i++) {
			f = &flows[i];
			if (f->from < 0 || (f->eof && f->off == f->len))
				continue;
			pfd[n].fd = f->off < f->len ? f->to : f->from;
			pfd[n].events = f->off < f->len ? POLLOUT : POLLIN;
			who[n++] = i;
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents)
			conns += take(lfd, port);
		for (i = 1; i < n; i++) {
			k = who[i];
			if (!pfd[i].revents || flows[k].from < 0)
				continue;
			if (pump(&flows[k], &sum[k % 2]) < 0)
				drop(k / 2);
			/* both ways ended and passed on: the connection is done */
			else if (flows[k & ~1].eof && flows[k | 1].eof &&
			    flows[k & ~1].off == flows[k & ~1].len &&
			    flows[k | 1].off == flows[k | 1].len)
				drop(k / 2);
		}
	}
}

/* pieces: is size v among the n in seen; add it if not */
static int
seensize(long long *seen, int *n, int most, long long v)
{
	int i;

	for (i = 0; i < *n; i++)
		if (seen[i] == v)
			return 1;
	if (*n < most)
		seen[(*n)++] = v;
	return 0;
}

static int
pieces(char **argv)
{
	const char *file = argv[0], *dst = argv[1];
	long n = atol(argv[2]), size = atol(argv[3]), ms = atol(argv[4]), k = 0;
	long long t0, now, next, closed = 0, arrived = 0, seen[64];
	int fd, nseen = 0, i;
	struct stat st;

	if (n < 1 || size < 1 || size > (long)sizeof(buf) || ms < 0)
		return 2;
	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		die(file);
	t0 = next = usnow();
	for (;;) {
		now = usnow();
		for (; k < n && now >= t0 + k * ms * 1000LL; k++) {
			memset(buf, 'a' + k % 26, size);
			if (write(fd, buf, size) != size)
				die(file);
		}
		if (fd >= 0 && now >= t0 + n * ms * 1000LL) {
			close(fd);
			fd = -1;
			closed = usnow();
		}
		if (stat(dst, &st) == 0) {
			if (st.st_size == n * size && !arrived)
				arrived = usnow();
			else if (st.st_size < n * size)
				seensize(seen, &nseen, 64, st.st_size);
		}
		if (closed && arrived)
			break;
		if (closed && now > closed + 30000000LL)
			break;
		next += 20000;
		if ((now = usnow()) < next)
			usleep(next - now);
	}
	printf("%d %lld", nseen, arrived ? (arrived - closed) / 1000 : -1);
	for (i = 0; i < nseen; i++)
		printf("%s%lld", i ? "," : " ", seen[i]);
	printf("\n");
	return arrived ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	argc -= 2;
	argv += 2;
	if (!strcmp(cmd, "lat") && argc >= 3)
		return lat(argc, argv);
	if (!strcmp(cmd, "waitlog") && argc >= 3)
		return waitlog(argc, argv);
	if (!strcmp(cmd, "same") && argc == 2)
		return same(argv);
	if (!strcmp(cmd, "flood") && argc == 6)
		return flood(argv);
	if (!strcmp(cmd, "mkdirs") && argc == 2)
		return mkdirs(argv);
	if (!strcmp(cmd, "mkfiles") && argc == 3)
		return mkfiles(argv);
	if (!strcmp(cmd, "mkrand") && argc == 3)
		return mkrand(argv);
	if (!strcmp(cmd, "run") && argc >= 2)
		return run(argc, argv);
	if (!strcmp(cmd, "relay") && argc == 3)
		relay(argv); /* returns never */
	if (!strcmp(cmd, "pieces") && argc == 5)
		return pieces(argv);
	fprintf(stderr, "usage: benchtool lat|waitlog|same|flood|mkdirs|mkfiles|mkrand|run|relay|pieces ...\n");
	return 2;
}
