/* log.h: the hypervisor's log, one line per event, tagged with level and (when there is one) VM. */
#ifndef PV_LOG_H
#define PV_LOG_H

#include <stdarg.h>
#include <pv/types.h>

struct vm;

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

#ifndef LOG_LEVEL
#define LOG_LEVEL LOG_INFO
#endif

/* Lines look like `pv: warn: vm attacker: ...`; tests and users grep for `vm <name>`. */
void log_line(enum log_level level, const struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(vm, ...) log_line(LOG_ERROR, vm, __VA_ARGS__)
#define log_warn(vm, ...) log_line(LOG_WARN, vm, __VA_ARGS__)
#define log_info(vm, ...) log_line(LOG_INFO, vm, __VA_ARGS__)
#define log_debug(vm, ...) \
	do { if (LOG_LEVEL >= LOG_DEBUG) log_line(LOG_DEBUG, vm, __VA_ARGS__); } while (0)

/* A warning a guest can cause: logged as log_warn, at most once a second per VM. */
void log_guest(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Only for states no guest can cause: report and stop the machine. */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define CHECK(c) do { if (!(c)) panic("check failed: %s (%s:%d)", #c, __FILE__, __LINE__); } while (0)

#endif
