#include "paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int paths_assets(char *buf, size_t cap)
{
	const char *env = getenv("PUNGUZA_ASSETS");
	if (env && *env) {
		snprintf(buf, cap, "%s", env);
		return is_dir(buf) ? 0 : -1;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		const char *rel[] = {"/../assets", "/../share/punguza", "/assets"};
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			char cand[PATH_MAX + 32], real[PATH_MAX];
			snprintf(cand, sizeof cand, "%s%s", exe, rel[i]);
			if (is_dir(cand)) {
				/* "build/../assets" reads badly in messages */
				snprintf(buf, cap, "%s",
					 realpath(cand, real) ? real : cand);
				return 0;
			}
		}
	}
	snprintf(buf, cap, "assets");
	return is_dir(buf) ? 0 : -1;
}

int paths_asset(const char *name, char *buf, size_t cap)
{
	char dir[PATH_MAX];
	if (paths_assets(dir, sizeof dir))
		return -1;
	snprintf(buf, cap, "%s/%s", dir, name);
	return 0;
}
