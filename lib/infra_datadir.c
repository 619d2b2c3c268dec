#include "infra_datadir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef INFRA_DATADIR
#define INFRA_DATADIR "/usr/local/share/infrakit"
#endif

static int put(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s%s", a, b);
	return (n < 0 || (size_t)n >= size) ? -ENAMETOOLONG : 0;
}

/* dir/probe is a directory or a file we can read */
static int holds(const char *dir, const char *probe)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof(p), "%s/%s", dir, probe) >= (int)sizeof(p))
		return 0;
	return access(p, R_OK) == 0;
}

int infra_datadir(const char *probe, char *buf, size_t size, const char **source)
{
	const char *env = getenv("INFRAKIT_DATADIR");
	char exe[PATH_MAX], cand[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		if (source)
			*source = "INFRAKIT_DATADIR";
		return put(buf, size, env, "");
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(cand, sizeof(cand), "%s/../share/infrakit", exe) < (int)sizeof(cand) &&
			    holds(cand, probe)) {
				if (source)
					*source = "the executable's prefix";
				return put(buf, size, cand, "");
			}
			if (snprintf(cand, sizeof(cand), "%s/../../share", exe) < (int)sizeof(cand) &&
			    holds(cand, probe) && holds(cand, "../lib/infra_datadir.h")) {
				if (source)
					*source = "the build tree";
				return put(buf, size, cand, "");
			}
		}
	}
	if (source)
		*source = "the build-time DATADIR";
	return put(buf, size, INFRA_DATADIR, "");
}
