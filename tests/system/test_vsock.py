"""test_vsock.py: vsock between VMs under the config's policy (docs/virtio.md), with Debian's own
kernel modules and socat in the Linux VMs and the vault's echo service (guests/vault).

The phone (configs/phone.dts): open (CID 3) and work (CID 4) may connect to the vault (CID 5) on
ports 5000 (attestation, test_attest.py) and 5100 (its echo) and to nothing else.
tests/configs/vsock2.dts: two Linux VMs, a (CID 3) and b (CID 4), that may talk to each other,
for the bulk transfer and a reboot in the middle of a stream."""

import re

import pytest

from harness import hv_lines, vm_lines
from test_linux import READY, complaints, focus, ready, run

VAULT_UP = r"^\[vault\] vault: vsock echo on port 5100"


def phone_up(boot):
    for vm in ("open", "work"):
        ready(boot, vm)
    boot.expect(VAULT_UP)


def refusals(text, vm):
    return [line for line in hv_lines(text) if f"vm {vm}: vsock: connect to" in line]


@pytest.mark.linux
@pytest.mark.boot("phone", smp=2, timeout=600, interactive=True)
def test_phone_open_and_work_reach_the_vault_at_once_and_not_each_other(boot):
    phone_up(boot)
    # What Linux says when its vsock driver binds to the device the hypervisor offers.
    focus(boot, "open")
    run(boot, "open", "echo cid=$(cat /sys/bus/virtio/devices/virtio0/device)",
        "cid=0x0013")  # device ID 19: vsock
    # (a) open streams lines through the vault's echo for ~8 s in the background...
    boot.send("(i=0; while [ $i -lt 40 ]; do echo open-$i; i=$((i+1)); sleep 0.2; done) | "
              "socat -t 5 - VSOCK-CONNECT:5:5100 > /tmp/echo.txt && echo open-done &\n")
    # ... while work does the same, at once.
    focus(boot, "work")
    mark = boot.mark()
    run(boot, "work", "(i=0; while [ $i -lt 20 ]; do echo work-$i; i=$((i+1)); done) | "
        "socat -t 5 - VSOCK-CONNECT:5:5100 | grep -c work-", "20", after=mark)
    work_done = boot.mark()
    focus(boot, "open")
    done = boot.expect(r"^\[open\] .*open-done[ \t\r]*\n", after=mark)  # not the typed command
    # work's answer came while open's stream was still going.
    assert done.start() > work_done
    run(boot, "open", "grep -c open- /tmp/echo.txt", "40")
    # (b) open -> work and work -> open are refused, with ECONNRESET, and logged.
    run(boot, "open", "vsockt rt 4 5000 1 64", "vsockt: connect: Connection reset by peer")
    focus(boot, "work")
    run(boot, "work", "vsockt rt 3 5000 1 64", "vsockt: connect: Connection reset by peer")
    assert any("connect to 4:5000 refused: not allowed by its policy" in line
               for line in refusals(boot.text, "open")), hv_lines(boot.text)
    assert any("connect to 3:5000 refused: not allowed by its policy" in line
               for line in refusals(boot.text, "work")), hv_lines(boot.text)
    # and the vault, which may be reached, still answers.
    run(boot, "work", "vsockt rt 5 5100 100 64", r"vsockt: rt 100 64 ticks \d+")
    # (d) open opens every stream it may and writes into each until it blocks, never reading
    # the echoes: the vault takes 8 streams per peer and refuses the rest, and each stream stops
    # at its credit, so neither the vault nor the hypervisor holds more.
    focus(boot, "open")
    mark = boot.mark()
    boot.send("vsockt flood 5 5100 40 &\n")
    m = boot.expect(r"^\[open\] .*vsockt: flood opened (\d+) of 40", after=mark)
    assert int(m.group(1)) == 8, m.group(0)
    boot.expect(r"^\[open\] .*vsockt: flood holding", after=mark)
    wrote = [int(w) for w in re.findall(r"^\[open\] .*vsockt: flood \d+ wrote (\d+)",
                                          boot.text[mark:], re.M)]
    assert len(wrote) == 8 and all(0 < w <= 1 << 20 for w in wrote), wrote
    # work is served at once while open's streams sit full.
    focus(boot, "work")
    run(boot, "work", "vsockt rt 5 5100 100 64", r"vsockt: rt 100 64 ticks \d+")
    assert "PANIC" not in boot.text
    assert not complaints(boot.text), complaints(boot.text)


@pytest.mark.linux
@pytest.mark.boot("vsock2", smp=2, timeout=600, interactive=True)
def test_16_mib_each_way_at_once_over_one_stream(boot):
    ready(boot, "a")
    ready(boot, "b")
    focus_b = "\x1d2"
    # b listens and sends its own 16 MiB back while it receives a's.
    boot.send(focus_b)
    run(boot, "b", "mount -t tmpfs -o size=48m tmpfs /tmp; echo b-tmp", "b-tmp")
    run(boot, "b", "dd if=/dev/urandom of=/tmp/out bs=1M count=16 2>/dev/null; "
        "sha256sum /tmp/out | cut -c1-16 > /tmp/out.sha; echo b-made", "b-made")
    boot.send("socat -t 60 VSOCK-LISTEN:6000 'OPEN:/tmp/out,rdonly!!CREATE:/tmp/in' && "
              "echo b-got $(sha256sum /tmp/in | cut -c1-16) sent $(cat /tmp/out.sha) &\n")
    boot.send("\x1d1")
    run(boot, "a", "mount -t tmpfs -o size=48m tmpfs /tmp; echo a-tmp", "a-tmp")
    run(boot, "a", "dd if=/dev/urandom of=/tmp/out bs=1M count=16 2>/dev/null; echo a-made",
        "a-made")
    mark = boot.mark()
    m = run(boot, "a", "socat -t 60 VSOCK-CONNECT:4:6000 'OPEN:/tmp/out,rdonly!!CREATE:/tmp/in' && "
            "echo a-got $(sha256sum /tmp/in | cut -c1-16) sent $(sha256sum /tmp/out | cut -c1-16)",
            r".*a-got ([0-9a-f]{16}) sent ([0-9a-f]{16})", after=mark)
    # b's line follows its prompt (a background job); the typed command has no hex after it.
    b = boot.expect(r"^\[b\] .*b-got ([0-9a-f]{16}) sent ([0-9a-f]{16})[ \t\r]*\n", after=mark)
    assert m.group(1) == b.group(2), "what b sent is not what a got"
    assert b.group(1) == m.group(2), "what a sent is not what b got"


@pytest.mark.linux
@pytest.mark.boot("vsock2", smp=2, timeout=600, interactive=True)
def test_reboot_with_a_busy_stream_ends_it_for_the_peer_and_the_device_works_again(boot):
    ready(boot, "a")
    ready(boot, "b")
    boot.send("\x1d1")
    run(boot, "a", "vsockt echo 6000 & echo a-listening", "a-listening")
    # b streams round trips through a's echo, far more than it can finish.
    boot.send("\x1d2")
    run(boot, "b", "(vsockt rt 3 6000 100000000 64; echo b-ended) & echo b-started", "b-started")
    run(boot, "b", "sleep 2; echo b-still-going", "b-still-going")
    boot.send("\x1d1")
    mark = boot.mark()
    boot.send("reboot -f\n")
    # a's reset closes the stream at once: b's vsockt sees it end.
    boot.expect(r"^\[b\] .*vsockt: read: end of stream", after=mark)
    boot.expect(r"^pv: info: vm a: reset", after=mark)
    ready(boot, "a", after=mark)
    # After its reboot a's device works: it serves again and b reaches it.
    run(boot, "a", "vsockt echo 6000 & echo a-again", "a-again")
    boot.send("\x1d2")
    run(boot, "b", "vsockt rt 3 6000 10 64", r"vsockt: rt 10 64 ticks \d+")
