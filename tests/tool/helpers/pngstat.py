#!/usr/bin/env python3
"""pngstat.py FILE: print "W H dark_ratio distinct_colours green red" of an 8-bit RGB/RGBA
non-interlaced PNG (what headless Chromium writes), with a pure-Python decoder
so the test needs no imaging library.  dark_ratio = share of pixels with every
channel below 64 (the page background is dark); green / red = sampled pixels
within 24 of the timeline's pass (#43a047) and fail (#e53935) colours."""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit("not a PNG")
    pos, idat, w = 8, b"", None
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or inter:
                raise SystemExit(f"unsupported PNG (depth {depth}, colour type {ctype}, interlace {inter})")
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + ln
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    i = 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def near(px, ref):
    return all(abs(p - q) <= 24 for p, q in zip(px, ref))


def main():
    w, h, bpp, rows = decode(sys.argv[1])
    dark = total = green = red = 0
    colours = set()
    for y in range(0, h, 2):
        r = rows[y]
        for x in range(0, w, 2):
            px = r[x * bpp:x * bpp + 3]
            total += 1
            if max(px) < 64:
                dark += 1
            colours.add(bytes(px))
            green += near(px, (0x43, 0xa0, 0x47))
            red += near(px, (0xe5, 0x39, 0x35))
    print(w, h, f"{dark / total:.3f}", len(colours), green, red)


if __name__ == "__main__":
    main()
