"""harness.py: boots pocketvisor on QEMU for the system tests: pack, boot, type, collect, time out.

A test asks for a boot with a marker and gets it through the `boot` fixture (conftest.py):

    @pytest.mark.boot("two", smp=2, timeout=60)
    def test_x(boot):
        out = boot.wait()            # QEMU must exit by itself; returns its console text

`tests/configs/<config>.dts` (or `configs/<config>.dts`) is packed by pvpack into
`build/tests/<config>.pvb`, then booted once for that test. Boots that need no typing start in the
background as soon as the tests are collected, as many at a time as there are host CPUs
(PV_TEST_JOBS overrides), so they overlap with each other and with the other tests; a test
marked `interactive=True` boots when it runs, and types with `boot.send()` / `boot.expect()`.
`boot.pid` and `boot.started_at` are for tests that watch the QEMU process itself (CPU use).
`native=True` boots a guest on the bare board with no hypervisor (the baseline a guest must reach
before it runs under pocketvisor): the config is then a name in NATIVE, e.g. "linux".
The board's disk and NIC (docs/storage-net.md) are there only when a test asks: `disk=PATH` (a raw
image, scripts/mkdisk.sh makes one; `readonly=True` offers it read-only; natively,
`partition="name"` gives the guest only that GPT partition, the window a VM would see),
`net=True`, and `guestfwd=[(guest_ip, guest_port, host_port)]` (implies net) for a server the test
started on the host's loopback (netserve.py). The network never leaves QEMU: restrict=on.
The timeout is a hard limit from QEMU's start: QEMU is killed and the test fails with the output
it had so far. A missing build product fails the test with what to build; nothing is skipped,
except tests marked `linux` when build/linux is missing (it needs Debian's archive once).
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
HV_IMAGE = BUILD / "pocketvisor.bin"
PVPACK = BUILD / "tools" / "pvpack"
QEMU = os.environ.get("QEMU", "qemu-system-aarch64")
NETSERVE = Path(__file__).resolve().parent / "netserve.py"

# The reference board exactly as the top Makefile's QEMU_BOARD starts it (`-nic none`: otherwise
# QEMU adds a virtio NIC whose option ROM, efi-virtio.rom, Debian ships in another package).
BOARD = ["-M", "virt,virtualization=on,gic-version=3", "-cpu", "cortex-a57", "-m", "1G",
         "-nic", "none", "-display", "none", "-serial", "stdio", "-monitor", "none",
         "-no-reboot"]

# The same board with no hypervisor (QEMU starts the guest kernel at EL1 itself) and no memory
# size: each native guest gives its own.
NATIVE_BOARD = ["-M", "virt,gic-version=3", "-cpu", "cortex-a57", "-nic", "none",
                "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot"]

# Guests that boot natively, by name: QEMU arguments after the board (build/linux: `make linux`).
LINUX_DIR = BUILD / "linux"
LINUX_IMAGES = (LINUX_DIR / "Image", LINUX_DIR / "initramfs.cpio.gz")
NATIVE = {
    "linux": ["-m", "256M", "-kernel", str(LINUX_IMAGES[0]), "-initrd", str(LINUX_IMAGES[1]),
              "-append", "console=ttyAMA0 quiet"],
    # The same with vsock over loopback (/init loads vsock_loopback): vsock tests with no device.
    "linux-loopback": ["-m", "256M", "-kernel", str(LINUX_IMAGES[0]),
                       "-initrd", str(LINUX_IMAGES[1]),
                       "-append", "console=ttyAMA0 quiet pv.loopback"],
}
NATIVE_NEEDS = {name: [(p, "the Linux guest images: run `make linux`") for p in LINUX_IMAGES]
                for name in NATIVE}


def gpt_partition(image, name):
    """(offset, size) in bytes of the GPT partition called `name` in disk image `image`."""
    dump = subprocess.run(["sfdisk", "-J", str(image)], capture_output=True, text=True,
                          check=True, env={**os.environ, "PATH": os.environ.get("PATH", "") +
                                           ":/usr/sbin:/sbin"})
    table = json.loads(dump.stdout)["partitiontable"]
    sector = table.get("sectorsize", 512)
    for p in table.get("partitions", []):
        if p.get("name") == name:
            return p["start"] * sector, p["size"] * sector
    raise ValueError(f"{image} has no partition {name!r}")


def io_args(disk=None, readonly=False, partition=None, net=False, guestfwd=()):
    """QEMU arguments for the board's disk and NIC as modern (version 2) virtio-mmio devices, the
    same on both boards. The first -device takes the highest virtio-mmio slot (0x0a003e00): the
    disk when there is one, the NIC below it."""
    args = []
    if disk is not None:
        drive = f"if=none,id=disk,format=raw,file={str(disk).replace(',', ',,')}"
        if partition is not None:
            offset, size = gpt_partition(disk, partition)
            drive += f",offset={offset},size={size}"
        if readonly:
            drive += ",readonly=on"
        args += ["-drive", drive, "-device", "virtio-blk-device,drive=disk"]
    if net or guestfwd:
        # Each connection the guest opens runs a relay to the host port (netserve.py says why not
        # QEMU's `tcp:` target). QEMU splits the command at spaces.
        if " " in str(NETSERVE) or " " in sys.executable:
            raise ValueError(f"guestfwd needs paths without spaces: {NETSERVE}, {sys.executable}")
        rules = [f"tcp:{ip}:{port}-cmd:{sys.executable} {NETSERVE} relay {host_port}"
                 for ip, port, host_port in guestfwd]
        netdev = ",".join(["user", "id=net", "restrict=on",
                           *("guestfwd=" + rule.replace(",", ",,") for rule in rules)])
        args += ["-netdev", netdev, "-device", "virtio-net-device,netdev=net"]
    return ["-global", "virtio-mmio.force-legacy=false", *args] if args else []


def uds_base():
    """PLAT_UDS_BASE from the board's header: where a loader puts the device secret."""
    text = (ROOT / "plat" / "qemu-virt" / "board.h").read_text()
    return int(re.search(r"#define PLAT_UDS_BASE (0x[0-9a-fA-F]+)", text).group(1), 16)


def uds_args(uds):
    """QEMU arguments that load the device secret file `uds` (32 bytes, docs/attestation.md) as
    `make run` does; none without one (an unprovisioned device)."""
    if uds is None:
        return []
    return ["-device", f"loader,file={str(uds).replace(',', ',,')},addr={uds_base():#x},"
            "force-raw=on"]


def run_to_exit(boot):
    """Starts `boot`, waits for QEMU to exit (the last VM off) and returns its output. The
    transcript is printed, which pytest shows only for a failing test."""
    boot.start()
    try:
        out = boot.wait()
    finally:
        boot.kill()
        print(boot.transcript())
    assert boot.returncode == 0, "QEMU died"
    return out


LONGVICTIM_TICKS = 80  # guests/longvictim/main.c


def longvictim_unharmed(out, attacker):
    """guests/longvictim (VM `victim`) ran to its end with its RAM pattern intact after every
    tick, and the hypervisor blamed no VM but `attacker`."""
    blamed = [line for line in hv_lines(out)
              if re.match(rf"^pv: (warn|error): vm (?!{attacker}:)", line)]
    assert not blamed, f"another VM blamed: {blamed}"
    victim = vm_lines(out, "victim")
    assert [line for line in victim if line.startswith("victim: tick")] == \
        [f"victim: tick {i}" for i in range(1, LONGVICTIM_TICKS + 1)]
    for i in range(1, LONGVICTIM_TICKS + 1):
        assert victim[victim.index(f"victim: tick {i}") + 1] == "victim: pattern intact"
    assert victim[-1] == "victim: done"


def linux_images_missing():
    """True when build/linux has not been built (tests marked `linux` are then skipped)."""
    return not all(p.is_file() for p in LINUX_IMAGES)


TAGGED = re.compile(r"^\[([a-z0-9_-]+)\] (.*)$")


def whole_lines(text):
    """text's lines, but a last one still being printed (no newline yet): what a running QEMU
    sent so far may end in the middle of a line."""
    lines = text.splitlines()
    return lines if text.endswith("\n") or not lines else lines[:-1]


def vm_lines(text, vm):
    """The whole lines VM `vm` printed, without their `[vm] ` tag, in order."""
    return [m.group(2) for m in map(TAGGED.match, whole_lines(text)) if m and m.group(1) == vm]


def hv_lines(text):
    """The hypervisor's own log lines (`pv: ...`)."""
    return [line for line in text.splitlines() if line.startswith("pv: ")]


def line_index(text, line):
    """Position of the first line equal to `line` (fails the test if there is none)."""
    lines = text.splitlines()
    if line not in lines:
        pytest.fail(f"no line {line!r} in the output")
    return lines.index(line)


def config_path(name):
    """tests/configs/<name>.dts (or configs/), or `name` itself when it is a path to a .dts (a
    config a test wrote)."""
    if str(name).endswith(".dts"):
        return Path(name)
    for d in (ROOT / "tests" / "configs", ROOT / "configs"):
        if (d / f"{name}.dts").is_file():
            return d / f"{name}.dts"
    return ROOT / "tests" / "configs" / f"{name}.dts"


class Boot:
    """One QEMU run of pocketvisor with one config."""

    def __init__(self, config, smp=2, timeout=60, interactive=False, icount=False, native=False,
                 disk=None, readonly=False, partition=None, net=False, guestfwd=(), uds=None,
                 monitor=False):
        self.config, self.smp, self.timeout = config, smp, timeout
        # monitor: QEMU's QMP monitor on a socket of this boot's own (qmp()), e.g. to read
        # physical memory as no guest can.
        self.monitor = BUILD / "tests" / f"{config}-{os.getpid()}.qmp" if monitor else None
        self.uds = uds  # the device secret file, loaded where the board keeps it (uds_args)
        self.native = native  # no hypervisor: `config` names a guest of NATIVE
        # The board's disk and NIC (io_args), only when asked for.
        self.io = dict(disk=disk, readonly=readonly, partition=partition, net=net,
                       guestfwd=tuple(guestfwd))
        # icount: guest time counts instructions, not host seconds, so a deadline test is not
        # at the mercy of whatever else the host runs.
        self.icount = icount
        self.interactive = interactive  # started by its test, not in the background
        self.error = None          # why it could not start, if it could not
        self.timed_out = False
        self.returncode = None
        self.command = None
        self.started_at = None     # time.monotonic() when QEMU was started
        self._proc = None
        self._lock = threading.Lock()  # orders Popen against a kill() at the end of the session
        self._cancelled = False
        self._out = bytearray()
        self._cond = threading.Condition()
        self._started = threading.Event()
        self._finished = threading.Event()

    # ---- starting and stopping ----

    def start(self):
        """Packs the config and starts QEMU; never raises (a failure is kept in self.error)."""
        try:
            self._start()
        except Exception as e:  # noqa: BLE001 - reported by the test that owns this boot
            self.error = f"could not start: {e!r}"
        if self.error:
            self._finished.set()
        self._started.set()

    def _start(self):
        needs = (NATIVE_NEEDS.get(self.config, []) if self.native else
                 [(HV_IMAGE, "the hypervisor image: run `make`"),
                  (PVPACK, "the bundle packer: run `make build/tools/pvpack`")])
        missing = [f"{p.relative_to(ROOT)} ({what})" for p, what in needs if not p.is_file()]
        if missing:
            self.error = "missing build products: " + ", ".join(missing)
            return
        board = self._native_board() if self.native else self._pocketvisor_board()
        if board is None:
            return
        self.command = [QEMU, *board, *io_args(**self.io), *uds_args(self.uds),
                        *(["-icount", "shift=0"] if self.icount else []), "-smp", str(self.smp)]
        if self.monitor:
            self.monitor.unlink(missing_ok=True)
            self.command += ["-qmp", f"unix:{self.monitor},server=on,wait=off"]
        self._launch()

    def qmp(self, command, timeout=120, **arguments):
        """Runs one QMP command (Boot(monitor=True)), e.g. qmp("pmemsave", val=..., size=...,
        filename=...), and returns its "return" value; fails on an error answer."""
        self._check_started()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            for _ in range(100):
                try:
                    s.connect(str(self.monitor))
                    break
                except (FileNotFoundError, ConnectionRefusedError):
                    time.sleep(0.1)
            f = s.makefile("rwb")

            def answer():
                while True:  # events come in between; an answer has "return" or "error"
                    msg = json.loads(f.readline())
                    if "return" in msg or "error" in msg:
                        return msg

            json.loads(f.readline())  # the greeting
            for name, args in (("qmp_capabilities", {}), (command, arguments)):
                f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
                f.flush()
                msg = answer()
                if "error" in msg:
                    pytest.fail(f"QMP {name} failed: {msg['error']}", pytrace=False)
            return msg["return"]

    def _pocketvisor_board(self):
        """The board and pocketvisor with this config's bundle (packed now), or None."""
        dts = config_path(self.config)
        bundle = BUILD / "tests" / f"{dts.stem}.pvb"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        pack = subprocess.run([str(PVPACK), "-o", str(bundle),
                               str(dts.relative_to(ROOT) if dts.is_relative_to(ROOT) else dts)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        if pack.returncode != 0:
            self.error = (f"pvpack failed ({pack.returncode}); are the guests built "
                          f"(`make guests`)?\n{pack.stdout}{pack.stderr}")
            return None
        return [*BOARD, "-kernel", str(HV_IMAGE), "-initrd", str(bundle)]

    def _native_board(self):
        """The board with no hypervisor and this native guest, or None."""
        if self.config not in NATIVE:
            self.error = f"no native guest {self.config!r} (harness.NATIVE)"
            return None
        return [*NATIVE_BOARD, *NATIVE[self.config]]

    def _launch(self):
        with self._lock:
            if self._cancelled:
                self.error = "cancelled before it started"
                return
            self._proc = subprocess.Popen(self.command, cwd=ROOT, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.started_at = time.monotonic()
        self._deadline = time.monotonic() + self.timeout
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._watchdog, daemon=True).start()

    def _read(self):
        fd = self._proc.stdout.fileno()
        # PV_CONSOLE_DIR=dir: each boot's console also goes to dir/<config>.log as it comes,
        # to watch a long interactive test.
        live_dir = os.environ.get("PV_CONSOLE_DIR")
        live = open(os.path.join(live_dir, f"{self.config}.log"), "wb") if live_dir else None
        while True:
            chunk = os.read(fd, 65536)
            if live:
                live.write(chunk)
                live.flush()
            if not chunk:
                break
            with self._cond:
                self._out += chunk
                self._cond.notify_all()
        self.returncode = self._proc.wait()
        with self._cond:
            self._finished.set()
            self._cond.notify_all()

    def _watchdog(self):
        if not self._finished.wait(max(0.0, self._deadline - time.monotonic())):
            self.timed_out = True
            self.kill()

    def kill(self):
        """Stops QEMU (this boot's process only), or cancels a boot still waiting its turn."""
        with self._lock:
            self._cancelled = True
            proc = self._proc
        if proc is None:
            return  # start() sees _cancelled, or already failed
        if proc.poll() is None:
            proc.kill()
        self._finished.wait(10)

    @property
    def pid(self):
        """QEMU's process id (for /proc/PID/stat), once it has started."""
        self._check_started()
        return self._proc.pid

    # ---- talking to it ----

    @property
    def text(self):
        """Console output so far, CRLF folded to LF."""
        with self._cond:
            raw = bytes(self._out)
        return raw.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")

    def transcript(self):
        head = f"$ {' '.join(self.command)}\n" if self.command else ""
        state = ("killed after the timeout" if self.timed_out else
                 f"exit code {self.returncode}" if self._finished.is_set() else "running")
        return f"{head}--- QEMU output ({state}) ---\n{self.text}--- end ---"

    def _check_started(self):
        self._started.wait()
        if self.error:
            pytest.fail(f"boot of {self.config}: {self.error}", pytrace=False)

    def send(self, data):
        """Types `data` (str or bytes) on the console, 64 bytes at a time: a VM's UART holds
        256 bytes (hv/virt/vpl011.c) and drops what comes while it is full, so a long line typed
        at once into a guest the host's load keeps busy would lose its tail."""
        self._check_started()
        data = data.encode() if isinstance(data, str) else data
        try:
            for at in range(0, len(data), 64):
                if at:
                    time.sleep(0.2)
                self._proc.stdin.write(data[at:at + 64])
                self._proc.stdin.flush()
        except BrokenPipeError:
            pytest.fail(f"QEMU exited before it could be sent {data!r}\n{self.transcript()}",
                        pytrace=False)

    def mark(self):
        """The current end of `text`: pass it as expect(after=) to match only what follows."""
        return len(self.text)

    def expect(self, pattern, flags=re.M, after=0):
        """Waits until `pattern` (a regex) matches the output from position `after` on (e.g.
        mark() before typing a command); fails on timeout or exit."""
        self._check_started()
        rx = re.compile(pattern, flags)
        with self._cond:
            while True:
                m = rx.search(self.text, after)
                if m:
                    return m
                if self._finished.is_set():
                    how = (f"was killed at the {self.timeout} s timeout" if self.timed_out
                           else "exited")
                    pytest.fail(f"QEMU {how} before printing /{pattern}/\n{self.transcript()}",
                                pytrace=False)
                self._cond.wait(1.0)

    def wait(self):
        """Waits for QEMU to exit by itself and returns its output; fails if it was killed."""
        self._check_started()
        self._finished.wait()
        if self.timed_out:
            pytest.fail(f"QEMU did not finish within {self.timeout} s and was killed\n"
                        f"{self.transcript()}", pytrace=False)
        return self.text


class Pool:
    """Runs the collected non-interactive boots in the background, `jobs` at a time."""

    def __init__(self, boots, jobs):
        self._queue = sorted(boots, key=lambda b: -b.timeout)  # longest first
        self._slots = threading.Semaphore(jobs)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        for b in self._queue:
            self._slots.acquire()
            b.start()
            threading.Thread(target=self._release_when_done, args=(b,), daemon=True).start()

    def _release_when_done(self, b):
        b._finished.wait()
        self._slots.release()
