/* Unit tests of inosync's pure parts: numbers, config lines, exclude
 * matching, quoting, paths. Includes the program to reach its statics. */
#include <stdio.h>
#define main inosync_main
#include "../inosync.c"
#undef main

static int passed, failed;

static void
check(int ok, const char *what, const char *arg)
{
	if (ok) {
		passed++;
		return;
	}
	failed++;
	printf("FAIL unit: %s: %s\n", what, arg);
}

static void
testnum(void)
{
	static const struct { const char *s; int decimals; long max, want; } t[] = {
		{ "10", 3, 86400, 10000 }, { "0.2", 3, 86400, 200 },
		{ "1.25", 3, 86400, 1250 }, { "0", 3, 86400, 0 },
		{ "86400", 3, 86400, 86400000 }, { "007", 0, 100, 7 },
		{ "86401", 3, 86400, -1 }, { "86400.001", 3, 86400, -1 },
		{ "1.2345", 3, 86400, -1 }, { "1x", 0, 100, -1 }, { "", 0, 100, -1 },
		{ "-1", 0, 100, -1 }, { "1.", 3, 100, -1 }, { ".5", 3, 100, -1 },
		{ "1.5", 0, 100, -1 }, { "101", 0, 100, -1 },
		{ "99999999999999999999999", 0, 100, -1 },
	};
	size_t i;
	long v;

	for (i = 0; i < LEN(t); i++) {
		v = -1;
		if (parsenum(t[i].s, t[i].decimals, t[i].max, &v, "unit") < 0)
			v = -1;
		check(v == t[i].want, "parsenum", t[i].s);
	}
}

static void
testmatch(void)
{
	static const struct { const char *pat, *path; int isdir, want; } t[] = {
		{ "foo", "foo", 0, 1 }, { "foo", "a/b/foo", 1, 1 },
		{ "foo", "foobar", 0, 0 }, { "foo", "a/foo/b", 0, 0 },
		{ "/foo", "foo", 0, 1 }, { "/foo", "a/foo", 0, 0 },
		{ "foo/", "a/foo", 1, 1 }, { "foo/", "a/foo", 0, 0 },
		{ "foo/bar", "foo/bar", 0, 1 }, { "foo/bar", "x/foo/bar", 0, 1 },
		{ "foo/bar", "xfoo/bar", 0, 0 }, { "foo/bar", "bar", 0, 0 },
		{ "/foo/bar", "x/foo/bar", 0, 0 }, { "/foo/bar", "foo/bar", 1, 1 },
		{ "*.bak", "a.bak", 0, 1 }, { "*.bak", "d/a.bak", 0, 1 },
		{ "*.bak", "a.bakx", 0, 0 }, { "a*", "x/a.txt", 0, 1 },
		{ "a*", "x/ba", 0, 0 }, { "*", "x/y", 0, 1 },
		{ "a*/b", "ax/b", 0, 1 }, { "a*/b", "a/x/b", 0, 0 },
		{ "**/x", "a/b/x", 0, 1 }, { "**/x", "x", 0, 1 },
		{ "a/**/y", "a/b/c/y", 0, 1 }, { "a/**/y", "q/a/b/y", 0, 1 },
		{ "a/**/y", "a/y", 0, 0 }, { "a**", "a/b/c", 0, 1 },
		{ "dir/***", "dir", 1, 1 }, { "dir/***", "dir/a/b", 0, 1 },
		{ "dir/***", "x/dir/a", 0, 1 }, { "dir/***", "dirx", 1, 0 },
		{ "dir/***", "dir", 0, 0 }, { "**/x", "x", 1, 1 },
		{ "**/sub/**", "sub/f", 0, 1 },
		{ "/dir/***", "x/dir/a", 0, 0 },
		{ "[ab]c", "ac", 0, 1 }, { "[ab]c", "cc", 0, 0 },
		{ "[!ab]c", "cc", 0, 1 }, { "[a-c]x", "bx", 0, 1 },
		{ "[[:digit:]]x", "5x", 0, 1 }, { "[[:digit:]]x", "ax", 0, 0 },
		{ "[]]", "]", 0, 1 }, { "a[/]b", "a/b", 0, 0 },
		{ "a?c", "abc", 0, 1 }, { "a?c", "a/c", 0, 0 },
		{ "a\\b", "a\\b", 0, 1 }, { "a\\*", "a*", 0, 1 },
		{ "a\\*", "ab", 0, 0 },
		/* rsync's wildmatch: an unterminated [ or [:class:], an unknown
		 * class and a trailing backslash make a pattern match nothing */
		{ "[", "[", 0, 0 }, { "a[b", "a[b", 0, 0 }, { "*[", "x[", 0, 0 },
		{ "d[/***", "d[", 1, 0 }, { "[!]", "]", 0, 0 }, { "[\\", "\\", 0, 0 },
		{ "[![:foo:]]", "b", 0, 0 }, { "[[:alpha:]", "a", 0, 0 },
		{ "*\\", "x\\", 0, 0 }, { "x\\", "x\\", 0, 1 },
		{ "[[:x]", "[", 0, 1 }, { "[[:x]", ":", 0, 1 }, { "[[:]", "[", 0, 1 },
		{ "a[b]", "ab", 0, 1 }, { "[[]", "[", 0, 1 },
		{ "- foo", "foo", 0, 1 }, { ".#*", "d/.#x", 0, 1 },
		/* exponential without wildmatch's aborts */
		{ "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaac", 0, 0 },
		{ "**a**a**a**a**a**a**a**a**a**a**a**b",
		    "a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/c", 0, 0 },
	};
	struct conf c;
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		initconf(&c);
		check(setrexcludes(&c, t[i].pat, "unit") == 0 &&
		    match(&c.pats[0], t[i].path, t[i].isdir) == t[i].want,
		    t[i].pat, t[i].path);
		freeconf(&c);
	}
}

static void
testlines(void)
{
	static const struct { const char *line; int ok; } t[] = {
		{ "# comment", 0 }, { "   ", 0 }, { "  # x = y", 0 },
		{ "rnodes = a#b = c d", 0 }, { "rexcludes = *.tmp", 0 },
		{ "rspeed = 100", 0 }, { "edelay = 0.5", 0 },
		{ "emask = IN_CLOSE_WRITE|IN_ATTRIB, IN_MOVE", 0 },
		{ "nokey = 1", -1 }, { "rnodes", -1 }, { "rspeed = 1k", -1 },
		{ "emask = IN_NOPE", -1 }, { "rsync = rsync", -1 },
		{ "rsync = /etc", -1 }, { "rsync = /nonexistent/rsync", 0 },
		{ "wpath = /nonexistent", -1 },
		{ "wpath = /etc/passwd", -1 }, { "rpath = ", -1 },
		{ "rexcludes = + keep", -1 }, { "rexcludes = !", -1 },
		{ "rargs = --numeric-ids -avr", -1 }, { "rargs = --delete-after", -1 },
		{ "rargs = -avT/tmp/rF", 0 }, { "rargs = --no-r -H", 0 },
	};
	struct conf c;
	char buf[LINEMAX];
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		initconf(&c);
		snprintf(buf, sizeof(buf), "%s\n", t[i].line);
		check(parseline(&c, buf, "unit") == t[i].ok, "parseline", t[i].line);
		freeconf(&c);
	}
	initconf(&c);
	snprintf(buf, sizeof(buf), "rnodes = a#b = c d \r\n");
	check(!parseline(&c, buf, "unit") && !strcmp(c.rnodes[0], "a#b = c d"),
	    "value kept whole", c.rnodes[0]);
	snprintf(buf, sizeof(buf), "rspeed = 1\n");
	check(!parseline(&c, buf, "unit"), "first rspeed", buf);
	snprintf(buf, sizeof(buf), "rspeed = 2\n");
	check(parseline(&c, buf, "unit") < 0, "rspeed twice", buf);
	freeconf(&c);
}

/* where rargs keep moves from being placed, whatever the spelling; a
 * value in the next word is the value, not an option */
static void
testnoplace(void)
{
	static const struct { const char *rargs; unsigned want; } t[] = {
		{ "--delay-updates --partial-dir=.p -H", 0 }, { "--inplace", NOLINK },
		{ "-avb", NOLOCAL }, { "--suffix=.old", NOLOCAL },
		{ "--backup-dir=/b", NOLOCAL }, { "--backup-dir b", NOLOCAL | NOREMOTE },
		{ "--temp-dir=/t", 0 }, { "--temp-dir t", NOREMOTE }, { "-T/t", 0 },
		{ "-vT t", NOREMOTE }, { "-aT.t", NOREMOTE }, { "--append", NOREMOTE },
		{ "--append-verify", NOREMOTE }, { "-B8192 -T /t -b", NOLOCAL },
		{ "--temp-dir -b", NOREMOTE }, { "-T", NOREMOTE },
	};
	struct conf c;
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		initconf(&c);
		check(setrargs(&c, t[i].rargs, "unit") == 0 && c.noplace == t[i].want,
		    "noplace", t[i].rargs);
		freeconf(&c);
	}
}

static void
testquote(void)
{
	static const struct { const char *args[4], *want; } t[] = {
		{ { "rsync", "-a", "a/b:c", NULL }, "rsync -a a/b:c" },
		{ { "x y", "", "it's", NULL }, "'x y' '' 'it'\\''s'" },
		{ { "a\nb", "*", "$HOME", NULL }, "'a\nb' '*' '$HOME'" },
	};
	size_t i;
	char *s;

	for (i = 0; i < LEN(t); i++) {
		s = quote((char **)t[i].args);
		check(s && !strcmp(s, t[i].want), "quote", s ? s : "NULL");
		free(s);
	}
}

static void
testpaths(void)
{
	struct node *a, *b, *r;
	char buf[PATH_MAX];

	conf.wpath = "/w";
	r = newnode(NULL, "", 1, NULL);
	a = newnode(r, "a", 2, NULL);
	b = newnode(a, "b c", 3, NULL);
	check(relpath(r, NULL, buf, sizeof(buf)) == 0 && !strcmp(buf, ""), "relpath root", buf);
	check(relpath(b, NULL, buf, sizeof(buf)) == 5 && !strcmp(buf, "a/b c"), "relpath", buf);
	check(relpath(r, "x", buf, sizeof(buf)) == 1 && !strcmp(buf, "x"), "relpath name", buf);
	check(fullpath(r, NULL, buf) > 0 && !strcmp(buf, "/w"), "fullpath root", buf);
	check(fullpath(b, "f", buf) > 0 && !strcmp(buf, "/w/a/b c/f"), "fullpath", buf);
	check(lookup(3, NULL) == b && lookup(4, NULL) == NULL, "lookup", "3");
	check(!relink(b, r, "a longer name") && findchild(r, "a longer name") == b &&
	    !findchild(a, "b c"), "relink", b->name);
	check(relpath(b, NULL, buf, sizeof(buf)) > 0 && !strcmp(buf, "a longer name"), "relinked", buf);
	check(kindof("/x") == LOCAL && kindof("a/b:c") == LOCAL &&
	    kindof("h:x") == SHELL && kindof("u@h:/x") == SHELL &&
	    kindof("h::m") == DAEMON && kindof("rsync://h/m") == DAEMON, "kindof", "");
	conf.wpath = NULL;
}

/* fanotify's nodes, found by their keys (a handle of 8, 12 or 64 bytes
 * after a name of any length), not by a key one byte off or of another
 * filesystem; a node renamed keeps its key, and one dropped leaves its
 * room, key and all, to the next of its size */
static void
testkeys(void)
{
	static const char *names[] = { "", "a", "seven77", "a name of some length" };
	unsigned char k[4][KEYMAX], odd[KEYMAX];
	struct node *n[4], *r;
	size_t i, j;

	r = newnode(NULL, "", 7, NULL);
	for (i = 0; i < 4; i++) {
		k[i][0] = i == 3 ? 64 : 8 + 4 * (i & 1);
		k[i][1] = i & 1;
		k[i][2] = 1;
		for (j = 0; j < k[i][0]; j++)
			k[i][3 + j] = (unsigned char)(i * 31 + j);
		n[i] = newnode(r, names[i], 0, k[i]);
		check(n[i] && n[i]->wd < 0 && nodesize(n[i]) >= sizeof(*n[i]) +
		    strlen(names[i]) + 1 + KEYLEN(k[i]), "keyed node", names[i]);
	}
	for (i = 0; i < 4; i++) {
		check(lookup(keyhash(k[i]), k[i]) == n[i], "lookup by key", names[i]);
		memcpy(odd, k[i], KEYMAX);
		odd[3 + k[i][0] - 1] ^= 1;
		check(!lookup(keyhash(odd), odd), "a key one byte off", names[i]);
		odd[3 + k[i][0] - 1] ^= 1;
		odd[1] ^= 1;
		check(!lookup(keyhash(odd), odd), "a key of another filesystem", names[i]);
	}
	check(!relink(n[2], n[1], "renamed") && lookup(keyhash(k[2]), k[2]) == n[2] &&
	    !memcmp(nodekey(n[2]), k[2], KEYLEN(k[2])), "a renamed node keeps its key", "");
	drop(n[3], 0);
	check(!lookup(keyhash(k[3]), k[3]), "a dropped node is not found", "");
	check(newnode(r, names[3], 0, k[3]) == n[3], "its room goes to the next of its size", "");
	drop(r, 0);
}

/* the paths a move may name at the other end */
static void
testplain(void)
{
	static const char *plain[] = { "a/b c", "it's $(x);`y` &#~", "\xc3\xa9t\xc3\xa9", "" };
	static const char *odd[] = { "[a]/f", "d/.[.]", "a*", "a?b", "a\\b", "a]",
	    "d\nmkdir x", "a\tb", "a\rb", "\x01", "a\x7f", "\x1f/b" };
	size_t i;

	for (i = 0; i < LEN(plain); i++)
		check(plainpath(plain[i]), "plainpath plain", plain[i]);
	for (i = 0; i < LEN(odd); i++)
		check(!plainpath(odd[i]), "plainpath odd", odd[i]);
}

/* paths at the length limits: 16 levels of 251-byte names and one more
 * short one fit PATH_MAX relative to wpath, not with a 30-byte wpath
 * before them. No builder writes past its buffer, and each says when the
 * path does not fit. */
static void
testlongpaths(void)
{
	static struct { char buf[PATH_MAX]; char after[PATH_MAX]; } b;
	char name[252], path[PATH_MAX];
	struct node *n, *deep;
	size_t i, want;
	int len;

	conf.wpath = "/tmp/inosync-test.abcdef/srcxx"; /* 30 bytes */
	memset(name, 'n', 251);
	name[251] = '\0';
	deep = newnode(NULL, "", 100, NULL);
	for (i = 0; i < 16; i++)
		deep = newnode(deep, name, 101 + i, NULL);
	for (i = 1; i < 80; i++) {
		name[i] = '\0';
		n = newnode(deep, name, 200 + i, NULL);
		want = 30 + 252 * 16 + 1 + i;
		memset(b.after, 'c', sizeof(b.after));
		len = fullpath(n, NULL, b.buf);
		check(b.after[0] == 'c', "fullpath stays in its buffer", name);
		check(len < 0 ? want >= PATH_MAX : (size_t)len == want &&
		    strlen(b.buf) == want, "fullpath fits or says so", name);
		len = fullpath(deep, name, b.buf);
		check(b.after[0] == 'c' && (len < 0) == (want >= PATH_MAX),
		    "fullpath of a name stays in its buffer", name);
		len = relpath(n, NULL, path, sizeof(path));
		check(len < 0 ? want - 31 >= PATH_MAX : (size_t)len == want - 31,
		    "relpath fits or says so", name);
		name[i] = 'n';
	}
	conf.wpath = NULL;
}

/* vfmt's subset of printf: each case as snprintf would print it, the
 * length of the whole returned even where the buffer cuts it */
static void
testfmt(void)
{
	char b[96], w[96];
	const char *volatile nul = NULL;
	int n;

#define FMT(size, want, ...) do { \
		memset(b, 'x', sizeof(b)); \
		n = fmt(b, size, __VA_ARGS__); \
		snprintf(w, sizeof(w), __VA_ARGS__); \
		check(!strcmp(w, want) && n == (int)strlen(want) && \
		    !strncmp(b, want, size ? size - 1 : 0) && \
		    (!size || b[MIN(size - 1, strlen(want))] == '\0') && \
		    b[size] == 'x', "fmt", want); \
	} while (0)
	FMT(80, "-5 7 0", "%d %u %d", -5, 7u, 0);
	FMT(80, "-2147483648 4294967295", "%d %u", INT_MIN, UINT_MAX);
	FMT(80, "-9000000000 18000000000000000000", "%lld %llu",
	    -9000000000LL, 18000000000000000000ULL);
	FMT(80, "-123456789 4000000000", "%ld %lu", -123456789L, 4000000000UL);
	FMT(80, "42 -42", "%zu %zd",
	    (size_t)42, (ssize_t)-42);
	FMT(80, "0042|007|x|str|%", "%04d|%03u|%c|%s|%%", 42, 7u, 'x', "str");
	FMT(80, "fe00000 0 ffffffff 0ab", "%x %x %x %03x", 0xfe00000u, 0u, UINT_MAX, 0xabu);
	n = fmt(b, sizeof(b), "<%s>", nul); /* libc's may crash */
	check(n == 8 && !strcmp(b, "<(null)>"), "fmt of a NULL string", b);
	FMT(80, "9223372036854775807", "%lld", (long long)INT64_MAX);
	FMT(4, "abcdef", "abcdef");
	FMT(1, "abc", "%s", "abc");
	FMT(0, "abc", "%s", "abc");
	FMT(6, "12345678", "%d", 12345678);
#undef FMT
}

/* nextopt on argv (NULL-terminated): the options it returns, each
 * followed by its value, then "|" and the operands */
static void
optcase(const char *want, ...)
{
	char *argv[8], got[64] = "", *val;
	va_list ap;
	int argc = 0, c;

	va_start(ap, want);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argi = 1;
	while ((c = nextopt(argc, argv, "c:de:hP:ptvx:", &val)) != -1) {
		fmt(got + strlen(got), sizeof(got) - strlen(got), "%c", c);
		if (c != '?' && strchr("ceEPx", c))
			fmt(got + strlen(got), sizeof(got) - strlen(got), "=%s,", val);
	}
	fmt(got + strlen(got), sizeof(got) - strlen(got), "|");
	for (; argi < argc; argi++)
		fmt(got + strlen(got), sizeof(got) - strlen(got), "%s,", argv[argi]);
	check(!strcmp(got, want), "nextopt", got);
}

static void
testopts(void)
{
	optcase("dv|", "inosync", "-dv", NULL);
	optcase("de=5,|", "inosync", "-de5", NULL);
	optcase("e=5,|a,", "inosync", "-e", "5", "a", NULL);
	optcase("e=-x,d|", "inosync", "-e", "-x", "-d", NULL);
	optcase("d|-v,", "inosync", "-d", "--", "-v", NULL);
	optcase("|-,-d,", "inosync", "-", "-d", NULL);
	optcase("|src,-d,", "inosync", "src", "-d", NULL);
	optcase("?|", "inosync", "-q", NULL);
	optcase("?|", "inosync", "-:", NULL);
	optcase("d?|", "inosync", "-de", NULL);
	optcase("c=,|", "inosync", "-c", "", NULL);
	optcase("x=a,x=b,|s,d,", "inosync", "-xa", "-x", "b", "s", "d", NULL);
}

static void
testhas(void)
{
	static const struct { const char *s, *sub; int fold, want; } t[] = {
		{ "ssh -o ControlPath=x", "control", 1, 1 },
		{ "ssh -o ControlPath=x", "control", 0, 0 },
		{ "ssh -o ConnectTimeout=5", "ConnectTimeout", 0, 1 },
		{ "ssh", "ssh -o", 0, 0 }, { "", "a", 0, 0 }, { "abc", "c", 0, 1 },
		{ "abc", "abcd", 1, 0 }, { "aBc", "ABC", 1, 1 }, { "x", "", 0, 1 },
	};
	size_t i;

	for (i = 0; i < LEN(t); i++)
		check(has(t[i].s, t[i].sub, t[i].fold) == t[i].want, "has", t[i].s);
}

/* the event names, one string in the order of their bits, against the
 * kernel's values: each name alone as emask, and the names of a mask */
static void
testevents(void)
{
	static const struct { const char *name; uint32_t mask; } t[] = {
		{ "IN_ACCESS", IN_ACCESS }, { "IN_MODIFY", IN_MODIFY },
		{ "IN_ATTRIB", IN_ATTRIB }, { "IN_CLOSE_WRITE", IN_CLOSE_WRITE },
		{ "IN_CLOSE_NOWRITE", IN_CLOSE_NOWRITE }, { "IN_OPEN", IN_OPEN },
		{ "IN_MOVED_FROM", IN_MOVED_FROM }, { "IN_MOVED_TO", IN_MOVED_TO },
		{ "IN_CREATE", IN_CREATE }, { "IN_DELETE", IN_DELETE },
		{ "IN_DELETE_SELF", IN_DELETE_SELF }, { "IN_MOVE_SELF", IN_MOVE_SELF },
		{ "IN_CLOSE", IN_CLOSE }, { "IN_MOVE", IN_MOVE },
		{ "IN_ALL_EVENTS", IN_ALL_EVENTS },
	};
	char buf[EVNAMES], want[64];
	struct conf c;
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		memset(&c, 0, sizeof(c));
		check(setemask(&c, t[i].name, "unit") == 0 && c.emask == t[i].mask,
		    "emask", t[i].name);
		fmt(want, sizeof(want), " %s", t[i].name);
		check(i >= NSINGLE || !strcmp(evnames(t[i].mask, buf), want),
		    "evnames", t[i].name);
	}
	check(!strcmp(evnames(IN_MOVE | IN_CREATE | IN_ISDIR, buf),
	    " IN_MOVED_FROM IN_MOVED_TO IN_CREATE"), "evnames", buf);
	memset(&c, 0, sizeof(c));
	check(setemask(&c, "IN_CREATE,IN_BOGUS", "unit") < 0, "emask", "IN_BOGUS");
}

/* rsync's exit codes in words, from the one string that holds them */
static void
testdescribe(void)
{
	static const struct { int code; const char *want; } t[] = {
		{ 1, "syntax or usage error" }, { 23, "partial transfer due to error" },
		{ 35, "timeout waiting for daemon connection" },
		{ 127, "rsync could not be run" }, { 255, "remote shell failed" },
		{ 7, "unknown error" }, { 0, "unknown error" },
		{ 256 + 9, "killed by signal 9" },
	};
	size_t i;

	for (i = 0; i < LEN(t); i++)
		check(!strcmp(describe(t[i].code), t[i].want), "describe", t[i].want);
}

/* d->pending, the directories d owes, is kept by hand in mark(),
 * undirt(), settle() and collect(): it must be the dirt entries with d's
 * bit in dirty */
static int
pendingok(void)
{
	unsigned n;
	size_t j;
	int i;

	for (i = 0; i < ndests; i++) {
		for (n = 0, j = 0; j < ndirt; j++)
			n += (dirt[j].dirty & dests[i].bit) != 0;
		if (n != dests[i].pending)
			return 0;
	}
	return 1;
}

static void
testpending(void)
{
	struct node *top, *a, *b, *c;
	int i;

	ndests = 2;
	for (i = 0; i < ndests; i++)
		dests[i] = (struct dest){ .bit = 1u << i, .fd = { -1, -1, -1 } };
	conf.emask = IN_ALL_EVENTS;
	top = newnode(NULL, "", 300, NULL);
	a = newnode(top, "a", 301, NULL);
	b = newnode(top, "b", 302, NULL);
	c = newnode(a, "c", 303, NULL);
	mark(a, "x", 3);
	check(pendingok() && dests[0].pending == 1, "pending", "after a mark");
	mark(a, "y", 1);
	mark(b, NULL, 2);
	mark(c, "z", 3);
	check(pendingok() && dests[1].pending == 3, "pending", "after more marks");
	collect(&dests[0], 0);
	check(pendingok() && dests[0].pending == 0, "pending", "after collect");
	mark(a, "w", 1);
	check(pendingok(), "pending", "a mark during the sync");
	settle(&dests[0], 1);
	check(pendingok() && dests[0].pending == 2, "pending", "after a failed sync");
	collect(&dests[1], 0);
	settle(&dests[1], 0);
	check(pendingok() && dests[1].pending == 0, "pending", "after a sync");
	undirt(c);
	check(pendingok(), "pending", "after undirt");
	collect(&dests[0], 1);
	settle(&dests[0], 0);
	check(pendingok() && !ndirt, "pending", "after a full sync");
	for (i = 0; i < ndests; i++)
		free(dests[i].list);
	ndests = 0;
}

static void
testsafepath(void)
{
	static const char *t[][2] = {
		{ "", NULL }, { ":", NULL }, { "::/bin:", "/bin" },
		{ "/a:b:/c", "/a:/c" }, { ".:/usr/bin::/bin:", "/usr/bin:/bin" },
		{ "/x", "/x" }, { "bin:.:..", NULL }, { "/a/:/b//c", "/a/:/b//c" },
	};
	const char *p;
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		setenv("PATH", t[i][0], 1);
		safepath();
		p = getenv("PATH");
		check(t[i][1] ? p && !strcmp(p, t[i][1]) : !p, "safepath", t[i][0]);
	}
	unsetenv("PATH");
	safepath();
	check(!getenv("PATH"), "safepath", "unset");
}

#if OWNMALLOC
/* in a child: a block of 32 bytes (or 9000 if off is 4096, a mapping of
 * its own) freed, then freed again at off bytes into it; 1 if the child
 * aborted, as a heap that two owners would share must */
static int
aborts(size_t off)
{
	char *p;
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		p = malloc(off == 4096 ? 9000 : 32);
		free(off ? NULL : p);
		free(p + off);
		_exit(0);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
	    WTERMSIG(st) == SIGABRT;
}
#endif

/* the allocator (OWNMALLOC, or libc's): blocks of every size, small and
 * mapped, kept, grown and freed at random, each holding what was written
 * to it, aligned for any type, and never overlapping another */
static void
testalloc(void)
{
	static unsigned char *b[256];
	static size_t len[256];
	unsigned seed = 1, ok = 1, i, j, k;
	volatile size_t huge = SIZE_MAX / 2;
	unsigned char *p;
	size_t n;

	for (i = 0; i < 20000; i++) {
		seed = seed * 1103515245 + 12345;
		j = (seed >> 8) % LEN(b);
		for (k = 0; k < len[j]; k++)
			ok &= b[j][k] == (unsigned char)(j + k);
		n = 1 + (seed >> 16) % (seed & 1 ? 64 : 9000); /* realloc(p, 0) may free p */
		if (b[j] && (seed & 6) == 6) { /* grown or shrunk */
			p = realloc(b[j], n);
			n = MIN(n, len[j]);
		} else {
			free(b[j]);
			p = seed & 8 ? calloc(n, 1) : malloc(n);
			for (k = 0; p && seed & 8 && k < n; k++)
				ok &= !p[k];
			len[j] = 0;
		}
		ok &= p && (uintptr_t)p % 8 == 0 && malloc_usable_size(p) >= n;
		b[j] = p;
		for (len[j] = n, k = 0; p && k < n; k++)
			p[k] = j + k;
	}
	for (j = 0; j < LEN(b); j++) {
		for (k = 0; k < len[j]; k++)
			ok &= b[j][k] == (unsigned char)(j + k);
		free(b[j]);
	}
	check(ok, "alloc", "random blocks");
	errno = 0;
	check(!calloc(huge, 3) && errno == ENOMEM, "alloc", "calloc overflow");
	check(!malloc(huge * 2 - 7) && errno == ENOMEM, "alloc", "malloc too big");
#if OWNMALLOC /* what libc's malloc does is its own */
	check(aborts(0), "alloc", "a block freed twice aborts");
	check(aborts(8), "alloc", "a pointer into a block freed aborts");
	check(aborts(4096), "alloc", "a pointer into a mapping freed aborts");
#endif
}

static void
testlexical(void)
{
	static const char *t[][2] = {
		{ "/", "/" }, { "//", "/" }, { "/a/./b//c/", "/a/b/c" },
		{ "/a/b/../c", "/a/c" }, { "/a/../..", "/" }, { "/..", "/" },
		{ "/a/excl/../status", "/a/status" }, { "/.a/..b/...", "/.a/..b/..." },
		{ "/a/new/../../b/s", "/b/s" },
	};
	char buf[PATH_MAX];
	size_t i;

	for (i = 0; i < LEN(t); i++) {
		fmt(buf, sizeof(buf), "%s", t[i][0]);
		lexical(buf);
		check(!strcmp(buf, t[i][1]), "lexical", t[i][0]);
	}
}

int
main(void)
{
	int fd = open("/dev/null", O_WRONLY);

	dup2(fd, 2); /* the errors the cases provoke */
	testnum();
	testmatch();
	testlines();
	testnoplace();
	testquote();
	testpaths();
	testkeys();
	testplain();
	testlongpaths();
	testfmt();
	testopts();
	testhas();
	testpending();
	testdescribe();
	testevents();
	testsafepath();
	testalloc();
	testlexical();
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}
