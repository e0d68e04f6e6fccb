/* console.c: one board UART shared by every VM: lines tagged with the VM's name, and the
 * keyboard given to one VM at a time (Ctrl-] then its number moves it). */
#include <pv/console.h>
#include <pv/log.h>
#include <pv/manage_abi.h>
#include <pv/spinlock.h>
#include <pv/string.h>
#include <pv/vm.h>

void pl011_putc(char c);
int pl011_getc(void);
void pl011_enable_rx_irq(void);

static struct spinlock out_lock, in_lock;
/* The hypervisor's own lines, kept for `pvctl log` (docs/manage.md): byte p at ring[p % size],
 * p counting every byte since boot. */
static char ring[PVM_LOG_RING];
static u32 ring_next;
static u32 focus;
static bool escaped;

static void put_locked(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			pl011_putc('\r');
		pl011_putc(s[i]);
	}
}

void console_write(const char *s, size_t n)
{
	spin_lock(&out_lock);
	put_locked(s, n);
	for (size_t i = 0; i < n; i++)
		ring[(ring_next + i) % PVM_LOG_RING] = s[i];
	ring_next += (u32)n;
	spin_unlock(&out_lock);
}

u32 console_log_read(struct pvm_log *l, char *dst, u32 max)
{
	spin_lock(&out_lock);
	u32 kept = ring_next < PVM_LOG_RING ? ring_next : PVM_LOG_RING;
	l->next = ring_next;
	l->first = ring_next - kept;
	if (l->next - l->from > kept)
		l->from = l->first; /* lost, or not written yet: from the oldest it has */
	u32 n = l->next - l->from < max ? l->next - l->from : max;
	for (u32 i = 0; i < n; i++)
		dst[i] = ring[(l->from + i) % PVM_LOG_RING];
	spin_unlock(&out_lock);
	return n;
}

void console_vm_line(const struct vm *vm, const char *text, u32 len)
{
	spin_lock(&out_lock);
	put_locked("[", 1);
	put_locked(vm->name, strnlen(vm->name, PVB_NAME_SIZE));
	put_locked("] ", 2);
	put_locked(text, len);
	put_locked("\n", 1);
	spin_unlock(&out_lock);
}

void console_banner(void)
{
	pl011_enable_rx_irq();
	log_info(NULL, "%u VMs; keyboard input goes to vm %s; press Ctrl-] then a VM's number "
		       "(1-%u) to move it", vm_count, vms[0].name, vm_count);
	for (u32 i = 0; i < vm_count; i++)
		log_info(&vms[i], "is number %u", i + 1);
}

static void deliver(u8 c)
{
	if (escaped) {
		escaped = false;
		if (c >= '1' && c < '1' + vm_count) {
			focus = (u32)(c - '1');
			log_info(&vms[focus], "has the keyboard now");
			return;
		}
		if (c != CONSOLE_ESCAPE)
			return; /* an unknown escape is dropped; Ctrl-] twice sends one */
	} else if (c == CONSOLE_ESCAPE) {
		escaped = true;
		return;
	}
	vpl011_receive(&vms[focus], c); /* a full FIFO drops, as a real UART overruns */
}

void console_poll(void)
{
	int c;
	spin_lock(&in_lock);
	while ((c = pl011_getc()) >= 0)
		deliver((u8)c);
	spin_unlock(&in_lock);
}
