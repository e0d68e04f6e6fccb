"""test_vault_services.py: the vault's keystore, DRM licences and wallet (docs/vault.md,
"Trusted services"), each bound to the calling VM and sealed on vault-data with the
hypervisor's rollback counters.

Bare-metal (tests/configs/vault-bare.dts, four short boots on one disk): guests/vaultpoke sends
ports 5001-5003 every malformed, huge and truncated request it knows, each refused with its
exact text, then makes a key, tops up and pays; the host checks the signature and the receipt.
A second boot finds the records where they were; the host then puts back the vault-data of
after the first boot, and the vault refuses the replayed wallet (and says so) while the
keystore, which did not change, serves on; a byte flipped in the current wallet copy is
detected and reported, and the older copy left is refused as stale.

Linux (tests/configs/vault-services.dts, two boots of the whole device on one disk): a key made
by `open` cannot be used or deleted by `work`, whose own slot of the same name is another key;
a licence with 3 plays for open plays twice, then after the reboot once more, and the 4th is
refused; work cannot install or play it; a payment's receipt verifies with the device key;
the token's boot count is the hypervisor's; all the while vaultpoke pokes and besieges the
services and every one of its rounds is refused while work is served. Last, root in open
panics its kernel (sysrq), and work still pays, reads its key and gets a token."""

import hashlib
import re
import secrets
import shutil
import subprocess

import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from harness import BUILD, ROOT, Boot, gpt_partition, vm_lines
from test_linux import READY, complaints, run

BARE, FULL = ROOT / "tests/configs/vault-bare.dts", ROOT / "tests/configs/vault-services.dts"
PVLICENCE = ROOT / "tools" / "pvlicence"
MKDISK = ROOT / "scripts" / "mkdisk.sh"
AREA = 256 * 1024  # guests/vault/store.c: copy k of store id s at (2(s-1) + k) areas
STORES = {"keystore": 1, "drm": 2, "wallet": 3}

(BUILD / "tests").mkdir(parents=True, exist_ok=True)
UDS = BUILD / "tests" / "vault-services-uds.bin"
UDS.write_bytes(hashlib.sha256(b"vault services device").digest())

# vaultpoke's cases (guests/vaultpoke/main.c, services mode) and what the vault must answer.
CASES = {
    "huge-length": "refused: request too long; ended",
    "empty": "refused: empty request; ended",
    "over-limit": "refused: request too long; ended",
    "stall": "refused: request timed out; ended",
    "not-cbor": "refused: not CBOR; ended",
    "huge-map": "refused: not CBOR; ended",
    "indefinite": "refused: indefinite length; ended",
    "trailing": "refused: trailing bytes; ended",
    "no-op": "refused: no op; ended",
    "unknown-op": "refused: unknown op; ended",
    "duplicate": "refused: duplicate key; ended",
    "slot-long": "refused: slot: too long; ended",
    "slot-bad": "refused: slot: not 1 to 16 of A-Z a-z 0-9 . _ -; ended",
    "msg-type": "refused: msg: not a byte string; ended",
    "missing": "refused: msg missing; ended",
    "extra": "refused: msg not used by this op; ended",
    "msg-long": "refused: msg: too long; ended",
    "theft": 'refused: slot "k1" not found; ended',
    "licence-garbage": "refused: licence: not a COSE_Sign1; ended",
    "licence-huge": "refused: licence: too long; ended",
    "licence-forged": "refused: licence: signature does not verify with the provider key; ended",
    "id-type": "refused: id: not a text string; ended",
    "play-missing": 'refused: licence "film" not found; ended',
    "amount-zero": "refused: amount: zero; ended",
    "amount-huge": "refused: amount: too large; ended",
    "amount-negative": "refused: amount: not an unsigned integer; ended",
    "receipt-none": "refused: no payment 99; ended",
}


def fresh_disk(path, config):
    path.unlink(missing_ok=True)
    subprocess.run(["sh", str(MKDISK), str(config), str(path)], cwd=ROOT, check=True,
                   capture_output=True)


def device_point(text):
    """The vault's device key as it printed it (docs/vault.md, "The device key")."""
    lines = [line for line in vm_lines(text, "vault") if line.startswith("vault: device key")]
    assert len(lines) == 2, lines
    raw = bytes.fromhex("".join(line.split()[-1] for line in lines))
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw), raw


def verify(pub, sig, data):
    """ES256: r || s over SHA-256(data); raises InvalidSignature if not."""
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    pub.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))


def check_receipt(receipt, device, device_raw, **claims):
    """The receipt is a COSE_Sign1 by the device key over exactly these claims."""
    tagged = cbor2.loads(receipt)
    assert tagged.tag == 18
    protected, unprotected, payload, sig = tagged.value
    assert protected == bytes([0xa1, 0x01, 0x26]) and unprotected == {}
    verify(device, sig, cbor2.dumps(["Signature1", protected, b"", payload]))
    want = {1: claims["payer"], 2: claims["payee"], 3: claims["amount"], 4: claims["seq"],
            5: claims["balance"], 6: claims["counter"],
            7: b"\x01" + hashlib.sha256(device_raw).digest()}
    assert cbor2.loads(payload) == want
    assert cbor2.dumps(want, canonical=True) == payload  # deterministic


def boot_bare(disk, what):
    b = Boot(BARE, smp=2, timeout=150, interactive=True, disk=disk, uds=UDS)
    try:
        b.start()
        b.expect(r"^\[vaultpoke\] vaultpoke: svc cases done")
        b.expect(r"^\[vaultpoke\] vaultpoke: svc siege round 2:")
    finally:
        b.kill()
        print(f"---- {what} ----\n{b.transcript()}")
    return b.text


def poked(text):
    """What vaultpoke reported: {case: summary} and {good request: (summary, answer)}."""
    cases, good, hexed = {}, {}, {}
    for line in vm_lines(text, "vaultpoke"):
        m = re.fullmatch(r"vaultpoke: svc good ([a-z]+): (.*)", line)
        if m:
            good[m.group(1)] = m.group(2)
            continue
        m = re.fullmatch(r"vaultpoke: svc ([a-z-]+): (.*)", line)
        if m and not m.group(1).startswith("siege"):
            cases[m.group(1)] = m.group(2)
        m = re.fullmatch(r"vaultpoke: ([a-z]+) hex ([0-9a-f]+)", line)
        if m:
            hexed[m.group(1)] = hexed.get(m.group(1), "") + m.group(2)
    return cases, good, {k: cbor2.loads(bytes.fromhex(v)) for k, v in hexed.items()}


def vault_says(text):
    return vm_lines(text, "vault")


def sieges_held(text):
    """vaultpoke's siege rounds so far, each of which must have been held off."""
    sieges = [line for line in vm_lines(text, "vaultpoke") if "svc siege round" in line]
    assert all(line.endswith(": 1 answer, 3 of 3 stalls refused") for line in sieges), sieges
    return len(sieges)


def partition(disk):
    return gpt_partition(disk, "vault-data")


def copy_header(disk, store, copy):
    """(offset in the image, counter) of a store's copy, from its header (store.c)."""
    start, _ = partition(disk)
    at = start + (2 * (STORES[store] - 1) + copy) * AREA
    with open(disk, "rb") as f:
        f.seek(at)
        head = f.read(32)
    assert head[:4] == b"PVVD", head
    return at, int.from_bytes(head[8:16], "little")


def restore_vault_data(disk, old):
    """The host puts back an older vault-data partition (hv-rpmb stays as it is)."""
    start, size = partition(disk)
    with open(old, "rb") as f:
        f.seek(start)
        data = f.read(size)
    with open(disk, "r+b") as f:
        f.seek(start)
        f.write(data)


def test_bare_services_refuse_malformed_requests_and_replayed_or_flipped_disks(tmp_path):
    disk = tmp_path / "disk.img"
    fresh_disk(disk, BARE)

    # Boot 1: a new device. Every hostile case is refused with its text; the good requests work.
    text = boot_bare(disk, "boot 1")
    vault = vault_says(text)
    for store in STORES:
        assert f"vault: vault-data: {store}: new, counter 0" in vault
    assert "vault: boot count 1" in vault
    cases, good, answers = poked(text)
    assert cases == CASES
    # The vault logged the refusals it was sent (the attack really happened).
    assert "vault: keystore: refused cid 4: request too long" in vault
    assert "vault: drm: refused cid 4: licence: signature does not verify with the provider key" \
        in vault
    assert good == {"create": "answer 72 bytes", "sign": "answer 71 bytes",
                    "topup": "answer 11 bytes", "pay": good["pay"], "balance": "answer 30 bytes"}
    assert re.fullmatch(r"answer \d+ bytes", good["pay"]), good
    pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), answers["create"]["pub"])
    verify(pub, answers["sign"]["sig"], b"hello")
    device, device_raw = device_point(text)
    assert answers["topup"] == {"balance": 100}
    pay = answers["pay"]
    assert (pay["seq"], pay["balance"], pay["counter"]) == (1, 93, 2)
    check_receipt(pay["receipt"], device, device_raw, payer="vaultpoke", payee="shop", amount=7,
                  seq=1, balance=93, counter=2)
    with pytest.raises(InvalidSignature):  # the check can fail: another payee is not signed
        check_receipt(pay["receipt"].replace(b"shop", b"shoq"), device, device_raw,
                      payer="vaultpoke", payee="shoq", amount=7, seq=1, balance=93, counter=2)
    assert answers["balance"] == {"balance": 93, "payments": 1, "counter": 2}
    old = tmp_path / "after-boot-1.img"
    shutil.copyfile(disk, old)

    # Boot 2: the same records, the counters where they were; the same key signs.
    text = boot_bare(disk, "boot 2")
    vault = vault_says(text)
    assert any(re.fullmatch(r"vault: vault-data: keystore: counter 1, copy [AB]", v) for v in vault)
    assert any(re.fullmatch(r"vault: vault-data: wallet: counter 2, copy [AB]", v) for v in vault)
    assert "vault: boot count 2" in vault
    cases, good, answers = poked(text)
    assert cases == CASES
    assert good["create"] == 'refused: slot "poke" exists'
    verify(pub, answers["sign"]["sig"], b"hello")
    assert answers["topup"] == {"balance": 193}
    assert (answers["pay"]["seq"], answers["pay"]["balance"], answers["pay"]["counter"]) == (2, 186, 4)
    newer = tmp_path / "after-boot-2.img"
    shutil.copyfile(disk, newer)

    # Boot 3: vault-data as it was after boot 1. The wallet (counter 2, the device at 4) is
    # refused and the vault says so; nothing serves the old balance. The keystore did not
    # change in boot 2, so its copy is current and it serves on.
    restore_vault_data(disk, old)
    text = boot_bare(disk, "boot 3: vault-data replayed")
    vault = vault_says(text)
    assert "vault: vault-data: wallet: stale (counter 2, device at 4): refused" in vault
    assert any(re.fullmatch(r"vault: vault-data: keystore: counter 1, copy [AB]", v) for v in vault)
    cases, good, answers = poked(text)
    assert good["topup"] == good["pay"] == good["balance"] == "refused: records refused: stale"
    verify(pub, answers["sign"]["sig"], b"hello")
    assert "vault: wallet: refused cid 4: records refused: stale" in vault

    # Boot 4: the disk of after boot 2 with one byte flipped in the current wallet copy.
    shutil.copyfile(newer, disk)
    current = [k for k in (0, 1) if copy_header(disk, "wallet", k)[1] == 4]
    assert len(current) == 1
    at, _ = copy_header(disk, "wallet", current[0])
    with open(disk, "r+b") as f:
        f.seek(at + 100)
        byte = f.read(1)
        f.seek(at + 100)
        f.write(bytes([byte[0] ^ 0x01]))
    text = boot_bare(disk, "boot 4: a byte flipped")
    vault = vault_says(text)
    assert f"vault: vault-data: wallet copy {'AB'[current[0]]}: authentication failed" in vault
    assert "vault: vault-data: wallet: stale (counter 3, device at 4): refused" in vault
    _, good, _ = poked(text)
    assert good["balance"] == "refused: records refused: stale"


def issue_licence(tmp_path, device_raw, vm, plays, name="film"):
    out = tmp_path / f"{name}-{vm}.hex"
    r = subprocess.run([str(PVLICENCE), "issue", "--device-key", device_raw.hex(), "--vm", vm,
                        "--id", name, "--plays", str(plays), "--hex", "-o", str(out)],
                       capture_output=True, text=True, check=True)
    key = re.search(r"content key ([0-9a-f]+)", r.stdout).group(1)
    return out.read_text().strip(), key


def halves(boot, vm, after, slot, name):
    """The two `vault: key SLOT NAME i/2 HEX` lines after `after`, joined."""
    text = boot.text[after:]
    parts = re.findall(rf"^\[{vm}\] vault: key {slot} {name} ([12])/2 ([0-9a-f]+)\n", text, re.M)
    got = dict(parts)
    assert set(got) == {"1", "2"}, parts
    return bytes.fromhex(got["1"] + got["2"])


def key_cmd(boot, vm, command, slot, name, result):
    at(boot, vm)
    mark = boot.mark()
    run(boot, vm, command, result, after=mark)
    boot.expect(rf"^\[{vm}\] vault: key {slot} {name} 2/2 [0-9a-f]+\n", after=mark)
    return halves(boot, vm, mark, slot, name)


def point(raw):
    return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)


def receipt_of(boot, vm, after):
    hexed = "".join(re.findall(rf"^\[{vm}\] vault: receipt \d+ ([0-9a-f]+)\n",
                               boot.text[after:], re.M))
    return bytes.fromhex(hexed)


VMS = {"open": 1, "work": 2, "vaultpoke": 3, "vault": 4}  # vault-services.dts, in order
_focused = [None]


def at(boot, vm):
    """Moves the keyboard to `vm` (Ctrl-] and its number) unless it has it already."""
    if _focused[0] is not boot or vm != getattr(boot, "focused", None):
        mark = boot.mark()
        boot.send("\x1d" + str(VMS[vm]))
        boot.expect(rf"^pv: info: vm {vm}: has the keyboard now", after=mark)
        boot.focused = vm
        _focused[0] = boot


def run_in(boot, vm, command, result, after=None):
    at(boot, vm)
    return run(boot, vm, command, result, after=after)


def type_file(boot, vm, path, hexed):
    """Writes `hexed` to `path` in the VM, a console line at a time."""
    at(boot, vm)
    run(boot, vm, f": > {path}; echo start", "start")
    for i in range(0, len(hexed), 200):
        run(boot, vm, f"printf %s {hexed[i:i + 200]} >> {path}; echo ok{i}", f"ok{i}")


@pytest.mark.linux
def test_linux_keys_licences_and_wallet_are_bound_to_each_vm_across_a_reboot(tmp_path):
    disk = tmp_path / "disk.img"
    fresh_disk(disk, FULL)
    b = Boot(FULL, smp=2, timeout=600, interactive=True, disk=disk, uds=UDS)
    try:
        b.start()
        b.expect(r"^\[vault\] vault: up")
        device, device_raw = device_point(b.text)
        b.expect(rf"^\[open\] {READY}")
        b.expect(rf"^\[work\] {READY}")

        # A key made by open: work can neither use nor delete it; its own k1 is another key.
        open_pub = key_cmd(b, "open", "vault key create k1", "k1", "pub", r"vault: key k1 created")
        sig = key_cmd(b, "open", "vault key sign k1 hello", "k1", "sig", r"vault: key k1 sig 1/2 \S+")
        verify(point(open_pub), sig, b"hello")
        run_in(b, "work", "vault key sign k1 hello", r'vault: key sign: slot "k1" not found')
        run_in(b, "work", "vault key pub k1", r'vault: key pub: slot "k1" not found')
        run_in(b, "work", "vault key delete k1", r'vault: key delete: slot "k1" not found')
        b.expect(r"^\[vaultpoke\] vaultpoke: svc siege round 1:")
        siege_before = sieges_held(b.text)
        work_pub = key_cmd(b, "work", "vault key create k1", "k1", "pub", r"vault: key k1 created")
        assert work_pub != open_pub
        sig = key_cmd(b, "work", "vault key sign k1 work", "k1", "sig", r"vault: key k1 sig 1/2 \S+")
        verify(point(work_pub), sig, b"work")
        with pytest.raises(InvalidSignature):
            verify(point(open_pub), sig, b"work")
        assert key_cmd(b, "open", "vault key pub k1", "k1", "pub", r"vault: key k1 pub 1/2 \S+") \
            == open_pub
        run_in(b, "open", "vault key create k1", r'vault: key create: slot "k1" exists')
        run_in(b, "open", "vault key create 'a b'", r"vault: key create: slot: not 1 to 16 of .*")

        # A licence for open with 3 plays: open installs it and plays twice; work cannot.
        lic, content_key = issue_licence(tmp_path, device_raw, "open", 3)
        type_file(b, "open", "/tmp/film", lic)
        type_file(b, "work", "/tmp/film", lic)
        run_in(b, "work", "vault drm install /tmp/film", r'vault: drm install: licence: for vm "open"')
        run_in(b, "open", "vault drm install /tmp/film", r"vault: licence film installed, 3 plays left")
        run_in(b, "open", "vault drm install /tmp/film", r'vault: drm install: licence "film" exists')
        for left in (2, 1):
            mark = b.mark()
            run_in(b, "open", "vault drm play film", rf"vault: licence film played, {left} plays left")
            b.expect(rf"^\[open\] vault: content key {content_key}\n", after=mark)
        run_in(b, "work", "vault drm play film", r'vault: drm play: licence "film" not found')
        forged, _ = issue_licence(tmp_path, bytes.fromhex(
            subprocess.run([str(PVLICENCE), "bootarg"], capture_output=True, text=True,
                           check=True).stdout.split("=")[1].strip()), "work", 3, "other")
        type_file(b, "work", "/tmp/other", forged)  # wrapped for another key than the device's
        run_in(b, "work", "vault drm install /tmp/other",
            r"vault: drm install: licence: content key does not unwrap \(a licence for another "
            r"device\?\)")

        # The wallet: work pays with a receipt the device key signed, while vaultpoke besieges.
        run_in(b, "work", "vault topup 50", r"vault: balance 50")
        mark = b.mark()
        # One counter for the whole wallet store: vaultpoke's own top-up and payment count too.
        paid = run_in(b, "work", "vault pay 20 shop",
                      r"vault: paid 20 to shop: payment 1, balance 30, counter (\d+)")
        counter = int(paid.group(1))
        b.expect(r"^\[work\] vault: receipt end \d+\n", after=mark)
        check_receipt(receipt_of(b, "work", mark), device, device_raw, payer="work",
                      payee="shop", amount=20, seq=1, balance=30, counter=counter)
        run_in(b, "work", "vault pay 100 shop", r"vault: pay: insufficient funds \(balance 30\)")
        run_in(b, "work", "vault pay 1 shop 1",
            r"vault: pay: payment replayed or out of order \(the next is 2\)")
        run_in(b, "open", "vault balance", r"vault: balance 0, 0 payments, counter \d+")
        # The siege went on while work was served: its rounds (one stall per port beside a good
        # request, 5 s each) run back to back, and the next one ends held off too.
        b.expect(rf"^\[vaultpoke\] vaultpoke: svc siege round {siege_before + 1}:")
        assert sieges_held(b.text) > siege_before

        # The token carries the hypervisor's boot count (RFC 9711 bootcount, 267).
        nonce = secrets.token_bytes(16)
        mark = b.mark()
        run_in(b, "open", f"vault attest {nonce.hex()}", r"vault: token end \d+(?=\r?\n)")
        hexed = "".join(re.findall(r"^\[open\] vault: token \d+ ([0-9a-f]+)\n",
                                   b.text[mark:], re.M))
        claims = cbor2.loads(cbor2.loads(bytes.fromhex(hexed)).value[2])
        assert claims[267] == 1 and claims[10] == nonce

        b.expect(r"^\[vaultpoke\] vaultpoke: svc cases done")
        cases, _, _ = poked(b.text)
        assert cases == CASES
        assert not complaints(b.text), complaints(b.text)
    finally:
        b.kill()
        print(b.transcript())

    # The whole device again, on the same disk: the third play works, the fourth is refused.
    b = Boot(FULL, smp=2, timeout=600, interactive=True, disk=disk, uds=UDS)
    try:
        b.start()
        b.expect(r"^\[open\] " + READY)
        vault = vault_says(b.text)
        assert "vault: boot count 2" in vault
        run_in(b, "open", "vault drm info film", r"vault: licence film 1 plays left")
        mark = b.mark()
        run_in(b, "open", "vault drm play film", r"vault: licence film played, 0 plays left")
        b.expect(rf"^\[open\] vault: content key {content_key}\n", after=mark)
        mark = b.mark()
        run_in(b, "open", "vault drm play film", r'vault: drm play: licence "film": no plays left')
        assert "content key" not in b.text[mark:]
        assert key_cmd(b, "open", "vault key pub k1", "k1", "pub", r"vault: key k1 pub 1/2 \S+") \
            == open_pub
        b.expect(rf"^\[work\] {READY}")
        run_in(b, "work", "vault balance", r"vault: balance 30, 1 payments, counter \d+")
        mark = b.mark()
        run_in(b, "work", "vault receipt 1", r"vault: receipt end \d+")
        check_receipt(receipt_of(b, "work", mark), device, device_raw, payer="work",
                      payee="shop", amount=20, seq=1, balance=30, counter=counter)

        # Root in open panics its kernel: the vault and work go on serving.
        at(b, "open")
        mark = b.mark()
        b.send("echo c > /proc/sysrq-trigger\n")
        b.expect(r"^\[open\] .*Kernel panic - not syncing", after=mark)
        run_in(b, "work", "vault pay 5 cafe", r"vault: paid 5 to cafe: payment 2, balance 25, counter \d+")
        assert key_cmd(b, "work", "vault key pub k1", "k1", "pub",
                       r"vault: key k1 pub 1/2 \S+") == work_pub
        mark = b.mark()
        run_in(b, "work", f"vault attest {secrets.token_hex(16)}", r"vault: token end \d+(?=\r?\n)")
    finally:
        b.kill()
        print(b.transcript())
