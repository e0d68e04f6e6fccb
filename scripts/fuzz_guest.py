#!/usr/bin/env python3
"""fuzz_guest.py: `make fuzz-guest`: runs guests/chaos for N operations with each seed, beside the
victim, one QEMU at a time, and checks each run with tests/system/chaos_check.py.

    fuzz_guest.py N SEED... [--reset R] [--only MASK] [--timers 1|2|3] [--timeout S]

N operations in all, split evenly across the seeds. --only picks the op families and --timers the
timers the timer ops use (guests/chaos: chaos.only, chaos.timers; the default, 1, is the physical
timer alone: a stream of virtual-timer writes freezes QEMU 7.2 itself, guests/README.md). Each
seed gets build/fuzz/chaos-SEED.dts, tests/configs/chaos.dts with its bootargs replaced, so
nothing is rebuilt. Exit status 1 if any run failed; a summary line per seed either way."""

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "system"))

import harness  # noqa: E402
from chaos_check import DONE, check, heartbeat_us  # noqa: E402


def config_for(seed, ops, reset, only, timers):
    src = (ROOT / "tests" / "configs" / "chaos.dts").read_text()
    args = (f"chaos.seed={seed:#x} chaos.ops={ops} chaos.progress={max(ops // 20, 1)} "
            f"chaos.only={only:#x} chaos.timers={timers} chaos.cmo=1")
    if reset:
        args += f" chaos.reset={reset}"
    out = re.sub(r'bootargs = "chaos\.[^"]*";', f'bootargs = "{args}";', src)
    path = ROOT / "build" / "fuzz" / f"chaos-{seed:x}.dts"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(out)
    return path


def run(name, path, timeout, until=None):
    harness.config_path = lambda n, p=path: p if n == name else harness.ROOT / "tests" / "configs" / f"{n}.dts"
    b = harness.Boot(name, smp=2, timeout=timeout)
    b.start()
    t0 = time.monotonic()
    try:
        if until:
            b.expect(until)
            b.expect(r"^\[victim\] victim: tick \d+ at \d+ us$", after=b.mark())
        else:
            b.wait()
    except BaseException as e:  # pytest.fail outside pytest: a hang or early exit
        print(f"  {name}: {str(e).splitlines()[0]}")
    finally:
        b.kill()
    return b.text, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ops", type=int)
    ap.add_argument("seeds", nargs="+", type=lambda s: int(s, 0))
    ap.add_argument("--reset", type=int, default=0)
    ap.add_argument("--only", type=lambda s: int(s, 0), default=0x1ff)
    ap.add_argument("--timers", type=int, default=1)
    ap.add_argument("--timeout", type=int, default=0, help="per seed; default: 120 s + 20 ms/op")
    a = ap.parse_args()
    share = [a.ops // len(a.seeds) + (i < a.ops % len(a.seeds)) for i in range(len(a.seeds))]
    text, _ = run("chaos-alone", ROOT / "tests" / "configs" / "chaos-alone.dts", 180)
    base = heartbeat_us(text)
    print(f"fuzz-guest: victim alone: heartbeat {base} us")
    failed = 0
    for seed, ops in zip(a.seeds, share):
        ops = max(ops, 1)
        reset = a.reset or max(ops // 4, 1)
        timeout = a.timeout or 120 + ops // 50
        text, secs = run(f"chaos-{seed:x}", config_for(seed, ops, reset, a.only, a.timers), timeout,
                         until=r"^\[chaos\] chaos: done ops=\d+")
        problems = check(text, ops, baseline_us=base, tolerance=0.5, seconds=secs)
        done = [m for m in map(DONE.match, harness.vm_lines(text, "chaos")) if m]
        exc = done[-1].group(2) if done else "?"
        print(f"fuzz-guest: seed {seed:#x}: {ops} ops in {secs:.0f} s, exceptions {exc}, "
              f"hv log lines {len(harness.hv_lines(text))}, victim heartbeat {heartbeat_us(text)} us: "
              + ("ok" if not problems else "FAILED"))
        for p in problems:
            print(f"  {p}")
        failed += bool(problems)
        if problems:
            (ROOT / "build" / "fuzz" / f"chaos-{seed:x}.log").write_text(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
