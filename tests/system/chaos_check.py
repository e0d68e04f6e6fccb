"""chaos_check.py: the pass criteria of a guests/chaos run beside the victim (tests/configs/chaos.dts),
shared by test_chaos.py and scripts/fuzz_guest.py. Each returns a list of problems (empty: passed)."""

import re
import statistics

from harness import hv_lines, vm_lines

DONE = re.compile(r"^chaos: done ops=(\d+) exceptions=(\d+) resets=(\d+)$")
TICK = re.compile(r"^victim: tick (\d+) at (\d+) us$")
# Lines naming the victim that are not about anything it did: its start, its console number.
VICTIM_OK = re.compile(r"^pv: info: vm victim: (\d+ vCPU, .*|is number \d+)$")
# A log bound: 4 data-abort lines per VM, 1/s for virtio, one per reset, a few start lines.
LOG_BASE = 40


def heartbeat_us(text):
    """Median interval between the victim's stamped ticks, in virtual microseconds, or None."""
    stamps = [int(m.group(2)) for m in map(TICK.match, vm_lines(text, "victim")) if m]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return statistics.median(gaps) if len(gaps) >= 3 else None


def check(text, ops, baseline_us=None, tolerance=0.5, seconds=None):
    problems = []
    if "PANIC" in text:
        problems.append("the hypervisor panicked")
    chaos = vm_lines(text, "chaos")
    done = [m for m in map(DONE.match, chaos) if m]
    if not done:
        problems.append("chaos never printed `chaos: done` (a hang, or the VM was stopped)")
    elif int(done[-1].group(1)) != ops:
        problems.append(f"chaos ran {done[-1].group(1)} ops, not {ops}")
    if [line for line in chaos if line.startswith("guest: ")]:
        problems.append("chaos took an exception its vectors did not handle")
    victim = vm_lines(text, "victim")
    if any("BROKEN" in line for line in victim):
        problems.append("the victim's RAM pattern broke")
    hv = hv_lines(text)
    blamed = [line for line in hv if " vm victim:" in line and not VICTIM_OK.match(line)]
    if blamed:
        problems.append(f"the log names the victim: {blamed[:3]}")
    other = [line for line in hv if re.match(r"^pv: (warn|error): ", line)
             and not line.startswith(("pv: warn: vm chaos: ", "pv: error: vm chaos: "))]
    if other:
        problems.append(f"warnings not attributed to chaos: {other[:3]}")
    resets = int(done[-1].group(3)) if done else 0
    bound = LOG_BASE + 2 * resets + (int(seconds) + 1 if seconds else 0)
    if len(hv) > bound:
        problems.append(f"{len(hv)} hypervisor lines, more than the bound {bound}")
    beat = heartbeat_us(text)
    if beat is None:
        problems.append("the victim stamped fewer than 4 heartbeats")
    elif baseline_us and beat > baseline_us * (1 + tolerance):
        problems.append(f"victim heartbeat {beat} us, baseline {baseline_us} us (+{tolerance:.0%} allowed)")
    return problems
