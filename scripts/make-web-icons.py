#!/usr/bin/env python3
"""Draws the web client's app icons (web/icons/icon-192.png, icon-512.png).

The PWA manifest (web/manifest.webmanifest) needs PNG icons of 192 and 512
pixels. They are simple enough to draw here with the standard library alone:
a white speech bubble with three dots on the client's accent blue, the bubble
inside the middle 60 % so that the icon also survives a "maskable" crop.
Run it again after a change (python3 scripts/make-web-icons.py) and commit
the PNG files; the node serves them as they are.
"""
import os
import struct
import zlib

ACCENT = (0x2F, 0x5B, 0xD3)
WHITE = (0xFF, 0xFF, 0xFF)


def inside_rounded_rect(x, y, left, top, right, bottom, radius):
    if x < left or x > right or y < top or y > bottom:
        return False
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2


def inside_triangle(x, y, a, b, c):
    def side(p, q, r):
        return (p[0] - r[0]) * (q[1] - r[1]) - (q[0] - r[0]) * (p[1] - r[1])
    d1, d2, d3 = side((x, y), a, b), side((x, y), b, c), side((x, y), c, a)
    negative = d1 < 0 or d2 < 0 or d3 < 0
    positive = d1 > 0 or d2 > 0 or d3 > 0
    return not (negative and positive)


def pixel(u, v):
    """The colour at (u, v), both in [0, 1) of the icon's width."""
    in_bubble = inside_rounded_rect(u, v, 0.22, 0.26, 0.78, 0.66, 0.09) or \
        inside_triangle(u, v, (0.32, 0.62), (0.46, 0.62), (0.30, 0.78))
    if not in_bubble:
        return ACCENT
    for dot_x in (0.37, 0.50, 0.63):
        if (u - dot_x) ** 2 + (v - 0.46) ** 2 <= 0.045 ** 2:
            return ACCENT
    return WHITE


def png(size):
    rows = bytearray()
    samples = 4  # 4x4 supersampling for smooth edges
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            acc = [0, 0, 0]
            for sy in range(samples):
                for sx in range(samples):
                    c = pixel((x + (sx + 0.5) / samples) / size, (y + (sy + 0.5) / samples) / size)
                    for i in range(3):
                        acc[i] += c[i]
            rows.extend(round(a / samples ** 2) for a in acc)

    def chunk(kind, data):
        body = kind + data
        return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack('>IIBBBBB', size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + \
        chunk(b'IDAT', zlib.compress(bytes(rows), 9)) + chunk(b'IEND', b'')


if __name__ == '__main__':
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'web', 'icons')
    os.makedirs(out, exist_ok=True)
    for size in (192, 512):
        with open(os.path.join(out, f'icon-{size}.png'), 'wb') as f:
            f.write(png(size))
