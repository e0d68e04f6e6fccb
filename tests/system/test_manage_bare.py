"""test_manage_bare.py: the management service (docs/manage.md) against a hostile bare-metal
client, guests/mgmtpoke, in one boot of tests/configs/manage-bare.dts (about 40 s: the victim's
watch).

Proven: (f) every malformed, refused, oversized and truncated request of mgmtpoke's gets exactly
the answer the wire format gives it, and the service goes on serving the same stream; the
refusals are in the log (the denied STOP of a VM mgmtpoke may not manage, the overruns), and
`noright`, a VM with a vsock device but no `manages`, cannot even connect. (e) 200 cycles of
STOP, START and RESET of ticker (guests/idle, a line a second), every one answered 0 and logged
once, leave the stage-2 table pool as it was and count 400 boots; ticker runs and prints after
them; PAUSE silences it (no line of its while paused, more than two of its ticks long), and
RESUME brings it back with the ticks that fell due meanwhile, none lost. Beside it all the
whole time, the victim (guests/longvictim, on ticker's core) checks its RAM every 0.5 s: it runs
to its end with its pattern intact, and the hypervisor blames no VM but the two attackers. No
hypervisor fault (no PANIC, no error line) anywhere."""

import re

import pytest

from harness import hv_lines, longvictim_unharmed, vm_lines

CYCLES = 200  # guests/mgmtpoke/main.c
NOT_ALLOWED = "pv: warn: vm noright: vsock: connect to 2:700 refused: not allowed by its policy"

# mgmtpoke's cases in its order and the exact end of each line (`mgmtpoke: <case>: <this>`).
CASES = [
    ("two-requests", "reset"),  # one packet with two requests: more than the credit
    ("oversized", "reset"),     # 40 bytes in one packet
    ("bad-magic", "status -1"),
    ("unknown-op", "status -2"),
    ("op-zero", "status -2"),
    ("name-no-nul", "status -3"),
    ("name-junk", "status -3"),
    ("no-vm", "status -3"),
    ("denied", "status -4"),
    ("bad-mask", "mask 0x0 status -6, mask 0x80000000 status -6"),
    ("wrong-state", "status -5"),  # RESUME of a running VM
    ("truncated", "no answer, closed"),
    ("wrong-port", "refused"),
    ("ok-list", "status -1, then status 0, 32 bytes, VMs: ticker running"),
    ("flood", "200 of 200 answered"),
    ("log", None),  # its positions vary: checked below
]
CASE = re.compile(r"^mgmtpoke: ([a-z-]+): (.*)$")
LOG = re.compile(r"^status 0, first (\d+), next (\d+), from (\d+), (\d+) bytes$")
CYCLES_LINE = re.compile(r"^mgmtpoke: cycles: (\d+) of (\d+), tables free (\d+) -> (\d+), "
                         r"starts (\d+) -> (\d+)$")
PAUSED = re.compile(r"^\[mgmtpoke\] mgmtpoke: paused at ticker's (\d+) ms: status 0$")
RESUMING = re.compile(r"^\[mgmtpoke\] mgmtpoke: resuming at ticker's (\d+) ms, paused$")
TICK = re.compile(r"^\[ticker\] idle: tick (\d+)$")


def managed(op, target="ticker", caller="mgmtpoke"):
    """The service's line for one operation it carried out (hv/core/manage.c)."""
    return f"pv: info: vm {target}: {op} by {caller}"


def index_of(lines, line, after=0):
    assert line in lines[after:], f"no line {line!r} after line {after}"
    return lines.index(line, after)


@pytest.mark.boot("manage-bare", smp=2, timeout=150)
def test_mgmtpoke_is_refused_cycles_and_pauses_without_harm(boot):
    out = boot.wait()
    assert boot.returncode == 0, "QEMU died"
    hv = hv_lines(out)
    assert not [line for line in hv if line.startswith(("pv: PANIC", "pv: error"))]
    assert hv[-1] == "pv: info: every VM is off: powering off"
    poke = vm_lines(out, "mgmtpoke")
    assert not [line for line in poke if line.startswith("guest: ")], "mgmtpoke took a fault"
    assert poke[-1] == "mgmtpoke: done"

    # (f) Each case's exact answer, in order.
    got = [m.groups() for m in map(CASE.match, poke) if m and m.group(1) in dict(CASES)]
    assert [name for name, _ in got] == [name for name, _ in CASES]
    wrong = [(name, answer, want) for (name, answer), (_, want) in zip(got, CASES)
             if want is not None and answer != want]
    assert not wrong, f"cases answered wrongly (case, got, want): {wrong}"
    log = LOG.match(dict(got)["log"])
    assert log, f"log: {dict(got)['log']}"
    first, nxt, start, size = map(int, log.groups())
    assert start == first and size == min(nxt - first, 1024) and size > 0

    # The refusals were really made, and logged: mgmtpoke waits out the rate limit before the
    # two it needs logged. The no-right VM never reached the service.
    assert hv.count("pv: warn: vm mgmtpoke: manage: stop victim refused: not allowed") == 1
    assert hv.count("pv: warn: vm mgmtpoke: manage: request overrun: stream reset") == 2
    assert hv.count(managed("resume") + ": wrong state") == 1
    assert vm_lines(out, "noright") == ["mgmtpoke: connect: refused"]
    assert hv.count(NOT_ALLOWED) == 1
    assert not [line for line in hv if "by noright" in line or "vm victim: " in line and
                " by " in line], "the service acted for noright or on the victim"

    # (e) 200 cycles, every request answered 0 and carried out once; nothing leaked.
    m = [m for m in map(CYCLES_LINE.match, poke) if m]
    assert len(m) == 1, "no cycles line: " + "".join(l for l in poke if "cycles" in l)
    done, total, free0, free1, starts0, starts1 = map(int, m[0].groups())
    assert (done, total) == (CYCLES, CYCLES)
    assert free1 == free0, "stage-2 table pages leaked"
    assert starts1 == starts0 + 2 * CYCLES
    for op, n in (("stop", CYCLES + 1), ("start", CYCLES), ("reset", CYCLES),
                  ("pause", 1), ("resume", 1)):
        assert hv.count(managed(op)) == n, op
    assert hv.count("pv: info: vm ticker: stopped: by management") == CYCLES + 1
    assert hv.count("pv: info: vm ticker: started") == CYCLES
    assert hv.count("pv: info: vm ticker: reset clean") == CYCLES
    assert len([line for line in hv if line.endswith(": wrong state")]) == 1
    assert "mgmtpoke: ticker after the cycles: running" in poke
    assert "mgmtpoke: last stop: status 0" in poke

    # Ticker runs after the cycles: its fresh boot's ticks, before the pause.
    lines = out.splitlines()
    after = index_of(lines, f"[mgmtpoke] {m[0].group(0)}")
    paused = [i for i in range(after, len(lines)) if PAUSED.match(lines[i])]
    assert len(paused) == 1, "no pause, or it was refused"
    paused = paused[0]
    before = [int(TICK.match(l).group(1)) for l in lines[after:paused] if TICK.match(l)]
    assert before[:2] == [1, 2], f"ticker's ticks between the cycles and the pause: {before}"

    # Paused: not one line of ticker's until the resume was sent, over more than two of its
    # ticks; then the ticks that fell due meanwhile, at once (before mgmtpoke's next line,
    # 300 ms on), and none lost or repeated.
    resuming = [i for i in range(paused, len(lines)) if RESUMING.match(lines[i])]
    assert len(resuming) == 1, "no resume, or ticker was not paused before it"
    resuming = resuming[0]
    t0, t1 = int(PAUSED.match(lines[paused]).group(1)), int(RESUMING.match(lines[resuming]).group(1))
    assert t1 - t0 >= 2000, f"paused from {t0} to {t1} ms of ticker's time"
    assert not [l for l in lines[paused:resuming] if l.startswith("[ticker] ")]
    catch_up_end = index_of(lines, "[mgmtpoke] mgmtpoke: 300 ms after the resume", resuming)
    caught_up = [int(TICK.match(l).group(1)) for l in lines[resuming:catch_up_end]
                 if TICK.match(l)]
    # Due at about n s of its uptime (idle counts from its main, a few ms on): a margin of 50.
    due = [n for n in range(1, 100) if t0 + 50 < n * 1000 < t1 - 50]
    assert len(due) >= 2 and set(due) <= set(caught_up), \
        f"paused {t0}..{t1} ms: ticks {due} were due, {caught_up} came after the resume"
    ticks = [int(TICK.match(l).group(1)) for l in lines[after:] if TICK.match(l)]
    assert ticks == list(range(1, len(ticks) + 1)), f"ticker's ticks since the cycles: {ticks}"

    # The victim beside ticker watched all of it and noticed nothing.
    assert lines.index("[victim] victim: tick 1") < after
    assert lines.index("[victim] victim: done") > index_of(lines, "[mgmtpoke] mgmtpoke: done")
    longvictim_unharmed(out, "(?:mgmtpoke|noright)")
