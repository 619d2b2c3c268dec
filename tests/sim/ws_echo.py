#!/usr/bin/python3
"""Independent WebSocket server for tests/tool/ws-websockets.t: Debian's python3-websockets
(not our framing).  Run with the Debian interpreter (/usr/bin/python3).

    ws_echo.py [--tls-cert PEM --tls-key PEM] [--log FILE]

Prints `READY ws(s)://127.0.0.1:PORT`.  Per text message received:
  gen:N            reply with one text message of N bytes ('a'..'z' repeating)
  frag:N:K         the same N bytes as a fragmented message of K frames (continuation frames)
  ping             send a ping, wait for the client's pong, reply "pong-received"
  close:CODE:R     close the connection with CODE and reason R
  anything else    reply "len=N fnv=HEX" for the message received (binary: "bin len=N fnv=HEX")
The close code and reason the client sent are appended to --log as "client-close CODE REASON".
"""
import argparse
import asyncio
import ssl
import sys

import websockets


def fnv(b):
    h = 0xcbf29ce484222325
    for c in b:
        h ^= c
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def pattern(n):
    return "".join(chr(ord("a") + i % 26) for i in range(n))


async def handler(ws, path=None, log=None):
    try:
        async for msg in ws:
            if isinstance(msg, bytes):
                await ws.send(f"bin len={len(msg)} fnv={fnv(msg)}")
            elif msg.startswith("gen:"):
                await ws.send(pattern(int(msg[4:])))
            elif msg.startswith("frag:"):
                n, k = (int(x) for x in msg[5:].split(":"))
                p = pattern(n)
                step = (n + k - 1) // k
                await ws.send([p[i:i + step] for i in range(0, n, step)])
            elif msg == "ping":
                waiter = await ws.ping(b"are-you-there")
                await asyncio.wait_for(waiter, 5)
                await ws.send("pong-received")
            elif msg.startswith("close:"):
                _, code, reason = msg.split(":", 2)
                await ws.close(int(code), reason)
            else:
                await ws.send(f"len={len(msg.encode())} fnv={fnv(msg.encode())}")
    except websockets.ConnectionClosed:
        pass
    if log:
        with open(log, "a") as f:
            f.write(f"client-close {ws.close_code} {ws.close_reason}\n")


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--log")
    a = ap.parse_args()
    ctx = None
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
    async with websockets.serve(lambda ws, path=None: handler(ws, path, a.log), "127.0.0.1", 0, ssl=ctx,
                                max_size=None, compression=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        print(f"READY {'wss' if ctx else 'ws'}://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
