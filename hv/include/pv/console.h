/* console.h: the console multiplexer: tagged output per VM, one VM at a time gets input. */
#ifndef PV_CONSOLE_H
#define PV_CONSOLE_H

#include <pv/types.h>

struct vm;

/* Input focus moves with Ctrl-] followed by a VM number (1..8). */
#define CONSOLE_ESCAPE 0x1d

void console_init(void);
void console_banner(void);
/* Prints one line of a VM's output as "[name] text". */
void console_vm_line(const struct vm *vm, const char *text, u32 len);
/* Writes hypervisor text; the console lock keeps lines whole across cores. */
void console_write(const char *s, size_t n);
/* The log as `pvctl log` reads it (struct pvm_log): l->from is where to start (moved to the
 * oldest byte kept when it is gone or beyond the end); fills first and next, copies at most
 * max bytes to dst and returns how many. */
struct pvm_log;
u32 console_log_read(struct pvm_log *l, char *dst, u32 max);
/* Moves pending input from the board UART to the VM that has focus. */
void console_poll(void);

#endif
