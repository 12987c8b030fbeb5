/* Unit tests for the goldfish RTC (time, latching, alarm, interrupt, clock
 * setting) and the sifive,test1 syscon (power-off/reset/fail codes). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>
#include "dev/goldfish_rtc.h"
#include "dev/syscon.h"

#define TIME_LOW 0x00
#define TIME_HIGH 0x04
#define ALARM_LOW 0x08
#define ALARM_HIGH 0x0c
#define IRQ_ENABLED 0x10
#define CLEAR_ALARM 0x14
#define ALARM_STATUS 0x18
#define CLEAR_INTERRUPT 0x1c

#define NS_PER_SEC 1000000000ull

struct fake_irq {
	int level;
	int calls;
};

static void fake_set(void *ctx, unsigned irq, int level)
{
	struct fake_irq *f = ctx;

	assert_int_equal(irq, 11);
	f->level = level;
	f->calls++;
}

static uint64_t host_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint32_t rd(struct goldfish_rtc *r, uint64_t off)
{
	uint64_t v = 0xdeadbeefcafeull;

	assert_int_equal(goldfish_rtc_ops.read(r, off, 4, &v), 0);
	assert_true(v <= 0xffffffffull);
	return (uint32_t)v;
}

static void wr(struct goldfish_rtc *r, uint64_t off, uint32_t v)
{
	assert_int_equal(goldfish_rtc_ops.write(r, off, 4, v), 0);
}

static uint64_t read_time(struct goldfish_rtc *r)
{
	uint64_t lo = rd(r, TIME_LOW);

	return (uint64_t)rd(r, TIME_HIGH) << 32 | lo;
}

static struct goldfish_rtc *new_rtc(struct fake_irq *f)
{
	struct irq_line l = { .set = fake_set, .ctx = f, .irq = 11 };
	struct goldfish_rtc *r = goldfish_rtc_new(l);

	assert_non_null(r);
	return r;
}

static void test_rtc_time(void **state)
{
	struct fake_irq f = { 0 };
	struct goldfish_rtc *r = new_rtc(&f);
	uint64_t before = host_now();
	uint64_t t = read_time(r);
	uint64_t after = host_now();

	assert_true(t >= before && t <= after);
	/* Monotonic across reads (no clock set in between). */
	assert_true(read_time(r) >= t);
	goldfish_rtc_ops.destroy(r);
}

static void test_rtc_time_high_latched(void **state)
{
	struct fake_irq f = { 0 };
	struct goldfish_rtc *r = new_rtc(&f);
	uint64_t lo, hi;

	/* Put the clock just before a 2^32 ns boundary so the low word
	 * wraps between reads; TIME_HIGH must still match TIME_LOW. */
	wr(r, TIME_LOW, 0); /* so setting HIGH can't race a carry */
	wr(r, TIME_HIGH, 0x10);
	wr(r, TIME_LOW, 0xffffffff - 50000000); /* 50 ms before the wrap */
	lo = rd(r, TIME_LOW);
	struct timespec ts = { 0, 100000000 };
	nanosleep(&ts, NULL);
	hi = rd(r, TIME_HIGH);
	assert_int_equal(hi, 0x10);
	assert_true(lo >= 0xffffffffull - 50000000);
	/* A fresh read shows the carry into the high word. */
	assert_int_equal(read_time(r) >> 32, 0x11);
	goldfish_rtc_ops.destroy(r);
}

static void test_rtc_set_clock(void **state)
{
	struct fake_irq f = { 0 };
	struct goldfish_rtc *r = new_rtc(&f);
	uint64_t want = 1000ull * NS_PER_SEC; /* 1970-01-01 00:16:40 */
	uint64_t t;

	/* Linux writes TIME_HIGH then TIME_LOW. */
	wr(r, TIME_HIGH, (uint32_t)(want >> 32));
	wr(r, TIME_LOW, (uint32_t)want);
	t = read_time(r);
	assert_true(t >= want && t < want + NS_PER_SEC);
	assert_true(goldfish_rtc_get_offset(r) < 0);
	/* The offset carries over into a new instance (snapshot restore). */
	struct goldfish_rtc *r2 = new_rtc(&f);
	goldfish_rtc_set_offset(r2, goldfish_rtc_get_offset(r));
	t = read_time(r2);
	assert_true(t >= want && t < want + NS_PER_SEC);
	/* The clock survives a device reset. */
	goldfish_rtc_ops.reset(r);
	t = read_time(r);
	assert_true(t >= want && t < want + NS_PER_SEC);
	goldfish_rtc_ops.destroy(r2);
	goldfish_rtc_ops.destroy(r);
}

static void arm_alarm(struct goldfish_rtc *r, uint64_t at)
{
	/* Order used by Linux: HIGH, then LOW (which arms). */
	wr(r, ALARM_HIGH, (uint32_t)(at >> 32));
	wr(r, ALARM_LOW, (uint32_t)at);
}

static void test_rtc_alarm(void **state)
{
	struct fake_irq f = { 0 };
	struct goldfish_rtc *r = new_rtc(&f);
	uint64_t at = read_time(r) + 30000000ull; /* +30 ms */
	uint64_t dl;

	assert_int_equal(f.level, 0);
	assert_int_equal(goldfish_rtc_alarm_deadline(r, &dl), -ENOENT);
	wr(r, IRQ_ENABLED, 1);
	assert_int_equal(rd(r, IRQ_ENABLED), 1);
	arm_alarm(r, at);
	assert_int_equal(rd(r, ALARM_STATUS), 1);
	assert_int_equal(rd(r, ALARM_LOW), (uint32_t)at);
	assert_int_equal(rd(r, ALARM_HIGH), (uint32_t)(at >> 32));
	assert_int_equal(goldfish_rtc_alarm_deadline(r, &dl), 0);
	assert_true(dl == at); /* no offset: guest time == host time */
	/* Not yet due. */
	goldfish_rtc_poll(r);
	assert_int_equal(f.level, 0);
	assert_int_equal(rd(r, ALARM_STATUS), 1);
	while (host_now() < at) {
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
	}
	goldfish_rtc_poll(r);
	assert_int_equal(f.level, 1);
	assert_int_equal(rd(r, ALARM_STATUS), 0);
	/* Stays asserted until CLEAR_INTERRUPT. */
	goldfish_rtc_poll(r);
	assert_int_equal(f.level, 1);
	wr(r, CLEAR_INTERRUPT, 1);
	assert_int_equal(f.level, 0);
	goldfish_rtc_poll(r);
	assert_int_equal(f.level, 0);
	goldfish_rtc_ops.destroy(r);
}

static void test_rtc_alarm_past_and_masking(void **state)
{
	struct fake_irq f = { 0 };
	struct goldfish_rtc *r = new_rtc(&f);
	uint64_t now = read_time(r);

	/* IRQ disabled: an alarm in the past fires but the line stays low. */
	arm_alarm(r, now - NS_PER_SEC);
	assert_int_equal(rd(r, ALARM_STATUS), 0);
	assert_int_equal(f.level, 0);
	/* Enabling the IRQ exposes the pending interrupt. */
	wr(r, IRQ_ENABLED, 1);
	assert_int_equal(f.level, 1);
	wr(r, IRQ_ENABLED, 0);
	assert_int_equal(f.level, 0);
	wr(r, CLEAR_INTERRUPT, 1);
	wr(r, IRQ_ENABLED, 1);
	assert_int_equal(f.level, 0);

	/* CLEAR_ALARM cancels an armed alarm. */
	arm_alarm(r, now + 3600 * NS_PER_SEC);
	assert_int_equal(rd(r, ALARM_STATUS), 1);
	wr(r, CLEAR_ALARM, 1);
	assert_int_equal(rd(r, ALARM_STATUS), 0);
	goldfish_rtc_poll(r);
	assert_int_equal(f.level, 0);

	/* Reset drops a pending interrupt. */
	arm_alarm(r, now - 1);
	assert_int_equal(f.level, 1);
	goldfish_rtc_ops.reset(r);
	assert_int_equal(f.level, 0);
	assert_int_equal(rd(r, IRQ_ENABLED), 0);
	goldfish_rtc_ops.destroy(r);
}

static void test_rtc_bad_accesses(void **state)
{
	struct fake_irq f = { 0 };
	struct goldfish_rtc *r = new_rtc(&f);
	uint64_t v;

	assert_int_equal(goldfish_rtc_ops.read(r, TIME_LOW, 8, &v), -EFAULT);
	assert_int_equal(goldfish_rtc_ops.read(r, TIME_LOW, 1, &v), -EFAULT);
	assert_int_equal(goldfish_rtc_ops.write(r, IRQ_ENABLED, 2, 1), -EFAULT);
	assert_int_equal(goldfish_rtc_ops.read(r, 0x2, 4, &v), -EFAULT);
	assert_int_equal(rd(r, IRQ_ENABLED), 0);
	/* Unknown registers and out of range: read 0, write ignored. */
	wr(r, 0x20, 0xffffffff);
	wr(r, 0xffc, 0xffffffff);
	wr(r, 0xfffffffffffffffcull, 0xffffffff);
	assert_int_equal(rd(r, 0x20), 0);
	assert_int_equal(rd(r, 0xffc), 0);
	assert_int_equal(rd(r, CLEAR_ALARM), 0);
	assert_int_equal(rd(r, CLEAR_INTERRUPT), 0);
	/* No irq sink at all is fine. */
	struct irq_line none = { 0 };
	struct goldfish_rtc *r2 = goldfish_rtc_new(none);
	assert_non_null(r2);
	wr(r2, IRQ_ENABLED, 1);
	arm_alarm(r2, 1);
	goldfish_rtc_poll(r2);
	goldfish_rtc_ops.destroy(r2);
	goldfish_rtc_ops.destroy(r);
}

struct syscon_log {
	int calls;
	enum syscon_action last;
	unsigned code;
};

static void syscon_cb(void *ctx, enum syscon_action a, unsigned code)
{
	struct syscon_log *l = ctx;

	l->calls++;
	l->last = a;
	l->code = code;
}

static void test_syscon_actions(void **state)
{
	struct syscon_log log = { 0 };
	struct syscon *s = syscon_new(syscon_cb, &log);
	uint64_t v = 1;

	assert_non_null(s);
	assert_int_equal(syscon_ops.write(s, 0, 4, 0x5555), 0);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.last, SYSCON_POWEROFF);
	assert_int_equal(log.code, 0);

	assert_int_equal(syscon_ops.write(s, 0, 4, 0x7777), 0);
	assert_int_equal(log.calls, 2);
	assert_int_equal(log.last, SYSCON_RESET);

	assert_int_equal(syscon_ops.write(s, 0, 4, (42u << 16) | 0x3333), 0);
	assert_int_equal(log.calls, 3);
	assert_int_equal(log.last, SYSCON_FAIL);
	assert_int_equal(log.code, 42);

	assert_int_equal(syscon_ops.write(s, 0, 4, 0xffff3333u), 0);
	assert_int_equal(log.last, SYSCON_FAIL);
	assert_int_equal(log.code, 0xffff);

	/* High bits don't matter for pass/reset. */
	assert_int_equal(syscon_ops.write(s, 0, 4, 0x00015555), 0);
	assert_int_equal(log.last, SYSCON_POWEROFF);
	assert_int_equal(log.calls, 5);

	/* Other values and other offsets are ignored. */
	assert_int_equal(syscon_ops.write(s, 0, 4, 0), 0);
	assert_int_equal(syscon_ops.write(s, 0, 4, 0x5556), 0);
	assert_int_equal(syscon_ops.write(s, 0, 4, 0x55550000), 0);
	assert_int_equal(syscon_ops.write(s, 4, 4, 0x5555), 0);
	assert_int_equal(syscon_ops.write(s, 0xfff, 4, 0x7777), 0);
	assert_int_equal(log.calls, 5);

	/* Reads return 0. */
	assert_int_equal(syscon_ops.read(s, 0, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(log.calls, 5);
	syscon_ops.destroy(s);
}

static void test_syscon_sizes(void **state)
{
	struct syscon_log log = { 0 };
	struct syscon *s = syscon_new(syscon_cb, &log);
	uint64_t v;

	assert_non_null(s);
	/* 16-bit writes work (low half only). */
	assert_int_equal(syscon_ops.write(s, 0, 2, 0x7777), 0);
	assert_int_equal(log.calls, 1);
	assert_int_equal(log.last, SYSCON_RESET);
	/* Byte and 64-bit accesses fault. */
	assert_int_equal(syscon_ops.write(s, 0, 1, 0x55), -EFAULT);
	assert_int_equal(syscon_ops.write(s, 0, 8, 0x5555), -EFAULT);
	assert_int_equal(syscon_ops.read(s, 0, 1, &v), -EFAULT);
	assert_int_equal(log.calls, 1);
	syscon_ops.reset(s);
	syscon_ops.destroy(s);

	/* No callback: writes are harmless. */
	s = syscon_new(NULL, NULL);
	assert_non_null(s);
	assert_int_equal(syscon_ops.write(s, 0, 4, 0x5555), 0);
	syscon_ops.destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtc_time),
		cmocka_unit_test(test_rtc_time_high_latched),
		cmocka_unit_test(test_rtc_set_clock),
		cmocka_unit_test(test_rtc_alarm),
		cmocka_unit_test(test_rtc_alarm_past_and_masking),
		cmocka_unit_test(test_rtc_bad_accesses),
		cmocka_unit_test(test_syscon_actions),
		cmocka_unit_test(test_syscon_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
