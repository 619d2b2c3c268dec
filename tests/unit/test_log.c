#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infra_log.h"
#include "tap.h"

static void check(const char *in, const char *want)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", in);
	infra_mask_secrets(buf);
	tap_streq(buf, want, "mask: %s", in);
}

int main(void)
{
	check("X-Auth-Token: gAAAAABmabc123", "X-Auth-Token: ***");
	check("x-subject-token:gAAAA", "x-subject-token:***");
	check("Authorization: Bearer abc.def", "Authorization: ***");
	check("{\"password\": \"s3cr3t\", \"name\": \"admin\"}", "{\"password\": \"***\", \"name\": \"admin\"}");
	check("{\"secret\":\"a\\\"b\"}", "{\"secret\":\"***\"}");
	check("{\"application_credential_secret\": \"xyz\"}", "{\"application_credential_secret\": \"***\"}");
	check("GET /v1?token=abc&limit=5", "GET /v1?token=***&limit=5");
	check("OS_PASSWORD=hunter2 OS_USERNAME=admin", "OS_PASSWORD=*** OS_USERNAME=admin");
	check("api_key=K1; other=2", "api_key=***; other=2");
	check("monkey=banana", "monkey=banana");
	check("tokens=5 keys: none", "tokens=5 keys: none");
	check("\"token\": {\"expires_at\": \"x\"}", "\"token\": {\"expires_at\": \"x\"}");
	check("nothing secret here", "nothing secret here");
	check("password=", "password=");

	/* messages go to stderr as one masked line with the program name */
	{
		char path[] = "/tmp/infra-log-XXXXXX";
		int fd = mkstemp(path), saved = dup(2);
		char out[1024] = { 0 };
		FILE *f;

		dup2(fd, 2);
		infra_log_init("/usr/bin/osmon-run", INFRA_LOG_ERROR);
		infra_log_error("auth failed (password=%s)\nsecond line", "hunter2");
		infra_log(INFRA_LOG_INFO, "not shown at the default level");
		infra_log_init("osmon-run", INFRA_LOG_QUIET);
		infra_log_warn("suppressed by -q");
		infra_log_error("errors still shown with -q");
		fflush(stderr);
		dup2(saved, 2);
		f = fopen(path, "r");
		fread(out, 1, sizeof(out) - 1, f);
		fclose(f);
		unlink(path);
		close(fd);
		tap_streq(out, "osmon-run: auth failed (password=***) second line\nosmon-run: errors still shown with -q\n",
			  "log lines: program name, one line, masked, levels honoured");
	}
	return tap_done();
}
