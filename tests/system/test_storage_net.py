"""test_storage_net.py: issue 11's acceptance tests under pocketvisor: Debian's Linux VMs on the
board's disk and NIC, which the hypervisor owns (docs/storage-net.md). configs/phone.dts: open's
/data survives its own reset and a new QEMU run, and work's /dev/vda is its own partition, no
more; open fetches a file from the host through the switch's uplink and QEMU's guestfwd; open
and work (not peers) cannot reach each other, and tests/configs/phone-peers.dts (peers) lets
them. tests/configs/linux-ro.dts: a `:ro` disk is mounted read-only and nothing reaches it.
Each test makes its own disk image with scripts/mkdisk.sh; the partitions are checked on the
host, as test_native_storage_net.py does without the hypervisor."""

import hashlib
import os
import re
import secrets
import subprocess

import pytest

from harness import ROOT, Boot, config_path, gpt_partition, hv_lines, vm_lines
from netserve import Serve

READY = "pocketvisor: linux ready"
FOCUS = "\x1d"  # Ctrl-]: the next digit moves keyboard input to that VM (README)
PHONE = {"open": 1, "work": 2, "vault": 3}  # VM numbers, in config order
SECTOR = 512
SBIN = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
# A phone boot to both ready markers takes 60-90 s under TCG on a loaded 2-core host.
PHONE_TIMEOUT = 360


@pytest.fixture
def start():
    """Starts an interactive pocketvisor boot; kills every one at the end and prints their
    transcripts (shown by pytest only when the test failed)."""
    boots = []

    def go(config, timeout=PHONE_TIMEOUT, **io):
        b = Boot(config, smp=2, timeout=timeout, interactive=True, **io)
        boots.append(b)
        b.start()
        return b
    yield go
    for b in boots:
        b.kill()
        print(b.transcript())


def make_disk(tmp_path, config):
    image = tmp_path / "disk.img"
    subprocess.run(["sh", "scripts/mkdisk.sh", str(config_path(config).relative_to(ROOT)),
                    str(image)], cwd=ROOT, check=True, capture_output=True)
    return image


def partition_bytes(image, name):
    offset, size = gpt_partition(image, name)
    with open(image, "rb") as f:
        f.seek(offset)
        return f.read(size)


def debugfs_cat(image, name, path, tmp_path):
    """The content of `path` in the ext4 file system of partition `name`, or None if it has no
    such file. debugfs cannot open `image?offset=` here, so the partition is copied out."""
    part = tmp_path / f"{name}.img"
    part.write_bytes(partition_bytes(image, name))
    out = subprocess.run(["debugfs", "-R", f"cat {path}", str(part)], capture_output=True,
                         text=True, env=SBIN)
    part.unlink()
    return None if "File not found" in out.stderr else out.stdout


def ready(boot, vm, after=0):
    return boot.expect(rf"^\[{vm}\] {READY}$", after=after)


def phone_up(boot):
    for vm in ("open", "work"):
        ready(boot, vm)


def focus(boot, vm):
    mark = boot.mark()
    boot.send(FOCUS + str(PHONE[vm]))
    boot.expect(rf"^pv: info: vm {vm}: has the keyboard now", after=mark)


def run(boot, vm, command, result):
    """Types `command` into the focused VM's shell and waits for a line of `vm` matching `result`
    (a regex) after it. The terminal echoes the command, sometimes before the prompt: `result`
    must not match a line that starts with the command itself."""
    mark = boot.mark()
    boot.send(command + "\n")
    return boot.expect(rf"^\[{vm}\] {result}[ \t\r]*\n", after=mark)


def lease(boot, vm, after=0):
    return boot.expect(rf"^\[{vm}\] pocketvisor: eth0 (\d+\.\d+\.\d+\.\d+)$",
                       after=after).group(1)


def no_panic(text):
    """Nothing crashed: no hypervisor panic, and no Linux VM was stopped."""
    log = hv_lines(text)
    assert not [line for line in log if "PANIC" in line], log
    assert not [line for line in log if re.search(r"vm (open|work|linux): stopped", line)], log


# ---- (a) open's data persists; work's disk is its own partition ----

def check_window(boot, vm, sectors):
    """The VM's /dev/vda is exactly `sectors` long: its size says so, its last sector reads and
    the sector after it does not."""
    run(boot, vm, "echo size=$(cat /sys/block/vda/size) getsz=$(blockdev --getsz /dev/vda)",
        rf"size={sectors} getsz={sectors}")
    run(boot, vm, f"dd if=/dev/vda of=/dev/null bs=512 skip={sectors - 1} count=1",
        r"1\+0 records in")
    m = run(boot, vm, f"dd if=/dev/vda of=/dev/null bs=512 skip={sectors} count=1; echo dd=$?",
            r"(0\+0 records in|dd: .*)")
    assert "1+0" not in m.group(0)


@pytest.mark.linux
def test_open_data_survives_reset_and_new_run_and_work_has_only_its_partition(start, tmp_path):
    image = make_disk(tmp_path, "phone")
    sectors = {vm: gpt_partition(image, f"{vm}-data")[1] // SECTOR for vm in ("open", "work")}
    marker = {vm: f"{vm}-{secrets.token_hex(8)}" for vm in ("open", "work")}

    boot = start("phone", disk=image, net=True)
    phone_up(boot)
    focus(boot, "open")
    run(boot, "open", f"echo {marker['open']} >/data/mark && sync && echo wrote=$?", "wrote=0")
    check_window(boot, "open", sectors["open"])
    mark = boot.mark()
    boot.send("reboot -f\n")  # no unmount: the journal must bring the file back
    boot.expect(r"^pv: info: vm open: reset", after=mark)
    ready(boot, "open", after=mark)
    assert "[open] pocketvisor: /data mounted rw" in boot.text[mark:].splitlines()
    run(boot, "open", "cat /data/mark", marker["open"])
    run(boot, "open", "umount /data && echo unmounted=$?", "unmounted=0")
    # work sees its own partition: not open's file, not a sector past its end.
    focus(boot, "work")
    run(boot, "work", "test -e /data/mark; echo exists=$?", "exists=1")
    run(boot, "work", f"echo {marker['work']} >/data/mark && sync && echo wrote=$?", "wrote=0")
    check_window(boot, "work", sectors["work"])
    run(boot, "work", "umount /data && echo unmounted=$?", "unmounted=0")
    no_panic(boot.text)
    boot.kill()

    # A whole new QEMU run on the same image.
    boot = start("phone", disk=image, net=True)
    phone_up(boot)
    for vm in ("open", "work"):
        focus(boot, vm)
        run(boot, vm, "cat /data/mark", marker[vm])
        run(boot, vm, "umount /data && echo unmounted=$?", "unmounted=0")
    no_panic(boot.text)
    boot.kill()

    # On the host: each partition holds its own marker and nothing of the other's, and neither
    # marker is anywhere on the disk outside its own partition.
    for vm in ("open", "work"):
        assert debugfs_cat(image, f"{vm}-data", "/mark", tmp_path) == marker[vm] + "\n"
    disk = image.read_bytes()
    for vm in ("open", "work"):
        offset, size = gpt_partition(image, f"{vm}-data")
        at = [m.start() for m in re.finditer(re.escape(marker[vm].encode()), disk)]
        assert at, f"{vm}'s marker is nowhere on the disk"
        assert all(offset <= a < offset + size for a in at), (vm, offset, size, at)


# ---- (b) a read-only disk ----

@pytest.mark.linux
def test_read_only_disk_mounts_ro_and_nothing_reaches_it(start, tmp_path):
    image = make_disk(tmp_path, "linux-ro")
    before = hashlib.sha256(partition_bytes(image, "ro-data")).hexdigest()
    whole = hashlib.sha256(image.read_bytes()).hexdigest()
    boot = start("linux-ro", timeout=240, disk=image)
    ready(boot, "linux")
    lines = vm_lines(boot.text, "linux")
    assert "pocketvisor: /data mounted ro" in lines[:lines.index(READY)]
    run(boot, "linux", "cat /sys/block/vda/ro", "1")
    run(boot, "linux", "touch /data/x; echo touch=$?", "touch=1")
    run(boot, "linux", "test -e /data/x; echo exists=$?", "exists=1")
    # Past the file system: a raw write to the device is refused as well.
    run(boot, "linux", "dd if=/dev/zero of=/dev/vda bs=512 count=1 conv=fsync; echo dd=$?",
        "dd=1")
    # busybox mount falls back to read-only when the device refuses rw: still no write.
    run(boot, "linux", "mount -o remount,rw /data; touch /data/y; echo touch=$?", "touch=1")
    no_panic(boot.text)
    boot.kill()
    assert hashlib.sha256(partition_bytes(image, "ro-data")).hexdigest() == before
    assert hashlib.sha256(image.read_bytes()).hexdigest() == whole


# ---- (d) and (e): the switch ----

def tcp(boot, client, server, ip, port=1234):
    """Starts a listener in `server` and connects to it from `client`; True if the two
    exchanged a line each way. Leaves the focus on `client`."""
    focus(boot, server)
    # The shell prints no job number: the echo says it started (and had a second to listen).
    run(boot, server, f"(echo from-{server} | nc -l -p {port}; echo listener=$?) & "
        "sleep 1; echo bg=$!", r"bg=\d+")
    focus(boot, client)
    mark = boot.mark()
    m = run(boot, client, f"echo from-{client} | nc -w 5 {ip} {port}; echo nc=$?", r"nc=(\d+)")
    passed = m.group(1) == "0" and heard(boot.text[mark:], client, server)
    if passed:  # and the server's side got the client's line (after its prompt, as it came)
        boot.expect(rf"^\[{server}\] .*from-{client}$", after=mark)
    return passed


def heard(text, vm, sender):
    """Whether `vm` printed the line `sender`'s nc sent it (at the end of a line: it may come
    after a prompt)."""
    return any(line.endswith(f"from-{sender}") for line in vm_lines(text, vm))


def ping(boot, vm, ip):
    return run(boot, vm, f"ping -c 2 -W 3 {ip}; echo ping=$?", r"ping=(\d+)").group(1) == "0"


@pytest.mark.linux
def test_open_fetches_through_uplink_but_cannot_reach_work(start, tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    blob = os.urandom(1024 * 1024)
    (www / "blob").write_bytes(blob)
    image = make_disk(tmp_path, "phone")
    with Serve(www) as server:
        boot = start("phone", disk=image, guestfwd=[("10.0.2.100", 80, server.port)])
        phone_up(boot)
        ips = {vm: lease(boot, vm) for vm in ("open", "work")}
        assert len(set(ips.values())) == 2, ips
        focus(boot, "open")
        m = run(boot, "open", "wget -q -O - http://10.0.2.100/blob | sha256sum",
                r"([0-9a-f]{64})  -")
        assert m.group(1) == hashlib.sha256(blob).hexdigest()
        assert server.requests == 1
        # Not peers: neither ICMP nor TCP gets from open to work.
        mark = boot.mark()
        assert not ping(boot, "open", ips["work"])
        assert not tcp(boot, "open", "work", ips["work"])
        assert not heard(boot.text[mark:], "work", "open")
        no_panic(boot.text)


@pytest.mark.linux
def test_peers_reach_each_other(start, tmp_path):
    image = make_disk(tmp_path, "phone-peers")
    boot = start("phone-peers", disk=image, net=True)
    phone_up(boot)
    ips = {vm: lease(boot, vm) for vm in ("open", "work")}
    focus(boot, "open")
    assert ping(boot, "open", ips["work"])
    assert tcp(boot, "open", "work", ips["work"])
    focus(boot, "work")
    assert ping(boot, "work", ips["open"])
    assert tcp(boot, "work", "open", ips["open"])
    no_panic(boot.text)


# ---- a reset in the middle of disk and network I/O ----

@pytest.mark.linux
@pytest.mark.stress
def test_reset_during_disk_and_net_io_leaves_both_working(start, tmp_path):
    """open resets (`reboot -f`) while direct reads of its disk are at the board's disk, a write
    is being synced and a DHCP renewal may be on the wire, twice: each time the next Linux
    mounts /data rw, gets a lease, reads its whole disk and finds the file written before.
    `make stress` runs it STRESS_RUNS times: about one run in 30 hangs the second Linux (a
    known bug, docs/storage-net.md), so it is not part of `make check` until that is fixed."""
    image = make_disk(tmp_path, "phone")
    boot = start("phone", disk=image, net=True)
    phone_up(boot)
    focus(boot, "open")
    marker = f"open-{secrets.token_hex(8)}"
    run(boot, "open", f"echo {marker} >/data/mark && sync && echo wrote=$?", "wrote=0")
    for _ in range(2):
        mark = boot.mark()
        # Reads and writes in loops, a renewal, then the reads counted twice a second apart
        # (the I/O was really going on) and the reset.
        boot.send("(while :; do dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>/dev/null;"
                  " done &); (while :; do dd if=/dev/zero of=/data/fill bs=64k count=64"
                  " conv=fsync 2>/dev/null; done &); (udhcpc -i eth0 -n -q -s /bin/true"
                  " >/dev/null 2>&1 &); read a b </sys/block/vda/stat; sleep 1;"
                  " read c d </sys/block/vda/stat; echo reads=$((c - a)); reboot -f\n")
        reads = int(boot.expect(r"^\[open\] reads=(\d+)[ \t\r]*\n", after=mark).group(1))
        assert reads > 0, "no disk I/O was going on when open reset"
        boot.expect(r"^pv: info: vm open: reset", after=mark)
        ready(boot, "open", after=mark)
        assert "[open] pocketvisor: /data mounted rw" in boot.text[mark:].splitlines()
        lease(boot, "open", after=mark)
        run(boot, "open", "cat /data/mark", marker)
        run(boot, "open", "dd if=/dev/vda of=/dev/null bs=1M iflag=direct 2>&1 | head -1",
            r"\d+\+\d+ records in")
    no_panic(boot.text)
    boot.kill()
