/* Fuzz target for the config parser and the exclude matcher.
 *
 * An input whose first byte is even is a config file: each line goes
 * through parseline(), in either dialect (config-python* are seeds of
 * the original's, whose lists carry over lines). An odd first byte
 * makes the rest of the first line an exclude pattern and every further
 * line a path to match, as a directory when the line's length is odd.
 *
 * Built with -DLIBFUZZER and clang -fsanitize=fuzzer by `make fuzz`;
 * otherwise a replayer: tests/fuzz FILE... runs each file once (make test
 * replays tests/fuzz-corpus that way). */
#include <stdio.h>
#ifdef LIBFUZZER
#include <sanitizer/common_interface_defs.h>
#endif
#define main inosync_main
#include "../inosync.c"
#undef main

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
lines(struct conf *c, char *s, int patterns)
{
	char *e;
	int first = 1;

	for (; s; s = e) {
		if ((e = strchr(s, '\n')))
			*e++ = '\0';
		if (patterns && first && setrexcludes(c, s, "fuzz") < 0)
			return;
		else if (patterns && !first)
			match(&c->pats[0], s, strlen(s) & 1);
		else if (!patterns && strlen(s) < LINEMAX)
			parseline(c, s, "fuzz");
		first = 0;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet = -1, saved = -1;
	struct conf c;
	char *s;

	if (!size || !(s = malloc(size)))
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	/* not the config errors the inputs provoke, but the fuzzer's own */
	if (quiet < 0) {
		saved = fcntl(2, F_DUPFD_CLOEXEC, 3);
		quiet = open("/dev/null", O_WRONLY | O_CLOEXEC);
#ifdef LIBFUZZER /* a sanitizer's report of a crash in there, though */
		__sanitizer_set_report_fd((void *)(intptr_t)saved);
#endif
	}
	dup2(quiet, 2);
	initconf(&c);
	lines(&c, s, data[0] & 1);
	freeconf(&c);
	free(s);
	dup2(saved, 2);
	return 0;
}

#ifndef LIBFUZZER
int
main(int argc, char *argv[])
{
	struct stat st;
	char *buf;
	int i;

	for (i = 1; i < argc; i++) {
		if (slurp(argv[i], 0, &buf, &st) < 0) {
			printf("fuzz: cannot read %s\n", argv[i]);
			return 1;
		}
		LLVMFuzzerTestOneInput((const uint8_t *)buf, st.st_size);
		free(buf);
	}
	printf("fuzz: %d inputs replayed\n", argc - 1);
	return 0;
}
#endif
