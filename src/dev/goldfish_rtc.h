/* Goldfish RTC: reads host wall-clock time (ns since the epoch), with the
 * alarm and interrupt registers Linux's rtc-goldfish driver uses. */
#ifndef TERN_GOLDFISH_RTC_H
#define TERN_GOLDFISH_RTC_H
#include "dev/dev.h"

struct goldfish_rtc;
extern const struct dev_ops goldfish_rtc_ops;
struct goldfish_rtc *goldfish_rtc_new(struct irq_line irq);
/* Fire the alarm if it is due (called periodically by the vCPU loop). */
void goldfish_rtc_poll(struct goldfish_rtc *r);
/* Guest clock minus host CLOCK_REALTIME, in ns (for snapshot/migration). */
int64_t goldfish_rtc_get_offset(const struct goldfish_rtc *r);
void goldfish_rtc_set_offset(struct goldfish_rtc *r, int64_t offset);
/* Host CLOCK_REALTIME ns at which an armed alarm is due, or -ENOENT. */
int goldfish_rtc_alarm_deadline(const struct goldfish_rtc *r, uint64_t *realtime_ns);
#endif
