/* fmt.h: a small vsnprintf (%s %c %d %u %x, the l/ll modifiers and #; no width or padding). */
#ifndef PV_FMT_H
#define PV_FMT_H

#include <stdarg.h>
#include <pv/types.h>

/* Formats into buf (always NUL-terminated when size > 0); returns the length written. */
size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
