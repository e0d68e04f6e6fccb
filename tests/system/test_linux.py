"""test_linux.py: Debian's own arm64 kernel with a busybox initramfs (build/linux, `make linux`),
unmodified: first on the bare board with no hypervisor (the baseline), then under pocketvisor:
SMP, the phone with two Linux VMs beside a bare-metal vault, per-VM reboot, power-off and panic,
isolation through /dev/mem, and idle cost. Configs: tests/configs/linux.dts, configs/phone.dts.
Every test here is skipped when build/linux is missing; `make check` builds it first."""

import re
import time

import pytest

from harness import hv_lines, vm_lines

READY = "pocketvisor: linux ready"
FOCUS = "\x1d"  # Ctrl-]: the next digit moves keyboard input to that VM (README)
PHONE = {"open": 1, "work": 2, "vault": 3}  # VM numbers, in config order


def ready(boot, vm, after=0):
    return boot.expect(rf"^\[{vm}\] {READY}", after=after)


def run(boot, vm, command, result, after=None):
    """Types `command` into the focused VM's shell and waits for a line matching `result`.
    `result` should not match the echoed command itself."""
    after = boot.mark() if after is None else after
    boot.send(command + "\n")
    return boot.expect(rf"^\[{vm}\] {result}\s*$", after=after)


def focus(boot, vm):
    mark = boot.mark()
    boot.send(FOCUS + str(PHONE[vm]))
    boot.expect(rf"^pv: info: vm {vm}: has the keyboard now", after=mark)


def complaints(text):
    """Kernel complaints on the console, not counting the typed command that greps for them
    (the terminal echoes it, with or without the prompt)."""
    return [line for line in text.splitlines()
            if re.search(r"WARNING|Oops|BUG|[Uu]nhandled|Kernel panic", line) and "grep" not in line]


@pytest.mark.linux
@pytest.mark.boot("linux", smp=2, timeout=180, interactive=True)
def test_linux_boots_smp_with_ticking_timers_and_a_clean_log(boot):
    ready(boot, "linux")
    run(boot, "linux", "echo cpus=$(nproc)", "cpus=2")
    # The arch timer's line: its count per CPU, both must be ticking.
    m = run(boot, "linux", "grep arch_timer /proc/interrupts",
            r"\s*\d+:\s+(\d+)\s+(\d+)\s+GICv3\s+27 Level\s+arch_timer")
    assert int(m.group(1)) > 0 and int(m.group(2)) > 0, m.group(0)
    mark = boot.mark()
    m = run(boot, "linux", "echo bad=$(dmesg | grep -cE 'WARNING|Oops|BUG|nhandled')",
            r"bad=(\d+)", after=mark)
    assert m.group(1) == "0", m.group(0)
    assert not complaints(boot.text), complaints(boot.text)
    # Steal time reaches Linux through PV time (SMCCC PV_TIME_ST).
    run(boot, "linux", "dmesg | grep -o 'using stolen time PV'", "using stolen time PV")
    # Hardware debug (issue 10): the kernel finds the vCPU's breakpoints and watchpoints, and
    # perf's breakpoint events (what gdb's hbreak and watch use) stop on every hit, with the
    # kernel stepping over each one, on both vCPUs.
    run(boot, "linux", "dmesg | grep -o 'found 6 breakpoint and 4 watchpoint'",
        "found 6 breakpoint and 4 watchpoint")
    for cpu in (0, 1):
        run(boot, "linux", f"taskset -c {cpu} hwbp 500", r"hwbp: exec 500/500 watch 500/500")


# ---- natively: the images themselves ----

PROMPT = r"^/ # "


def shell(boot, command, answer):
    """Types `command` at the busybox prompt; returns the match of `answer` (a regex) in the
    output that follows."""
    typed_at = len(boot.text)
    boot.send(command + "\n")
    return boot.expect(answer, after=typed_at)


@pytest.mark.linux
@pytest.mark.boot("linux", native=True, smp=2, timeout=120, interactive=True)
def test_linux_boots_natively_on_two_cpus(boot):
    boot.expect(r"^pocketvisor: linux ready$")
    boot.expect(PROMPT)
    assert shell(boot, 'echo "nproc=$(nproc)"', r"^nproc=(\d+)$").group(1) == "2"
    # Both CPUs take timer interrupts: the first line of /proc/interrupts naming arch_timer.
    timer = shell(boot, "grep arch_timer /proc/interrupts", r"^ *\d+: +(\d+) +(\d+) .*arch_timer")
    assert int(timer.group(1)) > 0 and int(timer.group(2)) > 0
    bad = shell(boot, 'echo "bad=$(dmesg | grep -ciE \'warning|oops|bug|unhandled\')"',
                r"^bad=(\d+)$")
    assert bad.group(1) == "0"
    # The baseline for hwbp under pocketvisor (test_linux_boots_smp_...).
    m = shell(boot, "hwbp 500", r"^hwbp: exec (-?\d+)/500 watch (-?\d+)/500")
    assert m.groups() == ("500", "500"), m.group(0)


@pytest.mark.linux
@pytest.mark.boot("linux", native=True, smp=1, timeout=120, interactive=True)
def test_memprobe_faults_outside_ram_natively(boot):
    """memprobe (guests/linux/memprobe.c) on 16 pages of the board's unassigned address space
    (RAM ends at 0x50000000): every read faults, none returns data."""
    boot.expect(r"^pocketvisor: linux ready$")
    boot.expect(PROMPT)
    m = shell(boot, "memprobe 60000000 10000",
              r"^memprobe: (\d+) pages, (\d+) faulted, (\d+) read$")
    assert m.groups() == ("16", "16", "0")


# ---- the phone (configs/phone.dts) ----

def phone_up(boot):
    for vm in ("open", "work"):
        ready(boot, vm)
    boot.expect(r"^\[vault\] vault: up")


@pytest.mark.linux
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


@pytest.mark.linux
@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_reboot_and_poweroff_act_on_one_vm(boot):
    phone_up(boot)
    focus(boot, "work")
    mark = boot.mark()
    boot.send("reboot -f\n")
    boot.expect(r"^pv: info: vm work: reset", after=mark)
    ready(boot, "work", after=mark)  # booted again
    run(boot, "work", "echo again-$((6*7))", "again-42")
    mark = boot.mark()
    boot.send("poweroff -f\n")
    boot.expect(r"^pv: info: vm work: stopped: powered off", after=mark)
    # The others never noticed: open still answers, the vault still echoes.
    focus(boot, "open")
    run(boot, "open", "echo still-$((6*7))", "still-42")
    focus(boot, "vault")
    run(boot, "vault", "ping", "echo: ping")
    assert [line for line in hv_lines(boot.text) if "vm open: " in line and "stopped" in line] == []
    assert boot.returncode is None


@pytest.mark.linux
@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_kernel_panic_in_open_leaves_the_others_running(boot):
    phone_up(boot)
    focus(boot, "open")
    mark = boot.mark()
    boot.send("echo c > /proc/sysrq-trigger\n")
    boot.expect(r"^\[open\] .*Kernel panic - not syncing", after=mark)
    focus(boot, "work")
    run(boot, "work", "echo alive-$((6*7))", "alive-42")
    focus(boot, "vault")
    run(boot, "vault", "ping", "echo: ping")


# Guest-physical ranges outside the open VM's RAM (0x40000000 + 256 MiB) and its devices (GICD
# 64 KiB at 0x08000000, GICR 2 x 128 KiB at 0x080a0000, PL011 4 KiB at 0x09000000, its vsock
# device in virtio slot 0 at 0x0a000000, in the page the first range skips), up to the
# 4 GiB IPA space. Everything there is another VM's, the hypervisor's or nothing: each access
# must fault. Each range is probed at its start, middle and end (64 KiB each, 16 pages): a whole
# 4 GiB sweep through Linux takes minutes under TCG; the bare-metal isolation test sweeps all.
OUTSIDE = [(0x00000000, 0x08000000), (0x08010000, 0x00090000), (0x080e0000, 0x00f20000),
           (0x09001000, 0x00fff000), (0x0a001000, 0x35fff000), (0x50000000, 0xb0000000)]
PROBE = 0x10000


def probe_windows():
    for start, size in OUTSIDE:
        mid = (start + size // 2) & ~0xfff
        for at in sorted({start, mid, start + size - PROBE}):
            yield at, PROBE


@pytest.mark.linux
@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_open_cannot_reach_other_memory_through_dev_mem(boot):
    phone_up(boot)
    focus(boot, "open")
    args = " ".join(f"{start:x} {size:x}" for start, size in probe_windows())
    mark = boot.mark()
    m = run(boot, "open", f"memprobe {args}",
            r"memprobe: (\d+) pages, (\d+) faulted, (\d+) read")
    pages, faulted, read = map(int, m.groups())
    assert pages == 16 * len(list(probe_windows())), m.group(0)
    assert faulted == pages and read == 0, m.group(0)
    # A page the guest kernel refused (as its own RAM or a claimed device) would prove nothing.
    assert not [line for line in vm_lines(boot.text[mark:], "open") if "pages refused" in line]
    warned = [line for line in hv_lines(boot.text) if "vm open: " in line and "abort" in line]
    assert warned, "the hypervisor did not log the faults as open's"
    focus(boot, "work")  # and the machine went on
    run(boot, "work", "echo fine-$((6*7))", "fine-42")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks


@pytest.mark.linux
@pytest.mark.boot("phone", smp=2, timeout=240, interactive=True)
def test_phone_idle_costs_little_host_cpu(boot):
    phone_up(boot)
    time.sleep(5)  # let the boots' tails (deferred work, RCU) settle
    before, t0 = cpu_seconds(boot.pid), time.monotonic()
    time.sleep(20)
    used = (cpu_seconds(boot.pid) - before) / (time.monotonic() - t0)
    print(f"idle phone: QEMU used {used:.1%} of one host core")
    assert used < 0.10, f"{used:.1%} of a core while every VM idles"
