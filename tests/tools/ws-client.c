/* ws-client - test-only driver of lib/infra_ws (not installed).
 *
 *   ws-client [--cacert F] [--cert F --key F] [--insecure] [--max-message N] [--timeout MS] URL STEP...
 *
 * Steps, run in order: send:TEXT, sendn:N (a text message of N bytes 'a'..'z' repeating),
 * sendbin:N (binary, same pattern), ping:DATA, recv (one message: prints
 * "recv op=text|binary len=N fnv=HEX head=..."), close:CODE[:REASON].
 * A failing step prints "error CODE-NAME: message" (and "peer-close CODE REASON" when the peer
 * closed) and ends the run with status 1; 2 for usage errors. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_http.h"
#include "infra_ws.h"

static const char *code_name(int rc)
{
	switch (-rc) {
	case EPIPE: return "EPIPE";
	case EPROTO: return "EPROTO";
	case E2BIG: return "E2BIG";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNRESET: return "ECONNRESET";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case EINVAL: return "EINVAL";
	default: return "OTHER";
	}
}

static char *pattern(size_t n)
{
	char *p = malloc(n + 1);
	size_t i;

	if (!p)
		exit(2);
	for (i = 0; i < n; i++)
		p[i] = (char)('a' + i % 26);
	p[n] = '\0';
	return p;
}

static uint64_t fnv(const char *d, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)d[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int fail(struct infra_ws *ws, int rc, const struct infra_err *err)
{
	int code;
	const char *reason;

	printf("error %s: %s\n", code_name(rc), err->msg);
	if (ws && infra_ws_peer_close(ws, &code, &reason) == 0)
		printf("peer-close %d %s\n", code, reason);
	infra_ws_free(ws);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cacert", 1, 0, 'C' }, { "cert", 1, 0, 'c' }, { "key", 1, 0, 'k' },
		{ "insecure", 0, 0, 'i' }, { "max-message", 1, 0, 'm' }, { "timeout", 1, 0, 't' }, { 0, 0, 0, 0 }
	};
	struct infra_http_opts ho = { 0 };
	struct infra_ws_opts wo = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_ws *ws = NULL;
	int c, i, rc;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'C': ho.cacert = optarg; break;
		case 'c': ho.cert = optarg; break;
		case 'k': ho.key = optarg; break;
		case 'i': ho.insecure = 1; break;
		case 'm': wo.max_message = strtoull(optarg, NULL, 10); break;
		case 't': wo.timeout_ms = strtol(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: ws-client [options] URL STEP...\n");
		return 2;
	}
	wo.http = &ho;
	infra_http_global_init(NULL);
	if ((rc = infra_ws_connect(&ws, argv[optind], &wo, &err)))
		return fail(NULL, rc, &err);
	printf("connected\n");
	for (i = optind + 1; i < argc; i++) {
		const char *s = argv[i];

		if (strncmp(s, "send:", 5) == 0) {
			rc = infra_ws_send(ws, INFRA_WS_TEXT, s + 5, strlen(s + 5), &err);
		} else if (strncmp(s, "sendn:", 6) == 0 || strncmp(s, "sendbin:", 8) == 0) {
			int bin = s[4] == 'b';
			size_t n = strtoull(s + (bin ? 8 : 6), NULL, 10);
			char *p = pattern(n);

			rc = infra_ws_send(ws, bin ? INFRA_WS_BINARY : INFRA_WS_TEXT, p, n, &err);
			free(p);
		} else if (strncmp(s, "ping:", 5) == 0) {
			rc = infra_ws_send(ws, INFRA_WS_PING, s + 5, strlen(s + 5), &err);
		} else if (strcmp(s, "recv") == 0) {
			char *d = NULL;
			size_t n = 0;
			enum infra_ws_opcode op;

			if ((rc = infra_ws_recv(ws, &d, &n, &op, 0, &err)) == 0) {
				printf("recv op=%s len=%zu fnv=%016" PRIx64 " head=%.40s\n",
				       op == INFRA_WS_TEXT ? "text" : "binary", n, fnv(d, n), op == INFRA_WS_TEXT ? d : "");
				free(d);
			}
		} else if (strncmp(s, "close:", 6) == 0) {
			char *end;
			long code = strtol(s + 6, &end, 10);

			rc = infra_ws_close(ws, (int)code, *end == ':' ? end + 1 : NULL, &err);
			if (!rc) {
				int pc;
				const char *pr;

				if (infra_ws_peer_close(ws, &pc, &pr) == 0)
					printf("closed peer-code=%d reason=%s\n", pc, pr);
				else
					printf("closed without the peer's close frame\n");
			}
		} else {
			fprintf(stderr, "ws-client: unknown step '%s'\n", s);
			infra_ws_free(ws);
			return 2;
		}
		if (rc)
			return fail(ws, rc, &err);
		fflush(stdout);
	}
	infra_ws_free(ws);
	return 0;
}
