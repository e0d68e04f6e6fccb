/* fmt.c: a small printf core for the log: %s %c %d %u %x, the l/ll modifiers and '#'. No width
 * or padding: the hypervisor's messages use none, and every byte here counts in the image. */
#include <pv/fmt.h>

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len++] = c;
}

static void put_num(struct out *o, u64 v, u32 base)
{
	char tmp[24];
	u32 n = 0;
	do {
		u32 d = (u32)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	while (n)
		put(o, tmp[--n]);
}

/* The argument of %d %u %x %c, as 64 bits. Out of line, so the format loop has one copy of each
 * va_arg; %c's and %d's int is read as the unsigned it converts to (C11 7.16.1.1), and %d
 * sign-extends it back. */
static __attribute__((noinline)) u64 num_arg(va_list *ap, bool lng)
{
	return lng ? va_arg(*ap, u64) : va_arg(*ap, unsigned);
}

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	va_list args; /* a va_list parameter may be an array, whose address is no va_list * */
	va_copy(args, ap);
	for (char c; (c = *fmt); fmt++) {
		if (c == '%') {
			bool lng = false;
			if (*++fmt == '#')
				put(&o, '0'), put(&o, 'x'), fmt++;
			while (*fmt == 'l')
				lng = true, fmt++;
			c = *fmt;
			if (c == 's') {
				const char *s = va_arg(args, const char *);
				for (s = s ? s : "(null)"; *s; s++)
					put(&o, *s);
				continue;
			}
			if (c == 'd' || c == 'u' || c == 'x' || c == 'c') {
				u64 v = num_arg(&args, lng);
				if (c == 'd' && !lng)
					v = (u64)(s64)(s32)v;
				if (c == 'd' && (s64)v < 0)
					put(&o, '-'), v = -v;
				if (c == 'c')
					put(&o, (char)v);
				else
					put_num(&o, v, c == 'x' ? 16 : 10);
				continue;
			}
			/* %%, or an unknown conversion, which prints as itself to show in the log */
			if (c != '%')
				put(&o, '%');
			if (!c)
				break;
		}
		put(&o, c);
	}
	va_end(args);
	if (size)
		buf[o.len] = 0;
	return o.len;
}

size_t fmt_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = fmt_vformat(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
