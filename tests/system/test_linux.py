"""test_linux.py: Debian's own arm64 kernel with a busybox initramfs (build/linux, `make linux`),
unmodified, under pocketvisor: SMP, the phone with two Linux VMs beside a bare-metal vault, per-VM
reboot, power-off and panic, isolation through /dev/mem, and idle cost. Configs:
tests/configs/linux.dts and configs/phone.dts."""

import re
import time

import pytest

from harness import hv_lines, vm_lines

READY = "pocketvisor: linux ready"
FOCUS = "\x1d"  # Ctrl-]: the next digit moves keyboard input to that VM (README)
PHONE = {"open": 1, "work": 2, "vault": 3}  # VM numbers, in config order


def ready(boot, vm, since=0):
    return boot.expect(rf"^\[{vm}\] {READY}", since=since)


def run(boot, vm, command, result, since=None):
    """Types `command` into the focused VM's shell and waits for a line matching `result`.
    `result` should not match the echoed command itself."""
    since = boot.mark() if since is None else since
    boot.send(command + "\n")
    return boot.expect(rf"^\[{vm}\] {result}\s*$", since=since)


def focus(boot, vm):
    boot.send(FOCUS + str(PHONE[vm]))
    boot.expect(rf"keyboard input goes to vm {vm}", since=boot.mark() - 200)


def complaints(text):
    return [line for line in text.splitlines()
            if re.search(r"WARNING|Oops|BUG|[Uu]nhandled|Kernel panic", line)]


@pytest.mark.boot("linux", smp=2, timeout=180, interactive=True)
def test_linux_boots_smp_with_ticking_timers_and_a_clean_log(boot):
    ready(boot, "linux")
    run(boot, "linux", "echo cpus=$(nproc)", "cpus=2")
    # The arch timer's line: its count per CPU, both must be ticking.
    m = run(boot, "linux", "grep arch_timer /proc/interrupts",
            r"\s*\d+:\s+(\d+)\s+(\d+)\s+GICv3\s+27 Level\s+arch_timer")
    assert int(m.group(1)) > 0 and int(m.group(2)) > 0, m.group(0)
    mark = boot.mark()
    run(boot, "linux", "dmesg | grep -cE 'WARNING|Oops|BUG|nhandled'; echo dmesg-$((40+2))",
        "dmesg-42", since=mark)
    counted = vm_lines(boot.text[mark:], "linux")
    assert "0" in counted, counted  # grep -c printed 0 matches
    assert not complaints(boot.text), complaints(boot.text)
    # Steal time reaches Linux through PV time (SMCCC PV_TIME_ST).
    run(boot, "linux", "dmesg | grep -o 'using stolen time PV'", "using stolen time PV")


def phone_up(boot):
    for vm in ("open", "work"):
        ready(boot, vm)
    boot.expect(r"^\[vault\] demo: up")


@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_typed_command_runs_only_in_the_focused_vm(boot):
    phone_up(boot)
    focus(boot, "work")
    mark = boot.mark()
    run(boot, "work", "echo typed-$((6*7))", "typed-42")
    focus(boot, "open")
    run(boot, "open", "echo open-$((6*7))", "open-42")
    after = boot.text[mark:]
    assert "typed-42" not in " ".join(vm_lines(after, "open"))
    assert "open-42" not in " ".join(vm_lines(after, "work"))


@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_reboot_and_poweroff_act_on_one_vm(boot):
    phone_up(boot)
    focus(boot, "work")
    mark = boot.mark()
    boot.send("reboot -f\n")
    boot.expect(r"^pv: info: vm work: reset", since=mark)
    ready(boot, "work", since=mark)  # booted again
    run(boot, "work", "echo again-$((6*7))", "again-42")
    mark = boot.mark()
    boot.send("poweroff -f\n")
    boot.expect(r"^pv: info: vm work: stopped: powered off", since=mark)
    # The others never noticed: open still answers, the vault still echoes.
    focus(boot, "open")
    run(boot, "open", "echo still-$((6*7))", "still-42")
    focus(boot, "vault")
    run(boot, "vault", "ping", "echo: ping")
    assert [line for line in hv_lines(boot.text) if "vm open: " in line and "stopped" in line] == []
    assert boot.returncode is None


@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_kernel_panic_in_open_leaves_the_others_running(boot):
    phone_up(boot)
    focus(boot, "open")
    mark = boot.mark()
    boot.send("echo c > /proc/sysrq-trigger\n")
    boot.expect(r"^\[open\] .*Kernel panic - not syncing", since=mark)
    focus(boot, "work")
    run(boot, "work", "echo alive-$((6*7))", "alive-42")
    focus(boot, "vault")
    run(boot, "vault", "ping", "echo: ping")


# Guest-physical ranges outside the open VM's RAM (0x40000000 + 256 MiB) and its devices (GICD
# 64 KiB at 0x08000000, GICR 2 x 128 KiB at 0x080a0000, PL011 4 KiB at 0x09000000), up to the
# 4 GiB IPA space. Everything there is someone else's or nothing: each access must fault.
OUTSIDE = [(0x00000000, 0x08000000), (0x08010000, 0x00090000), (0x080e0000, 0x00f20000),
           (0x09001000, 0x36fff000), (0x50000000, 0xb0000000)]


@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_open_cannot_reach_other_memory_through_dev_mem(boot):
    phone_up(boot)
    focus(boot, "open")
    args = " ".join(f"{start:#x} {size:#x}" for start, size in OUTSIDE)
    m = run(boot, "open", f"memprobe {args}",
            r"memprobe: (\d+) pages, (\d+) faulted, (\d+) read")
    pages, faulted, read = map(int, m.groups())
    assert pages > 0 and faulted == pages and read == 0, m.group(0)
    warned = [line for line in hv_lines(boot.text) if "vm open: " in line and "abort" in line]
    assert warned, "the hypervisor did not log the faults as open's"
    focus(boot, "work")  # and the machine went on
    run(boot, "work", "echo fine-$((6*7))", "fine-42")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_idle_costs_little_host_cpu(boot):
    phone_up(boot)
    time.sleep(5)  # let the boots' tails (deferred work, RCU) settle
    before, t0 = cpu_seconds(boot.pid), time.monotonic()
    time.sleep(20)
    used = (cpu_seconds(boot.pid) - before) / (time.monotonic() - t0)
    print(f"idle phone: QEMU used {used:.1%} of one host core")
    assert used < 0.10, f"{used:.1%} of a core while every VM idles"
