"""test_manage.py: managing VMs at run time (docs/manage.md) with Debian's Linux and pvctl.

One boot of tests/configs/manage.dts: `open` (manages work) and `work` (its own agent manages
only work) are Linux, `vault` is the bare-metal vault with its vsock echo on port 5100.

From open, pvctl lists and shows work, then stops it while work holds a stream to the vault and
keeps 4 MiB of a marker in its RAM: the vault sees the stream reset and goes on serving open,
the QEMU monitor finds the marker in work's RAM before the stop and nothing but zeros after it,
and the core work kept busy goes to open (open's steal time stops growing). work starts again,
boots to its shell and reaches the vault again; a reset reboots it clean; while paused its run
time does not advance, and after resume it does. From work, pvctl may not stop open or the vault:
each refusal is answered, logged, and changes nothing.

The bare-metal side (test_manage_bare.py) covers a VM without the right, malformed requests,
200 start/stop/reset cycles and the numbers."""

import re
import secrets
import time

import pytest

from harness import BUILD, vm_lines
from test_linux import FOCUS, READY, complaints

VMS = {"open": 1, "work": 2, "vault": 3}


def focus(boot, vm):
    mark = boot.mark()
    boot.send(FOCUS + str(VMS[vm]))
    boot.expect(rf"^pv: info: vm {vm}: has the keyboard now", after=mark)


def sh(boot, vm, command, answer):
    """Types `command` into vm (which has the keyboard) and returns the match of `answer` in the
    lines vm printed after it (answer must not match the echoed command)."""
    mark = boot.mark()
    boot.send(command + "\n")
    # A newline, not $: the output comes in pieces, and $ would match a line cut short.
    return boot.expect(rf"^\[{vm}\] {answer}[ \t\r]*\n", after=mark)


def ready(boot, vm, after=0):
    boot.expect(rf"^\[{vm}\] {READY}", after=after)


def host_ram(boot, vm):
    """Where the hypervisor put vm's RAM (its start-up line), and its size."""
    m = boot.expect(rf"^pv: info: vm {vm}: \d+ vCPU, (\d+) MiB RAM at IPA 0x[0-9a-f]+ "
                    r"\(host (0x[0-9a-f]+)\)")
    return int(m.group(2), 16), int(m.group(1)) << 20


def ram_dump(boot, pa, size, name):
    path = BUILD / "tests" / f"manage-{name}.ram"
    path.unlink(missing_ok=True)
    boot.qmp("pmemsave", val=pa, size=size, filename=str(path))
    data = path.read_bytes()
    path.unlink()
    assert len(data) == size
    return data


def steal(boot):
    """open's steal time (jiffies, /proc/stat's 8th cpu column), from its PV steal-time record."""
    return int(sh(boot, "open", "awk '/^cpu /{print \"steal=\" $9}' /proc/stat",
                  r"steal=(\d+)").group(1))


def run_time(boot, vm):
    """vm's vCPU 0 run time as `pvctl info` reports it, in seconds."""
    return float(sh(boot, "open", f"pvctl info {vm} | grep '^vcpu 0:'",
                    r"vcpu 0: core \d+, run ([\d.]+) s.*").group(1))


@pytest.mark.linux
@pytest.mark.boot("manage", smp=2, timeout=900, interactive=True, monitor=True)
def test_open_manages_work_and_work_only_itself(boot):
    ready(boot, "open")
    ready(boot, "work")
    work_pa, work_size = host_ram(boot, "work")

    # work: a stream to the vault it holds open, a marker in its RAM, and a core kept busy.
    marker = "PVMARK-" + secrets.token_hex(8)
    focus(boot, "work")
    mark = boot.mark()
    boot.send("(sleep 900 | socat - VSOCK-CONNECT:5:5100 >/dev/null) &\n")
    boot.expect(r"^\[vault\] vault: connection from cid 4 port \d+", after=mark)
    sh(boot, "work", f"yes {marker} | head -c 4194304 > /tmp/mark; echo marked-$(wc -c < /tmp/mark)",
       "marked-4194304")
    sh(boot, "work", "(while :; do :; done) & echo spinning", "spinning")

    # (b) first, while both run: work may manage work only.
    mark = boot.mark()
    sh(boot, "work", "pvctl stop open; echo rc=$?", "rc=1")
    assert re.search(r"^\[work\] pvctl: stop open: not allowed", boot.text[mark:], re.M)
    boot.expect(r"^pv: warn: vm work: manage: stop open refused: not allowed", after=mark)
    time.sleep(1.2)  # the refusal log is rate-limited to one line a second per VM
    mark = boot.mark()
    sh(boot, "work", "pvctl stop vault; echo rc=$?", "rc=1")
    assert re.search(r"^\[work\] pvctl: stop vault: not allowed", boot.text[mark:], re.M)
    boot.expect(r"^pv: warn: vm work: manage: stop vault refused: not allowed", after=mark)
    sh(boot, "work", "pvctl list | grep -c running", "1")  # it sees itself only
    assert "stopped" not in "".join(hv_after(boot, mark))

    # (a) from open: list and info.
    focus(boot, "open")
    sh(boot, "open", "pvctl list", r"work\s+running\s+1\s+192 MiB\s+4")
    sh(boot, "open", "pvctl --json list", r'\{"vms":\[\{"name":"work","state":"running".*')
    sh(boot, "open", "pvctl info work | grep ^state:", "state: running")
    sh(boot, "open", "pvctl info nosuch; echo rc=$?", "rc=1")
    sh(boot, "open", "pvctl stop vault; echo rc=$?", "rc=1")

    # (d) the busy core: open, busy on both vCPUs, shares the cores with work's spinner.
    sh(boot, "open", "for i in 1 2; do (while :; do :; done) & done; echo spun", "spun")
    s0 = steal(boot)
    time.sleep(4)
    s1 = steal(boot)
    assert s1 > s0, f"open's steal did not grow while work was busy: {s0} -> {s1}"

    before = ram_dump(boot, work_pa, work_size, "before")
    assert marker.encode() in before, "the marker is not in work's RAM: the dump is not work's"

    # (a, c) stop work: its stream to the vault is reset, the vault goes on serving open.
    mark = boot.mark()
    sh(boot, "open", "pvctl stop work", "work: stopped")
    boot.expect(r"^pv: info: vm work: stopped: by management", after=mark)
    boot.expect(r"^\[vault\] vault: \d+ connections? closed", after=mark)
    sh(boot, "open", "echo ping-open | socat - VSOCK-CONNECT:5:5100", "ping-open")
    sh(boot, "open", "pvctl info work | grep ^state:", "state: off")
    sh(boot, "open", "pvctl stop work; echo rc=$?", "rc=1")  # wrong state

    # (d) nothing work wrote is left in its RAM; its core is open's now.
    after = ram_dump(boot, work_pa, work_size, "after")
    assert after.count(0) == len(after), "work's RAM is not all zero after its stop"
    s2 = steal(boot)
    time.sleep(4)
    s3 = steal(boot)
    assert (s3 - s2) * 4 < (s1 - s0), f"open still waits for a core: {s1 - s0} -> {s3 - s2}"
    sh(boot, "open", "kill $(jobs -p) 2>/dev/null; echo quiet", "quiet")

    # (a) start: work boots again, its shell answers, it reaches the vault again.
    mark = boot.mark()
    sh(boot, "open", "pvctl start work", "work: started")
    ready(boot, "work", after=mark)
    focus(boot, "work")
    sh(boot, "work", "echo alive-$((6 * 7))", "alive-42")
    sh(boot, "work", "echo again | socat - VSOCK-CONNECT:5:5100", "again")

    # (a) reset: a clean reboot from its images.
    focus(boot, "open")
    mark = boot.mark()
    sh(boot, "open", "pvctl reset work", "work: reset")
    boot.expect(r"^pv: info: vm work: reset clean", after=mark)
    ready(boot, "work", after=mark)
    sh(boot, "open", "pvctl info work | grep ^starts:", "starts: 3")
    info = sh(boot, "open", "pvctl info work; echo info-done", "info-done")
    text = boot.text[:info.end()]
    assert re.search(r"^\[open\]   pv: info: vm work: reset by open$", text, re.M), \
        "pvctl info shows the VM's own log lines"
    sh(boot, "open", "pvctl log | grep -c 'vm work: stopped: by management'", "1")

    # (a) pause: its run time stands still, as seen from open; resume: it goes on.
    sh(boot, "open", "pvctl pause work", "work: paused")
    sh(boot, "open", "pvctl info work | grep ^state:", "state: paused")
    t0 = run_time(boot, "work")
    time.sleep(3)
    t1 = run_time(boot, "work")
    assert t1 == t0, f"work ran while paused: {t0} -> {t1}"
    sh(boot, "open", "pvctl pause work; echo rc=$?", "rc=1")
    sh(boot, "open", "pvctl resume work", "work: resumed")
    focus(boot, "work")
    sh(boot, "work", "echo back-$((2 + 3))", "back-5")
    focus(boot, "open")
    t2 = run_time(boot, "work")
    assert t2 > t1, f"work did not run after resume: {t1} -> {t2}"
    sh(boot, "open", "pvctl log | grep -c 'vm work: resume by open$'", "1")

    # set-cpus: work's vCPU may use core 1 only, and goes there.
    sh(boot, "open", "pvctl set-cpus work 1", "work: cores 1")
    sh(boot, "open", "pvctl info work | grep ^cores:", "cores: 1")
    sh(boot, "open", "pvctl set-cpus work 0,5; echo rc=$?", "rc=1")  # no core 5 on this board
    focus(boot, "work")
    sh(boot, "work", "echo moved-$((3 * 3))", "moved-9")
    focus(boot, "open")
    sh(boot, "open", "pvctl info work | grep '^vcpu 0:'", r"vcpu 0: core 1, .*")

    assert not complaints(boot.text), boot.text[-3000:]
    # The vault never stopped: its lines go on, and the hypervisor never stopped it.
    assert not re.search(r"^pv: info: vm (open|vault): stopped", boot.text, re.M)
    assert vm_lines(boot.text, "vault")


def hv_after(boot, mark):
    return [line for line in boot.text[mark:].splitlines() if line.startswith("pv: ")]
