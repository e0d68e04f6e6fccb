"""test_counters.py: the hypervisor's rollback counters (docs/attestation.md, "Rollback
counters"), kept on the board disk's hv-rpmb partition. tests/configs/counters.dts runs
guests/sealer as alpha (with `rollback-counters;`) and beta (without); each boot, the sealer reads
the device's boot count and adds one to its counter 0. Three boots on one disk: the counts go
on across QEMU runs, beta is refused, and the copies on the disk authenticate only under the
device secret that wrote them; a byte changed on the disk and another device's secret are both
refused, not started again from zero."""

import hashlib
import subprocess

import pytest

from harness import BUILD, ROOT, Boot, gpt_partition, hv_lines, vm_lines

INVALID_PARAMETERS, DENIED, NO_STORE = -2, -3, -6


def uds(tmp_path, seed):
    path = tmp_path / f"uds-{seed}.bin"
    path.write_bytes(hashlib.sha256(seed.encode()).digest())
    return path


def counters(out, vm):
    """index -> value, or ("refused", code), from the sealer's `counter` lines of VM vm."""
    got = {}
    for line in vm_lines(out, vm):
        words = line.split()
        if words[:2] == ["sealer:", "counter"]:
            got[int(words[2])] = ("refused", int(words[4])) if words[3] == "refused" else int(words[3])
    assert vm_lines(out, vm)[-1] == "sealer: done"
    return got


def boot(disk, secret):
    b = Boot("counters", smp=2, timeout=60, disk=disk, uds=secret)
    b.start()
    out = b.wait()
    assert b.returncode == 0, b.transcript()
    return out


@pytest.fixture
def disk(tmp_path):
    image = tmp_path / "disk.img"
    subprocess.run(["sh", "scripts/mkdisk.sh", "tests/configs/counters.dts", str(image)],
                   cwd=ROOT, check=True, capture_output=True)
    return image


def test_counters_go_on_across_boots_and_only_for_their_vm(disk, tmp_path):
    secret = uds(tmp_path, "device a")
    for n in (1, 2):
        out = boot(disk, secret)
        assert f"pv: info: hv-rpmb: boot {n}" in hv_lines(out)
        lines = [l for l in vm_lines(out, "alpha") if l.startswith("sealer: counter")]
        assert lines == [f"sealer: counter 8 {n}", f"sealer: counter 0 {n}",
                         f"sealer: counter 8 refused {INVALID_PARAMETERS}"]
        assert counters(out, "beta") == {8: ("refused", DENIED), 0: ("refused", DENIED)}
        assert "pv: warn: vm beta: counter 8: not allowed" in hv_lines(out)
    # On the disk: two authenticated copies of the store, neither holding the secret.
    offset, size = gpt_partition(disk, "hv-rpmb")
    with open(disk, "rb") as f:
        f.seek(offset)
        copies = f.read(1024)
    assert copies[:512] != copies[512:] and copies[:8] == copies[512:520] == b"PVRPMB01"
    assert secret.read_bytes() not in copies


def test_changed_store_and_another_device_are_refused(disk, tmp_path):
    out = boot(disk, uds(tmp_path, "device a"))
    assert "pv: info: hv-rpmb: boot 1" in hv_lines(out)
    refusal = ("pv: error: hv-rpmb: a copy does not authenticate (another device's, or altered): "
               "no rollback counters")
    out = boot(disk, uds(tmp_path, "device b"))  # the disk moved to another device
    assert refusal in hv_lines(out)
    assert counters(out, "alpha")[0] == ("refused", NO_STORE)
    offset, _ = gpt_partition(disk, "hv-rpmb")
    with open(disk, "r+b") as f:  # back on its device, one byte of a copy changed
        f.seek(offset + 512 + 40)
        b = f.read(1)
        f.seek(offset + 512 + 40)
        f.write(bytes([b[0] ^ 1]))
    out = boot(disk, uds(tmp_path, "device a"))
    assert refusal in hv_lines(out)
    assert counters(out, "alpha")[0] == ("refused", NO_STORE)


def test_a_disk_made_before_hv_rpmb_is_kept_and_said(tmp_path):
    """A device provisioned before its config had hv-rpmb keeps its disk (its data), and
    scripts/mkdisk.sh says which partitions it lacks."""
    image = tmp_path / "disk.img"
    mkdisk = ["sh", "scripts/mkdisk.sh", "--layout", "-", str(image)]
    subprocess.run(mkdisk, input="vault-data 4 -\n", text=True, cwd=ROOT, check=True,
                   capture_output=True)
    before = image.read_bytes()
    r = subprocess.run(["sh", "scripts/mkdisk.sh", "tests/configs/counters.dts", str(image)],
                       cwd=ROOT, capture_output=True, text=True, check=True)
    assert image.read_bytes() == before
    assert r.stderr == (f"mkdisk: warning: {image} has the partitions [ vault-data ] but the "
                        "layout wants [ hv-rpmb ]: each one missing is missing to whoever uses "
                        "it; delete the image to make it again (its data is lost)\n")
    r = subprocess.run(mkdisk, input="vault-data 4 -\n", text=True, cwd=ROOT, check=True,
                       capture_output=True)
    assert r.stderr == ""  # the same layout: nothing to say
