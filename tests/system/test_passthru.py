"""test_passthru.py: issue 3, physical devices on QEMU: VM rtc is given the board's PL031 RTC
(tests/configs/rtc.dts); its match interrupts (INTID 34) arrive through the virtual GIC with the HW
bit, each EOIed once by the guest, which is what deactivates the physical SPI; one left active at
SYSTEM_RESET comes again after it. VM nodev runs the same guest (guests/rtc) without the device
and gets a data abort, logged, while the hypervisor and VM rtc go on."""

import pytest

from harness import hv_lines, vm_lines


@pytest.mark.boot("rtc", smp=2, timeout=60)
def test_rtc_interrupts_through_the_vgic_and_no_device_for_the_other_vm(boot):
    out = boot.wait()
    after_eoi = "interrupt 34, RTCMIS 1, then pending 0 active 0"
    assert vm_lines(out, "rtc") == [
        "rtc: boot 1: PL031 at 0x9010000",
        f"rtc: round 1: {after_eoi}",
        f"rtc: round 2: {after_eoi}",  # only if round 1's EOI deactivated the physical SPI
        f"rtc: round 3: {after_eoi}",
        "rtc: 3 interrupts",
        "rtc: interrupt 34 taken, resetting with it active",
        "rtc: boot 2: PL031 at 0x9010000",
        f"rtc: after reset: {after_eoi}",
        "rtc: ok",
    ]
    assert vm_lines(out, "nodev") == ["rtc: no device: data abort at 0x9010000 (EC 0x25)",
                                      "rtc: done"]
    log = hv_lines(out)
    assert any(line.startswith("pv: warn: vm nodev: data abort at IPA 0x9010000 ")
               for line in log), log
    assert "pv: info: vm rtc: reset" in log
    assert log[-1] == "pv: info: every VM is off: powering off"
