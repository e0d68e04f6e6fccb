"""test_native_storage_net.py: Debian's Linux on the bare board (no hypervisor) with QEMU's own
modern virtio-blk and virtio-net, the baseline for the disks and net a VM gets (docs/storage-net.md):
/init mounts the disk on /data (rw, or ro on a read-only disk) and takes eth0's address from QEMU's
DHCP, and the guest fetches a file from an HTTP server on the host's loopback through guestfwd.
The disk is a scratch image scripts/mkdisk.sh makes; natively the guest sees one partition of it
(the window a VM would see), so it has ext4 at /dev/vda as under pocketvisor."""

import hashlib
import os
import subprocess

import pytest

from harness import ROOT, Boot, gpt_partition, line_index
from netserve import Serve

READY = "pocketvisor: linux ready"
PROMPT = r"^/ # "
LAYOUT = "data 32 ext4\nspare 4 -\n"
SBIN = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}


@pytest.fixture
def disk(tmp_path):
    image = tmp_path / "disk.img"
    subprocess.run(["sh", "scripts/mkdisk.sh", "--layout", "-", str(image)], input=LAYOUT,
                   text=True, cwd=ROOT, check=True, capture_output=True)
    return image


@pytest.fixture
def native():
    """Starts a native Linux boot with the given disk and net options; kills it at the end and
    prints its transcript (shown when the test failed)."""
    boots = []

    def start(**io):
        b = Boot("linux", native=True, smp=1, timeout=150, interactive=True, **io)
        boots.append(b)
        b.start()
        return b
    yield start
    for b in boots:
        b.kill()
        print(b.transcript())


def shell(boot, command, answer):
    """Types `command` at the busybox prompt; returns the match of `answer` (a regex) in the
    output that follows the echoed command."""
    typed_at = boot.mark() + len(command) + 1
    boot.send(command + "\n")
    return boot.expect(answer, after=typed_at)


def debugfs_cat(image, path):
    """The content of `path` in the ext4 file system of the image's partition "data"."""
    offset, _ = gpt_partition(image, "data")
    out = subprocess.run(["debugfs", "-R", f"cat {path}", f"{image}?offset={offset}"],
                         capture_output=True, text=True, check=True, env=SBIN)
    return out.stdout


@pytest.mark.linux
def test_linux_natively_mounts_its_disk_rw_and_fetches_through_guestfwd(native, disk, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    blob = os.urandom(256 * 1024)
    (www / "file").write_bytes(blob)
    with Serve(www) as server:
        boot = native(disk=disk, partition="data", guestfwd=[("10.0.2.100", 80, server.port)])
        boot.expect(rf"^{READY}$")
        text = boot.text
        assert line_index(text, "pocketvisor: /data mounted rw") < line_index(text, READY)
        assert line_index(text, "pocketvisor: eth0 10.0.2.15") < line_index(text, READY)
        boot.expect(PROMPT)
        # Modern devices: the driver accepted VIRTIO_F_VERSION_1 (feature bit 32) on both.
        m = shell(boot, 'echo "v1=$(cut -c33 /sys/bus/virtio/devices/*/features | tr -d "\\n")"',
                  r"^v1=([01]*)\n")
        assert m.group(1) == "11", m.group(0)
        # Two fetches: every connection the guest opens reaches the server.
        for _ in range(2):
            m = shell(boot, "wget -q -O - http://10.0.2.100/file | sha256sum",
                      r"^([0-9a-f]{64})  -$")
            assert m.group(1) == hashlib.sha256(blob).hexdigest()
        assert server.requests == 2
        # What the guest writes reaches the partition of the image, and only it.
        shell(boot, "echo kept-$((6*7)) >/data/note && umount /data && echo unmounted",
              r"^unmounted$")
        boot.kill()
    assert debugfs_cat(disk, "/note") == "kept-42\n"
    subprocess.run(["e2fsck", "-fn", f"{disk}?offset={gpt_partition(disk, 'data')[0]}"],
                   check=True, capture_output=True, env=SBIN)
    spare, size = gpt_partition(disk, "spare")
    with open(disk, "rb") as f:
        f.seek(spare)
        assert f.read(size) == bytes(size)


@pytest.mark.linux
def test_linux_natively_mounts_a_read_only_disk_ro(native, disk):
    boot = native(disk=disk, partition="data", readonly=True)
    boot.expect(rf"^{READY}$")
    assert line_index(boot.text, "pocketvisor: /data mounted ro") < line_index(boot.text, READY)
    assert "pocketvisor: eth0" not in boot.text  # no NIC: no DHCP wait, no line
    boot.expect(PROMPT)
    shell(boot, "touch /data/x || echo refused", r"^refused$")
    shell(boot, "cat /sys/block/vda/ro", r"^1$")
