"""test_irq.py: issue 3 on QEMU: virtual GIC, timers and scheduling. Timer interrupts arrive on
time with VMs sharing a core; SGIs reach vCPUs on the same and other cores; a VM can have more
vCPUs than cores; a high-priority periodic task never misses next to a spinning VM; a VM that
masks interrupts cannot starve its neighbour; idle cores sleep; only a `pmu;` VM has the PMU.
The guests are guests/{timer,sgi,flood,rt,hog,spinner,idle,pmu}; the configs tests/configs/*.dts."""

import os
import re
import time

import pytest

from harness import vm_lines

TIMER_OK = ["timer: ok", "timer: ptimer ok"]


def no_complaints(out):
    """Guests flag every failed check with BAD and every stray exception with `unexpected`."""
    assert not [line for line in out.splitlines() if re.search(r"\bBAD\b|unexpected", line)]


@pytest.mark.boot("timers", smp=1, timeout=120, icount=True)
def test_timer_deadlines_on_a_shared_core(boot):
    out = boot.wait()
    no_complaints(out)
    ta, tb = vm_lines(out, "ta"), vm_lines(out, "tb")
    per_vcpu = [line for line in ta if line.startswith("timer: vcpu")]
    assert [line.split(",")[0] for line in per_vcpu] == [
        "timer: vcpu 0: 50 interrupts", "timer: vcpu 1: 50 interrupts"]
    assert re.fullmatch(r"timer: 100 interrupts, max late \d+ ticks \(tick = \d+ Hz\)", ta[-3])
    assert re.fullmatch(r"timer: 50 interrupts, max late \d+ ticks \(tick = \d+ Hz\)", tb[-3])
    assert ta[-2:] == TIMER_OK and tb[-2:] == TIMER_OK


@pytest.mark.boot("sgi", smp=2, timeout=60)
def test_sgis_across_cores_and_on_one_core(boot):
    out = boot.wait()
    no_complaints(out)
    assert vm_lines(out, "sgi") == [
        "sgi: 3 vcpus, 10 rounds",
        "sgi: vcpu 0 got 30",  # 10 from each vCPU, itself included; a broadcast excludes it
        "sgi: vcpu 1 got 31",
        "sgi: vcpu 2 got 31",
        "sgi: ok",
    ]


@pytest.mark.boot("overcommit", smp=2, timeout=90)
def test_four_vcpus_on_two_cores(boot):
    out = boot.wait()
    no_complaints(out)
    assert vm_lines(out, "over") == ["sgi: 4 vcpus, 10 rounds"] + [
        f"sgi: vcpu {n} got {40 + (n > 0)}" for n in range(4)] + ["sgi: ok"]


@pytest.mark.boot("flood", smp=1, timeout=60)
def test_more_pending_interrupts_than_list_registers(boot):
    out = boot.wait()
    no_complaints(out)
    lines = vm_lines(out, "flood")
    assert lines[-1] == "flood: ok", lines
    order = [int(n) for n in lines[-2].split(" order ")[1].split()]
    assert sorted(order) == list(range(4)) + list(range(40, 52))  # each once


@pytest.mark.boot("rt", smp=1, timeout=120, icount=True)
def test_high_priority_periodic_task_never_misses(boot):
    out = boot.wait()  # rt ends after 500 ms, hog after 3 s of spinning
    no_complaints(out)
    rt = vm_lines(out, "rt")
    assert re.fullmatch(r"rt: 500 periods, 0 missed, max late \d+ ticks", rt[-2]), rt
    assert rt[-1] == "rt: ok"
    hog = vm_lines(out, "hog")
    assert hog[-1] == "hog: done"  # the spinner below it still got the rest of the core
    assert all(int(line.split()[1]) > 0 for line in hog if line.endswith(" loops"))


@pytest.mark.boot("starve", smp=1, timeout=60, interactive=True)  # the spinner never ends
def test_spinner_with_interrupts_masked_cannot_starve_its_neighbour(boot):
    boot.expect(r"^\[timer\] timer: ptimer .*\n")  # the whole line, not a half-written one
    out = boot.text
    no_complaints(out)
    timer = vm_lines(out, "timer")
    # All 50 deadlines were taken (how late depends on the slice length: not asserted here).
    assert re.fullmatch(r"timer: 50 interrupts, max late \d+ ticks \(tick = \d+ Hz\)",
                        timer[-3]), timer
    assert timer[-1] == "timer: ptimer ok"
    assert vm_lines(out, "spinner") == ["spinner: masking interrupts and spinning forever"]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (proc(5): fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sleep_until(boot, t):
    time.sleep(max(0.0, boot.started_at + t - time.monotonic()))


@pytest.mark.boot("idle", smp=2, timeout=60, interactive=True)  # the guests never end
def test_idle_cores_sleep(boot):
    boot.expect(r"^\[idle\] idle: 2 vcpus waiting$")
    boot.expect(r"^\[idle2\] idle: 1 vcpus waiting$")
    sleep_until(boot, 2)
    before = cpu_seconds(boot.pid)
    sleep_until(boot, 12)
    used = cpu_seconds(boot.pid) - before
    out = boot.text
    no_complaints(out)
    # The once-a-second timers kept working while the cores slept.
    assert "idle: tick 9" in vm_lines(out, "idle") and "idle: tick 9" in vm_lines(out, "idle2")
    assert used < 0.05 * 10, f"QEMU used {used:.2f} s of CPU in 10 s of idle guests"


@pytest.mark.boot("pmu", smp=2, timeout=60)
def test_pmu_only_for_the_vm_that_asks(boot):
    out = boot.wait()
    no_complaints(out)
    assert vm_lines(out, "plain") == ["pmu: undef"]
    counted = vm_lines(out, "counted")
    assert counted[-1] == "pmu: allowed", counted
