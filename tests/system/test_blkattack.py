"""test_blkattack.py: issue 11: a hostile virtio-blk driver (guests/blkattack) on its own partition
of the board's disk. Every request outside the rules is refused (IOERR, UNSUPP or
DEVICE_NEEDS_RESET, never a crash), the hypervisor blames blkattack in a rate-limited log line,
the victim beside it runs on, and on the host every other partition (and the GPT around them)
hashes the same before and after, while blkattack's own write landed in sector 0 of its own
partition (and, with the disk `:ro`, nothing of it changed)."""

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest

from harness import ROOT, Boot, hv_lines, longvictim_unharmed, run_to_exit, vm_lines

# ---- what the hypervisor is assumed to print: adjust here once hv/virtio/blk.c settles ----
# Any refusal blamed on blkattack's disk (docs/virtio.md's style: `pv: warn: vm NAME: ...`).
BLAME = re.compile(r"^pv: (warn|error): vm blkattack: virtio-blk\b")
# A line blaming any VM: only blkattack may be blamed.
ANY_BLAME = re.compile(r"^pv: (warn|error): vm ([a-z0-9_-]+): ")
OFF = "pv: info: every VM is off: powering off"
LOG_LINES_PER_S = 1  # the rate limit: at most one line per second per VM

# ---- what the guest prints (guests/blkattack/main.c) ----
CASE_LINE = re.compile(r"^blkattack: ([a-z0-9-]+): (\S+)$")
STORM = re.compile(r"^blkattack: storm: (\d+) reads past the end in (\d+) us$")
CAPACITY = re.compile(r"^blkattack: capacity (\d+)$")
STORM_BEFORE = "[blkattack] blkattack: no-status: "  # the case before the storm
STORM_TAG = "[blkattack] blkattack: storm: "
CASE_GAP_US = 1_100_000  # blkattack.gap in the configs
SECTOR = 512
OWN, VICTIM, SPARE = "attack-data", "victim-data", "spare"  # tests/configs/blkattack*.dts
OWN_SECTORS = 4 * 1024 * 1024 // SECTOR

REFUSED = {"IOERR", "needs-reset"}
# Every case, in the guest's order, with the outcomes that are right; `ro` overrides for
# blkattack-ro.dts. A buffer the device may not touch can be answered either way: IOERR in the
# status byte (the chain is well formed) or DEVICE_NEEDS_RESET (the chain itself is refused).
CASES = [
    ("read-last", {"OK"}),
    ("write-sector-0", {"OK"}),
    ("flush", {"OK"}),
    ("get-id", {"OK", "UNSUPP"}),
    ("unknown-type", {"UNSUPP"}),
    ("read-at-end", {"IOERR"}),
    ("read-straddles-end", {"IOERR"}),
    ("write-at-end", {"IOERR"}),
    ("write-straddles-end", {"IOERR"}),
    ("read-sector-wraps", {"IOERR"}),
    ("write-sector-wraps", {"IOERR"}),
    ("write-offset-wraps", {"IOERR"}),
    ("read-huge-length", REFUSED),
    ("write-huge-length", REFUSED),
    ("buffer-at-zero", REFUSED),
    ("buffer-high", REFUSED),
    ("write-from-uart", REFUSED),
    ("read-into-gic", REFUSED),
    ("buffer-in-reserved", REFUSED),
    ("buffer-straddles-reserved", REFUSED),
    ("header-short", REFUSED),
    ("header-split", {"OK"}),  # legal framing (virtio 1.2 2.6.4)
    ("header-writable", REFUSED),
    ("status-readable", {"needs-reset"}),  # no device-writable byte at all
    ("indirect-read", {"OK"}),  # the device offers VIRTIO_F_INDIRECT_DESC
    ("indirect-with-next", {"needs-reset"}),
    ("indirect-bad-size", {"needs-reset"}),
    ("indirect-too-big", {"needs-reset"}),
    ("indirect-in-reserved", {"needs-reset"}),
    ("indirect-in-gic", {"needs-reset"}),
    ("indirect-loop", {"needs-reset"}),
    ("indirect-nested", {"needs-reset"}),
    ("no-status", {"needs-reset"}),
    ("storm-past-end", {"IOERR"}),
    ("read-back", {"same"}),
]
RO = {"write-sector-0": {"IOERR"}, "read-back": {"different"}}

# The bytes the guest writes (fill() in guests/blkattack/main.c): a 16-byte tag, then i * 7 + 0x5a.
def sector_pattern(tag):
    return tag + bytes((i * 7 + 0x5a) & 0xff for i in range(len(tag), SECTOR))


OWN_SECTOR_0 = sector_pattern(b"blkattack-own-0\n")
NEVER = (b"blkattack-escape", b"blkattack-nostat")  # the data of requests that must be refused

MKDISK = ROOT / "scripts" / "mkdisk.sh"


def layout(image):
    """{partition name: (byte offset, byte size)} from the image's GPT."""
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    unit = table.get("sectorsize", SECTOR)
    return {p["name"]: (p["start"] * unit, p["size"] * unit) for p in table["partitions"]}


def regions(image):
    """Every byte range of the image by name: each partition, and the gaps between and around
    them (the GPT and its backup live there), so nothing outside blkattack's goes unhashed."""
    parts = layout(image)
    out, pos = {}, 0
    for name, (off, size) in sorted(parts.items(), key=lambda kv: kv[1][0]):
        if off > pos:
            out[f"gap@{pos}"] = (pos, off - pos)
        out[name] = (off, size)
        pos = off + size
    end = Path(image).stat().st_size
    if end > pos:
        out[f"gap@{pos}"] = (pos, end - pos)
    return out


def read_range(image, off, size):
    with open(image, "rb") as f:
        f.seek(off)
        return f.read(size)


def hashes(image):
    return {name: hashlib.sha256(read_range(image, off, size)).hexdigest()
            for name, (off, size) in regions(image).items()}


@pytest.fixture
def disk(tmp_path, request):
    """A fresh board disk made for the config, and its hashes before the boot."""
    config = request.param
    image = tmp_path / "disk.img"
    subprocess.run(["sh", str(MKDISK), f"tests/configs/{config}.dts", str(image)], cwd=ROOT,
                   check=True, timeout=120)
    return config, image, hashes(image)


def case_results(guest):
    return [m.groups() for m in map(CASE_LINE.match, guest) if m]


def check_run(out, ro):
    assert "PANIC" not in out
    assert OFF in hv_lines(out)
    guest = vm_lines(out, "blkattack")
    assert not [line for line in guest if line.startswith("guest: ")], "blkattack took a fault"
    results = case_results(guest)
    assert [name for name, _ in results] == [name for name, _ in CASES]
    want = {name: (RO.get(name, ok) if ro else ok) for name, ok in CASES}
    wrong = [(name, got, sorted(want[name])) for name, got in results if got not in want[name]]
    assert not wrong, f"cases with the wrong outcome (name, got, want): {wrong}"
    assert "blkattack: done" in guest
    caps = [int(m.group(1)) for m in map(CAPACITY.match, guest) if m]
    assert caps == [OWN_SECTORS]
    if ro:
        assert "(read-only)" in guest[0], "the device does not offer VIRTIO_BLK_F_RO"
    return guest


def check_blame(out):
    """blkattack, and only blkattack, is blamed; the storm of refusals is rate limited."""
    hv = hv_lines(out)
    assert [line for line in hv if BLAME.match(line)], "no log line blames blkattack"
    others = [line for line in hv if (m := ANY_BLAME.match(line)) and m.group(2) != "blkattack"]
    assert not others, f"another VM blamed: {others}"
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(STORM_BEFORE))
    end = next(i for i, line in enumerate(lines) if line.startswith(STORM_TAG))
    storm_us = int(STORM.match(lines[end][len("[blkattack] "):]).group(2))
    window_s = (CASE_GAP_US + storm_us) // 1_000_000 + 1
    blamed = [line for line in lines[start + 1:end] if BLAME.match(line)]
    # the case before may log just after its result, then at most a line a second
    assert len(blamed) <= 1 + LOG_LINES_PER_S * window_s, \
        f"{len(blamed)} lines for a storm of {storm_us} us: not rate limited"


def check_disk(image, before, ro):
    after = hashes(image)
    assert set(after) == set(before), "the GPT layout changed"
    changed = [name for name in before if name != OWN and after[name] != before[name]]
    assert not changed, f"changed outside blkattack's partition: {changed}"
    off, size = layout(image)[OWN]
    own = read_range(image, off, size)
    if ro:
        assert after[OWN] == before[OWN], "a read-only partition changed"
    else:
        assert own[:SECTOR] == OWN_SECTOR_0, "blkattack's write is not in its partition's sector 0"
    whole = read_range(image, 0, Path(image).stat().st_size)
    for marker in NEVER:
        assert marker not in whole, f"a refused write's data ({marker!r}) is on the disk"


def run(config, image, before, ro):
    out = run_to_exit(Boot(config, smp=2, timeout=120, disk=str(image)))
    check_run(out, ro)
    check_blame(out)
    longvictim_unharmed(out, "blkattack")
    check_disk(image, before, ro)


@pytest.mark.parametrize("disk", ["blkattack"], indirect=True)
def test_blkattack_refused_logged_and_contained(disk):
    config, image, before = disk
    run(config, image, before, ro=False)


@pytest.mark.parametrize("disk", ["blkattack-ro"], indirect=True)
def test_blkattack_read_only_disk_refuses_every_write(disk):
    config, image, before = disk
    run(config, image, before, ro=True)
