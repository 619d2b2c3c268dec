#include "infra_log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int g_level = INFRA_LOG_ERROR;
static const char *g_prog = "infrakit";

void infra_log_init(const char *progname, int level)
{
	const char *slash;

	if (progname) {
		slash = strrchr(progname, '/');
		g_prog = slash ? slash + 1 : progname;
	}
	g_level = level;
}

int infra_log_level(void)
{
	return g_level;
}

const char *infra_log_progname(void)
{
	return g_prog;
}

int infra_log_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDERR_FILENO) && !(nc && *nc);
}

static const char *const secret_words[] = {
	"password", "secret", "token", "key", "api_key", "apikey", "passwd",
	"application_credential_secret", "x-auth-token", "x-subject-token",
	"authorization", "cookie", "set-cookie", "x-api-key", NULL,
};

/* Does the word ending just before `end` (length n) name a secret? */
static int is_secret_word(const char *w, size_t n)
{
	for (int i = 0; secret_words[i]; i++) {
		size_t l = strlen(secret_words[i]);
		/* match the word itself or a word ending in _word / -word (os_password, auth-token) */
		if (n >= l && strncasecmp(w + n - l, secret_words[i], l) == 0 &&
		    (n == l || w[n - l - 1] == '_' || w[n - l - 1] == '-'))
			return 1;
	}
	return 0;
}

/* Replace the value starting at v with "***"; returns the new end of the string region.
 * The value ends at the closing quote (if quoted), or at whitespace, '&', ',', ';'. */
static char *mask_value(char *v, int header)
{
	char *end;

	if (*v == '"') {
		end = v + 1;
		while (*end && *end != '"') {
			if (*end == '\\' && end[1])
				end++;
			end++;
		}
		v++;
	} else if (header) {
		end = v + strlen(v); /* header value runs to the end of the line */
	} else {
		end = v;
		while (*end && !isspace((unsigned char)*end) && *end != '&' && *end != ',' &&
		       *end != ';' && *end != '}' && *end != ')' && *end != '\'')
			end++;
	}
	if (end - v <= 3 && strncmp(v, "***", (size_t)(end - v)) == 0 && end > v)
		return end;
	if (end == v)
		return end;
	memmove(v + 3, end, strlen(end) + 1);
	memcpy(v, "***", 3);
	return v + 3;
}

void infra_mask_secrets(char *s)
{
	char *p = s;

	while (*p) {
		/* find a word: [A-Za-z0-9_-]+ */
		if (isalnum((unsigned char)*p) || *p == '_' || *p == '-') {
			char *w = p;
			while (isalnum((unsigned char)*p) || *p == '_' || *p == '-')
				p++;
			size_t n = (size_t)(p - w);
			char *q = p;
			int quoted_key = (w > s && w[-1] == '"' && *q == '"');
			if (quoted_key)
				q++;
			if (!is_secret_word(w, n))
				continue;
			if (*q == ':' || *q == '=') {
				int header = (*q == ':' && !quoted_key);
				q++;
				while (*q == ' ' || *q == '\t')
					q++;
				if (*q == '\0')
					continue;
				/* "token": {...} objects are not values to mask */
				if (*q == '{' || *q == '[')
					continue;
				p = mask_value(q, header);
			}
		} else {
			p++;
		}
	}
}

/* The progress line: one line on a terminal, rewritten in place, cleared before
 * any other message and at the end (infra_log_progress_end). */
static int g_progress_shown;
static double g_progress_last;

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void infra_log_progress_end(void)
{
	if (g_progress_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		g_progress_shown = 0;
	}
}

void infra_log_progress(int force, const char *fmt, ...)
{
	char msg[256];
	double now;
	va_list ap;

	if (g_level < INFRA_LOG_ERROR || g_level >= INFRA_LOG_TRACE || !isatty(STDERR_FILENO))
		return; /* -q, -vvv (its trace lines say more), or not a terminal */
	now = mono_now();
	if (!force && g_progress_shown && now - g_progress_last < 0.1)
		return; /* at most ten updates a second */
	g_progress_last = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r%s: %s\033[K", g_prog, msg);
	fflush(stderr);
	g_progress_shown = 1;
}

static void vlog(const char *kind, const char *fmt, va_list ap)
{
	char msg[2048];

	infra_log_progress_end();
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	infra_mask_secrets(msg);
	fprintf(stderr, "%s: %s%s\n", g_prog, kind, msg);
}

void infra_log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void infra_log_warn(const char *fmt, ...)
{
	va_list ap;

	if (g_level < INFRA_LOG_WARN)
		return;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
}

void infra_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (g_level < level)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}
