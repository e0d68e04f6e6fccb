#!/usr/bin/env python3
"""mkcpio.py: write a gzipped newc cpio archive (a Linux initramfs) from a list file, with no root.

Usage: mkcpio.py LIST OUT.cpio.gz

Device nodes are only header fields in a cpio archive, so /dev/console needs neither root nor
mknod. One entry per line of LIST ('#' starts a comment); paths in the archive are absolute,
sources are relative to the current directory:

    dir   /proc 755
    file  /init guests/linux/init 755
    nod   /dev/console 600 c 5 1
    slink /bin/sh busybox
    list  build/linux/socat.list

`list` takes the entries of another list file in its place (one a build step wrote, say).

The format is the kernel's Documentation/driver-api/early-userspace/buffer-format.rst: a 110-byte
ASCII header ("070701" and 13 eight-digit hex fields), the NUL-terminated name, the data, each of
the last two padded to 4 bytes, then an entry named "TRAILER!!!". Owners are root and times are 0,
so the same inputs always give the same archive.
"""

import gzip
import stat
import sys

def pad4(data):
    return data + b"\0" * (-len(data) % 4)


def entry(ino, name, mode, data=b"", rdev=(0, 0), nlink=1):
    """One archive member: header, name and data."""
    name = name.lstrip("/").encode() + b"\0"
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name), 0)
    header = b"070701" + b"".join(b"%08x" % f for f in fields)
    return pad4(header + name) + pad4(data)


def member(ino, words):
    """The archive member a list line describes (its words, kind first)."""
    kind, path = words[0], words[1]
    if kind == "dir":
        return entry(ino, path, stat.S_IFDIR | int(words[2], 8), nlink=2)
    if kind == "file":
        with open(words[2], "rb") as f:
            return entry(ino, path, stat.S_IFREG | int(words[3], 8), f.read())
    if kind == "nod":
        node = {"c": stat.S_IFCHR, "b": stat.S_IFBLK}[words[3]]
        return entry(ino, path, node | int(words[2], 8), rdev=(int(words[4]), int(words[5])))
    if kind == "slink":
        return entry(ino, path, stat.S_IFLNK | 0o777, words[2].encode())
    raise ValueError(f"unknown entry kind {kind!r}")


def read_list(list_path, archive):
    """Appends the members list file `list_path` describes (and the lists it names) to archive."""
    with open(list_path) as f:
        for number, line in enumerate(f, 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            try:
                if words[0] == "list":
                    read_list(words[1], archive)
                else:
                    archive.append(member(len(archive) + 1, words))
            except (IndexError, KeyError, ValueError, OSError) as e:
                sys.exit(f"mkcpio: {list_path}:{number}: {e!r}")


def main(list_path, out_path):
    archive = []
    read_list(list_path, archive)
    archive.append(entry(0, "TRAILER!!!", 0))
    with open(out_path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as out:
        out.write(b"".join(archive))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
