#!/usr/bin/python3
"""factory.py: the factory step of `make provision` (docs/vault.md, "The device certificate").

    factory.py --cert build/devices/D/device-cert.cbor --factory build/factory --device D
               [--model TEXT] [--timeout S] [--measure PVPACK HYPERVISOR CONFIG] -- QEMU-COMMAND...

Does nothing if the certificate exists (but says so if the hypervisor or the vault changed since
it was issued, which changes the vault's key: --measure, and CERT.measured beside the
certificate, what `pvpack --measure` said of them then), or if --measure's config has no VM
named vault. Otherwise: creates the manufacturer's P-256 key once
(FACTORY/manufacturer-key.pem, mode 0600, and FACTORY/manufacturer.pub.pem), boots the device
with QEMU-COMMAND (the one `make run` uses) until the vault prints its device key, stops QEMU,
and writes the certificate: a COSE_Sign1 (ES256) by the manufacturer key over the device's
public key, its ueid, its name and its model. Exits 1 with the reason if the vault has no key
(no device secret) or says nothing in time."""

import argparse
import hashlib
import os
import re
import select
import subprocess
import sys
import time

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEY_LINE = re.compile(rb"^\[vault\] vault: device key ([12])/2 ([0-9a-f]+)\r?\n", re.M)  # whole lines only
NO_SECRET = re.compile(rb"^\[vault\] vault: no device secret", re.M)
NO_KEY = re.compile(rb"^\[vault\] vault: (sealing key refused|device key derivation failed)[^\r\n]*",
                    re.M)
ISS, SUB, CNF, UEID, HWMODEL = 1, 2, 8, 256, 259  # CWT (RFC 8392, 8747) and EAT (RFC 9711) keys


def fail(msg):
    print(f"factory: {msg}", file=sys.stderr)
    sys.exit(1)


def manufacturer_key(factory):
    """The manufacturer's key, made the first time (private key readable by its owner only)."""
    priv, pub = os.path.join(factory, "manufacturer-key.pem"), os.path.join(factory, "manufacturer.pub.pem")
    os.makedirs(factory, exist_ok=True)
    if os.path.exists(priv):
        key = serialization.load_pem_private_key(open(priv, "rb").read(), password=None)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        fd = os.open(priv + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        os.replace(priv + ".tmp", priv)
        print(f"factory: new manufacturer key {priv}")
    if not os.path.exists(pub):
        with open(pub + ".tmp", "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
        os.replace(pub + ".tmp", pub)
    return key


def tail(out, lines=20):
    """The last lines QEMU printed, for a failure's message."""
    return "\n".join("  " + l for l in out.decode(errors="replace").splitlines()[-lines:])


def read_device_key(command, timeout):
    """Boots the device and returns the vault's 65-byte public key; QEMU is stopped either way."""
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            parts = dict(KEY_LINE.findall(out))
            if set(parts) == {b"1", b"2"}:
                return bytes.fromhex((parts[b"1"] + parts[b"2"]).decode())
            if NO_SECRET.search(out):
                fail("the vault says the device has no secret (no uds.bin loaded?): no device key "
                     "to certify")
            m = NO_KEY.search(out)
            if m:
                fail(f"the vault has no device key: {m.group(0).decode(errors='replace')}")
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"no device key from the vault within {timeout} s; QEMU printed last:\n"
                     f"{tail(out)}")
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    fail(f"QEMU exited ({proc.wait()}) before the vault printed its device key; "
                         f"it printed last:\n{tail(out)}")
                out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def key_inputs(measure):
    """The lines of `pvpack --measure` the vault's key depends on: the hypervisor and the vault."""
    if not measure:
        return None
    pvpack, hv, config = measure
    out = subprocess.run([pvpack, "--measure", "--hypervisor", hv, config], capture_output=True,
                         text=True, check=True).stdout
    return "".join(line + "\n" for line in out.splitlines()
                   if line.startswith("hypervisor ") or line.startswith("vm vault "))


def sign1(key, payload):
    """COSE_Sign1 (RFC 9052, 4.2) with ES256: signature r || s over the Sig_structure."""
    protected = cbor2.dumps({1: -7})
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload,
                                          r.to_bytes(32, "big") + s.to_bytes(32, "big")]))


def main():
    p = argparse.ArgumentParser(prog="factory.py")
    p.add_argument("--cert", required=True)
    p.add_argument("--factory", required=True)
    p.add_argument("--device", required=True)
    p.add_argument("--model", default="pocketvisor qemu-virt")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--measure", nargs=3, metavar=("PVPACK", "HYPERVISOR", "CONFIG"))
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    inputs = key_inputs(args.measure)
    measured = args.cert + ".measured"
    if inputs is not None and "vm vault " not in inputs:
        print(f"factory: {args.measure[2]} has no VM named vault: no device key to certify")
        return 0
    if os.path.exists(args.cert):
        then = open(measured).read() if os.path.exists(measured) else None
        if inputs is not None and then is not None and then != inputs:
            print(f"factory: warning: the hypervisor or the vault changed since {args.cert} was "
                  f"issued, so the vault's device key is another one now and tokens will not "
                  f"verify: delete {args.cert} and run `make provision` again")
        else:
            print(f"factory: {args.cert} exists, kept")
        return 0
    if not command:
        fail("no QEMU command after --")
    key = manufacturer_key(args.factory)
    print(f"factory: booting device {args.device} for its vault's device key")
    point = read_device_key(command, args.timeout)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        fail(f"the vault's device key {point.hex()} is not a P-256 point")
    ueid = b"\x01" + hashlib.sha256(point).digest()
    model = args.model.encode()
    if not 1 <= len(model) <= 32:
        fail("--model must be 1 to 32 bytes (RFC 9711 hwmodel)")
    payload = cbor2.dumps({ISS: "pocketvisor factory", SUB: args.device,
                           CNF: {1: {1: 2, -1: 1, -2: point[1:33], -3: point[33:]}},
                           UEID: ueid, HWMODEL: model}, canonical=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.cert)), exist_ok=True)
    with open(args.cert + ".tmp", "wb") as f:
        f.write(sign1(key, payload))
    os.replace(args.cert + ".tmp", args.cert)
    if inputs is not None:
        with open(measured, "w") as f:
            f.write(inputs)
    print(f"factory: device {args.device} is {ueid.hex()}: certificate {args.cert}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
