"""test_attest.py: the vault's device key and attestation tokens, end to end (docs/vault.md).

The factory step (scripts/factory.py) boots tests/configs/attest-bare.dts for each of two device
secrets and certifies each vault's device key with a manufacturer key of the test's own; the
vault's key must be what the host derives from the device secret and the measurements by the
documented recipe (hashlib, hmac, python3-cryptography), and the same in attest.dts, whose vault
has the same measurement. Then one boot of tests/configs/attest.dts: Debian's Linux (`open`) asks
for a token with `vault attest`; tools/pvverify accepts it, and refuses it with one byte changed,
with another nonce, with the other device's certificate, with the measurements of a config
whose Linux image differs by one byte, with another hypervisor and for another VM; the host
checks the signature is RFC 6979's. Meanwhile guests/vaultpoke sends the vault every malformed,
huge and truncated request it knows and keeps three stalled streams open, and every case gets
its exact refusal while open's and vaultpoke's own good requests get tokens. A device with no
secret: the vault says so, refuses every request, and the factory step refuses to certify it."""

import hashlib
import hmac
import re
import secrets
import subprocess

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness import BOARD, BUILD, HV_IMAGE, PVPACK, QEMU, ROOT, Boot, uds_args, vm_lines
from test_linux import READY, complaints, run
from test_vcrypto import N, rfc6979_sign

PVVERIFY = ROOT / "tools" / "pvverify"
FACTORY = ROOT / "scripts" / "factory.py"
BARE, FULL = "tests/configs/attest-bare.dts", "tests/configs/attest.dts"
TIMEOUT = 420  # the Linux boot and every check, on a loaded 2-core host under TCG
POKE_NONCE = bytes(range(0x40, 0x60))  # guests/vaultpoke's good request

# Two device secrets, written at collection.
(BUILD / "tests").mkdir(parents=True, exist_ok=True)
UDS = {}
for _name in ("a", "b"):
    UDS[_name] = BUILD / "tests" / f"attest-uds-{_name}.bin"
    UDS[_name].write_bytes(hashlib.sha256(b"attest device " + _name.encode()).digest())

# What the vault answers each of vaultpoke's cases, in order, until the stream ends.
CASES = {
    "huge-length": "refused: request too long; ended",
    "over-limit": "refused: request too long; ended",
    "empty": "refused: empty request; ended",
    "stall": "refused: request timed out; ended",
    "not-cbor": "refused: not CBOR; ended",
    "reserved": "refused: not CBOR; ended",
    "cut-head": "refused: not CBOR; ended",
    "past-end": "refused: not CBOR; ended",
    "indefinite": "refused: indefinite length; ended",
    "not-a-map": "refused: not a map; ended",
    "int-key": "refused: key not a text string; ended",
    "unknown-key": "refused: unknown key; ended",
    "duplicate": "refused: duplicate key; ended",
    "empty-map": "refused: no nonce; ended",
    "huge-map": "refused: not CBOR; ended",
    "nonce-text": "refused: nonce not a byte string; ended",
    "nonce-short": "refused: nonce too short; ended",
    "trailing": "refused: trailing bytes; ended",
    "nonce-long": "refused: nonce too long; ended",
    "blast": "sent; refused: request too long; ended",
    "flood": "4 of 6 accepted",
    "pipelined": "token {t} bytes; token {t} bytes; refused: no nonce; ended",
    "good": "token {t} bytes; refused: request timed out; ended",
}
# Tokens with a 32-byte nonce: 254 bytes for vaultpoke (9 characters, CID 4), 249 for open.
TOKEN_SIZE = {"vaultpoke": 254, "open": 249}


def mac(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


def measure(config):
    """pvpack --measure's lines for `config` (with the hypervisor), as text and as a dict."""
    out = subprocess.run([str(PVPACK), "--measure", "--hypervisor", str(HV_IMAGE), str(config)],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return out, {" ".join(line.split()[:-1]): bytes.fromhex(line.split()[-1])
                 for line in out.splitlines()}


def host_device_key(uds, measured):
    """docs/vault.md, "The device key", computed here: the vault's sealing key for "device-key"
    (docs/attestation.md), then HKDF-SHA256 and FIPS 186-4 B.4.1."""
    device = mac(uds, b"pocketvisor device")
    cdi_hv = mac(device, measured["hypervisor"])
    cdi_vm = mac(cdi_hv, measured["vm vault"], b"vault".ljust(16, b"\0"))
    seal = mac(cdi_vm, b"pocketvisor seal", b"device-key", b"\x01")
    okm = HKDF(algorithm=hashes.SHA256(), length=40, salt=None,
               info=b"pocketvisor vault device key").derive(seal)
    return int.from_bytes(okm, "big") % (N - 1) + 1


def uncompressed(d):
    key = ec.derive_private_key(d, ec.SECP256R1())
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def pack(config, name):
    bundle = BUILD / "tests" / f"{name}.pvb"
    subprocess.run([str(PVPACK), "-o", str(bundle), str(config)], cwd=ROOT, check=True,
                   capture_output=True)
    return bundle


def factory(tmp, device, uds, bundle):
    """scripts/factory.py for this device: (exit code, its output, the certificate's path)."""
    cert = tmp / f"{device}-cert.cbor"
    command = [QEMU, *BOARD, *uds_args(uds), "-smp", "2", "-kernel", str(HV_IMAGE),
               "-initrd", str(bundle)]
    r = subprocess.run([str(FACTORY), "--cert", str(cert), "--factory", str(tmp / "factory"),
                        "--device", device, "--timeout", "60",
                        "--measure", str(PVPACK), str(HV_IMAGE), BARE, "--", *command],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr, cert


@pytest.fixture(scope="module")
def devices(tmp_path_factory):
    """Both devices certified by the factory step: {name: certificate path}, and the factory
    directory (its manufacturer key)."""
    tmp = tmp_path_factory.mktemp("factory")
    bundle = pack(BARE, "attest-bare")
    certs = {}
    for name, uds in UDS.items():
        code, out, cert = factory(tmp, name, uds, bundle)
        assert code == 0, out
        assert f"factory: device {name} is 01" in out
        certs[name] = cert
    return certs, tmp / "factory"


def pvverify(token, cert, factory_dir, nonce, measurements, vm=None):
    args = [str(PVVERIFY), "--token", token, "--cert", str(cert),
            "--manufacturer", str(factory_dir / "manufacturer.pub.pem"), "--nonce", nonce.hex(),
            "--measurements", str(measurements)]
    r = subprocess.run(args + (["--vm", vm] if vm else []), capture_output=True, text=True,
                       timeout=60)
    assert r.stderr == "", r.stderr  # never a traceback
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    assert (r.returncode == 0) == lines[0].startswith("pvverify: OK: "), r.stdout
    return lines[0]


def refused(line):
    assert line.startswith("pvverify: REFUSED: "), line
    return line[len("pvverify: REFUSED: "):]


def token_of(lines, who):
    """The token in `<who>: token N HEX` ... `<who>: token end SIZE` lines (the first one)."""
    hexed, size = "", None
    for line in lines:
        m = re.fullmatch(rf"{who}: token (\d+) ([0-9a-f]+)", line)
        if m and size is None:
            hexed += m.group(2)
        m = re.fullmatch(rf"{who}: token end (\d+)", line)
        if m and size is None:
            size = int(m.group(1))
    token = bytes.fromhex(hexed)
    assert size == len(token) > 0, (size, len(token))
    return token


def cert_point(cert):
    claims = cbor2.loads(cbor2.loads(cert.read_bytes()).value[2])
    key = claims[8][1]
    return b"\x04" + key[-2] + key[-3], claims


def check_token(token, d, nonce, who, cid, measured):
    """The token decoded here, claim by claim (docs/vault.md), and its signature RFC 6979's."""
    tagged = cbor2.loads(token)
    assert tagged.tag == 18
    protected, unprotected, payload, sig = tagged.value
    assert protected == bytes([0xa1, 0x01, 0x26]) and unprotected == {}
    claims = cbor2.loads(payload)
    assert claims == {10: nonce, 256: b"\x01" + hashlib.sha256(uncompressed(d)).digest(),
                      -65537: who, -65538: measured[f"vm {who}"], -65539: cid,
                      -65540: measured["hypervisor"], -65541: 3}
    # Deterministic encoding: re-encoding the claims gives the same bytes.
    assert cbor2.dumps(claims, canonical=True) == payload
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = rfc6979_sign(d, tbs)
    assert sig == r.to_bytes(32, "big") + s.to_bytes(32, "big"), "not RFC 6979's signature"
    assert len(token) == TOKEN_SIZE[who]


def test_factory_certifies_the_key_the_host_derives(devices):
    certs, factory_dir = devices
    _, measured = measure(BARE)
    _, full = measure(FULL)
    assert full["vm vault"] == measured["vm vault"]  # so attest.dts's vault has the same key
    points = set()
    for name, cert in certs.items():
        point, claims = cert_point(cert)
        assert point == uncompressed(host_device_key(UDS[name].read_bytes(), measured))
        assert claims[256] == b"\x01" + hashlib.sha256(point).digest()
        assert claims[1] == "pocketvisor factory" and claims[2] == name
        assert claims[259] == b"pocketvisor qemu-virt"
        points.add(point)
    assert len(points) == 2
    # An existing certificate is kept without a boot; a changed vault or hypervisor is noticed.
    code, out, _ = factory(factory_dir.parent, "a", UDS["a"], BUILD / "nonexistent.pvb")
    assert code == 0 and "exists, kept" in out, out
    measured_file = certs["a"].with_name(certs["a"].name + ".measured")
    saved = measured_file.read_text()
    assert saved.splitlines() == [f"hypervisor {measured['hypervisor'].hex()}",
                                  f"vm vault {measured['vm vault'].hex()}"]
    measured_file.write_text(saved.replace(measured["vm vault"].hex()[:8], "00000000"))
    code, out, _ = factory(factory_dir.parent, "a", UDS["a"], BUILD / "nonexistent.pvb")
    measured_file.write_text(saved)
    assert code == 0 and "changed since" in out and "delete" in out, out


def test_pvverify_refuses_what_is_not_a_token(devices, tmp_path):
    certs, factory_dir = devices
    text, _ = measure(BARE)
    (tmp_path / "m.txt").write_text(text)
    garbage = tmp_path / "garbage"
    garbage.write_bytes(secrets.token_bytes(300))
    for token in (str(garbage), "d2", "d284", "a0", "d28443a10126a0" + "40" * 2):
        why = refused(pvverify(token, certs["a"], factory_dir, b"x" * 8, tmp_path / "m.txt"))
        assert "token" in why, why
    # A certificate signed by someone else is refused before the token is looked at.
    other = tmp_path / "other-factory"
    other.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    (other / "manufacturer.pub.pem").write_bytes(key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    why = refused(pvverify("d2", certs["a"], other, b"x" * 8, tmp_path / "m.txt"))
    assert why == "the certificate's signature does not verify with the manufacturer key"


def expect_cases(boot):
    """What vaultpoke reported for each case, once it is done with them."""
    boot.expect(r"^\[vaultpoke\] vaultpoke: cases done")
    got = {}
    for line in vm_lines(boot.text, "vaultpoke"):
        m = re.fullmatch(r"vaultpoke: ([a-z-]+): (.*)", line)
        if m and m.group(1) in CASES:
            got[m.group(1)] = m.group(2)
    return got


@pytest.mark.linux
def test_linux_attests_and_pvverify_checks_everything(devices, tmp_path):
    certs, factory_dir = devices
    text, measured = measure(FULL)
    good_measurements = tmp_path / "measurements.txt"
    good_measurements.write_text(text)
    d = host_device_key(UDS["a"].read_bytes(), measured)
    b = Boot(ROOT / FULL, smp=2, timeout=TIMEOUT, interactive=True, uds=UDS["a"])
    try:
        b.start()
        b.expect(r"^\[vault\] vault: up")
        # The vault printed the key the factory certified.
        key_lines = [line for line in vm_lines(b.text, "vault") if line.startswith("vault: device key")]
        assert len(key_lines) == 2
        printed = bytes.fromhex("".join(line.split()[-1] for line in key_lines))
        assert printed == cert_point(certs["a"])[0] == uncompressed(d)

        # vaultpoke's cases, each refused as it must be, and its own good request answered.
        got = expect_cases(b)
        t = TOKEN_SIZE["vaultpoke"]
        assert got == {k: v.format(t=t) for k, v in CASES.items()}
        poke_token = token_of(vm_lines(b.text, "vaultpoke"), "vaultpoke")
        check_token(poke_token, d, POKE_NONCE, "vaultpoke", 4, measured)
        (tmp_path / "poke.cbor").write_bytes(poke_token)
        line = pvverify(str(tmp_path / "poke.cbor"), certs["a"], factory_dir, POKE_NONCE,
                        good_measurements, vm="vaultpoke")
        assert line == (f"pvverify: OK: vm vaultpoke, measurement "
                        f"{measured['vm vaultpoke'].hex()}, device "
                        f"{cert_point(certs['a'])[1][256].hex()}")

        # open asks while vaultpoke's siege goes on: its stalled streams do not hold us up.
        b.expect(rf"^\[open\] {READY}")
        nonce = secrets.token_bytes(32)
        siege_before = b.expect(r"^\[vaultpoke\] vaultpoke: siege round (\d+):")
        mark = b.mark()
        run(b, "open", f"vault attest {nonce.hex()}", r"vault: token end \d+(?=\r?\n)")
        after = b.text[mark:]
        token = token_of(vm_lines(after, "open"), "vault")
        check_token(token, d, nonce, "open", 3, measured)
        rounds = b.expect(r"^\[vaultpoke\] vaultpoke: siege round (\d+):", after=b.mark())
        assert int(rounds.group(1)) > int(siege_before.group(1))
        sieges = [line for line in vm_lines(b.text, "vaultpoke") if "siege round" in line]
        assert sieges and all(line.endswith(": 1 token, 3 of 3 stalls refused")
                              for line in sieges), sieges

        # Refusals open sees, each with its reason.
        run(b, "open", "vault attest " + "ab" * 65, r"vault: refused: nonce too long")
        run(b, "open", "vault attest 0102", r"vault: refused: nonce too short")
        run(b, "open", "vault -p 5100 attest " + nonce.hex(),
            r"vault: CID 5 port 5100: connect refused \(reset: this VM may not reach it, or "
            r"nothing listens there\)")
        run(b, "open", "vault attest xyz; echo status=$?", r"status=2")
        # A request cut short by the client's end of stream (socat shuts its side down at EOF).
        run(b, "open", r"printf '\0\0\0\40\241' | socat -t 10 - VSOCK-CONNECT:5:5000 | "
            r"tail -c +13; echo ' <- answer'", r"truncated request <- answer")
        assert not complaints(b.text), complaints(b.text)
    finally:
        b.kill()
        print(b.transcript())

    # On the host: the token verifies, and each way of changing one input is refused.
    token_file = tmp_path / "token.txt"
    token_file.write_text(after)  # the console lines themselves
    ok = pvverify(str(token_file), certs["a"], factory_dir, nonce, good_measurements, vm="open")
    ueid = cert_point(certs["a"])[1][256].hex()
    assert ok == f"pvverify: OK: vm open, measurement {measured['vm open'].hex()}, device {ueid}"

    for at in (40, 100, len(token) - 10):  # a claim, a measurement, the signature
        changed = bytearray(token)
        changed[at] ^= 0x01
        why = refused(pvverify(bytes(changed).hex(), certs["a"], factory_dir, nonce,
                               good_measurements))
        assert why.startswith("the token's signature does not verify with the certified device "
                              "key") or why.startswith("the token is not"), why

    other_nonce = nonce[:-1] + bytes([nonce[-1] ^ 1])
    why = refused(pvverify(token.hex(), certs["a"], factory_dir, other_nonce, good_measurements))
    assert why.startswith(f"the token's nonce {nonce.hex()} is not the one asked for"), why

    why = refused(pvverify(token.hex(), certs["b"], factory_dir, nonce, good_measurements))
    assert why.startswith("the token's signature does not verify with the certified device key "
                          f"(the token names device {ueid}, the certificate "
                          f"{cert_point(certs['b'])[1][256].hex()}"), why

    why = refused(pvverify(token.hex(), certs["a"], factory_dir, nonce, good_measurements,
                           vm="work"))
    assert why == "the token is from vm open, not work"

    # The same config with open's kernel changed by one byte: another measurement expected.
    image = (BUILD / "linux" / "Image").read_bytes()
    changed_image = tmp_path / "Image"
    changed_image.write_bytes(image[:4096] + bytes([image[4096] ^ 1]) + image[4097:])
    dts = tmp_path / "attest-changed.dts"
    dts.write_text((ROOT / FULL).read_text().replace("build/linux/Image", str(changed_image)))
    changed_text, changed = measure(dts)
    assert changed["vm open"] != measured["vm open"]
    (tmp_path / "changed.txt").write_text(changed_text)
    why = refused(pvverify(token.hex(), certs["a"], factory_dir, nonce, tmp_path / "changed.txt"))
    assert why == (f"vm open's measurement is {measured['vm open'].hex()}, the measurements file "
                   f"says {changed['vm open'].hex()}")

    # Another hypervisor.
    other_hv = hashlib.sha256(HV_IMAGE.read_bytes() + b"\0").hexdigest()
    (tmp_path / "hv.txt").write_text(text.replace(measured["hypervisor"].hex(), other_hv))
    why = refused(pvverify(token.hex(), certs["a"], factory_dir, nonce, tmp_path / "hv.txt"))
    assert why == (f"the hypervisor's measurement is {measured['hypervisor'].hex()}, the "
                   f"measurements file says {other_hv}")


def test_a_device_with_no_secret_has_no_key_and_refuses_every_request(tmp_path):
    bundle = pack(BARE, "attest-bare")
    code, out, cert = factory(tmp_path, "blank", None, bundle)
    assert code == 1 and "the vault says the device has no secret" in out, out
    assert not cert.exists()
    b = Boot(ROOT / BARE, smp=2, timeout=120, interactive=True)
    try:
        b.start()
        got = expect_cases(b)
    finally:
        b.kill()
        print(b.transcript())
    vault = vm_lines(b.text, "vault")
    assert "vault: no device secret: no device key, attestation requests are refused" in vault
    assert not [line for line in vault if line.startswith("vault: device key")]
    # Malformed requests are refused for what they are; good ones for the missing key.
    want = {k: v for k, v in CASES.items() if "{t}" not in v}
    assert {k: got[k] for k in want} == want
    assert got["pipelined"] == "refused: no device key; ended"
    assert got["good"] == "refused: no device key; ended"
