"""test_phone.py: the default product demo (configs/phone.dts): three VMs share one console, and
typed input reaches exactly one of them, the one holding the input focus."""

import re

import pytest

from harness import vm_lines

VMS = ("open", "work", "vault")


@pytest.mark.boot("phone", smp=2, timeout=60, interactive=True)
def test_phone_typed_line_reaches_one_vm(boot):
    for vm in VMS:
        boot.expect(rf"^\[{vm}\] demo: up")
    boot.send("ping\r")
    focused = boot.expect(r"^\[([a-z]+)\] echo: ping$").group(1)
    assert focused in VMS

    # `off` powers the focused VM off; the others keep running (QEMU does not exit).
    boot.send("off\r")
    boot.expect(rf"^\[{focused}\] demo: powering off$")
    out = boot.text
    for vm in VMS:
        echoes = [line for line in vm_lines(out, vm) if line.startswith("echo: ")]
        assert echoes == (["echo: ping", "echo: off"] if vm == focused else []), vm
    assert boot.returncode is None, "QEMU exited while two VMs were still on"
    assert not [line for line in out.splitlines() if re.search(r"unexpected|BAD", line)]
