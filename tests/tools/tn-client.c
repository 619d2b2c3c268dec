/* tn-client - test-only driver of lib/infra_truenas (not installed).
 *
 *   tn-client --url URL [--key-file F] [--api auto|jsonrpc|rest] [--cacert F] [--insecure]
 *             [--timeout MS] [--attempts N] [--query all|NAME,...] [--repeat N]
 *             [--call METHOD [--params JSON]]
 *
 * The key comes from --key-file or $TN_API_KEY.  Prints "version V transport T", then per query
 * "query NAME ok N items" (the list of queries N times with --repeat, in one query_many) or "query NAME error CODE: message", and for --call
 * "call METHOD ok <json, first 300 bytes>" or "call METHOD error CODE: message".
 * Exit: 0 all fine, 1 a query or call failed, 2 connection/login failed, 3 configuration refused
 * (-EINVAL), 4 usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infra_file.h"
#include "infra_http.h"
#include "infra_json.h"
#include "infra_truenas.h"

static const char *names[INFRA_TN_NQUERIES] = { "pools", "datasets", "snapshots", "nfs_shares",
	"smb_shares", "iscsi_targets", "iscsi_extents", "iscsi_targetextents", "services" };

static const char *code_name(int rc)
{
	switch (-rc) {
	case EINVAL: return "EINVAL";
	case EACCES: return "EACCES";
	case ENOTSUP: return "ENOTSUP";
	case EPROTO: return "EPROTO";
	case EPIPE: return "EPIPE";
	case ECONNRESET: return "ECONNRESET";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EIO: return "EIO";
	case EBUSY: return "EBUSY";
	case ENOENT: return "ENOENT";
	case ECONNREFUSED: return "ECONNREFUSED";
	default: return "OTHER";
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", 1, 0, 'u' }, { "key-file", 1, 0, 'k' }, { "api", 1, 0, 'a' }, { "cacert", 1, 0, 'C' },
		{ "insecure", 0, 0, 'i' }, { "timeout", 1, 0, 't' }, { "attempts", 1, 0, 'n' },
		{ "query", 1, 0, 'q' }, { "call", 1, 0, 'c' }, { "params", 1, 0, 'p' }, { "repeat", 1, 0, 'r' }, { 0, 0, 0, 0 }
	};
	struct infra_http_opts ho = { 0 };
	struct infra_truenas_opts to = { 0 };
	struct infra_err err = INFRA_ERR_INIT;
	struct infra_truenas *t = NULL;
	const char *keyfile = NULL, *query = NULL, *call = NULL, *params = NULL;
	char *key = NULL;
	int c, rc, status = 0, repeat = 1;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u': to.url = optarg; break;
		case 'k': keyfile = optarg; break;
		case 'a':
			to.api = !strcmp(optarg, "rest") ? INFRA_TN_REST : !strcmp(optarg, "jsonrpc") ? INFRA_TN_JSONRPC
											     : INFRA_TN_AUTO;
			break;
		case 'C': ho.cacert = optarg; break;
		case 'i': ho.insecure = 1; break;
		case 't': ho.timeout_ms = strtol(optarg, NULL, 10); break;
		case 'n': ho.max_attempts = (int)strtol(optarg, NULL, 10); break;
		case 'q': query = optarg; break;
		case 'c': call = optarg; break;
		case 'p': params = optarg; break;
		case 'r': repeat = (int)strtol(optarg, NULL, 10); break;
		default: return 4;
		}
	}
	if (keyfile) {
		struct infra_buf kb = INFRA_BUF_INIT;
		size_t n;

		if (infra_file_read_at(AT_FDCWD, keyfile, 0, 1 << 20, &kb, &err)) {
			fprintf(stderr, "tn-client: %s\n", err.msg);
			return 4;
		}
		key = infra_buf_steal(&kb, &n);
		if (!key)
			key = strdup("");
		while (n && (key[n - 1] == '\n' || key[n - 1] == '\r'))
			key[--n] = '\0';
	} else if (getenv("TN_API_KEY")) {
		key = strdup(getenv("TN_API_KEY"));
	}
	to.api_key = key;
	to.http = &ho;
	infra_http_global_init(NULL);
	if ((rc = infra_truenas_open(&t, &to, &err))) {
		fprintf(stderr, "tn-client: %s\n", err.msg);
		printf("open error %s: %s\n", code_name(rc), err.msg);
		free(key);
		return rc == -EINVAL ? 3 : 2;
	}
	printf("version %s transport %s\n", infra_truenas_version(t), infra_truenas_transport(t));
	if (query) {
		enum infra_tn_query q[INFRA_TN_NQUERIES * 8];
		json_object *res[INFRA_TN_NQUERIES * 8];
		struct infra_err errs[INFRA_TN_NQUERIES * 8];
		size_t nq = 0, i;
		int j, r;

		if (repeat < 1 || repeat > 8) {
			fprintf(stderr, "tn-client: --repeat 1..8\n");
			return 4;
		}
		for (r = 0; r < repeat * INFRA_TN_NQUERIES; r++) {
			size_t l;
			const char *p;

			j = r % INFRA_TN_NQUERIES;
			l = strlen(names[j]);
			p = strstr(query, names[j]);
			if (!strcmp(query, "all") ? j != INFRA_TN_SERVICES /* "all": the eight data queries */
						  : (p && (p == query || p[-1] == ',') && (p[l] == ',' || !p[l])))
				q[nq++] = (enum infra_tn_query)j;
		}
		rc = infra_truenas_query_many(t, nq, q, res, errs, &err);
		for (i = 0; i < nq; i++) {
			if (res[i])
				printf("query %s ok %zu items\n", names[q[i]], json_object_array_length(res[i]));
			else
				printf("query %s error %s: %s\n", names[q[i]], code_name(errs[i].code), errs[i].msg);
			if (!res[i])
				status = 1;
			json_object_put(res[i]);
		}
		if (rc) {
			printf("transport error %s: %s\n", code_name(rc), err.msg);
			status = 2;
		}
	}
	if (call) {
		json_object *p = NULL, *r = NULL;

		if (params && infra_json_parse(params, strlen(params), &p, &err)) {
			fprintf(stderr, "tn-client: --params: %s\n", err.msg);
			status = 4;
		} else if ((rc = infra_truenas_call(t, call, p, &r, &err))) {
			printf("call %s error %s: %s\n", call, code_name(rc), err.msg);
			status = status ? status : 1;
		} else {
			printf("call %s ok %.300s\n", call, json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
		}
		json_object_put(p);
		json_object_put(r);
	}
	infra_truenas_close(t);
	free(key);
	return status;
}
