"""test_vcrypto.py: Mbed TLS built bare-metal (guests/vault/mbedtls.mk) computes what an independent
implementation does. guests/vcrypto derives P-256 keys from a fixed seed, signs, runs ECDH and
seals with ChaCha20-Poly1305; here python3-cryptography (OpenSSL) redoes every step from the same
constants and the guest's hex lines must match byte for byte. Booted with icount, so its
`... ticks T` lines count instructions: T * 16 (CNTFRQ 62.5 MHz against 1 GHz of instructions)."""

import hashlib
import hmac
import re

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness import vm_lines

# guests/vcrypto/main.c's constants.
SEED = bytes(range(32))
DEVICE_INFO = b"pocketvisor vault device key"
PEER_INFO = b"pocketvisor vcrypto peer key"
AEAD_INFO = b"pocketvisor vcrypto aead key"
MESSAGE = b"pocketvisor vcrypto: sign me"
AAD = b"vcrypto aad"
PLAINTEXT = b"the vault keeps its secrets"
NONCE = b"vcryptononce"
HEAP_SIZE = 32 * 1024

# P-256's group order (SEC 2, 2.4.2).
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def hkdf(ikm, info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(ikm)


def derive_scalar(info):
    """FIPS 186-4 B.4.1 on 40 bytes of HKDF-SHA256: d = c mod (n - 1) + 1."""
    return int.from_bytes(hkdf(SEED, info, 40), "big") % (N - 1) + 1


def private_key(d):
    return ec.derive_private_key(d, ec.SECP256R1())


def uncompressed(key):
    return key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def rfc6979_nonce(d, h):
    """RFC 6979 3.2 for P-256 with SHA-256 (qlen = hlen = 256, so bits2int is a plain read)."""
    x = d.to_bytes(32, "big")
    h1 = (int.from_bytes(h, "big") % N).to_bytes(32, "big")   # bits2octets
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h1, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h1, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        t = int.from_bytes(v, "big")
        if 1 <= t < N:
            return t
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def rfc6979_sign(d, message):
    """(r, s) of deterministic ECDSA, the point multiplication done by OpenSSL (k * G is the
    public key of private key k)."""
    h = hashlib.sha256(message).digest()
    k = rfc6979_nonce(d, h)
    r = private_key(k).public_key().public_numbers().x % N
    s = pow(k, -1, N) * (int.from_bytes(h, "big") + r * d) % N
    return r, s


def guest_lines(out):
    """The guest's lines, whole. pocketvisor's UART prints a VM's output in pieces of at most 120
    characters (hv/include/pv/vpl011.h), so a 65-byte key in hex arrives as two tagged lines; every
    line of the guest starts with `vcrypto: `, so any other one continues the line before it."""
    lines = []
    for piece in vm_lines(out, "vcrypto"):
        if piece.startswith("vcrypto: ") or not lines:
            lines.append(piece)
        else:
            lines[-1] += piece
    return lines


def hex_line(lines, label):
    """The bytes of the guest's `vcrypto: <label> <hex>` line (exactly one)."""
    found = [m.group(1) for m in (re.fullmatch(rf"vcrypto: {label} ([0-9a-f]+)", line)
                                  for line in lines) if m]
    assert len(found) == 1, f"want one `vcrypto: {label} <hex>` line, got {found}"
    return bytes.fromhex(found[0])


@pytest.mark.boot("vcrypto", smp=1, timeout=120, icount=True)
def test_vcrypto_matches_an_independent_implementation(boot):
    out = boot.wait()
    assert boot.returncode == 0
    lines = guest_lines(out)
    assert not [line for line in lines if "FAIL" in line]
    assert lines[-1] == "vcrypto: done"

    d = derive_scalar(DEVICE_INFO)
    device = private_key(d)
    peer = private_key(derive_scalar(PEER_INFO))
    assert hex_line(lines, "pub") == uncompressed(device), "device key: not the host's HKDF key"
    assert hex_line(lines, "peer") == uncompressed(peer), "peer key: not the host's HKDF key"

    sig = hex_line(lines, "sig")
    assert len(sig) == 64
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    try:
        device.public_key().verify(encode_dss_signature(r, s), MESSAGE, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        pytest.fail("the guest's signature does not verify on the host")
    assert (r, s) == rfc6979_sign(d, MESSAGE), "a valid signature, but not RFC 6979's"

    secret = device.exchange(ec.ECDH(), peer.public_key())
    assert hex_line(lines, "ecdh") == secret
    assert peer.exchange(ec.ECDH(), device.public_key()) == secret

    sealed = hex_line(lines, "sealed")
    aead = ChaCha20Poly1305(hkdf(secret, AEAD_INFO, 32))
    assert sealed == aead.encrypt(NONCE, PLAINTEXT, AAD)
    assert aead.decrypt(NONCE, sealed, AAD) == PLAINTEXT
    assert "vcrypto: aead ok" in lines
    assert "vcrypto: tamper refused" in lines

    peak = [int(m.group(1)) for m in (re.fullmatch(r"vcrypto: heap peak (\d+) bytes", line)
                                      for line in lines) if m]
    assert len(peak) == 1 and 0 < peak[0] < HEAP_SIZE, peak
