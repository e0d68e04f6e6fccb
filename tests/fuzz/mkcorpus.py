#!/usr/bin/env python3
"""mkcorpus.py: writes the fuzz targets' seed corpora, tests/fuzz/corpus/<target>/.

Every seed comes from this repository: bundles and operation streams built here to the layouts
the harnesses read (hv/include/pv/bundle.h; the fuzz_*.c files), and DTBs compiled with dtc from
our own configs and a board tree written below. Run it from the repository root after changing
a harness's input format; the seeds are checked in, so fuzzing needs nothing but the build."""
import os
import struct
import subprocess
import sys

OUT = "tests/fuzz/corpus"


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def dtc(source_text=None, path=None):
    """A DTS compiled as pvpack's dts.c runs dtc."""
    args = ["dtc", "-q", "-E", "no-name_is_string", "-E", "no-name_properties",
            "-I", "dts", "-O", "dtb", "-o", "-"]
    if path:
        return subprocess.run(args + ["--", path], check=True, capture_output=True).stdout
    return subprocess.run(args, input=source_text.encode(), check=True,
                          capture_output=True).stdout


# ---- bundle: struct pvb_header and struct pvb_vm, little-endian (bundle.h) ----

PVB_MAGIC, PVB_VERSION, NO_PIN = 0x31425650, 4, 0xFF
VM_SIZE = 296
HEADER_SIZE = 32 + 8 * VM_SIZE
DISK_RO, NET_PORT, NET_UPLINK = 1, 1, 2


def pvb_vm(name, ram_base=0x40000000, ram_size=0x200000, vcpus=1, image=(4096, 16),
           dtb=(0, 0), initrd=(0, 0), pins=(), cpu_mask=1, flags=0, cid=0, rules=(),
           dev_spis=0, regions=(), disks=(), mac=bytes(6), net_flags=0, net_peers=0):
    def blob(b, load):
        return struct.pack("<QQQ", b[0], b[1], load if b[1] else 0)
    pin = bytes(list(pins) + [NO_PIN] * (8 - len(pins)))
    regs = list(regions) + [(0, 0)] * (2 - len(regions))
    conn = list(rules) + [(0, 0)] * (8 - len(rules))
    rec = struct.pack("<16sQQQ", name.encode(), ram_base, ram_size, ram_base)
    rec += blob(image, ram_base) + blob(dtb, ram_base + ram_size - 0x14000)
    rec += blob(initrd, ram_base + ram_size - 0x100000)
    rec += struct.pack("<IIII", vcpus, cpu_mask, flags, 0) + pin + struct.pack("<Q", dev_spis)
    rec += b"".join(struct.pack("<II", *r) for r in regs)
    rec += struct.pack("<II", cid, len(rules)) + b"".join(struct.pack("<II", *r) for r in conn)
    disk = list(disks) + [("", 0)] * (2 - len(disks))
    rec += b"".join(struct.pack("<16sII", part.encode(), flags, 0) for part, flags in disk)
    rec += struct.pack("<6sBBI4x", mac, net_flags, 0, net_peers)  # 4x: tail padding
    assert len(rec) == VM_SIZE
    return rec


def bundle(vms, payload=16):
    total = 4096 + payload
    head = struct.pack("<IIIIQII", PVB_MAGIC, PVB_VERSION, HEADER_SIZE, len(vms), total, 0, 0)
    head += b"".join(vms) + bytes(VM_SIZE * (8 - len(vms)))
    return head + bytes(4096 - len(head)) + bytes(range(payload))


def bundles():
    write("bundle", "one-vm", bundle([pvb_vm("hello")]))
    write("bundle", "two-vms-vsock", bundle([
        pvb_vm("open", vcpus=2, cpu_mask=3, cid=3, rules=[(4, 5000)]),
        pvb_vm("vault", pins=[1], cpu_mask=2, cid=4, rules=[(3, 0xFFFFFFFF)])]))
    write("bundle", "blobs-and-pmu", bundle([
        pvb_vm("bench", image=(4096, 8), dtb=(4104, 8), initrd=(4096, 16), flags=1,
               vcpus=4, cpu_mask=0xF, pins=[0, 1, 2, 3])], payload=16))
    write("bundle", "device", bundle([
        pvb_vm("rtc", dev_spis=1 << 2, regions=[(0x09010000, 0x1000)])]))
    write("bundle", "too-big-for-ram", bundle([pvb_vm("a"), pvb_vm("b"), pvb_vm("c")]))
    write("bundle", "disks-and-net", bundle([
        pvb_vm("open", disks=[("open-data", 0), ("media", DISK_RO)],
               mac=bytes([2, 0xB4, 0x63, 0x36, 0x70, 0xE9]), net_flags=NET_PORT | NET_UPLINK,
               net_peers=1 << 1),
        pvb_vm("work", disks=[("media", DISK_RO)], mac=bytes([2, 0, 0, 0, 0, 1]),
               net_flags=NET_PORT, net_peers=1 << 0)]))


# ---- pvpack: our configs, good and bad, as dtc hands them to pvpack ----

PVPACK_CONFIGS = [
    "configs/phone.dts", "tests/configs/good/minimal.dts", "tests/configs/good/two-vms.dts",
    "tests/configs/good/vsock.dts", "tests/configs/good/linux.dts",
    "tests/configs/good/storage-net.dts", "tests/configs/rtc.dts",
    "tests/configs/shared.dts", "tests/configs/bad/name-duplicate.dts",
    "tests/configs/bad/device-spi-two-vms.dts", "tests/configs/bad/vsock-connect-duplicate.dts",
    "tests/configs/bad/elf-load.dts", "tests/configs/bad/disks-shared-writable.dts",
    "tests/configs/bad/net-peers-not-mutual.dts", "tests/configs/bad/net-mac-default-duplicate.dts",
]


def pvpack():
    for path in PVPACK_CONFIGS:
        name = os.path.splitext(os.path.basename(path))[0]
        write("pvpack", name, dtc(path=path))


# ---- fdt: board trees as a loader passes them (QEMU virt's shape, written here) ----

BOARD = """/dts-v1/;
/ {
	#address-cells = <%(ac)d>;
	#size-cells = <%(sc)d>;
	compatible = "linux,dummy-virt";
	cpus { #address-cells = <1>; #size-cells = <0>; cpu@0 { reg = <0>; }; };
	memory@40000000 { device_type = "memory"; reg = <%(reg)s>; };
	chosen {
		bootargs = "";
		linux,initrd-start = <%(start)s>;
		linux,initrd-end = <%(end)s>;
	};
	pl011@9000000 { reg = <%(uart)s>; };
	virtio_mmio@a000000 { dma-coherent; interrupts = <0 16 1>; reg = <%(v0)s>;
			      compatible = "virtio,mmio"; };
	virtio_mmio@a000200 { dma-coherent; interrupts = <0 17 1>; reg = <%(v1)s>;
			      compatible = "virtio,mmio"; };
};
"""


def fdts():
    write("fdt", "virt", dtc(BOARD % dict(ac=2, sc=2, reg="0x0 0x40000000 0x0 0x40000000",
                                          start="0x0 0x48000000", end="0x0 0x48100000",
                                          uart="0x0 0x9000000 0x0 0x1000",
                                          v0="0x0 0xa000000 0x0 0x200",
                                          v1="0x0 0xa000200 0x0 0x200")))
    write("fdt", "one-cell", dtc(BOARD % dict(ac=1, sc=1, reg="0x40000000 0x20000000",
                                              start="0x48000000", end="0x48001000",
                                              uart="0x9000000 0x1000",
                                              v0="0xa000000 0x200", v1="0xa000200 0x200")))
    write("fdt", "no-initrd", dtc("/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;"
                                  " memory@0 { reg = <0 0x40000000 0 0x8000000>; }; };\n"))


# ---- vgic, trap, virtio: operation streams in the harnesses' formats ----

def u8(*v): return bytes(v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)


def vgic_access(dist, write, size_index, off, value=None, who=0):
    op = (0 if dist else 2) | size_index << 3 | (0x40 if write else 0)
    return u8(op, who) + u32(off) + (u64(value) if write else b"")


def vgic():
    W4, W8, R4 = 2, 3, 2
    linux = vgic_access(True, True, W4, 0x0, 0x12)            # GICD_CTLR: ARE, Grp1
    linux += vgic_access(True, True, W4, 0x104, 0xFFFFFFFF)   # ISENABLER1: SPIs 32..63
    linux += vgic_access(True, True, W4, 0x420, 0xA0A0A0A0)   # IPRIORITYR8
    linux += vgic_access(True, True, W8, 0x6100, 1)           # IROUTER(32) -> vCPU 1
    linux += vgic_access(False, True, W4, 0x14, 0)            # GICR_WAKER: awake
    linux += vgic_access(False, True, W4, 0x10100, 0xFFFFFFFF)  # GICR ISENABLER0
    linux += vgic_access(False, False, R4, 0x20008)           # vCPU 1's GICR_TYPER
    raise_ = u8(5, 0, 32) + u8(5, 1, 27)                      # SPI 32, the timer PPI
    sgi = u8(6, 0) + u64(1 << 24 | 0b10)                      # SGI 1 to vCPU 1
    run = u8(7, 0) + u8(0x01, 4) + u8(1, 2, 3, 1)            # vCPU 1 runs, 4 LRs
    run += u8(7, 0) + u8(0x58, 4) + u8(2, 2, 2, 2)           # vCPU 0: slot fires, put
    write("vgic", "linux-init", u8(0x31) + linux + raise_ + sgi + run)
    write("vgic", "refusals", u8(0x00) + vgic_access(True, False, 4, 0x2, who=0) +
          vgic_access(True, True, 6, 0xFFFC, 7) + u8(0x80, 0) + u64(1 << 40) +
          u8(0x87, 3, 27) + u16(27))


def trap_exit(vcpu, sel, region, off, iss, regs=(), pc=None, pstate=5, far=0, raw_off=False):
    out = u8(vcpu, sel | len(regs) << 6 | (0x20 if pc is not None else 0))
    out += u8(region | (0x80 if raw_off else 0)) + (u64(off) if region == 5 else u32(off))
    out += u32(iss)
    for r, v in regs:
        out += u8(r) + u64(v)
    if pc is not None:
        out += u8(pc)
    return out + u8(pstate) + u64(far)


def sysreg_iss(op0, op1, crn, crm, op2, rt, read):
    return op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | int(read)


def trap():
    ISV, SAS4, SF = 1 << 24, 2 << 22, 1 << 15
    DABT, SYSREG, HVC, SMC, WFX, IABT = 0 << 1, 2 << 1, 3 << 1, 4 << 1, 5 << 1, 6 << 1
    mmio = trap_exit(0, DABT, 0, 0x0, ISV | SAS4 | 1 << 16)              # GICD_CTLR read
    mmio += trap_exit(0, DABT | 1, 1, 0x8, ISV | 3 << 22 | 2 << 16 | SF)  # GICR_TYPER, light
    mmio += trap_exit(1, DABT | 1, 3, 0x70, ISV | SAS4 | 1 << 6 | 3 << 16,
                      regs=[(3, 3)])                                     # virtio status write
    mmio += trap_exit(0, DABT, 2, 0x18, ISV | 1 << 21 | 4 << 16)         # UART FR, sign-ext
    mmio += trap_exit(0, DABT, 4, 0x100, 0)                              # no syndrome: abort
    write("trap", "mmio", u8(0) + mmio)
    sys = trap_exit(0, SYSREG, 0, 0, sysreg_iss(3, 0, 0, 4, 0, 2, True))   # ID_AA64PFR0_EL1
    sys += trap_exit(0, SYSREG, 0, 0, sysreg_iss(3, 0, 0, 5, 0, 2, True))  # ID_AA64DFR0_EL1
    sys += trap_exit(0, SYSREG, 0, 0, sysreg_iss(2, 0, 0, 2, 2, 4, False),
                     regs=[(4, 0xFFFF)])                                   # MDSCR_EL1 write
    sys += trap_exit(1, SYSREG | 1, 0, 0, sysreg_iss(3, 0, 12, 11, 5, 3, False),
                     regs=[(3, 1 << 24 | 0b11)])                           # ICC_SGI1R_EL1
    sys += trap_exit(0, SYSREG, 0, 0, sysreg_iss(1, 0, 7, 14, 2, 1, False))  # DC CISW
    sys += trap_exit(0, SYSREG, 0, 0, sysreg_iss(3, 3, 14, 2, 1, 5, False),
                     regs=[(5, 1)])                                        # CNTP_CTL_EL0
    write("trap", "sysreg", u8(1) + sys)
    calls = trap_exit(0, HVC, 0, 0, 0, regs=[(0, 0x84000000)])            # PSCI_VERSION
    calls += trap_exit(0, SMC, 0, 0, 0, regs=[(0, 0xC4000003), (1, 1), (2, 0x40001000)])
    calls += trap_exit(1, HVC, 0, 0, 0, regs=[(0, 0xC5000021), (1, 0)])  # PV_TIME_ST
    calls += trap_exit(1, WFX, 0, 0, 0) + trap_exit(0, WFX, 0, 0, 1)      # WFI, WFE
    calls += trap_exit(0, IABT, 5, 0x12345000, 0, pc=0x00)                # in its vectors
    write("trap", "calls", u8(0) + calls)


def vsock_send(vm, dst_index, sport, dport, op, length=0, flags=0, buf_alloc=0x10000, slot=0):
    how = slot | dst_index << 4
    return (u8(6 | vm << 3, how) + u8(sport, dport) + u16(length) + u8(op, flags) +
            u32(buf_alloc) + u32(0))


def virtio():
    up = u8(2, 4) + u8(2 | 8, 4)                                        # both VMs, 16 entries
    rx = b"".join(u8(7 | vm << 3, i) for vm in (0, 1) for i in range(4))
    stream = vsock_send(0, 1, 10, 20, 1)                                # REQUEST to CID 4
    stream += vsock_send(1, 0, 20, 10, 2, slot=1)                       # RESPONSE
    stream += vsock_send(0, 1, 10, 20, 5, length=32, slot=2)            # RW, 32 bytes
    stream += vsock_send(1, 0, 20, 10, 6, slot=3)                       # CREDIT_UPDATE
    stream += vsock_send(0, 1, 10, 20, 4, flags=3, slot=4)              # SHUTDOWN
    stream += vsock_send(1, 0, 20, 10, 3, slot=5)                       # RST
    write("virtio", "stream", up + rx + stream + u8(0x80 | 7, 0))
    refused = up + rx + vsock_send(0, 2, 1, 1, 1) + vsock_send(0, 3, 1, 1, 1) + u64(9)
    write("virtio", "refused", refused)
    rings = up + u8(3 | 0x10) + u8(1) + u8(0) + u32(0) + u16(1) + u16(1) + u8(0)  # NEXT loop
    rings += u8(4 | 0x10, 0) + u8(5 | 0x10)
    rings += u8(0, 0x22) + u16(0x38) + u32(0)                           # QueueNum while ready
    write("virtio", "rings", rings)
    # Found by this target: QueueReady with QueueSel past the last queue (virtio_mmio.c).
    sel = up + u8(0, 0x22) + u16(0x030) + u32(0x85858585) + u8(0, 0x22) + u16(0x044) + u32(1)
    write("virtio", "regress-queue-ready-sel", sel)


# ---- vaultreq: an attestation request's CBOR body (docs/vault.md) ----

def vaultreq():
    nonce = bytes([0xa1, 0x65]) + b"nonce"
    write("vaultreq", "good-8", nonce + u8(0x48) + bytes(range(8)))
    write("vaultreq", "good-64", nonce + u8(0x58, 64) + bytes(range(64)))
    write("vaultreq", "long-head", nonce + u8(0x5a) + struct.pack(">I", 9) + bytes(9))
    write("vaultreq", "too-long", nonce + u8(0x58, 65) + bytes(65))
    write("vaultreq", "two-keys", u8(0xa2) + nonce[1:] + u8(0x48) + bytes(8) + u8(0x61) + b"x" +
          u8(0x00))
    write("vaultreq", "indefinite", u8(0xbf) + nonce[1:] + u8(0x48) + bytes(8) + u8(0xff))
    write("vaultreq", "huge-count", u8(0xbb) + b"\xff" * 8)
    write("vaultreq", "huge-string", nonce + u8(0x5b) + b"\xff" * 8)
    write("vaultreq", "text-nonce", nonce + u8(0x68) + b"abcdefgh")
    write("vaultreq", "array", u8(0x82, 0x01, 0x02))


# ---- vaultsvc: a service request's body (docs/vault.md, "Trusted services"), after a byte
# choosing the service (0 keystore, 1 drm, 2 wallet), and licences ----

def vaultsvc():
    def tstr(s):
        b = s.encode()
        return u8(0x60 | len(b)) + b if len(b) < 24 else u8(0x78, len(b)) + b

    def bstr(b):
        return u8(0x40 | len(b)) + b if len(b) < 24 else (u8(0x58, len(b)) + b if len(b) < 256
                                                           else u8(0x59) + struct.pack(">H", len(b)) + b)

    def req(service, *pairs):
        return u8(service, 0xa0 | len(pairs)) + b"".join(pairs)

    op = lambda name: tstr("op") + tstr(name)
    write("vaultsvc", "ks-create", req(0, op("create"), tstr("slot") + tstr("k1")))
    write("vaultsvc", "ks-sign", req(0, op("sign"), tstr("slot") + tstr("k1"),
                                     tstr("msg") + bstr(b"hello")))
    write("vaultsvc", "ks-msg-long", req(0, op("sign"), tstr("slot") + tstr("k1"),
                                         tstr("msg") + bstr(bytes(257))))
    write("vaultsvc", "ks-extra", req(0, op("pub"), tstr("slot") + tstr("k1"), tstr("seq") + u8(1)))
    write("vaultsvc", "w-pay", req(2, op("pay"), tstr("amount") + u8(0x18, 20),
                                   tstr("payee") + tstr("shop"), tstr("seq") + u8(3)))
    write("vaultsvc", "w-huge", req(2, op("pay"), tstr("amount") + u8(0x1b) + b"\xff" * 8,
                                    tstr("payee") + tstr("shop")))
    write("vaultsvc", "w-balance", req(2, op("balance")))
    write("vaultsvc", "d-play", req(1, op("play"), tstr("id") + tstr("film")))
    claims = (u8(0xa5, 0x01) + tstr("film") + u8(0x02, 0x03, 0x03) + tstr("open") + u8(0x04) +
              bstr(b"\x04" + bytes(64)) + u8(0x05) + bstr(bytes(32)))
    cose = u8(0xd2, 0x84) + bstr(bytes([0xa1, 0x01, 0x26])) + u8(0xa0) + bstr(claims) + bstr(bytes(64))
    write("vaultsvc", "d-install", req(1, op("install"), tstr("licence") + bstr(cose)))
    write("vaultsvc", "licence", u8(1) + cose)
    write("vaultsvc", "indefinite", u8(0, 0xbf) + op("pub") + u8(0xff))


def main():
    if not os.path.isdir("tests/fuzz"):
        sys.exit("mkcorpus.py: run it from the repository root")
    bundles()
    pvpack()
    fdts()
    vgic()
    trap()
    virtio()
    vaultreq()
    vaultsvc()


if __name__ == "__main__":
    main()
