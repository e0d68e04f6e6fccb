/* log.c: the hypervisor's own lines, `pv: <level>: [vm <name>: ]message`. */
#include <pv/arch.h>
#include <pv/console.h>
#include <pv/fmt.h>
#include <pv/log.h>
#include <pv/vm.h>

static const char *const level_name[] = { "error", "warn", "info", "debug" };

static void emit(enum log_level level, const struct vm *vm, const char *fmt, va_list ap)
{
	char buf[192];
	size_t n = fmt_format(buf, sizeof(buf), "pv: %s: ", level_name[level]);
	if (vm)
		n += fmt_format(buf + n, sizeof(buf) - n, "vm %s: ", vm->name);
	n += fmt_vformat(buf + n, sizeof(buf) - n, fmt, ap);
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	console_write(buf, n);
}

void log_line(enum log_level level, const struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(level, vm, fmt, ap);
	va_end(ap);
}

/* Rate limit for lines a guest can cause: true at most once a second per *last (a counter value
 * kept for the VM, 0 at first). */
static bool log_allow(u64 *last)
{
	u64 now = arch_timer_now();
	if (*last && now - *last < arch_timer_freq())
		return false;
	*last = now | 1; /* never 0, which means "never logged" */
	return true;
}

void log_guest(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	if (!log_allow(&vm->vsock.log_at))
		return;
	va_start(ap, fmt);
	emit(LOG_WARN, vm, fmt, ap);
	va_end(ap);
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	console_write("pv: PANIC: ", 11);
	emit(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	arch_system_off();
}
