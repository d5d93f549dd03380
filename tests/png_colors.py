#!/usr/bin/env python3
"""Count a PNG's pixels near given colours in given row bands (for
live_html.sh's check of Chromium's screenshot).  Standard library only.
usage: png_colors.py FILE SPEC ...  -> one count per SPEC
  SPEC = RRGGBB:TOL:Y0:Y1   pixels within TOL of the colour in rows Y0..Y1-1
         warm:Y0:Y1         pixels that are clearly red/orange/yellow (a flame)"""
import struct
import sys
import zlib


def read_png(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise SystemExit(path + ': not a PNG')
    pos, idat, w = 8, b'', 0
    while pos < len(data):
        n, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b'IHDR':
            w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise SystemExit(path + ': unsupported PNG (depth %d, type %d)' % (depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def main():
    w, h, bpp, rows = read_png(sys.argv[1])
    for spec in sys.argv[2:]:
        f = spec.split(':')
        if f[0] == 'warm':
            y0, y1 = int(f[1]), min(int(f[2]), h)
            match = lambda r, g, b: r > 200 and r - b > 60 and g > 80
        else:
            r0, g0, b0 = (int(f[0][i:i + 2], 16) for i in (0, 2, 4))
            tol, y0, y1 = int(f[1]), int(f[2]), min(int(f[3]), h)
            match = lambda r, g, b: abs(r - r0) <= tol and abs(g - g0) <= tol and abs(b - b0) <= tol
        n = 0
        for y in range(max(0, y0), y1):
            row = rows[y]
            for x in range(0, w * bpp, bpp):
                if match(row[x], row[x + 1], row[x + 2]):
                    n += 1
        print(n)


main()
