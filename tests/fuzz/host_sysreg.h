/* host_sysreg.h: included before hv/arch/aarch64's trap code in the fuzz build: sysreg.h's
 * definitions, with every system-register access and barrier turned into a call the fuzzer
 * answers (fuzz_trap.c), so the decoders themselves run on the host unchanged. */
#ifndef FUZZ_HOST_SYSREG_H
#define FUZZ_HOST_SYSREG_H

#include "../../hv/arch/aarch64/sysreg.h" /* its guard keeps the later #include a no-op */
#include <pv/types.h>

u64 fuzz_sysreg_read(const char *name);
void fuzz_sysreg_write(const char *name, u64 v);

#undef read_sysreg
#undef write_sysreg
#undef isb
#undef dsb
#undef wfi
#undef sev
#undef dc_cisw
#define read_sysreg(r) fuzz_sysreg_read(#r)
#define write_sysreg(r, v) fuzz_sysreg_write(#r, (u64)(v))
#define isb() ((void)0)
#define dsb(opt) ((void)0)
#define wfi() ((void)0)
#define sev() ((void)0)
#define dc_cisw(setway) fuzz_sysreg_write("dc_cisw", (u64)(setway))

#endif
