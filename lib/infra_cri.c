#include "infra_cri.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 00 | 00000004 | ListPodSandboxRequest{ filter(1) { state(2) { state = READY(0) } } } */
static const uint8_t list_request[] = { 0x00, 0x00, 0x00, 0x00, 0x04, 0x0a, 0x02, 0x12, 0x00 };

const uint8_t *infra_cri_list_request(size_t *len)
{
	*len = sizeof(list_request);
	return list_request;
}

struct pb {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t r = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return -EINVAL;
		r |= (uint64_t)(*b->p & 0x7f) << shift;
		if (!(*b->p++ & 0x80)) {
			*v = r;
			return 0;
		}
	}
	return -EINVAL;
}

/* Next field: number, wire type, and for wire type 2 the payload; other wire
 * types are skipped (value in *v for varints). */
static int pb_next(struct pb *b, uint32_t *field, int *wire, struct pb *sub, uint64_t *v)
{
	uint64_t key, len;

	if (pb_varint(b, &key))
		return -EINVAL;
	*field = (uint32_t)(key >> 3);
	*wire = (int)(key & 7);
	*v = 0;
	switch (*wire) {
	case 0:
		return pb_varint(b, v);
	case 1:
		if (b->end - b->p < 8)
			return -EINVAL;
		b->p += 8;
		return 0;
	case 5:
		if (b->end - b->p < 4)
			return -EINVAL;
		b->p += 4;
		return 0;
	case 2:
		if (pb_varint(b, &len) || len > (uint64_t)(b->end - b->p))
			return -EINVAL;
		sub->p = b->p;
		sub->end = b->p + len;
		b->p += len;
		return 0;
	default: /* groups are not used by the CRI API */
		return -EINVAL;
	}
}

static char *pb_strdup(const struct pb *s)
{
	size_t n = (size_t)(s->end - s->p);
	char *r = malloc(n + 1);

	if (!r)
		return NULL;
	memcpy(r, s->p, n);
	r[n] = '\0';
	/* a NUL inside would silently cut the string: replace it */
	for (size_t i = 0; i < n; i++)
		if (!r[i])
			r[i] = '?';
	return r;
}

static int set_str(char **dst, const struct pb *s)
{
	char *n = pb_strdup(s);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int decode_metadata(struct pb *b, struct infra_cri_pod *pod)
{
	while (b->p < b->end) {
		struct pb sub;
		uint32_t f;
		uint64_t v;
		int w, rc = 0;

		if (pb_next(b, &f, &w, &sub, &v))
			return -EINVAL;
		if (w == 2 && f == 1)
			rc = set_str(&pod->name, &sub);
		else if (w == 2 && f == 2)
			rc = set_str(&pod->uid, &sub);
		else if (w == 2 && f == 3)
			rc = set_str(&pod->namespace_, &sub);
		if (rc)
			return rc;
	}
	return 0;
}

static int decode_pod(struct pb *b, struct infra_cri_pod *pod)
{
	static const struct pb empty = { (const uint8_t *)"", (const uint8_t *)"" };

	if (set_str(&pod->id, &empty) || set_str(&pod->name, &empty) || set_str(&pod->uid, &empty) ||
	    set_str(&pod->namespace_, &empty) || set_str(&pod->runtime_handler, &empty))
		return -ENOMEM;
	while (b->p < b->end) {
		struct pb sub;
		uint32_t f;
		uint64_t v;
		int w, rc = 0;

		if (pb_next(b, &f, &w, &sub, &v))
			return -EINVAL;
		if (w == 2 && f == 1)
			rc = set_str(&pod->id, &sub);
		else if (w == 2 && f == 2)
			rc = decode_metadata(&sub, pod);
		else if (w == 0 && f == 3)
			pod->state = (int)v;
		else if (w == 2 && f == 7)
			rc = set_str(&pod->runtime_handler, &sub);
		if (rc)
			return rc;
	}
	return 0;
}

static void pod_release(struct infra_cri_pod *p)
{
	free(p->id);
	free(p->name);
	free(p->uid);
	free(p->namespace_);
	free(p->runtime_handler);
}

void infra_cri_list_release(struct infra_cri_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		pod_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int infra_cri_decode_list(const uint8_t *data, size_t len, struct infra_cri_list *out,
			  struct infra_err *err)
{
	struct pb b;
	size_t alloc = 0;
	uint32_t mlen;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len < 5)
		return infra_err_set(err, -EINVAL, "CRI reply: %zu bytes, no gRPC message", len);
	if (data[0] != 0)
		return infra_err_set(err, -EINVAL, "CRI reply: compressed gRPC message not supported");
	mlen = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 8 | data[4];
	if (mlen != len - 5)
		return infra_err_set(err, -EINVAL, "CRI reply: gRPC message of %u bytes, %zu received",
				     mlen, len - 5);
	b.p = data + 5;
	b.end = data + len;
	while (!rc && b.p < b.end) {
		struct pb sub;
		uint32_t f;
		uint64_t v;
		int w;

		if (pb_next(&b, &f, &w, &sub, &v)) {
			rc = -EINVAL;
			break;
		}
		if (f != 1 || w != 2)
			continue;
		if (out->n == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			void *nv = realloc(out->v, na * sizeof(*out->v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			out->v = nv;
			alloc = na;
		}
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		rc = decode_pod(&sub, &out->v[out->n++]);
	}
	if (rc) {
		infra_cri_list_release(out);
		if (rc == -ENOMEM)
			return infra_err_set(err, rc, "out of memory");
		return infra_err_set(err, rc, "CRI reply: malformed ListPodSandboxResponse");
	}
	return 0;
}

int infra_cri_list_pod_sandboxes(struct infra_http *h, const char *socket_path, long timeout_ms,
				 struct infra_cri_list *out, struct infra_err *err)
{
	static const char *const headers[] = { "Content-Type: application/grpc", "TE: trailers", NULL };
	struct infra_http_resp resp;
	struct infra_http_req req;
	const char *st, *msg;
	size_t blen;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.method = "POST";
	req.url = "http://localhost/runtime.v1.RuntimeService/ListPodSandbox";
	req.headers = headers;
	req.body = infra_cri_list_request(&blen);
	req.body_len = blen;
	req.unix_socket = socket_path;
	req.timeout_ms = timeout_ms;
	req.max_attempts = 1;
	rc = infra_http_do(h, &req, &resp, err);
	if (rc)
		return infra_err_prefix(err, "CRI ListPodSandbox");
	st = infra_http_resp_header(&resp, "grpc-status");
	msg = infra_http_resp_header(&resp, "grpc-message");
	if (resp.status != 200)
		rc = infra_err_set(err, -EPROTO, "CRI ListPodSandbox: HTTP status %ld", resp.status);
	else if (st && strcmp(st, "0"))
		rc = infra_err_set(err, -EPROTO, "CRI ListPodSandbox: grpc-status %s%s%.200s", st,
				   msg ? ": " : "", msg ? msg : "");
	else if ((rc = infra_cri_decode_list((const uint8_t *)resp.body, resp.body_len, out, err)))
		infra_err_prefix(err, "CRI ListPodSandbox");
	else if (!st)
		/* trailers not seen: the reply may be cut short; accept what decoded */
		rc = 0;
	infra_http_resp_release(&resp);
	return rc;
}

const struct infra_cri_pod *infra_cri_find(const struct infra_cri_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].id, id))
			return &l->v[i];
	return NULL;
}
