/* infra_ws.c - RFC 6455 WebSocket client over libcurl CONNECT_ONLY (see infra_ws.h). */
#include "infra_ws.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_RBUF 65536
#define WS_HANDSHAKE_MAX 16384
#define WS_URL_SHOWN 256

struct infra_ws {
	struct infra_ws_io io;
	CURL *curl;
	char url[WS_URL_SHOWN];     /* masked, for messages */
	size_t max_message;
	long timeout_ms;
	unsigned char rbuf[WS_RBUF]; /* bytes received and not yet consumed */
	size_t rpos, rlen;
	int failed;                 /* the stream is out of step: no more use */
	int close_sent, close_rcvd;
	int peer_code;
	char peer_reason[128];
};

/* ---- SHA-1 and base64 (only for the handshake key check) ---- */

static uint32_t ws_rol(uint32_t v, int n)
{
	return (v << n) | (v >> (32 - n));
}

static void ws_sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = ws_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		t = ws_rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ws_rol(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

static void ws_sha1(const void *data, size_t len, unsigned char out[20])
{
	uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 };
	const unsigned char *p = data;
	unsigned char last[128];
	size_t rest, i, n;
	uint64_t bits = (uint64_t)len * 8;

	for (i = 0; i + 64 <= len; i += 64)
		ws_sha1_block(h, p + i);
	rest = len - i;
	memset(last, 0, sizeof(last));
	memcpy(last, p + i, rest);
	last[rest] = 0x80;
	n = rest + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		last[n - 1 - i] = (unsigned char)(bits >> (8 * i));
	ws_sha1_block(h, last);
	if (n == 128)
		ws_sha1_block(h, last + 64);
	for (i = 0; i < 20; i++)
		out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void ws_base64(const unsigned char *in, size_t n, char *out, size_t outsz)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 <= outsz; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	if (outsz)
		out[o < outsz ? o : outsz - 1] = '\0';
}

void infra_ws_accept_key(const char *key, char *out, size_t outsz)
{
	char cat[128];
	unsigned char dig[20];
	int n = snprintf(cat, sizeof(cat), "%s%s", key, WS_GUID);

	if (n < 0 || (size_t)n >= sizeof(cat)) {
		if (outsz)
			out[0] = '\0';
		return;
	}
	ws_sha1(cat, (size_t)n, dig);
	ws_base64(dig, sizeof(dig), out, outsz);
}

/* ---- framing ---- */

void infra_ws_mask(uint8_t *data, size_t n, const uint8_t mask[4], size_t off)
{
	size_t i;

	for (i = 0; i < n; i++)
		data[i] ^= mask[(off + i) & 3];
}

int infra_ws_frame_encode(struct infra_buf *out, int fin, enum infra_ws_opcode op,
			  const void *payload, size_t len, const uint8_t *mask)
{
	unsigned char h[14];
	size_t hl = 2, start;
	int rc, i;

	h[0] = (unsigned char)((fin ? 0x80 : 0) | ((unsigned)op & 0x0f));
	if (len < 126) {
		h[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (mask) {
		h[1] |= 0x80;
		memcpy(h + hl, mask, 4);
		hl += 4;
	}
	if ((rc = infra_buf_reserve(out, hl + len)))
		return rc;
	infra_buf_append(out, h, hl);
	start = out->len;
	if (len)
		infra_buf_append(out, payload, len);
	if (mask)
		infra_ws_mask((uint8_t *)out->data + start, len, mask, 0);
	return 0;
}

int infra_ws_frame_parse(const uint8_t *buf, size_t n, struct infra_ws_frame *f, struct infra_err *err)
{
	size_t hl = 2;
	int i;

	if (n < 2)
		return 0;
	memset(f, 0, sizeof(*f));
	f->fin = (buf[0] & 0x80) != 0;
	f->rsv = (buf[0] >> 4) & 7;
	f->opcode = buf[0] & 0x0f;
	f->masked = (buf[1] & 0x80) != 0;
	f->len = buf[1] & 0x7f;
	if (f->len == 126)
		hl = 4;
	else if (f->len == 127)
		hl = 10;
	if (f->masked)
		hl += 4;
	if (n < hl)
		return 0;
	if (f->len == 126) {
		f->len = (uint64_t)buf[2] << 8 | buf[3];
	} else if (f->len == 127) {
		f->len = 0;
		for (i = 0; i < 8; i++)
			f->len = f->len << 8 | buf[2 + i];
		if (f->len >> 63)
			return infra_err_set(err, -EPROTO, "invalid frame: 64-bit length with the top bit set");
	}
	if (f->masked)
		memcpy(f->mask, buf + hl - 4, 4);
	f->header_len = hl;
	if (f->rsv)
		return infra_err_set(err, -EPROTO, "invalid frame: reserved bits set (no extension was negotiated)");
	if ((f->opcode > 2 && f->opcode < 8) || f->opcode > 10)
		return infra_err_set(err, -EPROTO, "invalid frame: unknown opcode %d", f->opcode);
	if (f->opcode >= 8 && (!f->fin || f->len > 125))
		return infra_err_set(err, -EPROTO, "invalid frame: control frame %s",
				     f->fin ? "longer than 125 bytes" : "fragmented");
	return (int)hl;
}

/* ---- the stream ---- */

static long ws_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ws_fail(struct infra_ws *ws, struct infra_err *err, int code, const char *fmt, const char *detail)
{
	ws->failed = 1;
	return infra_err_set(err, code, fmt, ws->url, detail ? detail : "");
}

/* Wait until fd is ready for ev; 0, -ETIMEDOUT or -errno. */
static int ws_wait(CURL *c, short ev, long deadline)
{
	curl_socket_t fd = CURL_SOCKET_BAD;
	struct pollfd p;
	long left = deadline - ws_now_ms();
	int r;

	if (curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
		return -ECONNRESET;
	if (left <= 0)
		return -ETIMEDOUT;
	p.fd = fd;
	p.events = ev;
	p.revents = 0;
	r = poll(&p, 1, (int)(left > 0x7fffffff ? 0x7fffffff : left));
	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

static ssize_t ws_curl_recv(void *ud, void *buf, size_t n, long timeout_ms, struct infra_err *err)
{
	CURL *c = ud;
	long deadline = ws_now_ms() + timeout_ms;

	for (;;) {
		size_t got = 0;
		CURLcode cc = curl_easy_recv(c, buf, n, &got);
		int r;

		if (cc == CURLE_OK)
			return (ssize_t)got;
		if (cc != CURLE_AGAIN)
			return infra_err_set(err, -ECONNRESET, "connection error while receiving: %s",
					     curl_easy_strerror(cc));
		if ((r = ws_wait(c, POLLIN, deadline)))
			return r == -ETIMEDOUT
				       ? infra_err_set(err, r, "timeout after %ld ms waiting for data", timeout_ms)
				       : infra_err_set(err, r, "connection lost while receiving");
	}
}

static int ws_curl_send(void *ud, const void *buf, size_t n, long timeout_ms, struct infra_err *err)
{
	CURL *c = ud;
	const char *p = buf;
	long deadline = ws_now_ms() + timeout_ms;

	while (n) {
		size_t sent = 0;
		CURLcode cc = curl_easy_send(c, p, n, &sent);
		int r;

		if (cc == CURLE_OK) {
			p += sent;
			n -= sent;
			continue;
		}
		if (cc != CURLE_AGAIN)
			return infra_err_set(err, -ECONNRESET, "connection error while sending: %s",
					     curl_easy_strerror(cc));
		if ((r = ws_wait(c, POLLOUT, deadline)))
			return r == -ETIMEDOUT
				       ? infra_err_set(err, r, "timeout after %ld ms while sending", timeout_ms)
				       : infra_err_set(err, r, "connection lost while sending");
	}
	return 0;
}

static void ws_curl_close(void *ud)
{
	curl_easy_cleanup((CURL *)ud);
}

struct infra_ws *infra_ws_wrap(const struct infra_ws_io *io, const struct infra_ws_opts *o)
{
	struct infra_ws *ws = calloc(1, sizeof(*ws));

	if (!ws)
		return NULL;
	ws->io = *io;
	ws->max_message = o && o->max_message ? o->max_message : INFRA_WS_DEFAULT_MAX_MESSAGE;
	ws->timeout_ms = o && o->timeout_ms > 0 ? o->timeout_ms
		       : o && o->http && o->http->timeout_ms > 0 ? o->http->timeout_ms : 30000;
	snprintf(ws->url, sizeof(ws->url), "websocket");
	return ws;
}

/* Read exactly n bytes: first what is buffered, then straight from the stream. */
static int ws_read_exact(struct infra_ws *ws, void *dst, size_t n, long timeout_ms, struct infra_err *err)
{
	unsigned char *d = dst;
	size_t have = ws->rlen - ws->rpos;
	struct infra_err e = INFRA_ERR_INIT;

	if (have) {
		size_t k = have < n ? have : n;

		memcpy(d, ws->rbuf + ws->rpos, k);
		ws->rpos += k;
		d += k;
		n -= k;
	}
	while (n) {
		ssize_t got = ws->io.recv(ws->io.ud, d, n, timeout_ms, &e);

		if (got < 0)
			return ws_fail(ws, err, (int)got, "%s: %s", e.msg);
		if (got == 0)
			return ws_fail(ws, err, -ECONNRESET, "%s: connection closed by the peer in the middle of a frame%s", NULL);
		d += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Make at least `need` bytes available in rbuf (need <= WS_RBUF). */
static int ws_fill(struct infra_ws *ws, size_t need, long timeout_ms, int at_boundary, struct infra_err *err)
{
	struct infra_err e = INFRA_ERR_INIT;

	if (ws->rpos && ws->rlen - ws->rpos < need) {
		memmove(ws->rbuf, ws->rbuf + ws->rpos, ws->rlen - ws->rpos);
		ws->rlen -= ws->rpos;
		ws->rpos = 0;
	}
	while (ws->rlen - ws->rpos < need) {
		ssize_t got = ws->io.recv(ws->io.ud, ws->rbuf + ws->rlen, WS_RBUF - ws->rlen, timeout_ms, &e);

		if (got < 0)
			return ws_fail(ws, err, (int)got, "%s: %s", e.msg);
		if (got == 0)
			return ws_fail(ws, err, -ECONNRESET,
				       at_boundary && ws->rlen == ws->rpos
					       ? "%s: connection closed by the peer without a close frame%s"
					       : "%s: connection closed by the peer in the middle of a frame%s", NULL);
		ws->rlen += (size_t)got;
	}
	return 0;
}

static int ws_send_frame(struct infra_ws *ws, int fin, enum infra_ws_opcode op, const void *data,
			 size_t len, struct infra_err *err)
{
	struct infra_buf b;
	uint8_t mask[4];
	struct infra_err e = INFRA_ERR_INIT;
	int rc;

	if (getrandom(mask, sizeof(mask), 0) != (ssize_t)sizeof(mask)) {
		long r = random();

		memcpy(mask, &r, sizeof(mask));
	}
	infra_buf_init(&b, 0);
	if ((rc = infra_ws_frame_encode(&b, fin, op, data, len, mask))) {
		infra_buf_release(&b);
		return infra_err_set(err, rc, "%s: cannot build a frame of %zu bytes", ws->url, len);
	}
	rc = ws->io.send(ws->io.ud, b.data, b.len, ws->timeout_ms, &e);
	infra_buf_release(&b);
	if (rc)
		return ws_fail(ws, err, rc, "%s: %s", e.msg);
	return 0;
}

int infra_ws_send(struct infra_ws *ws, enum infra_ws_opcode op, const void *data, size_t len,
		  struct infra_err *err)
{
	if (ws->failed || ws->close_sent || ws->close_rcvd)
		return infra_err_set(err, -EPIPE, "%s: the connection is %s", ws->url,
				     ws->failed ? "broken after an earlier error" : "closing");
	if (op != INFRA_WS_TEXT && op != INFRA_WS_BINARY && op != INFRA_WS_PING && op != INFRA_WS_PONG)
		return infra_err_set(err, -EINVAL, "%s: cannot send opcode %d", ws->url, (int)op);
	if (op >= INFRA_WS_CLOSE && len > 125)
		return infra_err_set(err, -EINVAL, "%s: control frame payload of %zu bytes (max 125)", ws->url, len);
	return ws_send_frame(ws, 1, op, data, len, err);
}

static int ws_send_close(struct infra_ws *ws, int code, const char *reason, struct infra_err *err)
{
	unsigned char p[125];
	size_t n = 0, rl;

	if (ws->close_sent || ws->failed)
		return 0;
	if (code) {
		p[0] = (unsigned char)(code >> 8);
		p[1] = (unsigned char)code;
		n = 2;
		rl = reason ? strlen(reason) : 0;
		if (rl > sizeof(p) - 2)
			rl = sizeof(p) - 2;
		memcpy(p + 2, reason ? reason : "", rl);
		n += rl;
	}
	ws->close_sent = 1;
	return ws_send_frame(ws, 1, INFRA_WS_CLOSE, p, n, err);
}

static void ws_copy_reason(char *dst, size_t dsz, const unsigned char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 1 < dsz; i++)
		dst[o++] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
	dst[o] = '\0';
}

int infra_ws_recv(struct infra_ws *ws, char **data, size_t *len, enum infra_ws_opcode *op,
		  long timeout_ms, struct infra_err *err)
{
	struct infra_buf msg;
	int msg_op = 0, rc;

	*data = NULL;
	*len = 0;
	if (timeout_ms <= 0)
		timeout_ms = ws->timeout_ms;
	if (ws->failed)
		return infra_err_set(err, -EPIPE, "%s: the connection is broken after an earlier error", ws->url);
	if (ws->close_rcvd)
		return infra_err_set(err, -EPIPE, "%s: closed by the peer (code %d%s%s)", ws->url,
				     ws->peer_code, ws->peer_reason[0] ? ": " : "", ws->peer_reason);
	infra_buf_init(&msg, ws->max_message + 1);
	for (;;) {
		struct infra_ws_frame f;
		unsigned char ctl[126];

		if ((rc = ws_fill(ws, 2, timeout_ms, msg_op == 0, err)))
			goto fail;
		rc = infra_ws_frame_parse(ws->rbuf + ws->rpos, ws->rlen - ws->rpos, &f, err);
		if (rc == 0) {
			size_t need = 2 + ((ws->rbuf[ws->rpos + 1] & 0x7f) == 126 ? 2
					   : (ws->rbuf[ws->rpos + 1] & 0x7f) == 127 ? 8 : 0) +
				      ((ws->rbuf[ws->rpos + 1] & 0x80) ? 4 : 0);

			if ((rc = ws_fill(ws, need, timeout_ms, 0, err)))
				goto fail;
			rc = infra_ws_frame_parse(ws->rbuf + ws->rpos, ws->rlen - ws->rpos, &f, err);
		}
		if (rc < 0) {
			infra_err_prefix(err, "%s", ws->url);
			ws_send_close(ws, 1002, "protocol error", NULL);
			ws->failed = 1;
			goto fail;
		}
		ws->rpos += f.header_len;
		if (f.masked) {
			rc = infra_err_set(err, -EPROTO, "%s: invalid frame: the server masked it", ws->url);
			ws_send_close(ws, 1002, "masked frame", NULL);
			ws->failed = 1;
			goto fail;
		}
		if (f.opcode >= INFRA_WS_CLOSE) {
			if ((rc = ws_read_exact(ws, ctl, (size_t)f.len, timeout_ms, err)))
				goto fail;
			if (f.opcode == INFRA_WS_PING) {
				if ((rc = ws_send_frame(ws, 1, INFRA_WS_PONG, ctl, (size_t)f.len, err)))
					goto fail;
				continue;
			}
			if (f.opcode == INFRA_WS_PONG)
				continue;
			ws->close_rcvd = 1;
			ws->peer_code = f.len >= 2 ? ctl[0] << 8 | ctl[1] : 1005;
			ws_copy_reason(ws->peer_reason, sizeof(ws->peer_reason), ctl + 2,
				       f.len >= 2 ? (size_t)f.len - 2 : 0);
			ws_send_close(ws, f.len >= 2 ? ws->peer_code : 0, NULL, NULL);
			rc = infra_err_set(err, -EPIPE, "%s: closed by the peer (code %d%s%s)", ws->url,
					   ws->peer_code, ws->peer_reason[0] ? ": " : "", ws->peer_reason);
			goto fail;
		}
		if (f.opcode == INFRA_WS_CONT && !msg_op) {
			rc = infra_err_set(err, -EPROTO, "%s: invalid frame: continuation without a first fragment", ws->url);
			ws_send_close(ws, 1002, "unexpected continuation", NULL);
			ws->failed = 1;
			goto fail;
		}
		if (f.opcode != INFRA_WS_CONT && msg_op) {
			rc = infra_err_set(err, -EPROTO, "%s: invalid frame: new message inside a fragmented one", ws->url);
			ws_send_close(ws, 1002, "unfinished fragmented message", NULL);
			ws->failed = 1;
			goto fail;
		}
		if (!msg_op)
			msg_op = f.opcode;
		if (f.len > ws->max_message || msg.len + f.len > ws->max_message) {
			rc = infra_err_set(err, -E2BIG, "%s: message larger than %zu bytes (%s)", ws->url,
					   ws->max_message, f.fin && !msg.len ? "one frame" : "fragmented");
			ws_send_close(ws, 1009, "message too big", NULL);
			ws->failed = 1;
			goto fail;
		}
		if (infra_buf_reserve(&msg, (size_t)f.len)) {
			rc = infra_err_set(err, -ENOMEM, "%s: out of memory for a %llu-byte frame", ws->url,
					   (unsigned long long)f.len);
			ws->failed = 1;
			goto fail;
		}
		if ((rc = ws_read_exact(ws, msg.data + msg.len, (size_t)f.len, timeout_ms, err)))
			goto fail;
		msg.len += (size_t)f.len;
		msg.data[msg.len] = '\0';
		if (f.fin)
			break;
	}
	if (!msg.data && (rc = infra_buf_reserve(&msg, 1))) {
		rc = infra_err_set(err, -ENOMEM, "%s: out of memory", ws->url);
		goto fail;
	}
	*op = (enum infra_ws_opcode)msg_op;
	*data = infra_buf_steal(&msg, len);
	return 0;
fail:
	infra_buf_release(&msg);
	return rc;
}

int infra_ws_peer_close(const struct infra_ws *ws, int *code, const char **reason)
{
	if (!ws->close_rcvd)
		return -ENOENT;
	if (code)
		*code = ws->peer_code;
	if (reason)
		*reason = ws->peer_reason;
	return 0;
}

int infra_ws_close(struct infra_ws *ws, int code, const char *reason, struct infra_err *err)
{
	int rc;
	long deadline;

	if (ws->failed || ws->close_rcvd || ws->close_sent)
		return 0;
	if ((rc = ws_send_close(ws, code ? code : 1000, reason, err)))
		return rc;
	deadline = ws_now_ms() + (ws->timeout_ms < 2000 ? ws->timeout_ms : 2000);
	while (!ws->close_rcvd && !ws->failed) {
		char *d = NULL;
		size_t n;
		enum infra_ws_opcode op;
		long left = deadline - ws_now_ms();

		if (left <= 0)
			break;
		if (infra_ws_recv(ws, &d, &n, &op, left, NULL) == 0)
			free(d);
	}
	return 0;
}

void infra_ws_free(struct infra_ws *ws)
{
	if (!ws)
		return;
	if (ws->io.close)
		ws->io.close(ws->io.ud);
	free(ws);
}

/* ---- connecting ---- */

static int ws_curl_fail(CURL *c, CURLcode cc, const char *errbuf, const char *url, struct infra_err *err)
{
	long oserr = 0;
	const char *d = errbuf[0] ? errbuf : curl_easy_strerror(cc);

	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		return infra_err_set(err, oserr > 0 ? -(int)oserr : -ECONNREFUSED, "%s: cannot connect: %s", url, d);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return infra_err_set(err, -EHOSTUNREACH, "%s: cannot resolve the %s", url,
				     cc == CURLE_COULDNT_RESOLVE_PROXY ? "proxy" : "host");
	case CURLE_OPERATION_TIMEDOUT:
		return infra_err_set(err, -ETIMEDOUT, "%s: connect timeout: %s", url, d);
	case CURLE_OUT_OF_MEMORY:
		return infra_err_set(err, -ENOMEM, "%s: out of memory", url);
	case CURLE_URL_MALFORMAT:
		return infra_err_set(err, -EINVAL, "%s: malformed URL", url);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CIPHER:
		return infra_err_set(err, -EPROTO, "%s: TLS error: %s", url, d);
	default:
		return infra_err_set(err, -EIO, "%s: %s", url, d);
	}
}

/* Value of header `name` in a raw response head (case-insensitive name), copied to out. */
static int ws_head_value(const char *head, const char *name, char *out, size_t outsz)
{
	const char *p = strstr(head, "\r\n");
	size_t nl = strlen(name);

	while (p && p[2]) {
		const char *line = p + 2, *end = strstr(line, "\r\n"), *v;
		size_t vl;

		if (!end)
			break;
		if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			v = line + nl + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			vl = (size_t)(end - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= outsz)
				vl = outsz - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 0;
		}
		p = end;
	}
	return -ENOENT;
}

static int ws_has_token(const char *v, const char *tok)
{
	size_t tl = strlen(tok);
	const char *p = v;

	while (*p) {
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (strncasecmp(p, tok, tl) == 0 && (p[tl] == '\0' || p[tl] == ',' || p[tl] == ' '))
			return 1;
		while (*p && *p != ',')
			p++;
	}
	return 0;
}

static int ws_handshake(struct infra_ws *ws, const char *hostport, const char *target,
			const struct infra_ws_opts *o, struct infra_err *err)
{
	struct infra_buf req;
	unsigned char nonce[16];
	char key[32], want[32], got[64], val[128], *head, *eoh;
	struct infra_err e = INFRA_ERR_INIT;
	const char *ua = o && o->http && o->http->user_agent ? o->http->user_agent : "infrakit/" INFRA_VERSION;
	long status = 0;
	size_t i;
	int rc;

	if (getrandom(nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		for (i = 0; i < sizeof(nonce); i++)
			nonce[i] = (unsigned char)random();
	ws_base64(nonce, sizeof(nonce), key, sizeof(key));
	infra_ws_accept_key(key, want, sizeof(want));
	infra_buf_init(&req, 65536);
	rc = infra_buf_printf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: %s\r\n",
			      target, hostport, key, ua);
	for (i = 0; !rc && o && o->headers && o->headers[i]; i++) {
		if (strpbrk(o->headers[i], "\r\n")) {
			infra_buf_release(&req);
			return infra_err_set(err, -EINVAL, "%s: a handshake header has a line break", ws->url);
		}
		rc = infra_buf_printf(&req, "%s\r\n", o->headers[i]);
	}
	if (!rc)
		rc = infra_buf_puts(&req, "\r\n");
	if (rc) {
		infra_buf_release(&req);
		return infra_err_set(err, rc, "%s: handshake request too large", ws->url);
	}
	rc = ws->io.send(ws->io.ud, req.data, req.len, ws->timeout_ms, &e);
	infra_buf_release(&req);
	if (rc)
		return infra_err_set(err, rc, "%s: handshake: %s", ws->url, e.msg);
	/* read the response head; what follows it stays in rbuf */
	for (;;) {
		ssize_t n;

		ws->rbuf[ws->rlen] = '\0';
		if ((eoh = strstr((char *)ws->rbuf, "\r\n\r\n")))
			break;
		if (ws->rlen >= WS_HANDSHAKE_MAX)
			return infra_err_set(err, -EPROTO, "%s: handshake: response head larger than %d bytes",
					     ws->url, WS_HANDSHAKE_MAX);
		n = ws->io.recv(ws->io.ud, ws->rbuf + ws->rlen, WS_HANDSHAKE_MAX - ws->rlen, ws->timeout_ms, &e);
		if (n < 0)
			return infra_err_set(err, (int)n, "%s: handshake: %s", ws->url, e.msg);
		if (n == 0)
			return infra_err_set(err, -ECONNRESET, "%s: handshake: connection closed before a response",
					     ws->url);
		ws->rlen += (size_t)n;
	}
	head = (char *)ws->rbuf;
	eoh[2] = '\0'; /* keep the last header's CRLF */
	ws->rpos = (size_t)(eoh + 4 - head);
	if (strncmp(head, "HTTP/1.", 7) != 0 || strlen(head) < 12)
		return infra_err_set(err, -EPROTO, "%s: handshake: not an HTTP response", ws->url);
	for (i = 9; i < 12 && head[i] >= '0' && head[i] <= '9'; i++)
		status = status * 10 + (head[i] - '0');
	if (status != 101)
		return infra_err_set(err, status == 401 || status == 403 ? -EACCES : status == 404 ? -ENOENT : -EPROTO,
				     "%s: handshake: HTTP %ld (expected 101 Switching Protocols)", ws->url, status);
	if (ws_head_value(head, "Upgrade", val, sizeof(val)) || strcasecmp(val, "websocket") != 0)
		return infra_err_set(err, -EPROTO, "%s: handshake: no 'Upgrade: websocket' in the response", ws->url);
	if (ws_head_value(head, "Connection", val, sizeof(val)) || !ws_has_token(val, "upgrade"))
		return infra_err_set(err, -EPROTO, "%s: handshake: no 'Connection: Upgrade' in the response", ws->url);
	if (ws_head_value(head, "Sec-WebSocket-Accept", got, sizeof(got)) || strcmp(got, want) != 0)
		return infra_err_set(err, -EPROTO, "%s: handshake: Sec-WebSocket-Accept %s (expected %s)", ws->url,
				     got[0] ? "does not match the key" : "missing", want);
	if (ws_head_value(head, "Sec-WebSocket-Extensions", val, sizeof(val)) == 0 && val[0])
		return infra_err_set(err, -EPROTO, "%s: handshake: the server chose an extension we did not offer (%s)",
				     ws->url, val);
	/* move the leftover to the front */
	memmove(ws->rbuf, ws->rbuf + ws->rpos, ws->rlen - ws->rpos);
	ws->rlen -= ws->rpos;
	ws->rpos = 0;
	return 0;
}

int infra_ws_connect(struct infra_ws **out, const char *url, const struct infra_ws_opts *o,
		     struct infra_err *err)
{
	const struct infra_http_opts *h = o ? o->http : NULL;
	char hurl[2048], shown[WS_URL_SHOWN], errbuf[CURL_ERROR_SIZE] = "";
	char hostport[512];
	char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	const char *rest;
	struct infra_ws_io io = { 0 };
	struct infra_ws *ws = NULL;
	struct infra_buf target;
	CURLU *u = NULL;
	CURL *c = NULL;
	CURLcode cc = CURLE_OK;
	int tls, rc;
	long ct;

	*out = NULL;
	infra_http_mask_url(url ? url : "", shown, sizeof(shown));
	if (!url)
		return infra_err_set(err, -EINVAL, "websocket: no URL");
	if (strncasecmp(url, "wss://", 6) == 0 || strncasecmp(url, "https://", 8) == 0)
		tls = 1;
	else if (strncasecmp(url, "ws://", 5) == 0 || strncasecmp(url, "http://", 7) == 0)
		tls = 0;
	else
		return infra_err_set(err, -EINVAL, "%s: not a ws://, wss://, http:// or https:// URL", shown);
	rest = strstr(url, "://") + 3;
	if ((size_t)snprintf(hurl, sizeof(hurl), "%s://%s", tls ? "https" : "http", rest) >= sizeof(hurl))
		return infra_err_set(err, -EINVAL, "%s: URL too long", shown);
	u = curl_url();
	if (!u || curl_url_set(u, CURLUPART_URL, hurl, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		return infra_err_set(err, -EINVAL, "%s: malformed URL", shown);
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	snprintf(hostport, sizeof(hostport), "%s%s%s", host, port ? ":" : "", port ? port : "");
	infra_buf_init(&target, 8192);
	rc = infra_buf_printf(&target, "%s%s%s", path && path[0] ? path : "/", query ? "?" : "", query ? query : "");
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	if (rc) {
		infra_buf_release(&target);
		return infra_err_set(err, -EINVAL, "%s: URL path too long", shown);
	}
	if (!(c = curl_easy_init())) {
		infra_buf_release(&target);
		return infra_err_set(err, -ENOMEM, "%s: cannot create a curl handle", shown);
	}
	ct = h && h->connect_timeout_ms > 0 ? h->connect_timeout_ms : 10000;
#define WS_SETOPT(opt, val) do { \
		if (cc == CURLE_OK) \
			cc = curl_easy_setopt(c, opt, val); \
	} while (0)
	WS_SETOPT(CURLOPT_URL, hurl);
	WS_SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	WS_SETOPT(CURLOPT_CONNECT_ONLY, 1L);
	WS_SETOPT(CURLOPT_NOSIGNAL, 1L);
	WS_SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	WS_SETOPT(CURLOPT_CONNECTTIMEOUT_MS, ct);
	WS_SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	WS_SETOPT(CURLOPT_SSL_ENABLE_ALPN, 0L); /* the upgrade is HTTP/1.1 only */
	WS_SETOPT(CURLOPT_HTTPPROXYTUNNEL, 1L); /* through a proxy: CONNECT, then our bytes */
	WS_SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
	if (h && h->cacert)
		WS_SETOPT(CURLOPT_CAINFO, h->cacert);
	if (h && h->cert)
		WS_SETOPT(CURLOPT_SSLCERT, h->cert);
	if (h && h->key)
		WS_SETOPT(CURLOPT_SSLKEY, h->key);
	if (h && h->insecure) {
		WS_SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
		WS_SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
	}
#undef WS_SETOPT
	if (cc == CURLE_OK)
		cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = ws_curl_fail(c, cc, errbuf, shown, err);
		curl_easy_cleanup(c);
		infra_buf_release(&target);
		return rc;
	}
	io.ud = c;
	io.recv = ws_curl_recv;
	io.send = ws_curl_send;
	io.close = ws_curl_close;
	if (!(ws = infra_ws_wrap(&io, o))) {
		curl_easy_cleanup(c);
		infra_buf_release(&target);
		return infra_err_set(err, -ENOMEM, "%s: out of memory", shown);
	}
	ws->curl = c;
	snprintf(ws->url, sizeof(ws->url), "%s", shown);
	rc = ws_handshake(ws, hostport, target.data, o, err);
	infra_buf_release(&target);
	if (rc) {
		infra_ws_free(ws);
		return rc;
	}
	*out = ws;
	return 0;
}
