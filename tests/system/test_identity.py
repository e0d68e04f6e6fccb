"""test_identity.py: measured boot and sealing keys (docs/attestation.md, docs/abi.md), checked
against the host's own computation. tests/configs/identity.dts runs guests/sealer as two VMs
(alpha, an attester, and beta); each prints what pocketvisor's identity calls gave it. The host
recomputes every value from the documented recipe with Python's hashlib and hmac alone, from the
files pvpack packed, and compares; `pvpack --measure` must print the same measurements."""

import hashlib
import hmac
import socket
import subprocess
import time

import pytest

from harness import BOARD, BUILD, HV_IMAGE, PVPACK, QEMU, ROOT, Boot, hv_lines, uds_args, \
    uds_base, vm_lines

VMS = {"alpha": 3, "beta": 4}  # name: CID, as identity.dts gives them
UID = "1e5c3f7a 6a4e2d9b 0f5d418c 736a9e2b"  # 7a3f5c1e-9b2d-4e6a-8c41-5d0f2b9e6a73
INVALID_PARAMETERS, DENIED, NO_SECRET, NO_VM = -2, -3, -4, -5
VM_SIZE, VMS_OFFSET, BLOB_OFFSETS = 296, 32, (40, 64, 88)  # bundle.h: struct pvb_vm

# Two device secrets (uds.bin files), written when the tests are collected: the boots that use
# them start in the background right after.
(BUILD / "tests").mkdir(parents=True, exist_ok=True)
UDS = {}
for name, seed in (("a", b"device a"), ("b", b"device b")):
    UDS[name] = BUILD / "tests" / f"uds-{name}.bin"
    UDS[name].write_bytes(hashlib.sha256(seed).digest())


def sha(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def mac(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def bundle_measurements(bundle):
    """name -> measurement of each VM, by the record of docs/attestation.md: SHA-256 over the tag,
    the VM's bundle entry with its payloads' offsets zeroed, and the SHA-256 of its image, DTB
    and initrd."""
    data = bundle.read_bytes()
    count = int.from_bytes(data[12:16], "little")
    out = {}
    for i in range(count):
        entry = bytearray(data[VMS_OFFSET + i * VM_SIZE:VMS_OFFSET + (i + 1) * VM_SIZE])
        blobs = []
        for at in BLOB_OFFSETS:
            offset = int.from_bytes(entry[at:at + 8], "little")
            size = int.from_bytes(entry[at + 8:at + 16], "little")
            blobs.append(sha(data[offset:offset + size]))
            entry[at:at + 8] = bytes(8)
        name = bytes(entry[:16]).rstrip(b"\0").decode()
        out[name] = (sha(b"pocketvisor vm v1", bytes(entry), *blobs), bytes(entry[:16]))
    return out


def sealing_key(uds, hv, vm_measurement, name16, label):
    """docs/attestation.md: device key, CDI_hv, CDI_vm, then HKDF-Expand's first block."""
    device = mac(uds, b"pocketvisor device")
    cdi_hv = mac(device, hv)
    cdi_vm = mac(cdi_hv, vm_measurement, name16)
    return mac(cdi_vm, b"pocketvisor seal", label, b"\x01")


def parse(out, vm):
    """The sealer's lines of VM vm: what -> (name, hex) or ("refused", code)."""
    got = {}
    for line in vm_lines(out, vm):
        words = line.split()
        if words[:1] != ["sealer:"] or len(words) < 3:
            continue
        if words[1] in ("key", "cid", "counter"):
            what, rest = " ".join(words[1:3]), words[3:]
        else:
            what, rest = words[1], words[2:]
        got[what] = (rest[0], int(rest[1])) if rest[0] == "refused" else tuple(rest)
    return got


def check_boot(out, uds, bundle):
    """Everything both VMs printed, against the host's computation; the keys it saw."""
    hv = sha(HV_IMAGE.read_bytes())
    measured = bundle_measurements(bundle)
    printed = subprocess.run([str(PVPACK), "--measure", "--hypervisor", str(HV_IMAGE),
                              "tests/configs/identity.dts"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.splitlines()
    assert printed == [f"hypervisor {hv.hex()}",
                       *(f"vm {n} {measured[n][0].hex()}" for n in VMS)]
    keys = {}
    for vm, cid in VMS.items():
        got = parse(out, vm)
        assert vm_lines(out, vm)[0] == f"sealer: uid {UID}"
        assert got["hypervisor"] == ("pocketvisor", hv.hex())
        assert got["self"] == (vm, measured[vm][0].hex())
        for label in ("wallet", "drm"):
            if uds is None:
                assert got[f"key {label}"] == ("refused", NO_SECRET)
                continue
            want = sealing_key(uds.read_bytes(), hv, *measured[vm], label.encode())
            assert got[f"key {label}"] == (want.hex(),), f"{vm}'s {label} key"
            keys[vm, label] = want
        assert got["key " + "0123456789abcdef" * 2 + "!"] == ("refused", INVALID_PARAMETERS)  # 33 bytes
        for other, other_cid in VMS.items():
            if other == vm or vm == "alpha":  # its own CID, or an attester's request
                assert got[f"cid {other_cid}"] == (other, measured[other][0].hex())
            else:
                assert got[f"cid {other_cid}"] == ("refused", DENIED)
        assert got["cid 5"] == got["cid 6"] == ("refused", NO_VM)
        assert vm_lines(out, vm)[-1] == "sealer: done"
    # The refusal was really asked for, and logged once, naming who asked.
    assert [line for line in hv_lines(out) if "measurement" in line] == [
        "pv: warn: vm beta: asked for vm alpha's measurement: not an attester"]
    if keys:
        assert len(set(keys.values())) == len(keys)  # per VM and per label
    return keys


@pytest.mark.boot("identity", smp=2, timeout=60, uds=UDS["a"])
def test_measurements_and_sealing_keys_are_what_the_host_computes(boot):
    keys = check_boot(boot.wait(), UDS["a"], BUILD / "tests" / "identity.pvb")
    assert len(keys) == 4


@pytest.mark.boot("identity", smp=2, timeout=60, uds=UDS["b"])
def test_another_device_secret_gives_other_keys(boot):
    keys = check_boot(boot.wait(), UDS["b"], BUILD / "tests" / "identity.pvb")
    other = {sealing_key(UDS["a"].read_bytes(), sha(HV_IMAGE.read_bytes()), m, n, b"wallet")
             for m, n in bundle_measurements(BUILD / "tests" / "identity.pvb").values()}
    assert not other & set(keys.values())


@pytest.mark.boot("identity", smp=2, timeout=60)
def test_an_unprovisioned_device_gives_no_keys(boot):
    assert check_boot(boot.wait(), None, BUILD / "tests" / "identity.pvb") == {}


def test_one_byte_of_the_image_changes_the_measurement_and_the_keys(tmp_path):
    elf = (BUILD / "guests" / "sealer.elf").read_bytes()
    at = elf.index(b"sealer: done")
    changed = tmp_path / "sealer.elf"
    changed.write_bytes(elf[:at + 8] + b"D" + elf[at + 9:])  # "sealer: Done"
    dts = tmp_path / "changed.dts"
    dts.write_text((ROOT / "tests" / "configs" / "identity.dts").read_text()
                   .replace("build/guests/sealer.elf", str(changed)))
    b = Boot(dts, smp=2, timeout=60, interactive=True, uds=UDS["a"])
    try:
        b.start()
        out = b.wait()
    finally:
        b.kill()
    assert vm_lines(out, "alpha")[-1] == "sealer: Done"  # the changed image really ran
    hv = sha(HV_IMAGE.read_bytes())
    before = bundle_measurements(BUILD / "tests" / "identity.pvb")
    after = bundle_measurements(BUILD / "tests" / "changed.pvb")
    for vm in VMS:
        got = parse(out, vm)
        assert got["self"] == (vm, after[vm][0].hex()) != (vm, before[vm][0].hex())
        want = sealing_key(UDS["a"].read_bytes(), hv, *after[vm], b"wallet")
        old = sealing_key(UDS["a"].read_bytes(), hv, *before[vm], b"wallet")
        assert got["key wallet"] == (want.hex(),) and want != old


class Monitor:
    """QEMU's human monitor on a unix socket: one command at a time, answered up to the prompt."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.sock.settimeout(60)
        self._until_prompt()

    def _until_prompt(self):
        got = b""
        while not got.endswith(b"(qemu) "):
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(got.decode(errors="replace"))
            got += chunk
        return got.decode(errors="replace")

    def command(self, line):
        self.sock.sendall(line.encode() + b"\n")
        return self._until_prompt()


def test_no_byte_of_the_device_secret_is_left_in_ram(tmp_path):
    """(f) After boot the secret is nowhere in the board's RAM: not where it was loaded, not in a
    VM, not in the hypervisor's memory. The control: with QEMU stopped before the first
    instruction the same dump finds it, where the loader put it."""
    bundle = BUILD / "tests" / "udsdump.pvb"
    pack = subprocess.run([str(PVPACK), "-o", str(bundle), "tests/configs/udsdump.dts"], cwd=ROOT,
                          capture_output=True, text=True)
    assert pack.returncode == 0, pack.stderr
    secret = UDS["a"].read_bytes()
    sock = tmp_path / "monitor.sock"
    board = [a if a != "none" or BOARD[i - 1] != "-monitor" else f"unix:{sock},server=on,wait=off"
             for i, a in enumerate(BOARD)]
    qemu = subprocess.Popen([QEMU, *board, *uds_args(UDS["a"]), "-kernel", str(HV_IMAGE),
                             "-initrd", str(bundle), "-smp", "2", "-S"], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    ram, base, size = tmp_path / "ram.bin", 0x40000000, 1 << 30
    try:
        mon = Monitor(sock, time.monotonic() + 30)

        def dump():
            ram.unlink(missing_ok=True)
            answer = mon.command(f'pmemsave {base:#x} {size:#x} "{ram}"')
            assert ram.is_file(), answer[-300:]
            return ram.read_bytes()

        found = dump().find(secret)  # (plain ints in the assertions: never a 1 GiB repr)
        assert found == uds_base() - base  # loaded, and the dump sees it
        mon.command("cont")
        out, deadline = b"", time.monotonic() + 60
        while b"sealer: done" not in out and b"[idle] idle: tick 2" not in out:
            assert time.monotonic() < deadline, out.decode(errors="replace")
            out += qemu.stdout.read1(4096)
        while b"[idle] idle: tick 2" not in out:  # the sealer is done and gone by then
            assert time.monotonic() < deadline, out.decode(errors="replace")
            out += qemu.stdout.read1(4096)
        mon.command("stop")
        after = dump()
        text = out.decode(errors="replace")
        assert "[alpha] sealer: key wallet " in text  # the device key was in use
        found = [after.find(part) for part in (secret, secret[:16], secret[16:])]
        assert found == [-1, -1, -1]  # nor either half of it
        assert after[uds_base() - base:uds_base() - base + 32] == bytes(32)
    finally:
        qemu.kill()
        qemu.wait()
        ram.unlink(missing_ok=True)  # 1 GiB: not left for pytest's kept temporary directories
