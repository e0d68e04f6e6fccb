/* harness.h: a tiny host unit-test harness; include it from exactly one file per test binary. */
#ifndef HARNESS_H
#define HARNESS_H

/* Usage:
 *	TEST(parses_empty_list) { EXPECT_EQ(parse(""), 0); EXPECT_STR(err, "empty"); }
 * The EXPECT macros record a failure and go on, so one run shows every broken expectation;
 * each is also an expression that is false on failure: `if (!EXPECT(p)) return;`.
 * `./test_x name...` runs only the named tests. Output is the failures, then one closing line
 * "unit: N passed, N failed" counting tests; the exit status is non-zero if any failed. */

#include <stdio.h>
#include <string.h>

#define HARNESS_MAX_TESTS 512

struct harness_test {
	const char *name;
	void (*fn)(void);
};

static struct harness_test harness_tests[HARNESS_MAX_TESTS];
static unsigned harness_test_count;
static const char *harness_current;
static unsigned harness_current_failures;

static inline void harness_add(void (*fn)(void), const char *name)
{
	if (harness_test_count == HARNESS_MAX_TESTS) {
		fprintf(stderr, "harness: more than %d tests, raise HARNESS_MAX_TESTS\n",
			HARNESS_MAX_TESTS);
		return;
	}
	harness_tests[harness_test_count++] = (struct harness_test){ name, fn };
}

/* Registration runs before main (a GCC/Clang constructor), so a test cannot be forgotten. */
#define TEST(fn)                                                                               \
	static void fn(void);                                                                  \
	__attribute__((constructor)) static void harness_register_##fn(void)                   \
	{                                                                                      \
		harness_add(fn, #fn);                                                          \
	}                                                                                      \
	static void fn(void)

static inline int harness_fail(const char *file, int line)
{
	fprintf(stderr, "%s:%d: %s: ", file, line, harness_current);
	harness_current_failures++;
	return 0;
}

static inline int harness_expect(int ok, const char *file, int line, const char *expr)
{
	if (!ok && !harness_fail(file, line))
		fprintf(stderr, "EXPECT(%s) failed\n", expr);
	return ok;
}

static inline int harness_expect_eq(unsigned long long a, unsigned long long b, const char *file,
				    int line, const char *a_expr, const char *b_expr)
{
	if (a != b && !harness_fail(file, line))
		fprintf(stderr, "EXPECT_EQ(%s, %s) failed: %lld (%#llx) != %lld (%#llx)\n", a_expr,
			b_expr, (long long)a, a, (long long)b, b);
	return a == b;
}

static inline int harness_expect_str(const char *a, const char *b, const char *file, int line,
				     const char *a_expr, const char *b_expr)
{
	int ok = a && b ? strcmp(a, b) == 0 : a == b;
	if (!ok && !harness_fail(file, line))
		fprintf(stderr, "EXPECT_STR(%s, %s) failed:\n  \"%s\"\n  \"%s\"\n", a_expr, b_expr,
			a ? a : "(null)", b ? b : "(null)");
	return ok;
}

#define EXPECT(cond) harness_expect(!!(cond), __FILE__, __LINE__, #cond)
#define EXPECT_EQ(a, b)                                                                        \
	harness_expect_eq((unsigned long long)(a), (unsigned long long)(b), __FILE__, __LINE__, \
			  #a, #b)
#define EXPECT_STR(a, b) harness_expect_str((a), (b), __FILE__, __LINE__, #a, #b)

static inline int harness_selected(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return argc < 2;
}

int main(int argc, char **argv)
{
	unsigned passed = 0, failed = 0;
	for (unsigned i = 0; i < harness_test_count; i++) {
		if (!harness_selected(harness_tests[i].name, argc, argv))
			continue;
		harness_current = harness_tests[i].name;
		harness_current_failures = 0;
		harness_tests[i].fn();
		if (harness_current_failures)
			failed++;
		else
			passed++;
	}
	printf("unit: %u passed, %u failed\n", passed, failed);
	return failed != 0;
}

#endif
