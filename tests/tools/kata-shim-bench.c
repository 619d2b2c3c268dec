/* kata-shim-bench - a fast fake Kata shim server for scripts/bench-katapulse.
 *
 *   kata-shim-bench MANIFEST [MAX_SECONDS]
 *
 * MANIFEST has one line per sandbox: "<socket path>\t<body file>".  Every socket
 * is bound (long paths through /proc/self/fd/<dirfd>), "READY" is printed, and
 * each GET is answered with the body file's content (Content-Length, like the
 * runtime-rs shim), then the connection is closed.  One thread, poll() over
 * the listening sockets, blocking replies: the Python simulator
 * (tests/sim/kata_shims.py) cannot serve 1,000 realistic shims fast enough to
 * measure katapulse-scrape rather than itself.  Exits on SIGTERM/SIGINT or
 * after MAX_SECONDS (default 600).  Test tool, not installed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "infra_buf.h"
#include "infra_file.h"

struct shim {
	int fd;
	char *reply; /* headers + body */
	size_t len;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int bind_path(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *slash = strrchr(path, '/');
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), dfd = -1;

	if (fd < 0)
		return -1;
	if (strlen(path) < sizeof(a.sun_path)) {
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	} else {
		char *dir = strndup(path, (size_t)(slash - path));
		dfd = dir ? open(dir, O_PATH | O_DIRECTORY) : -1;
		free(dir);
		if (dfd < 0) {
			close(fd);
			return -1;
		}
		snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dfd, slash + 1);
	}
	unlink(a.sun_path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0) {
		close(fd);
		fd = -1;
	}
	if (dfd >= 0)
		close(dfd);
	return fd;
}

static void serve(struct shim *s)
{
	char req[4096];
	size_t got = 0;
	int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return;
	/* read the request head (GET /metrics HTTP/1.1 ... \r\n\r\n) */
	while (got < sizeof(req) - 1) {
		ssize_t n = read(c, req + got, sizeof(req) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	for (size_t off = 0; off < s->len;) {
		ssize_t n = write(c, s->reply + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(c);
}

int main(int argc, char **argv)
{
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_buf man = INFRA_BUF_INIT;
	struct shim *v = NULL;
	struct pollfd *p = NULL;
	size_t n = 0, a = 0;
	double max = argc > 2 ? strtod(argv[2], NULL) : 600;
	time_t end;
	char *line, *save = NULL;

	if (argc < 2) {
		fprintf(stderr, "usage: kata-shim-bench MANIFEST [MAX_SECONDS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if (infra_file_read_at(AT_FDCWD, argv[1], 0, (size_t)64 << 20, &man, &err)) {
		fprintf(stderr, "kata-shim-bench: %s\n", err.msg);
		return 1;
	}
	for (line = strtok_r(man.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tab = strchr(line, '\t');
		struct infra_buf body = INFRA_BUF_INIT, reply = INFRA_BUF_INIT;
		if (!tab)
			continue;
		*tab = '\0';
		if (n == a) {
			a = a ? a * 2 : 256;
			v = realloc(v, a * sizeof(*v));
			if (!v)
				return 1;
		}
		if (infra_file_read_at(AT_FDCWD, tab + 1, 0, (size_t)64 << 20, &body, &err) ||
		    infra_buf_printf(&reply, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
				     "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", body.len) ||
		    infra_buf_append(&reply, body.data, body.len)) {
			fprintf(stderr, "kata-shim-bench: %s: %s\n", tab + 1, err.msg);
			return 1;
		}
		infra_buf_release(&body);
		v[n].fd = bind_path(line);
		if (v[n].fd < 0) {
			fprintf(stderr, "kata-shim-bench: cannot listen on %s: %s\n", line, strerror(errno));
			return 1;
		}
		v[n].reply = infra_buf_steal(&reply, &v[n].len);
		n++;
	}
	p = calloc(n + 1, sizeof(*p));
	if (!p)
		return 1;
	for (size_t i = 0; i < n; i++) {
		p[i].fd = v[i].fd;
		p[i].events = POLLIN;
	}
	printf("READY %zu\n", n);
	fflush(stdout);
	end = time(NULL) + (time_t)max;
	while (!stop && time(NULL) < end) {
		int r = poll(p, n, 500);
		if (r <= 0)
			continue;
		for (size_t i = 0; i < n; i++)
			if (p[i].revents & POLLIN)
				serve(&v[i]);
	}
	for (size_t i = 0; i < n; i++) {
		close(v[i].fd);
		free(v[i].reply);
	}
	free(v);
	free(p);
	infra_buf_release(&man);
	return 0;
}
