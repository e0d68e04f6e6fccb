/* memprobe.c: reads one word of every page of physical ranges through /dev/mem and counts what
 * faulted, what was refused and what returned data: run in a VM, it shows whether the VM can see
 * memory that is not its own. Usage: memprobe START SIZE [START SIZE ...] (hex, page-aligned).
 *
 * Ranges are mapped CHUNK_PAGES at a time and a fault (SIGBUS from an external abort, SIGSEGV)
 * is caught with sigsetjmp/siglongjmp and counted. The kernel allows or refuses a whole mapping
 * (STRICT_DEVMEM: EPERM if any page is RAM or a claimed device), so a refused chunk is retried a
 * page at a time, and a refused page once more with pread(). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHUNK_PAGES 256  /* one mmap per 1 MiB: per page, the sweep took 2.5 times as long */

struct counts {
	unsigned long pages;    /* tried */
	unsigned long faulted;  /* the read raised SIGBUS or SIGSEGV */
	unsigned long read;     /* the read returned data (through mmap or pread) */
	unsigned long nonzero;  /* ... and that data was not zero */
	unsigned long refused;  /* mmap and pread both failed */
	unsigned long mmap_refused;
	int mmap_errno, pread_errno;  /* the last errors, 0 if none */
};

static sigjmp_buf fault_jump;
static volatile sig_atomic_t fault_signal;

static void on_fault(int sig)
{
	fault_signal = sig;
	siglongjmp(fault_jump, 1);
}

static void catch_faults(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

static void note_word(struct counts *c, uint64_t word)
{
	c->read++;
	if (word != 0)
		c->nonzero++;
}

/* pread() of one word: the fallback when the kernel will not map the page. */
static void probe_pread(int fd, uint64_t addr, struct counts *c)
{
	uint64_t word;

	if (pread(fd, &word, sizeof(word), (off_t)addr) == (ssize_t)sizeof(word)) {
		note_word(c, word);
	} else {
		c->pread_errno = errno;
		c->refused++;
	}
}

/* Reads the word at p into *word, or returns -1 if the read faulted. noinline: the caller's
 * counting must not be merged into, and moved before, the read that may fault. No local changes
 * after sigsetjmp, so none needs to be volatile. */
__attribute__((noinline)) static int read_word(const volatile uint64_t *p, uint64_t *word)
{
	if (sigsetjmp(fault_jump, 1) != 0)
		return -1;
	*word = *p;
	return 0;
}

static void probe_word(const volatile uint64_t *p, struct counts *c)
{
	uint64_t word;

	if (read_word(p, &word) == 0)
		note_word(c, word);
	else
		c->faulted++;
}

/* Probes `count` pages from addr (one mmap, or page by page when it is refused). */
static void probe_pages(int fd, uint64_t addr, size_t count, size_t page_size,
			struct counts *c)
{
	void *map = mmap(NULL, count * page_size, PROT_READ, MAP_SHARED, fd, (off_t)addr);

	if (map == MAP_FAILED && count > 1) {
		for (size_t i = 0; i < count; i++)
			probe_pages(fd, addr + i * page_size, 1, page_size, c);
		return;
	}
	c->pages += count;
	if (map == MAP_FAILED) {
		c->mmap_errno = errno;
		c->mmap_refused++;
		probe_pread(fd, addr, c);
		return;
	}
	for (size_t i = 0; i < count; i++)
		probe_word((const volatile uint64_t *)((char *)map + i * page_size), c);
	munmap(map, count * page_size);
}

static int parse_hex(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 16);
	return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

static void print_range(uint64_t start, uint64_t size, const struct counts *c)
{
	printf("memprobe: range 0x%" PRIx64 "+0x%" PRIx64 ": %lu pages, %lu faulted, %lu read"
	       " (%lu non-zero), %lu refused", start, size, c->pages, c->faulted, c->read,
	       c->nonzero, c->refused);
	if (c->mmap_refused)
		printf("; mmap refused %lu (%s)", c->mmap_refused, strerror(c->mmap_errno));
	if (c->pread_errno)
		printf("; pread: %s", strerror(c->pread_errno));
	printf("\n");
	if (c->nonzero)
		printf("memprobe: range 0x%" PRIx64 ": NON-ZERO DATA READ\n", start);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
	struct counts total = { 0 };
	int fd;

	if (argc < 3 || argc % 2 == 0) {
		fprintf(stderr, "usage: memprobe START SIZE [START SIZE ...] (hex)\n");
		return 2;
	}
	fd = open("/dev/mem", O_RDONLY | O_SYNC);
	if (fd < 0) {
		printf("memprobe: cannot open /dev/mem: %s\n", strerror(errno));
		return 1;
	}
	catch_faults();
	for (int i = 1; i + 1 < argc; i += 2) {
		uint64_t start, size;
		struct counts c = { 0 };

		if (parse_hex(argv[i], &start) || parse_hex(argv[i + 1], &size) ||
		    start % page_size || size % page_size || start + size < start) {
			fprintf(stderr, "memprobe: bad range %s %s\n", argv[i], argv[i + 1]);
			return 2;
		}
		for (uint64_t addr = start; addr < start + size;) {
			uint64_t left = (start + size - addr) / page_size;
			size_t count = left < CHUNK_PAGES ? (size_t)left : CHUNK_PAGES;

			probe_pages(fd, addr, count, page_size, &c);
			addr += count * page_size;
		}
		print_range(start, size, &c);
		total.pages += c.pages;
		total.faulted += c.faulted;
		total.read += c.read;
		total.refused += c.refused;
	}
	if (total.refused)
		printf("memprobe: %lu pages refused by the kernel\n", total.refused);
	printf("memprobe: %lu pages, %lu faulted, %lu read\n", total.pages, total.faulted, total.read);
	return 0;
}
