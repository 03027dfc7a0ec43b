/* tests/match PATTERN... < paths: print each path that the patterns exclude
 * by itself (ancestors are not looked at). A path ending in '/' is a
 * directory. The matcher is inosync's own. */
#include <stdio.h>
#define main inosync_main
#include "../inosync.c"
#undef main

int
main(int argc, char *argv[])
{
	char line[PATH_MAX + 2];
	size_t n;
	int i, isdir;

	initconf(&conf);
	for (i = 1; i < argc; i++)
		if (setrexcludes(&conf, argv[i], "argument") < 0)
			return 2;
	while (fgets(line, sizeof(line), stdin)) {
		n = strcspn(line, "\n");
		line[n] = '\0';
		isdir = n > 1 && line[n - 1] == '/';
		line[n - isdir] = '\0';
		if (excluded(line, isdir))
			printf("%s%s\n", line, isdir ? "/" : "");
	}
	return 0;
}
