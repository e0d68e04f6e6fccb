/* longvictim: the victim (guests/victim), checking its RAM every 0.5 s for 40 s: long enough to
 * watch a whole vqattack run (tests/configs/vqattack.dts) from beside it. The source is the
 * victim's own, included rather than copied, so the two can never drift apart. */
#define VICTIM_TICKS 80
#define VICTIM_TICK_US 500000u
#include "../victim/main.c"
