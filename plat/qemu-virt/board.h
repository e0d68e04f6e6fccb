/* board.h: the reference board (QEMU virt, gic-version=3) as constants shared by EL2 and pvpack. */
#ifndef PLAT_BOARD_H
#define PLAT_BOARD_H

#define PLAT_NAME "qemu-virt"

/* Host-physical RAM as `make run` starts QEMU (-m 1G). The EL2 image re-reads /memory from the
 * board DTB and refuses to start VMs that do not fit the RAM it really has. */
#define PLAT_RAM_BASE 0x40000000ull
#define PLAT_RAM_SIZE 0x40000000ull

/* The low part of RAM belongs to the hypervisor: its image at +0x80000, the boot bundle that the
 * loader places at +128 MiB (QEMU's -initrd rule) and the board DTB after it. VM RAM is carved
 * above this line, 2 MiB aligned, in config order. */
#define PLAT_HV_RESERVED 0x10000000ull
#define PLAT_BUNDLE_MAX_SIZE (PLAT_HV_RESERVED - 0x08000000ull - 0x00200000ull)

/* The device secret (UDS, docs/attestation.md): 32 bytes a loader puts here (QEMU: -device
 * loader,file=uds.bin,addr=PLAT_UDS_BASE), in the hypervisor's RAM between its image and the
 * bundle, so never in a VM's. The hypervisor reads it once at boot and zeroes it. */
#define PLAT_UDS_BASE 0x47fff000ull

#define PLAT_CPU_COUNT 4u

/* Host devices the hypervisor drives itself. */
#define PLAT_UART_BASE 0x09000000ull
#define PLAT_GICD_BASE 0x08000000ull
#define PLAT_GICR_BASE 0x080a0000ull
#define PLAT_GICR_STRIDE 0x20000ull

/* What every VM sees (guest-physical): the same addresses as QEMU virt, so guests built for that
 * board run unchanged. Guest RAM may not overlap [PLAT_GUEST_DEV_BASE, PLAT_GUEST_DEV_END). */
#define PLAT_GUEST_GICD_BASE 0x08000000ull
#define PLAT_GUEST_GICR_BASE 0x080a0000ull
#define PLAT_GUEST_UART_BASE 0x09000000ull
#define PLAT_GUEST_UART_SIZE 0x1000ull
#define PLAT_GUEST_DEV_BASE 0x08000000ull
#define PLAT_GUEST_DEV_END 0x0a004000ull /* up to the end of the virtio-mmio slots */
/* virtio-mmio devices the hypervisor emulates, as QEMU virt places its own: slot n at
 * PLAT_GUEST_VIRTIO_BASE + n * PLAT_GUEST_VIRTIO_STRIDE, edge-triggered SPI 16 + n, which is
 * INTID PLAT_GUEST_VIRTIO_INTID + n. Slot 0 is vsock. */
#define PLAT_GUEST_VIRTIO_BASE 0x0a000000ull
#define PLAT_GUEST_VIRTIO_STRIDE 0x200ull
#define PLAT_GUEST_VIRTIO_SLOTS 32u
#define PLAT_GUEST_VIRTIO_INTID 48u
/* Where the board devices a VM may be given lie (bundle.h, dev_regions; IPA = PA): the rest of
 * that window, above the GIC (its distributor, ITS and redistributors end at 0x09000000) and the
 * UART, which are the hypervisor's. No VM's RAM can be there. */
#define PLAT_GIC_WINDOW_END 0x09000000ull
#define PLAT_PASSTHRU_BASE (PLAT_UART_BASE + 0x1000ull)
#define PLAT_PASSTHRU_END PLAT_GUEST_VIRTIO_BASE

/* Guest-physical address space: 32 bits (stage-2 T0SZ=32). Everything above faults. */
#define PLAT_GUEST_IPA_LIMIT 0x100000000ull

#endif
