/* fmt.c: a small printf core: %s %c %d %u %x %p, l/ll modifiers, '#', width, zero padding. */
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

static void put_num(struct out *o, u64 v, u32 base, bool neg, bool alt, u32 width, char pad)
{
	char tmp[24];
	u32 n = 0;
	do {
		u32 d = (u32)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	u32 extra = (neg ? 1u : 0u) + (alt ? 2u : 0u);
	if (pad == '0') {
		if (neg)
			put(o, '-');
		if (alt)
			put(o, '0'), put(o, 'x');
	}
	for (u32 w = n + extra; w < width; w++)
		put(o, pad);
	if (pad != '0') {
		if (neg)
			put(o, '-');
		if (alt)
			put(o, '0'), put(o, 'x');
	}
	while (n)
		put(o, tmp[--n]);
}

size_t fmt_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		bool alt = false, lng = false;
		char pad = ' ';
		u32 width = 0;
		if (*++fmt == '#')
			alt = true, fmt++;
		if (*fmt == '0')
			pad = '0', fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (u32)(*fmt++ - '0');
		while (*fmt == 'l')
			lng = true, fmt++;
		switch (*fmt) {
		case 's': {
			const char *s = va_arg(ap, const char *);
			for (s = s ? s : "(null)"; *s; s++)
				put(&o, *s);
			break;
		}
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			s64 v = lng ? va_arg(ap, s64) : va_arg(ap, int);
			put_num(&o, v < 0 ? (u64)-v : (u64)v, 10, v < 0, false, width, pad);
			break;
		}
		case 'u':
			put_num(&o, lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 10, false, false, width, pad);
			break;
		case 'x':
			put_num(&o, lng ? va_arg(ap, u64) : va_arg(ap, unsigned), 16, false, alt, width, pad);
			break;
		case 'p':
			put_num(&o, (u64)(uintptr_t)va_arg(ap, void *), 16, false, true, width, pad);
			break;
		case '%':
			put(&o, '%');
			break;
		default: /* an unknown conversion prints as itself, so a bad format shows in the log */
			put(&o, '%');
			if (!*fmt)
				goto done;
			put(&o, *fmt);
		}
	}
done:
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
