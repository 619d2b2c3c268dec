/* infra_ws.h - RFC 6455 WebSocket client over libcurl (CURLOPT_CONNECT_ONLY).
 *
 * Debian 12's libcurl (7.88) has no ws:// or wss:// scheme, so the client asks
 * libcurl only for the connection (TCP, TLS, proxy) to the matching http(s) URL
 * and speaks the opening handshake and the framing itself.  TLS verification,
 * --cacert/--cert/--key/--insecure and the connect timeout come from the same
 * struct infra_http_opts the HTTP client uses.
 *
 * URLs: ws://host[:port]/path or wss://host[:port]/path (http:// and https:// are
 * accepted as synonyms).  The handshake checks the 101 status, Upgrade,
 * Connection and Sec-WebSocket-Accept (SHA-1 of the key + the RFC's GUID).
 *
 * Framing: client frames are masked (a fresh random key per frame); payload
 * lengths use the 7-, 16- or 64-bit forms; fragmented messages (continuation
 * frames, control frames interleaved) are reassembled; a ping is answered with a
 * pong carrying its payload; a close frame from the peer is answered and its code
 * and reason are reported.  A message larger than max_message is an error
 * (-E2BIG), detected from the frame header before the payload is read.
 * Protocol violations (reserved bits, unknown opcodes, masked server frames,
 * fragmented or oversized control frames, a continuation without a start,
 * non-minimal lengths are tolerated) end the connection with -EPROTO.
 *
 * Errors: 0 or a negative errno-style code with err set to one line naming the
 * URL (masked like infra_http_mask_url); never the headers (they may carry a
 * key).  Codes: -ETIMEDOUT, -ECONNRESET (closed without a close frame),
 * -EPIPE (the peer sent a close frame: see infra_ws_peer_close), -EPROTO,
 * -E2BIG, -EINVAL (bad URL or arguments), -ENOMEM, or connect errors as for
 * infra_http.
 *
 * A struct infra_ws belongs to one thread at a time.
 */
#ifndef INFRA_WS_H
#define INFRA_WS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "infra_buf.h"
#include "infra_err.h"
#include "infra_http.h"

#define INFRA_WS_DEFAULT_MAX_MESSAGE ((size_t)256 << 20) /* 256 MiB */

enum infra_ws_opcode {
	INFRA_WS_CONT = 0x0, INFRA_WS_TEXT = 0x1, INFRA_WS_BINARY = 0x2,
	INFRA_WS_CLOSE = 0x8, INFRA_WS_PING = 0x9, INFRA_WS_PONG = 0xA,
};

struct infra_ws_opts {
	const struct infra_http_opts *http; /* TLS files, insecure, connect timeout; may be NULL */
	const char *const *headers;         /* extra handshake headers "Name: value", NULL-terminated */
	size_t max_message;                 /* 0 = INFRA_WS_DEFAULT_MAX_MESSAGE */
	long timeout_ms;                    /* per send/recv and for the handshake; 0 = http->timeout_ms or 30000 */
};

/* The byte stream under the framing: libcurl's connection, or memory in tests.
 * recv returns bytes read (> 0), 0 at end of stream, or a negative code (err
 * set); it waits at most timeout_ms.  send writes all n bytes or fails. */
struct infra_ws_io {
	void *ud;
	ssize_t (*recv)(void *ud, void *buf, size_t n, long timeout_ms, struct infra_err *err);
	int (*send)(void *ud, const void *buf, size_t n, long timeout_ms, struct infra_err *err);
	void (*close)(void *ud); /* may be NULL */
};

struct infra_ws;

/* Connect and do the opening handshake. */
int infra_ws_connect(struct infra_ws **out, const char *url, const struct infra_ws_opts *o,
		     struct infra_err *err);
/* A client over an already-open stream (after a handshake, or in tests); io is copied. */
struct infra_ws *infra_ws_wrap(const struct infra_ws_io *io, const struct infra_ws_opts *o);

/* Send one message (opcode TEXT or BINARY) as one frame, or a control frame
 * (PING/PONG, payload <= 125 bytes). */
int infra_ws_send(struct infra_ws *ws, enum infra_ws_opcode op, const void *data, size_t len,
		  struct infra_err *err);
/* Receive the next whole data message (pings answered, pongs skipped).  *data is
 * NUL-terminated, owned by the caller (free()).  timeout_ms 0 = opts.timeout_ms;
 * it bounds the wait for each read, not the whole message. */
int infra_ws_recv(struct infra_ws *ws, char **data, size_t *len, enum infra_ws_opcode *op,
		  long timeout_ms, struct infra_err *err);
/* Send a close frame (code 0 = none) and wait briefly for the peer's. */
int infra_ws_close(struct infra_ws *ws, int code, const char *reason, struct infra_err *err);
/* After -EPIPE from recv: the peer's close code (1005 when it sent none) and reason. */
int infra_ws_peer_close(const struct infra_ws *ws, int *code, const char **reason);
void infra_ws_free(struct infra_ws *ws);

/* ---- framing, exposed for tests ---- */

struct infra_ws_frame {
	int fin, rsv, opcode, masked;
	uint64_t len;       /* payload length */
	size_t header_len;  /* bytes before the payload */
	uint8_t mask[4];
};
/* Append one frame to out; masked with mask when mask != NULL. */
int infra_ws_frame_encode(struct infra_buf *out, int fin, enum infra_ws_opcode op,
			  const void *payload, size_t len, const uint8_t *mask);
/* Parse a frame header from buf[0..n).  Returns the header length (> 0) with *f
 * filled, 0 when more bytes are needed, or -EPROTO (err set) for an invalid header. */
int infra_ws_frame_parse(const uint8_t *buf, size_t n, struct infra_ws_frame *f, struct infra_err *err);
/* XOR data with the 4-byte mask, starting at mask offset off. */
void infra_ws_mask(uint8_t *data, size_t n, const uint8_t mask[4], size_t off);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)); out >= 29 bytes. */
void infra_ws_accept_key(const char *key, char *out, size_t outsz);

#endif
