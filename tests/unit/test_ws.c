/* test_ws.c - RFC 6455 framing of lib/infra_ws, in memory (no sockets). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "infra_ws.h"
#include "tap.h"

/* ---- a byte stream in memory: reads come in chunks of `chunk` bytes ---- */
struct mem {
	struct infra_buf in;   /* what the "server" sends */
	size_t pos, chunk;
	struct infra_buf out;  /* what the client wrote */
};

static ssize_t mem_recv(void *ud, void *buf, size_t n, long timeout_ms, struct infra_err *err)
{
	struct mem *m = ud;
	size_t k = m->in.len - m->pos;

	(void)timeout_ms;
	(void)err;
	if (k > n)
		k = n;
	if (m->chunk && k > m->chunk)
		k = m->chunk;
	memcpy(buf, m->in.data + m->pos, k);
	m->pos += k;
	return (ssize_t)k;
}

static int mem_send(void *ud, const void *buf, size_t n, long timeout_ms, struct infra_err *err)
{
	(void)timeout_ms;
	(void)err;
	return infra_buf_append(&((struct mem *)ud)->out, buf, n);
}

static struct infra_ws *mem_ws(struct mem *m, size_t chunk, size_t max_message)
{
	struct infra_ws_io io = { m, mem_recv, mem_send, NULL };
	struct infra_ws_opts o = { 0 };

	memset(m, 0, sizeof(*m));
	infra_buf_init(&m->in, 0);
	infra_buf_init(&m->out, 0);
	m->chunk = chunk;
	o.max_message = max_message;
	return infra_ws_wrap(&io, &o);
}

static void mem_free(struct mem *m, struct infra_ws *ws)
{
	infra_ws_free(ws);
	infra_buf_release(&m->in);
	infra_buf_release(&m->out);
}

/* server frame (unmasked) */
static void srv(struct mem *m, int fin, int op, const char *p, size_t n)
{
	infra_ws_frame_encode(&m->in, fin, (enum infra_ws_opcode)op, p, n, NULL);
}

/* Decode the k-th frame the client wrote: opcode, unmasked payload; -1 if none/unmasked. */
static int client_frame(struct mem *m, int k, char *payload, size_t cap, size_t *plen)
{
	size_t off = 0;
	struct infra_ws_frame f;

	for (;;) {
		int hl = infra_ws_frame_parse((const uint8_t *)m->out.data + off, m->out.len - off, &f, NULL);

		if (hl <= 0 || !f.masked || off + (size_t)hl + f.len > m->out.len)
			return -1;
		if (k-- == 0) {
			size_t n = f.len < cap ? (size_t)f.len : cap;

			memcpy(payload, m->out.data + off + hl, n);
			infra_ws_mask((uint8_t *)payload, n, f.mask, 0);
			*plen = (size_t)f.len;
			return f.opcode;
		}
		off += (size_t)hl + f.len;
	}
}

static void test_accept_and_headers(void)
{
	char acc[32];
	struct infra_buf b;
	struct infra_ws_frame f;
	struct infra_err err = INFRA_ERR_INIT;
	static const size_t lens[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	static const size_t hls[] = { 2, 2, 2, 4, 4, 4, 10, 10 };
	const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	char *payload = malloc(70000);
	size_t i;

	infra_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc, sizeof(acc));
	tap_streq(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Sec-WebSocket-Accept of the RFC 6455 example key");
	for (i = 0; i < 70000; i++)
		payload[i] = (char)('a' + i % 26);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		int masked;

		for (masked = 0; masked <= 1; masked++) {
			int hl, ok;

			infra_buf_init(&b, 0);
			infra_ws_frame_encode(&b, 1, INFRA_WS_BINARY, payload, lens[i], masked ? mask : NULL);
			hl = infra_ws_frame_parse((const uint8_t *)b.data, b.len, &f, &err);
			ok = hl == (int)(hls[i] + (masked ? 4 : 0)) && f.len == lens[i] && f.fin && f.opcode == 2 &&
			     f.masked == masked && b.len == (size_t)hl + lens[i];
			if (ok && masked) {
				infra_ws_mask((uint8_t *)b.data + hl, lens[i], f.mask, 0);
				ok = memcmp(f.mask, mask, 4) == 0;
			}
			ok = ok && memcmp(b.data + hl, payload, lens[i]) == 0;
			tap_ok(ok, "%s frame of %zu bytes: %zu-byte header (%s length), payload round trip",
			       masked ? "masked" : "unmasked", lens[i], hls[i] + (masked ? 4 : 0),
			       hls[i] == 2 ? "7-bit" : hls[i] == 4 ? "16-bit" : "64-bit");
			/* every shorter prefix of the header asks for more */
			if (!masked || lens[i] == 70000) {
				int j, more = 1;

				for (j = 0; j < hl; j++)
					more &= infra_ws_frame_parse((const uint8_t *)b.data, (size_t)j, &f, &err) == 0;
				tap_ok(more, "header of %zu-byte %s frame cut short: 'need more' at every length", lens[i],
				       masked ? "masked" : "unmasked");
			}
			infra_buf_release(&b);
		}
	}
	/* exact bytes of a 16-bit header and the RFC's masked "Hello" example */
	infra_buf_init(&b, 0);
	infra_ws_frame_encode(&b, 1, INFRA_WS_TEXT, payload, 256, NULL);
	tap_ok((uint8_t)b.data[0] == 0x81 && (uint8_t)b.data[1] == 126 && (uint8_t)b.data[2] == 1 &&
	       (uint8_t)b.data[3] == 0, "256-byte text frame header is 81 7E 01 00 (RFC 6455 5.7)");
	infra_buf_reset(&b);
	infra_ws_frame_encode(&b, 1, INFRA_WS_TEXT, "Hello", 5, mask);
	tap_ok(b.len == 11 && memcmp(b.data, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11) == 0,
	       "masked \"Hello\" is exactly the RFC 6455 5.7 example bytes");
	infra_buf_release(&b);
	free(payload);
}

static void test_parse_errors(void)
{
	struct infra_ws_frame f;
	struct infra_err err = INFRA_ERR_INIT;
	const uint8_t rsv[] = { 0xC1, 0x00 }, op3[] = { 0x83, 0x00 }, opb[] = { 0x8B, 0x00 };
	const uint8_t bigping[] = { 0x89, 126, 0, 126 }, fragping[] = { 0x09, 0x00 };
	const uint8_t top[] = { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1 };

	tap_inteq(infra_ws_frame_parse(rsv, 2, &f, &err), -EPROTO, "RSV1 set without an extension: EPROTO");
	tap_ok(strstr(err.msg, "reserved bits") != NULL, "... message says reserved bits (%s)", err.msg);
	tap_inteq(infra_ws_frame_parse(op3, 2, &f, &err), -EPROTO, "reserved data opcode 3: EPROTO");
	tap_inteq(infra_ws_frame_parse(opb, 2, &f, &err), -EPROTO, "reserved control opcode 0xB: EPROTO");
	tap_inteq(infra_ws_frame_parse(bigping, 4, &f, &err), -EPROTO, "ping with 126 bytes: EPROTO");
	tap_inteq(infra_ws_frame_parse(fragping, 2, &f, &err), -EPROTO, "fragmented ping: EPROTO");
	tap_inteq(infra_ws_frame_parse(top, 10, &f, &err), -EPROTO, "64-bit length with the top bit set: EPROTO");
}

static void test_reassembly(size_t chunk)
{
	struct mem m;
	struct infra_ws *ws = mem_ws(&m, chunk, 0);
	char *d = NULL, pl[200];
	size_t n = 0, pn = 0;
	enum infra_ws_opcode op;
	struct infra_err err = INFRA_ERR_INIT;
	int rc;

	srv(&m, 0, INFRA_WS_TEXT, "Hel", 3);
	srv(&m, 1, INFRA_WS_PING, "p1", 2);          /* control frame between fragments */
	srv(&m, 0, INFRA_WS_CONT, "lo, ", 4);
	srv(&m, 1, INFRA_WS_PONG, "unsolicited", 11); /* skipped */
	srv(&m, 1, INFRA_WS_CONT, "world", 5);
	srv(&m, 1, INFRA_WS_BINARY, "\x00\x01\x02", 3);
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_ok(rc == 0 && n == 12 && strcmp(d, "Hello, world") == 0 && op == INFRA_WS_TEXT,
	       "chunk %zu: 3 fragments with a ping and a pong between them reassembled (%s)", chunk, rc ? err.msg : d);
	free(d);
	tap_ok(client_frame(&m, 0, pl, sizeof(pl), &pn) == INFRA_WS_PONG && pn == 2 && memcmp(pl, "p1", 2) == 0,
	       "chunk %zu: the ping was answered by a masked pong with its payload", chunk);
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_ok(rc == 0 && n == 3 && op == INFRA_WS_BINARY && memcmp(d, "\x00\x01\x02", 3) == 0,
	       "chunk %zu: a binary message next, opcode reported", chunk);
	free(d);
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_inteq(rc, -ECONNRESET, "chunk %zu: end of stream at a frame boundary: ECONNRESET", chunk);
	tap_ok(strstr(err.msg, "without a close frame") != NULL, "... 'without a close frame' (%s)", err.msg);
	mem_free(&m, ws);
}

static void test_large(void)
{
	struct mem m;
	struct infra_ws *ws = mem_ws(&m, 4096, 0);
	size_t big = 3u << 20, n = 0, i;
	char *p = malloc(big), *d = NULL;
	enum infra_ws_opcode op;
	struct infra_err err = INFRA_ERR_INIT;
	int rc, same;

	for (i = 0; i < big; i++)
		p[i] = (char)('A' + i % 23);
	srv(&m, 0, INFRA_WS_TEXT, p, 100000);
	srv(&m, 0, INFRA_WS_CONT, p + 100000, 65535);
	srv(&m, 1, INFRA_WS_CONT, p + 165535, big - 165535);
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	same = rc == 0 && n == big && memcmp(d, p, big) == 0 && d[big] == '\0';
	tap_ok(same, "3 MiB message in 64-bit, 16-bit and 64-bit fragments, read in 4 KiB pieces: intact");
	free(d);
	free(p);
	mem_free(&m, ws);
}

static void test_close(void)
{
	struct mem m;
	struct infra_ws *ws = mem_ws(&m, 0, 0);
	char *d = NULL, pl[200];
	size_t n = 0, pn = 0;
	enum infra_ws_opcode op;
	struct infra_err err = INFRA_ERR_INIT;
	int code = 0, rc;
	const char *reason = NULL;

	srv(&m, 1, INFRA_WS_CLOSE, "\x0f\xa1going away now", 16);
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_inteq(rc, -EPIPE, "a close frame: EPIPE");
	tap_ok(infra_ws_peer_close(ws, &code, &reason) == 0 && code == 4001 && strcmp(reason, "going away now") == 0,
	       "the peer's close code 4001 and reason reported");
	tap_ok(strstr(err.msg, "closed by the peer (code 4001: going away now)") != NULL, "message: %s", err.msg);
	tap_ok(client_frame(&m, 0, pl, sizeof(pl), &pn) == INFRA_WS_CLOSE && pn == 2 &&
	       (uint8_t)pl[0] == 0x0f && (uint8_t)pl[1] == 0xa1, "the close was echoed, masked, with code 4001");
	tap_inteq(infra_ws_send(ws, INFRA_WS_TEXT, "x", 1, &err), -EPIPE, "sending after the close: EPIPE");
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 0);
	srv(&m, 1, INFRA_WS_CLOSE, NULL, 0);
	infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_ok(infra_ws_peer_close(ws, &code, &reason) == 0 && code == 1005, "a close without a code reports 1005");
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 0);
	srv(&m, 1, INFRA_WS_CLOSE, "\x03\xe8", 2);
	rc = infra_ws_close(ws, 1000, "bye", &err);
	tap_ok(rc == 0 && client_frame(&m, 0, pl, sizeof(pl), &pn) == INFRA_WS_CLOSE && pn == 5 &&
	       memcmp(pl, "\x03\xe8" "bye", 5) == 0, "infra_ws_close sends 1000 'bye' and reads the peer's close");
	tap_ok(infra_ws_peer_close(ws, &code, NULL) == 0 && code == 1000, "... whose code is kept");
	mem_free(&m, ws);
}

static void test_violations(void)
{
	struct mem m;
	struct infra_ws *ws;
	char *d = NULL, pl[200];
	size_t n = 0, pn = 0;
	enum infra_ws_opcode op;
	struct infra_err err = INFRA_ERR_INIT;
	const uint8_t mask[4] = { 1, 2, 3, 4 };
	int rc;

	ws = mem_ws(&m, 0, 100);
	srv(&m, 1, INFRA_WS_TEXT, "0123456789012345678901234567890123456789012345678901234567890123456789"
				  "0123456789012345678901234567890", 101);
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_inteq(rc, -E2BIG, "one frame over max_message (101 > 100): E2BIG");
	tap_ok(client_frame(&m, 0, pl, sizeof(pl), &pn) == INFRA_WS_CLOSE && (uint8_t)pl[0] == 0x03 &&
	       (uint8_t)pl[1] == 0xf1, "... and close 1009 (message too big) was sent");
	tap_inteq(infra_ws_recv(ws, &d, &n, &op, 0, &err), -EPIPE, "the connection is unusable afterwards");
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 100);
	infra_buf_append(&m.in, "\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10); /* 1 TiB announced, nothing follows */
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_ok(rc == -E2BIG && strstr(err.msg, "larger than 100 bytes"),
	       "a frame header announcing 1 TiB is refused from the header alone (%s)", err.msg);
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 100);
	srv(&m, 0, INFRA_WS_TEXT, "012345678901234567890123456789012345678901234567890123456789", 60);
	srv(&m, 1, INFRA_WS_CONT, "012345678901234567890123456789012345678901234567890123456789", 60);
	tap_inteq(infra_ws_recv(ws, &d, &n, &op, 0, &err), -E2BIG, "two 60-byte fragments over a 100-byte cap: E2BIG");
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 0);
	infra_ws_frame_encode(&m.in, 1, INFRA_WS_TEXT, "hi", 2, mask);
	tap_inteq(infra_ws_recv(ws, &d, &n, &op, 0, &err), -EPROTO, "a masked server frame: EPROTO");
	tap_ok(client_frame(&m, 0, pl, sizeof(pl), &pn) == INFRA_WS_CLOSE && (uint8_t)pl[1] == 0xea,
	       "... answered with close 1002 (protocol error)");
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 0);
	srv(&m, 1, INFRA_WS_CONT, "x", 1);
	tap_inteq(infra_ws_recv(ws, &d, &n, &op, 0, &err), -EPROTO, "a continuation without a first fragment: EPROTO");
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 0);
	srv(&m, 0, INFRA_WS_TEXT, "a", 1);
	srv(&m, 1, INFRA_WS_TEXT, "b", 1);
	tap_inteq(infra_ws_recv(ws, &d, &n, &op, 0, &err), -EPROTO, "a new message inside a fragmented one: EPROTO");
	mem_free(&m, ws);

	ws = mem_ws(&m, 7, 0);
	srv(&m, 1, INFRA_WS_TEXT, "0123456789012345678901234567890123456789", 40);
	m.in.len -= 10; /* the peer dies in the middle of the payload */
	rc = infra_ws_recv(ws, &d, &n, &op, 0, &err);
	tap_ok(rc == -ECONNRESET && strstr(err.msg, "in the middle of a frame"), "stream cut mid-frame: ECONNRESET (%s)",
	       err.msg);
	mem_free(&m, ws);

	ws = mem_ws(&m, 0, 0);
	tap_inteq(infra_ws_send(ws, INFRA_WS_PING, pl, 126, &err), -EINVAL, "a ping of 126 bytes is refused");
	tap_inteq(infra_ws_send(ws, INFRA_WS_CLOSE, "", 0, &err), -EINVAL, "close frames go through infra_ws_close only");
	tap_ok(infra_ws_send(ws, INFRA_WS_TEXT, "hello", 5, &err) == 0 &&
	       client_frame(&m, 0, pl, sizeof(pl), &pn) == INFRA_WS_TEXT && pn == 5 && memcmp(pl, "hello", 5) == 0,
	       "a sent text message is one masked frame");
	mem_free(&m, ws);
}

int main(void)
{
	test_accept_and_headers();
	test_parse_errors();
	test_reassembly(0);
	test_reassembly(1);
	test_large();
	test_close();
	test_violations();
	return tap_done();
}
