"""test_boot.py: milestone 1 on QEMU: VMs boot side by side, PSCI works, VMs are isolated,
power and crashes stay inside one VM. The guests are guests/*; the configs tests/configs/*.dts."""

import re

import pytest

from harness import hv_lines, line_index, vm_lines

HELLO = [f"hello: line {i}" for i in range(1, 6)] + ["hello: done"]
TICKER = [f"tick {i}" for i in range(1, 31)] + ["ticker: done"]


@pytest.mark.boot("two", smp=2, timeout=60)
def test_two_vms_print_tagged_lines_and_power_off(boot):
    out = boot.wait()  # QEMU exits by itself once both VMs called SYSTEM_OFF
    assert vm_lines(out, "alpha") == HELLO
    assert vm_lines(out, "beta") == TICKER
    assert boot.returncode == 0


@pytest.mark.boot("smp", smp=4, timeout=60)
def test_smp_psci_and_cpu_on_race(boot):
    out = boot.wait()
    lines = vm_lines(out, "smp")
    assert [line for line in lines if "BAD" in line] == []
    assert "smp: hvc calls ok" in lines
    assert "smp: smc calls ok" in lines
    for n in range(4):
        assert lines.count(f"smp: vcpu {n} up") == 1, f"vcpu {n}"
    assert "smp: race ok" in lines
    for n in range(1, 4):
        assert f"smp: vcpu {n} off" in lines
    assert "smp: all checks ok" in lines
    assert lines[-1] == "smp: done"


# What the attacker must report (guests/attacker/main.c): one read per 4 KiB page of the 4 GiB
# space minus its own 16 MiB, the UART page, the GIC distributor (16 pages) and its vCPU's
# redistributor frames (32 pages), plus 8 pages above 4 GiB; one write per MiB of the same (the
# distributor's first page is the only MiB-aligned device page), plus the 6 high pages that are
# MiB-aligned.
ATTACKER_READS = (1 << 20) - 4096 - 1 - 16 - 32 + 8
ATTACKER_WRITES = 4096 - 16 - 1 - 1 + 6


@pytest.mark.boot("isolation", smp=2, timeout=240)
def test_isolation_attacker_faults_everywhere_victim_intact(boot):
    out = boot.wait()
    attacker = vm_lines(out, "attacker")
    assert f"attacker: swept {ATTACKER_READS} pages, {ATTACKER_READS} faults, 0 leaks" in attacker
    assert f"attacker: wrote {ATTACKER_WRITES} pages, {ATTACKER_WRITES} faults, 0 leaks" \
        in attacker
    assert not [line for line in attacker if "LEAK" in line or "unexpected" in line]

    victim = vm_lines(out, "victim")
    ticks = [line for line in victim if line.startswith("victim: tick")]
    assert ticks == [f"victim: tick {i}" for i in range(1, 21)]
    for i in range(1, 21):  # every tick is followed by its check
        assert victim[victim.index(f"victim: tick {i}") + 1] == "victim: pattern intact"
    assert victim[-1] == "victim: done"

    assert [line for line in hv_lines(out) if "vm attacker" in line], \
        "no pv: log line names vm attacker"


@pytest.mark.boot("power", smp=3, timeout=60)
def test_power_reset_and_off_stay_inside_one_vm(boot):
    out = boot.wait()
    assert vm_lines(out, "resetter") == [
        "resetter: boot 1",
        "resetter: boot 2", "resetter: boot 2: no interrupt of the last boot",
        "resetter: boot 3", "resetter: boot 3: no interrupt of the last boot",
        "resetter: done"]
    assert vm_lines(out, "steady") == TICKER  # never restarted: one "tick 1", nothing lost
    assert vm_lines(out, "early") == HELLO
    # early powered off long before steady finished: steady kept running after it.
    assert line_index(out, "[steady] ticker: done") > line_index(out, "[early] hello: done")


@pytest.mark.boot("crash", smp=2, timeout=60)
def test_crashing_vm_is_stopped_alone(boot):
    out = boot.wait()
    crasher = vm_lines(out, "crasher")
    assert crasher[:4] == [
        "crasher: undef caught",
        "crasher: abort caught",
        "crasher: hvc unknown -> -1",
        "crasher: smc unknown -> -1",
    ]
    assert re.fullmatch(r"crasher: uart 0xf00 -> (0x[0-9a-f]+|abort \(esr 0x[0-9a-f]+\))",
                        crasher[4])
    assert crasher[5:] == ["crasher: vbar to 0x1000, faulting"]  # and no "still alive"

    stopped = [line for line in hv_lines(out) if "vm crasher" in line and "stopped" in line]
    assert stopped, "no pv: line says vm crasher was stopped"
    assert vm_lines(out, "bystander") == TICKER
    assert line_index(out, "[bystander] ticker: done") > line_index(out, stopped[0])


@pytest.mark.boot("shared", smp=1, timeout=60)
def test_two_vms_share_one_core(boot):
    out = boot.wait()  # the ticker never traps to yield, but its SYSTEM_OFF frees the core
    assert vm_lines(out, "alpha") == HELLO
    assert vm_lines(out, "beta") == TICKER
