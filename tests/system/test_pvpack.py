"""test_pvpack.py: pvpack end to end: each bad config fails with its exact message, good ones pack.

Every `tests/configs/bad/*.dts` starts with `/* expect: <node path>: <message> */`; pvpack must exit 1
and print `pvpack: <config>: <node path>: <message>`. Every `tests/configs/good/*.dts` has its
expected bundle contents in GOOD below, and every VM's generated DTB must decompile cleanly with
dtc and describe that VM. Configs name images relative to the repo root; the `images` fixture
creates them under build/tests/img (raw bytes, a fake arm64 Linux Image, an ELF executable).
"""

import hashlib
import os
import random
import re
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PVPACK = ROOT / "build" / "tools" / "pvpack"
IMG = ROOT / "build" / "tests" / "img"
BAD = sorted((ROOT / "tests" / "configs" / "bad").glob("*.dts"))
GOOD_DIR = ROOT / "tests" / "configs" / "good"
MIB = 1 << 20
IMAGES = {"small.bin": 4096, "big.bin": 20 * MIB, "empty.bin": 0, "initrd.cpio": 10000}

# hv/include/pv/bundle.h
PVB_MAGIC, PVB_VERSION, PVB_ALIGN, PVB_MAX_VMS, PVB_NO_PIN = 0x31425650, 4, 4096, 8, 0xFF
PVB_MAX_VSOCK_RULES, PVB_PORT_ANY = 8, 0xFFFFFFFF
PVB_DISK_RO, PVB_NET_PORT, PVB_NET_UPLINK = 1, 1, 2
PVB_SLOT_VSOCK, PVB_SLOT_DISK, PVB_SLOT_NET = 0, 1, 3
HEADER = struct.Struct("<IIIIQ8x")  # magic version header_size vm_count total_size reserved
BLOB = "QQQ"  # offset size load
# ... vcpu_count cpu_mask flags priority vcpu_pin, 24x: devices, then cid rule_count connect[8],
# disks[2] (part flags reserved), mac net_flags manages net_peers, 4x: the tail padding to
# the struct's 8-byte alignment
DISK = "16sII"
VM = struct.Struct("<16sQQQ" + BLOB * 3 + "IIII8s24x" + "II" + "II" * PVB_MAX_VSOCK_RULES +
                   DISK * 2 + "6sBBI4x")
assert HEADER.size == 32 and VM.size == 296

ALL_CORES = 0xF
UNPINNED = bytes([PVB_NO_PIN] * 8)

# The top of every VM's RAM (docs/config.md): PV-time records, then the DTB window.
PVTIME_SIZE, DTB_WINDOW = 0x10000, 0x4000

# Per good config: (name, ram_base, ram_size, vcpus, cpu_mask, pins, priority, image, load, entry,
# initrd, initrd_load, bootargs).
GOOD = {
    "minimal": [
        ("solo", 0x40000000, 2 * MIB, 1, ALL_CORES, UNPINNED, 0, "small.bin", 0x40000000,
         0x40000000, None, 0, "console=ttyAMA0"),
    ],
    "two-vms": [
        ("open", 0x40000000, 64 * MIB, 2, 0b0011, bytes([1, 0]) + UNPINNED[2:], 10, "big.bin",
         0x40080000, 0x40080000, None, 0, "console=ttyAMA0"),
        ("vault_2", 0x40000000, 2 * MIB, 1, 0b1000, UNPINNED, 255, "small.bin", 0x40000000,
         0x40000800, None, 0, "console=ttyAMA0"),
    ],
    # A Linux Image at RAM base + text_offset 0x80000; the initrd right below the DTB window,
    # page aligned: 0x44000000 - PVTIME_SIZE - DTB_WINDOW - 10000 rounded down.
    "linux": [
        ("linux", 0x40000000, 64 * MIB, 4, ALL_CORES, UNPINNED, 0, "Image", 0x40080000,
         0x40080000, "initrd.cpio", 0x43fe9000, "console=ttyAMA0 earlycon rdinit=/init"),
        ("bare", 0x80000000, 4 * MIB, 1, ALL_CORES, UNPINNED, 0, "guest.elf", 0x80000000,
         0x80000010, None, 0, ""),
    ],
    "vsock": [
        (name, 0x40000000, 2 * MIB, 1, ALL_CORES, UNPINNED, 0, "small.bin", 0x40000000,
         0x40000000, None, 0, "console=ttyAMA0") for name in ["open", "work", "bare", "vault"]
    ],
    "storage-net": [
        (name, 0x40000000, 2 * MIB, 1, ALL_CORES, UNPINNED, 0, "small.bin", 0x40000000,
         0x40000000, None, 0, "console=ttyAMA0") for name in ["open", "work", "vault", "bare"]
    ],
}

# Per good config with vsock nodes, per VM: (cid, [(peer cid, port), ...]); any other VM has
# cid 0 and no rules. Default CIDs are 3 + the VM's index; "*" is PVB_PORT_ANY.
VSOCK = {
    "vsock": [(3, [(6, 5000), (6, 5001)]), (7, [(6, PVB_PORT_ANY), (3, 4294967294)]), (0, []),
              (6, [])],
}


def fnv1a_mac(name):
    """docs/config.md, "Net": 02, then the five low bytes of FNV-1a 64 of the name."""
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & (1 << 64) - 1
    return bytes([2]) + h.to_bytes(8, "big")[3:]


# Per good config with disks or net, per VM: ([(partition, flags), ...], mac, net_flags,
# net_peers); any other VM has none of them (a MAC of zeros).
STORAGE = {
    "storage-net": [
        ([("open-data", 0), ("media", PVB_DISK_RO)], fnv1a_mac("open"),
         PVB_NET_PORT | PVB_NET_UPLINK, 1 << 1),
        ([("media", PVB_DISK_RO)], bytes([2, 0, 0, 0, 0, 1]), PVB_NET_PORT, 1 << 0),
        ([("vault-data", 0)], bytes(6), 0, 0),
    ],
}
NO_STORAGE = ([], bytes(6), 0, 0)


def storage_of(name, i):
    per_vm = STORAGE.get(name, [])
    return per_vm[i] if i < len(per_vm) else NO_STORAGE


def vsock_of(name, i):
    per_vm = VSOCK.get(name, [])
    return per_vm[i] if i < len(per_vm) else (0, [])

LINUX_BSS = MIB  # image_size counts it beyond the file
ELF_SEGMENTS = [(0x80000000, 0x100, 0x100), (0x80003000, 0x80, 0x2000)]  # paddr, filesz, memsz


def linux_image():
    """A little-endian arm64 Image header (booting.rst: 4K pages, placement anywhere) + a body."""
    body = random.Random("Image").randbytes(8192)
    header = struct.pack("<IIQQQQQQ4sI", 0x14000010, 0, 0x80000, 64 + len(body) + LINUX_BSS,
                         0b1010, 0, 0, 0, b"ARM\x64", 0)
    return header + body


def elf_segment_data(i):
    return random.Random(f"seg{i}").randbytes(ELF_SEGMENTS[i][1])


def elf_image():
    """An ELF64 AArch64 executable: two PT_LOAD segments with a gap, the second with bss."""
    phoff, data_at = 64, 0x1000
    ehdr = struct.pack("<4sBBBB8xHHIQQQIHHHHHH", b"\x7fELF", 2, 1, 1, 0, 2, 183, 1, 0x80000010,
                       phoff, 0, 0, 64, 56, len(ELF_SEGMENTS), 0, 0, 0)
    out, offset = bytearray(ehdr), data_at
    for paddr, filesz, memsz in ELF_SEGMENTS:
        out += struct.pack("<IIQQQQQQ", 1, 5, offset, paddr, paddr, filesz, memsz, 0x1000)
        offset += filesz
    out += bytes(data_at - len(out))
    for i in range(len(ELF_SEGMENTS)):
        out += elf_segment_data(i)
    return bytes(out)


GENERATED = {"Image": linux_image, "guest.elf": elf_image}


def image_data(name):
    """Deterministic bytes without a short period, so a misplaced payload cannot compare equal."""
    if name in GENERATED:
        return GENERATED[name]()
    return random.Random(name).randbytes(IMAGES[name])


def loaded_data(name):
    """The payload pvpack makes of an image: an ELF flattened, segments at their offsets."""
    if name != "guest.elf":
        return image_data(name)
    base = ELF_SEGMENTS[0][0]
    end = max(paddr + memsz for paddr, _, memsz in ELF_SEGMENTS)
    blob = bytearray(end - base)
    for i, (paddr, filesz, _) in enumerate(ELF_SEGMENTS):
        blob[paddr - base:paddr - base + filesz] = elf_segment_data(i)
    return bytes(blob)


@pytest.fixture(scope="module")
def images():
    IMG.mkdir(parents=True, exist_ok=True)
    for name in [*IMAGES, *GENERATED]:
        path, data = IMG / name, image_data(name)
        if not path.is_file() or path.read_bytes() != data:
            tmp = path.with_name(f"{name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # another run reading it never sees half an image
    return IMG


@pytest.fixture(scope="module")
def pvpack(images):
    if not PVPACK.is_file():
        pytest.fail(f"{PVPACK.relative_to(ROOT)} is missing: run `make build/tools/pvpack`")

    def run(*args, cwd=ROOT):
        return subprocess.run([str(PVPACK), *map(str, args)], cwd=cwd, capture_output=True,
                              text=True, timeout=60)
    return run


def rel(path):
    return str(path.relative_to(ROOT))


def expected_message(path):
    first = path.read_text().splitlines()[0]
    m = re.fullmatch(r"/\* expect: (.+) \*/", first)
    assert m, f"{rel(path)}: first line must be /* expect: <node path>: <message> */"
    return m.group(1)


@pytest.mark.parametrize("config", BAD, ids=[p.stem for p in BAD])
def test_bad_config_fails_with_its_message(pvpack, config, tmp_path):
    out = tmp_path / "out.pvb"
    r = pvpack("-o", out, rel(config))
    assert r.returncode == 1, r.stderr
    assert f"pvpack: {rel(config)}: {expected_message(config)}" in r.stderr.splitlines()
    assert r.stdout == ""
    assert list(tmp_path.iterdir()) == [], "a failed run must not leave a bundle or a temp file"


def test_corpus_is_complete():
    assert len(BAD) >= 25
    assert sorted(p.stem for p in GOOD_DIR.glob("*.dts")) == sorted(GOOD)


def parse_bundle(data):
    magic, version, header_size, vm_count, total_size = HEADER.unpack_from(data, 0)
    vms_at = header_size - PVB_MAX_VMS * VM.size
    vms = [VM.unpack_from(data, vms_at + i * VM.size) for i in range(PVB_MAX_VMS)]
    return magic, version, header_size, vm_count, total_size, vms


@pytest.mark.parametrize("name", sorted(GOOD))
def test_good_config_packs(pvpack, name, tmp_path):
    out = tmp_path / f"{name}.pvb"
    r = pvpack("-o", out, rel(GOOD_DIR / f"{name}.dts"))
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "")
    data = out.read_bytes()
    magic, version, header_size, vm_count, total_size, vms = parse_bundle(data)
    assert (magic, version) == (PVB_MAGIC, PVB_VERSION)
    assert header_size == HEADER.size + PVB_MAX_VMS * VM.size
    assert vm_count == len(GOOD[name])
    assert total_size == len(data) and total_size % PVB_ALIGN == 0

    payload_end = header_size
    for i, (want, got) in enumerate(zip(GOOD[name], vms)):
        (wname, ram_base, ram_size, vcpus, cpu_mask, pins, priority, image, load, entry, initrd,
         initrd_load, _) = want
        (gname, g_ram_base, g_ram_size, g_entry, img_off, img_size, img_load, dtb_off, dtb_size,
         dtb_load, rd_off, rd_size, rd_load, g_vcpus, g_cpu_mask, flags, g_priority, g_pins, cid,
         rule_count) = got[:20]
        rules = got[20:20 + 2 * PVB_MAX_VSOCK_RULES]
        (d0_part, d0_flags, d0_res, d1_part, d1_flags, d1_res, mac, net_flags, res8,
         net_peers) = got[20 + 2 * PVB_MAX_VSOCK_RULES:]
        assert gname == wname.encode().ljust(16, b"\0")
        assert (g_ram_base, g_ram_size, g_vcpus, g_cpu_mask, g_pins, g_priority, flags) == \
            (ram_base, ram_size, vcpus, cpu_mask, pins, priority, 0)
        assert (img_load, g_entry) == (load, entry)
        want_cid, want_rules = vsock_of(name, i)
        pairs = list(zip(rules[0::2], rules[1::2]))
        assert (cid, rule_count, pairs[:rule_count]) == (want_cid, len(want_rules), want_rules)
        assert pairs[rule_count:] == [(0, 0)] * (PVB_MAX_VSOCK_RULES - rule_count)
        want_disks, want_mac, want_net_flags, want_peers = storage_of(name, i)
        disks = [(part.rstrip(b"\0").decode(), f)
                 for part, f in [(d0_part, d0_flags), (d1_part, d1_flags)]]
        assert disks == want_disks + [("", 0)] * (2 - len(want_disks))
        assert (mac, net_flags, net_peers, d0_res, d1_res, res8) == \
            (want_mac, want_net_flags, want_peers, 0, 0, 0)
        assert dtb_load == ram_base + ram_size - PVTIME_SIZE - DTB_WINDOW
        assert 0 < dtb_size <= DTB_WINDOW and data[dtb_off:dtb_off + 4] == b"\xd0\x0d\xfe\xed"
        want_rd = image_data(initrd) if initrd else b""
        assert (rd_size, rd_load) == (len(want_rd), initrd_load)
        # Payloads in order: image, DTB, initrd, each page aligned after the one before.
        for off, size, blob in [(img_off, img_size, loaded_data(image)),
                                (dtb_off, dtb_size, None), (rd_off, rd_size, want_rd)]:
            if size == 0:
                continue
            assert off % PVB_ALIGN == 0 and off >= payload_end
            assert blob is None or data[off:off + size] == blob
            payload_end = off + size
    assert total_size == -(-payload_end // PVB_ALIGN) * PVB_ALIGN
    assert all(vm == VM.unpack(bytes(VM.size)) for vm in vms[vm_count:])


def guest_dts(bundle, vm_index, tmp_path):
    """A VM's generated DTB from a bundle, decompiled by dtc, which must not complain."""
    vm = parse_bundle(bundle)[5][vm_index]
    dtb_off, dtb_size = vm[7], vm[8]
    dtb = tmp_path / f"vm{vm_index}.dtb"
    dtb.write_bytes(bundle[dtb_off:dtb_off + dtb_size])
    r = subprocess.run(["dtc", "-I", "dtb", "-O", "dts", str(dtb)], capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    return [line.strip() for line in r.stdout.splitlines()]


def cells(*values):
    return "<" + " ".join(f"{v:#04x}" if v < 0x100 else f"{v:#x}" for v in values) + ">;"


def reg(base, size):
    return "reg = " + cells(base >> 32, base & 0xFFFFFFFF, size >> 32, size & 0xFFFFFFFF)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_guest_dtb_describes_the_vm(pvpack, name, tmp_path):
    out = tmp_path / f"{name}.pvb"
    assert pvpack("-o", out, rel(GOOD_DIR / f"{name}.dts")).returncode == 0
    bundle = out.read_bytes()
    for i, want in enumerate(GOOD[name]):
        (_, ram_base, ram_size, vcpus, *_, initrd, initrd_load, bootargs) = want
        dts = guest_dts(bundle, i, tmp_path)
        pvtime = ram_base + ram_size - PVTIME_SIZE
        for line in [
            'compatible = "linux,dummy-virt";', 'model = "pocketvisor";',
            f"memory@{ram_base:x} {{", reg(ram_base, ram_size) + "", f"pvtime@{pvtime:x} {{",
            reg(pvtime, PVTIME_SIZE), "no-map;", 'method = "hvc";',
            'compatible = "arm,psci-1.0\\0arm,psci-0.2";',
            "reg = " + cells(0, 0x8000000, 0, 0x10000, 0, 0x80a0000, 0, vcpus * 0x20000),
            "interrupts = " + cells(1, 13, 4, 1, 14, 4, 1, 11, 4, 1, 10, 4),
            "interrupts = " + cells(0, 1, 4), 'stdout-path = "/pl011@9000000";',
            f'bootargs = "{bootargs}";' if bootargs else "bootargs = [00];",  # dtc's ""
        ]:
            assert line in dts, (name, i, line)
        assert sum(line.startswith("cpu@") for line in dts) == vcpus
        # docs/virtio.md: slot n at 0xa000000 + n * 0x200, SPI 16 + n edge-rising, in slot
        # order; the root's interrupt-parent applies
        disks, _, net_flags, _ = storage_of(name, i)
        slots = ([PVB_SLOT_VSOCK] if vsock_of(name, i)[0] != 0 else []) + \
            [PVB_SLOT_DISK + d for d in range(len(disks))] + \
            ([PVB_SLOT_NET] if net_flags & PVB_NET_PORT else [])
        nodes = [line for line in dts if line.startswith("virtio_mmio@")]
        assert nodes == [f"virtio_mmio@{0xA000000 + 0x200 * n:x} {{" for n in slots]
        for n in slots:
            base = 0xA000000 + 0x200 * n
            at = dts.index(f"virtio_mmio@{base:x} {{")
            assert dts[at:at + 6] == [
                f"virtio_mmio@{base:x} {{", 'compatible = "virtio,mmio";', reg(base, 0x200),
                "interrupts = " + cells(0, 16 + n, 1), "dma-coherent;", "};"]
        assert "its" not in " ".join(dts) and "msi-controller;" not in dts
        initrd_lines = [line for line in dts if line.startswith("linux,initrd-")]
        if initrd:
            end = initrd_load + len(image_data(initrd))
            assert initrd_lines == [f"linux,initrd-start = {cells(0, initrd_load)}",
                                    f"linux,initrd-end = {cells(0, end)}"]
        else:
            assert initrd_lines == []


def test_check_only_validates(pvpack):
    r = pvpack("--check", rel(GOOD_DIR / "minimal.dts"))
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "")
    assert not (ROOT / "minimal.pvb").exists()


def test_partitions_prints_the_layout(pvpack):
    r = pvpack("--partitions", rel(GOOD_DIR / "storage-net.dts"))
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout == "open-data 16 ext4\nmedia 32 -\nvault-data 4 -\n"
    assert not (ROOT / "storage-net.pvb").exists()


def test_partitions_without_a_disk_prints_nothing(pvpack):
    r = pvpack("--partitions", rel(GOOD_DIR / "minimal.dts"))
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "")


def test_partitions_of_a_bad_config_fails(pvpack):
    config = ROOT / "tests" / "configs" / "bad" / "disk-fs-wrong.dts"
    r = pvpack("--partitions", rel(config))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [f"pvpack: {rel(config)}: {expected_message(config)}"]


def write_config(path, image, vm_extra=""):
    path.write_text(f"""/dts-v1/;
/ {{
	compatible = "pocketvisor,config-v1";
	vms {{
		vm@0 {{
			name = "a";
			memory = <0x0 0x40000000 0x0 0x200000>;
			vcpus = <1>;
			image = "{image}";
			{vm_extra}
		}};
	}};
}};
""")


def test_default_output_is_config_name_in_cwd(pvpack, images, tmp_path):
    write_config(tmp_path / "mine.dts", images / "small.bin")
    r = pvpack("mine.dts", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert parse_bundle((tmp_path / "mine.pvb").read_bytes())[3] == 1


def test_failed_run_keeps_the_previous_bundle(pvpack, images, tmp_path):
    out = tmp_path / "out.pvb"
    out.write_bytes(b"last good bundle")
    write_config(tmp_path / "bad.dts", images / "small.bin", "priority = <999>;")
    r = pvpack("-o", out, tmp_path / "bad.dts")
    assert r.returncode == 1
    assert out.read_bytes() == b"last good bundle"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.dts", "out.pvb"]


def test_every_problem_is_reported(pvpack, tmp_path):
    cfg = tmp_path / "many.dts"
    write_config(cfg, "no/such.bin", "vcpus2 = <1>; priority = <300>;")
    r = pvpack("--check", cfg)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f'pvpack: {cfg}: /vms/vm@0: unknown property "vcpus2"',
        f"pvpack: {cfg}: /vms/vm@0: priority: 300 is not in 0..255",
        f'pvpack: {cfg}: /vms/vm@0: image: cannot open "no/such.bin": No such file or directory',
    ]


def test_dtc_errors_pass_through(pvpack, tmp_path):
    cfg = tmp_path / "syntax.dts"
    cfg.write_text("/dts-v1/;\n/ { vms { };\n")
    r = pvpack("--check", cfg)
    assert r.returncode == 1
    assert "syntax error" in r.stderr
    assert r.stderr.splitlines()[-1] == f"pvpack: {cfg}: dtc failed (exit status 1)"

    r = pvpack("--check", tmp_path / "missing.dts")
    assert r.returncode == 1 and "missing.dts" in r.stderr


@pytest.mark.parametrize("args", [[], ["-x", "a.dts"], ["a.dts", "b.dts"], ["a.dts", "-o"],
                                  ["--check", "-o", "x.pvb", "a.dts"],
                                  ["--partitions", "-o", "x.pvb", "a.dts"],
                                  ["--partitions", "--check", "a.dts"],
                                  ["--measure", "-o", "x.pvb", "a.dts"],
                                  ["--measure", "--check", "a.dts"],
                                  ["--hypervisor", "x.bin", "a.dts"],
                                  ["--measure", "a.dts", "--hypervisor"]],
                         ids=["none", "unknown-option", "two-configs", "o-without-file",
                              "check-with-o", "partitions-with-o", "partitions-with-check",
                              "measure-with-o", "measure-with-check", "hypervisor-alone",
                              "hypervisor-without-file"])
def test_usage_errors_exit_2(pvpack, args):
    r = pvpack(*args)
    assert r.returncode == 2
    assert r.stderr.splitlines()[-2:] == USAGE.splitlines()


USAGE = ("usage: pvpack [-o OUT.pvb] [--check | --partitions] CONFIG.dts\n"
         "       pvpack --measure [--hypervisor pocketvisor.bin] CONFIG.dts\n")


def test_help(pvpack):
    r = pvpack("--help")
    assert (r.returncode, r.stdout) == (0, USAGE)


def test_measure_prints_what_the_bundle_holds(pvpack, tmp_path):
    """--measure: the hypervisor's line is the SHA-256 of the file given, each VM's changes with
    its config and not with where pvpack puts its payloads (docs/attestation.md)."""
    hv = tmp_path / "hv.bin"
    hv.write_bytes(b"not really a hypervisor")
    r = pvpack("--measure", "--hypervisor", hv, "tests/configs/identity.dts")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "hypervisor " + hashlib.sha256(hv.read_bytes()).hexdigest()
    names = [line.split()[1] for line in lines[1:]]
    assert names == ["alpha", "beta"] and all(line.startswith("vm ") for line in lines[1:])
    again = pvpack("--measure", "tests/configs/identity.dts")
    assert again.stdout.splitlines() == lines[1:]  # the same config: the same values
    changed = tmp_path / "changed.dts"
    changed.write_text((ROOT / "tests" / "configs" / "identity.dts").read_text()
                       .replace('name = "beta";', 'name = "beta";\n\t\t\tpriority = <2>;'))
    other = pvpack("--measure", changed).stdout.splitlines()
    assert other[0] == lines[1] and other[1] != lines[2]  # only beta changed
    missing = pvpack("--measure", "--hypervisor", tmp_path / "none.bin",
                     "tests/configs/identity.dts")
    assert missing.returncode == 1 and "none.bin: No such file or directory" in missing.stderr
