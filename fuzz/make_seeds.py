#!/usr/bin/env python3
"""Write the ELF seeds of fuzz/corpus/ from the small real object
fuzz/seed_obj.c, built as a shared object (with DWARF, and stripped) and
a non-PIE executable, plus truncated and corrupted variants:

  fuzz_eh_frame/   the readable span holding .eh_frame_hdr, prefixed by the
                   header's offset in it and a call address (fuzz_eh_frame.c)
  fuzz_elf_image/  whole files (the runtime's section-header, tag-section
                   and symbol-table readers: fuzz_elf_image.c)
  fuzz_symbolize/  whole files (the tool's symbolizer: fuzz_symbolize.c)

usage: python3 fuzz/make_seeds.py   (from the source tree; needs cc, strip)
"""
import os
import struct
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def build(tmp):
    c = os.path.join(HERE, "seed_obj.c")
    inc = "-I" + os.path.join(SRC, "include")
    # names relative to the source tree, wherever it is
    c = os.path.relpath(c, SRC)
    pm = "-ffile-prefix-map=%s=." % SRC
    out = {}
    so = os.path.join(tmp, "seed.so")
    subprocess.check_call(["cc", "-O1", "-g", "-shared", "-fPIC", inc, pm, "-Wl,-z,noseparate-code",
                           "-o", so, c], cwd=SRC)
    out["so"] = so
    st = os.path.join(tmp, "seed_stripped.so")
    subprocess.check_call(["strip", "-o", st, so])
    out["stripped"] = st
    exe = os.path.join(tmp, "seed_exe")
    subprocess.check_call(["cc", "-O1", "-no-pie", inc, pm, "-Wl,-z,noseparate-code",
                           "-Wl,--unresolved-symbols=ignore-all", "-o", exe, c], cwd=SRC)
    out["exe"] = exe
    return {k: open(v, "rb").read() for k, v in out.items()}


def ehdr(b):
    (shoff,) = struct.unpack_from("<Q", b, 0x28)
    phoff, = struct.unpack_from("<Q", b, 0x20)
    phnum, = struct.unpack_from("<H", b, 0x38)
    shnum, shstrndx = struct.unpack_from("<HH", b, 0x3c)
    return phoff, phnum, shoff, shnum, shstrndx


def phdrs(b):
    phoff, phnum, _, _, _ = ehdr(b)
    for i in range(phnum):
        t, fl, off, va, pa, fs, ms, al = struct.unpack_from("<IIQQQQQQ", b, phoff + 56 * i)
        yield dict(type=t, flags=fl, off=off, vaddr=va, filesz=fs, memsz=ms, at=phoff + 56 * i)


def shdrs(b):
    _, _, shoff, shnum, shstrndx = ehdr(b)
    sh = []
    for i in range(shnum):
        nm, t, fl, addr, off, size, link, info, al, es = struct.unpack_from(
            "<IIQQQQIIQQ", b, shoff + 64 * i)
        sh.append(dict(name=nm, type=t, addr=addr, off=off, size=size, at=shoff + 64 * i))
    strs = sh[shstrndx]
    for s in sh:
        e = b.index(b"\0", strs["off"] + s["name"])
        s["n"] = b[strs["off"] + s["name"]:e].decode()
    return {s["n"]: s for s in sh}


def eh_seeds(name, b):
    """Spans around .eh_frame_hdr, one seed per call address, and corruptions."""
    eh = [p for p in phdrs(b) if p["type"] == 0x6474e550][0]
    seg = [p for p in phdrs(b) if p["type"] == 1 and p["vaddr"] <= eh["vaddr"] < p["vaddr"] + p["memsz"]][0]
    base = seg["vaddr"] & ~4095
    off0 = seg["off"] - (seg["vaddr"] - base)
    span = bytearray(b[off0:seg["off"] + seg["filesz"]])
    h = eh["vaddr"] - base
    count, = struct.unpack_from("<I", span, h + 8)
    seeds = {}
    for k in range(count):
        start, fde = struct.unpack_from("<ii", span, h + 12 + 8 * k)
        seeds["%s-fn%d" % (name, k)] = struct.pack("<Ii", h, start + 1 + 5 * (k & 1)) + bytes(span)
    start0, fde0 = struct.unpack_from("<ii", span, h + 12)
    pre = struct.pack("<Ii", h, start0 + 1)

    def bad(tag, fn):
        s = bytearray(span)
        fn(s)
        seeds["%s-%s" % (name, tag)] = pre + bytes(s)
    bad("version", lambda s: s.__setitem__(h, 2))
    bad("count-huge", lambda s: struct.pack_into("<I", s, h + 8, 0x7fffffff))
    bad("fde-outside", lambda s: struct.pack_into("<i", s, h + 16, 0x7fff0000))
    bad("fde-before", lambda s: struct.pack_into("<i", s, h + 16, -0x7fff0000))
    bad("fde-len-huge", lambda s: struct.pack_into("<I", s, h + fde0, 0x7ffffff0))
    bad("cie-ptr-huge", lambda s: struct.pack_into("<I", s, h + fde0 + 4, 0x7ffffff0))
    cie = h + fde0 + 4 - struct.unpack_from("<I", span, h + fde0 + 4)[0]
    bad("cie-len-huge", lambda s: struct.pack_into("<I", s, cie, 0x7ffffff0))
    bad("cie-aug-unterminated", lambda s: s.__setitem__(slice(cie + 9, len(s)), b"z" * (len(s) - cie - 9)))
    seeds["%s-truncated-hdr" % name] = pre + bytes(span[:h + 10])
    seeds["%s-truncated-fde" % name] = pre + bytes(span[:h + fde0 + 10])
    return seeds


def file_seeds(name, b):
    """The whole file, truncated, and with corrupted headers."""
    seeds = {name: b, name + "-half": b[:len(b) // 2], name + "-ehdr-only": b[:64]}
    sh = shdrs(b)

    def bad(tag, fn):
        s = bytearray(b)
        fn(s)
        seeds["%s-%s" % (name, tag)] = bytes(s)
    bad("shoff-outside", lambda s: struct.pack_into("<Q", s, 0x28, 1 << 40))
    bad("shnum-huge", lambda s: struct.pack_into("<H", s, 0x3c, 0xffff))
    bad("shstrndx-outside", lambda s: struct.pack_into("<H", s, 0x3e, 0xfff0))
    if "alloc_tags" in sh:
        t = sh["alloc_tags"]
        bad("tags-size-huge", lambda s: struct.pack_into("<Q", s, t["at"] + 0x20, 1 << 40))
        bad("tags-addr-outside", lambda s: struct.pack_into("<Q", s, t["at"] + 0x10, 1 << 44))
        bad("tags-addr-text", lambda s: struct.pack_into("<Q", s, t["at"] + 0x10, sh[".text"]["addr"]))
        bad("tags-size-odd", lambda s: struct.pack_into("<Q", s, t["at"] + 0x20, t["size"] - 3))
        bad("tags-strings-outside", lambda s: s.__setitem__(slice(t["off"], t["off"] + 16), b"\xff" * 16))
    if ".symtab" in sh:
        y = sh[".symtab"]
        bad("symtab-unaligned", lambda s: struct.pack_into("<Q", s, y["at"] + 0x18, y["off"] + 1))
        bad("symtab-size-huge", lambda s: struct.pack_into("<Q", s, y["at"] + 0x20, 1 << 40))
        bad("symtab-names-outside", lambda s: [struct.pack_into("<I", s, y["off"] + 24 * k, 0xfffffff0)
                                                for k in range(1, y["size"] // 24)])
    if ".debug_info" in sh:
        d = sh[".debug_info"]
        bad("debug-info-garbage", lambda s: s.__setitem__(slice(d["off"] + 4, d["off"] + d["size"]),
                                                          b"\xfe" * (d["size"] - 4)))
        bad("debug-info-size-huge", lambda s: struct.pack_into("<Q", s, d["at"] + 0x20, 1 << 40))
    if ".debug_line" in sh:
        d = sh[".debug_line"]
        bad("debug-line-garbage", lambda s: s.__setitem__(slice(d["off"] + 4, d["off"] + d["size"]),
                                                          b"\x7f" * (d["size"] - 4)))
    return seeds


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for n, data in seeds.items():
        with open(os.path.join(d, n), "wb") as f:
            f.write(data)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        objs = build(tmp)
    eh, files = {}, {}
    for name, b in objs.items():
        if name != "stripped": # the same span as "so"
            eh.update(eh_seeds(name, b))
        files.update(file_seeds(name, b))
    write("fuzz_eh_frame", eh)
    write("fuzz_elf_image", {n: b for n, b in files.items() if "-debug-" not in n})
    write("fuzz_symbolize", {n: b for n, b in files.items() if not n.startswith("exe-")})
    print("seeds: %d eh_frame, %d files" % (len(eh), len(files)))


if __name__ == "__main__":
    main()
