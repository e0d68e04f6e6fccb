"""test_linux.py: the Linux guest images (build/linux, from Debian's packages) boot on the bare
board with no hypervisor: the baseline for running them under pocketvisor."""

import pytest

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
