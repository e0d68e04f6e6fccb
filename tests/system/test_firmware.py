"""test_firmware.py: issue 17's firmware VMs (docs/config.md, "Boot modes"). Debian's U-Boot for
QEMU virt (`make u-boot`), unmodified, boots as a `boot = "firmware"` VM of
tests/configs/uboot.dts to its prompt; its commands see the board it was built for (RAM, DTB,
flash, console), and `saveenv` keeps a variable across a reset of the VM and across a new QEMU
run, on the partition its variable flash bank lives on. The bare-metal VM beside it counts its
ticks to the end."""

import secrets
import subprocess

import pytest

from harness import BUILD, ROOT, Boot, config_path, gpt_partition, hv_lines, vm_lines

UBOOT = BUILD / "u-boot" / "u-boot.bin"
# U-Boot waits 2 s for a key before its boot scan: a key typed once it says `Net:` stops it.
STOP = r"^\[uboot\] Net: .*$"


@pytest.fixture
def disk(tmp_path):
    if not UBOOT.is_file():
        pytest.fail(f"{UBOOT} is missing: run `make u-boot`", pytrace=False)
    image = tmp_path / "disk.img"
    subprocess.run(["sh", "scripts/mkdisk.sh", str(config_path("uboot").relative_to(ROOT)),
                    str(image)], cwd=ROOT, check=True, capture_output=True)
    return image


@pytest.fixture
def start():
    boots = []

    def go(disk):
        b = Boot("uboot", smp=2, timeout=120, interactive=True, disk=disk)
        boots.append(b)
        b.start()
        return b
    yield go
    for b in boots:
        b.kill()
        print(b.transcript())


def command(boot, line, pattern):
    at = boot.mark()
    boot.send(line + "\r")
    return boot.expect(pattern, after=at)


def to_prompt(boot, after=0):
    """Stops the autoboot; the prompt itself is a partial line, which the console shows with
    the next line U-Boot prints (the command typed, echoed)."""
    boot.expect(STOP, after=after)
    boot.send("\r")


def test_uboot_boots_unmodified_and_keeps_its_environment(disk, start):
    value = secrets.token_hex(6)
    b = start(disk)
    b.expect(r"^\[uboot\] Flash: 64 MiB\s*$")
    b.expect(r"^\[uboot\] Loading Environment from Flash\.\.\. \*\*\* Warning - bad CRC")
    to_prompt(b)
    command(b, "version", r"^\[uboot\] U-Boot 2023\.01")
    command(b, "bdinfo", r"^\[uboot\] -> start    = 0x0*40000000\s*$")
    command(b, "fdt addr $fdtcontroladdr; fdt print /cpus",
            r'^\[uboot\] \s*enable-method = "psci";')
    command(b, "coninfo", r"^\[uboot\] pl011@9000000 .* IO stdin stdout stderr")
    command(b, f"setenv pvtest {value}; saveenv", r"^\[uboot\] Writing to Flash\.\.\. done")
    b.expect(r"^\[uboot\] OK\s*$")
    # A reset of the VM (PSCI SYSTEM_RESET): the flash keeps what was written.
    at = command(b, "reset", r"^pv: info: vm uboot: reset$").end()
    b.expect(r"^\[uboot\] Loading Environment from Flash\.\.\. OK\s*$", after=at)
    to_prompt(b, at)
    command(b, "printenv pvtest", rf"^\[uboot\] pvtest={value}\s*$")
    # The bystander counted every tick while U-Boot ran.
    b.expect(r"^\[bystander\] ticker: done\s*$")
    ticks = [l for l in vm_lines(b.text, "bystander") if l.startswith("tick ")]
    assert len(ticks) == 30, ticks
    b.kill()
    # The variable is on the partition, in U-Boot's environment format (CRC, then name=value).
    offset, size = gpt_partition(disk, "uboot-env")
    with open(disk, "rb") as f:
        f.seek(offset)
        assert f"pvtest={value}".encode() in f.read(size)
    # A new QEMU run: the hypervisor reads the bank back from the partition.
    b = start(disk)
    b.expect(r"^pv: info: vm uboot: flash 0: partition uboot-env: 2048 sectors$")
    b.expect(r"^\[uboot\] Loading Environment from Flash\.\.\. OK\s*$")
    to_prompt(b)
    command(b, "printenv pvtest", rf"^\[uboot\] pvtest={value}\s*$")
    assert not [l for l in hv_lines(b.text) if "warn" in l or "error" in l], hv_lines(b.text)
