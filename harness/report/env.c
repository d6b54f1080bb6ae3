/*
 * env.c - env.json (env.h).  Nothing here starts a backend: every backend
 * was started once when the config was checked, and its version kept.
 */
#include "report/env.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "base/jsonx.h"
#include "base/util.h"

/* /proc/cpuinfo's first model name, or "unknown" */
static void cpu_model(char *buf, size_t len)
{
	snprintf(buf, len, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(buf, len, "%s", strchr(line, ':') + 2);
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	if (f)
		fclose(f);
}

json_t *env_json(const char *suite, const char *config_path, const char *config_text,
		 const struct backend_choice *backends, size_t nb)
{
	json_t *e = json_object();
	char buf[512];
	cpu_model(buf, sizeof buf);
	json_object_set_new(e, "suite", jx_str(suite));
	json_object_set_new(e, "cpu", jx_str(buf));
	json_object_set_new(e, "cores", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	struct utsname u;
	if (uname(&u) == 0) {
		snprintf(buf, sizeof buf, "%s %s %s %s", u.sysname, u.release, u.version,
			 u.machine);
		json_object_set_new(e, "kernel", jx_str(buf));
		json_object_set_new(e, "host", jx_str(u.nodename));
	}
	json_object_set_new(e, "compiler", jx_str(__VERSION__));
	json_object_set_new(e, "heapbench", jx_str(HB_VERSION));
	json_object_set_new(e, "git_commit", jx_str(HB_GIT));
	time_t now = time(NULL);
	struct tm tm;
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	json_object_set_new(e, "started", jx_str(buf));
	json_t *versions = json_object();
	for (size_t i = 0; i < nb; i++)
		json_object_set_new(versions, backends[i].spec, jx_str(backends[i].version));
	json_object_set_new(e, "backends", versions);
	json_object_set_new(e, "config_path", jx_str(config_path));
	json_object_set_new(e, "config", jx_str(config_text));
	return e;
}
