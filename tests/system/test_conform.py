"""test_conform.py: issue 10 (a): what unmodified software sees of the CPU. guests/conform checks
that timer interrupts are levels, that racing CPU_ONs answer ALREADY_ON once one was accepted,
and that the debug registers work per vCPU; each part prints its verdict (guests/conform/main.c)."""

import pytest

from harness import hv_lines, vm_lines


@pytest.mark.boot("conform", smp=2, timeout=180)
def test_conformance_guest(boot):
    out = boot.wait()
    lines = vm_lines(out, "conform")
    assert [line for line in lines if "FAIL" in line or "unexpected" in line] == []
    assert lines[-1] == "conform: 0 failures", lines
    parts = [line.split(" ok")[0] for line in lines if " ok" in line]
    assert parts == ["conform: timer level", "conform: debug", "conform: cpu_on race"], lines
    # Nothing the guest did is a fault the hypervisor had to log.
    assert [line for line in hv_lines(out) if "warn" in line or "PANIC" in line] == []
