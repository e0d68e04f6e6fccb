/* print.c: a tiny printf on the UART; enough for test markers and hex dumps. */
#include "guest.h"

static void put_str(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

static void put_num(uint64_t v, unsigned base, bool neg, unsigned width, char pad)
{
	char buf[24];
	unsigned n = 0;

	do {
		unsigned d = (unsigned)(v % base);
		buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (width > n) {
		uart_putc(pad);
		width--;
	}
	while (n)
		uart_putc(buf[--n]);
}

int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			uart_putc(*fmt);
			continue;
		}
		char pad = ' ';
		unsigned width = 0;
		bool is_long = false;
		if (*++fmt == '0')
			pad = *fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		if (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			put_str(va_arg(ap, const char *));
			break;
		case 'c':
			uart_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(v, *fmt == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case '%':
			uart_putc('%');
			break;
		default: /* unknown conversion: show it rather than guess at the arguments */
			uart_putc('%');
			if (!*fmt)
				goto out;
			uart_putc(*fmt);
		}
	}
out:
	va_end(ap);
	return 0;
}
