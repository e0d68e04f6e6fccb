"""test_footprint.py: the EL2 image stays inside its byte budget (footprint is deterministic)."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ELF = os.path.join(ROOT, "build", "pocketvisor.elf")
BUDGET = 30 * 1024  # text + rodata + data (issue 9: at most 30 KiB with virtio and vsock)


def sections():
    assert os.path.exists(ELF), "build/pocketvisor.elf is missing: run `make` first"
    out = subprocess.run([os.path.join(ROOT, "scripts", "size.sh"), ELF], check=True,
                         capture_output=True, text=True).stdout
    return {line.split()[0]: int(line.split()[1]) for line in out.splitlines()}


def test_image_within_budget():
    s = sections()
    assert s["image"] == s["text"] + s["rodata"] + s["data"]
    assert 0 < s["image"] <= BUDGET, f"EL2 image is {s['image']} bytes, budget {BUDGET}: {s}"


def test_no_dead_weight_sections():
    """.eh_frame and friends are dropped from the EL2 image."""
    out = subprocess.run(["aarch64-linux-gnu-readelf", "-SW", ELF], check=True,
                         capture_output=True, text=True).stdout
    for dead in (".eh_frame", ".comment", ".note", ".interp", ".dynamic"):
        assert dead not in out, f"{dead} is in the EL2 image"
