"""test_linux_vsock.py: vsock in the Linux guests with no hypervisor: Debian's own vsock modules
load cleanly at boot, and over vsock_loopback (`pv.loopback`, harness.NATIVE "linux-loopback";
CID 1 is the guest itself) Debian's socat carries a stream, 16 MiB each way at once over one
stream arrive intact, and vsockt (guests/linux/vsockt.c) times round trips against its echo
server, reports a refused connect, and floods a sink. The socat lines are the ones to reuse
between VMs under pocketvisor (there: the peer's CID instead of 1)."""

import re

import pytest

PROMPT = r"^/ # "
VIRTIO_MODULES = ["virtio_mmio", "vsock", "vmw_vsock_virtio_transport_common",
                  "vmw_vsock_virtio_transport"]
MIB16 = 16 << 20

# Basic: a listener that writes what one connection sends into a file, and a client sending one
# line from its stdin.
BASIC_LISTEN = "socat -u VSOCK-LISTEN:5000 CREATE:/tmp/got"
BASIC_SEND = "echo hello-vsock | socat -u - VSOCK-CONNECT:1:5000"
# Both ways at once over one stream: each end sends one file and writes what it receives into
# another (socat's dual address READ!!WRITE). After its own file's EOF an end half-closes the
# stream and, with -t 60, waits up to 60 s for the peer's EOF; it exits when both are done.
# (Quoted: an interactive bash would expand the !!.)
BIDIR_LISTEN = "socat -t 60 VSOCK-LISTEN:6000 'OPEN:/tmp/a,rdonly!!CREATE:/tmp/b_in'"
BIDIR_CONNECT = "socat -t 60 'OPEN:/tmp/b,rdonly!!CREATE:/tmp/a_in' VSOCK-CONNECT:1:6000"


def shell(boot, command, answer):
    """Types `command` at the busybox prompt; returns the match of `answer` (a regex, which must
    not match the echoed command) in the output that follows. End `answer` with \\n, not $: the
    output arrives in pieces, and $ would match a line cut short at the end of what came so far."""
    typed_at = boot.mark()
    boot.send(command + "\n")
    return boot.expect(answer, after=typed_at)


def up(boot):
    boot.expect(r"^pocketvisor: linux ready\n")
    boot.expect(PROMPT)


@pytest.mark.linux
@pytest.mark.boot("linux", native=True, smp=1, timeout=60, interactive=True)
def test_vsock_modules_load_quietly_without_a_device(boot):
    """No virtio-mmio device and no pv.loopback: the four virtio vsock modules are loaded, the
    loopback one is not, /init printed nothing about them and the kernel log has no module error."""
    up(boot)
    loaded = shell(boot, "echo \"mods=$(cut -d' ' -f1 /proc/modules | sort | tr '\\n' ,)\"",
                   r"^mods=(\S*)\n").group(1)
    assert loaded.rstrip(",").split(",") == sorted(VIRTIO_MODULES)
    bad = shell(boot, "echo \"bad=$(dmesg | grep -ciE 'module|symbol|taint|insmod|fail')\"",
                r"^bad=(\d+)\n")
    assert bad.group(1) == "0", shell(boot, "dmesg | tail -20", PROMPT)
    assert shell(boot, "echo \"vsock=$(dmesg | grep -c 'Registered PF_VSOCK')\"",
                 r"^vsock=(\d+)\n").group(1) == "1"
    assert "insmod" not in boot.text.split("pocketvisor: linux ready")[0]


@pytest.mark.linux
@pytest.mark.boot("linux-loopback", native=True, smp=2, timeout=90, interactive=True)
def test_socat_over_vsock_loopback_one_stream_both_ways(boot):
    up(boot)
    assert shell(boot, "grep -c '^vsock_loopback ' /proc/modules", r"^(\d+)\n").group(1) == "1"
    # A line, one way.
    shell(boot, BASIC_LISTEN + " &", PROMPT)
    got = shell(boot, f"sleep 1; {BASIC_SEND}; wait; echo \"got=$(cat /tmp/got)\"",
                r"^got=(.*)\n")
    assert got.group(1) == "hello-vsock"
    # 16 MiB each way at once. The rootfs has room for two such files only: /tmp on its own
    # tmpfs holds the four.
    shell(boot, "mount -t tmpfs -o size=80m tmpfs /tmp && for f in a b; do "
          "dd if=/dev/urandom of=/tmp/$f bs=1M count=16 2>/dev/null; done; echo \"made=$?\"",
          r"^made=0\n")
    mark = boot.mark()
    boot.send(f"{BIDIR_LISTEN} & L=$!; sleep 1; read t0 x </proc/uptime; "
              f"{BIDIR_CONNECT} & C=$!; "
              "while kill -0 $L $C 2>/dev/null; do "
              "echo \"sizes $(stat -c %s /tmp/a_in 2>/dev/null) "
              "$(stat -c %s /tmp/b_in 2>/dev/null)\"; "
              "sleep 0.2; done; wait $L; l=$?; wait $C; c=$?; read t1 x </proc/uptime; "
              "echo \"exits $l $c took $t0 $t1\"\n")
    m = boot.expect(r"^exits (\d+) (\d+) took ([\d.]+) ([\d.]+)\n", after=mark)
    assert m.group(1, 2) == ("0", "0"), m.group(0)
    print(f"16 MiB each way over one stream: {float(m.group(4)) - float(m.group(3)):.1f} s")
    # Both directions moved at the same time: some sample caught both files part-written.
    samples = [tuple(map(int, s)) for s in
               re.findall(r"^sizes (\d+) (\d+)$", boot.text[mark:m.start()], re.M)]
    assert any(0 < a < MIB16 and 0 < b < MIB16 for a, b in samples), samples
    sums = shell(boot, "echo \"sums $(sha256sum /tmp/a /tmp/a_in /tmp/b /tmp/b_in | cut -c1-64 | "
                 "tr '\\n' ' ')\"", r"^sums (\w+) (\w+) (\w+) (\w+) \n")
    assert sums.group(1) == sums.group(2) and sums.group(3) == sums.group(4), sums.group(0)
    assert sums.group(1) != sums.group(3)
    sizes = shell(boot, "echo \"len $(stat -c %s /tmp/a_in) $(stat -c %s /tmp/b_in)\"",
                  r"^len (\d+) (\d+)\n")
    assert sizes.groups() == (str(MIB16), str(MIB16))


@pytest.mark.linux
@pytest.mark.boot("linux-loopback", native=True, smp=2, timeout=90, interactive=True)
def test_vsockt_round_trips_refusal_and_flood(boot):
    up(boot)
    shell(boot, "vsockt echo 7000 &", PROMPT)
    m = shell(boot, "sleep 1; vsockt rt 1 7000 100 64; echo \"rc=$?\"",
              r"^vsockt: rt 100 64 ticks (\d+)\n(?:.*\n)*?rc=(\d+)\n")
    assert int(m.group(1)) > 0 and m.group(2) == "0", m.group(0)
    print(f"100 round trips of 64 bytes over loopback: {m.group(1)} ticks")
    # Nobody listens on 7001: loopback answers the request with RST, as pocketvisor does for a
    # connection its policy refuses.
    m = shell(boot, "vsockt rt 1 7001 1 1; echo \"rc=$?\"", r"^(vsockt: .*)\n(?:.*\n)*?rc=(\d+)\n")
    assert m.groups() == ("vsockt: connect: Connection reset by peer", "1")
    # Flood a sink that never reads: every connection is accepted and fills to its credit.
    shell(boot, "vsockt sink 8000 &", PROMPT)
    mark = boot.mark()
    boot.send("sleep 1; vsockt flood 1 8000 4 &\n")
    boot.expect(r"vsockt: flood holding\n", after=mark)
    # Not anchored at ^: lines of background jobs may follow the prompt on its line.
    out = boot.text[mark:]
    assert re.search(r"vsockt: flood opened 4 of 4$", out, re.M), out
    wrote = [int(n) for n in re.findall(r"vsockt: flood \d+ wrote (\d+)$", out, re.M)]
    assert len(wrote) == 4 and all(n > 0 for n in wrote), out
    boot.expect(r"vsockt: sink accepted 4$", after=mark)  # the sink's lines may come later
