/* Unit tests for the ns16550a model: register semantics, FIFO, interrupts,
 * loopback and the callbacks into the backend. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "dev/uart16550.h"

#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

struct fake {
	int level;
	int irq_calls;
	unsigned irq_no;
	unsigned char tx[256];
	size_t ntx;
	int rx_ready_calls;
};

struct fixture {
	struct fake f;
	struct uart16550 *u;
};

static void fake_irq(void *ctx, unsigned irq, int level)
{
	struct fake *f = ctx;

	f->level = level;
	f->irq_no = irq;
	f->irq_calls++;
}

static void fake_tx(void *ctx, const unsigned char *buf, size_t len)
{
	struct fake *f = ctx;

	for (size_t i = 0; i < len && f->ntx < sizeof(f->tx); i++)
		f->tx[f->ntx++] = buf[i];
}

static void fake_rx_ready(void *ctx)
{
	struct fake *f = ctx;

	f->rx_ready_calls++;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct irq_line l = { .set = fake_irq, .ctx = &fx->f, .irq = 10 };

	fx->f.level = -1;
	fx->u = uart16550_new(l, fake_tx, fake_rx_ready, &fx->f);
	assert_non_null(fx->u);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	uart16550_ops.destroy(fx->u);
	free(fx);
	return 0;
}

static uint8_t rd(struct uart16550 *u, uint64_t off)
{
	uint64_t v = 0xdead;

	assert_int_equal(uart16550_ops.read(u, off, 1, &v), 0);
	assert_true(v <= 0xff);
	return (uint8_t)v;
}

static void wr(struct uart16550 *u, uint64_t off, uint8_t v)
{
	assert_int_equal(uart16550_ops.write(u, off, 1, v), 0);
}

static void test_reset_values(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(rd(fx->u, IER), 0);
	assert_int_equal(rd(fx->u, IIR), 0x01);
	assert_int_equal(rd(fx->u, LCR), 0);
	assert_int_equal(rd(fx->u, MCR), 0);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0xb0);
	assert_int_equal(rd(fx->u, SCR), 0);
	/* Constructor drove the line low once. */
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->f.irq_no, 10);
}

static void test_access_sizes(void **state)
{
	struct fixture *fx = *state;
	uint64_t v;

	assert_int_equal(uart16550_ops.read(fx->u, SCR, 2, &v), -EFAULT);
	assert_int_equal(uart16550_ops.read(fx->u, SCR, 8, &v), -EFAULT);
	assert_int_equal(uart16550_ops.write(fx->u, SCR, 2, 1), -EFAULT);
	assert_int_equal(uart16550_ops.write(fx->u, SCR, 8, 1), -EFAULT);
	/* 4-byte accesses use the low byte. */
	assert_int_equal(uart16550_ops.write(fx->u, SCR, 4, 0x12345678), 0);
	assert_int_equal(uart16550_ops.read(fx->u, SCR, 4, &v), 0);
	assert_int_equal(v, 0x78);
	assert_int_equal(rd(fx->u, SCR), 0x78);
	/* Out of range: reads 0, writes ignored. */
	assert_int_equal(uart16550_ops.write(fx->u, 8, 1, 0xff), 0);
	assert_int_equal(uart16550_ops.write(fx->u, 0xffffffffffffull, 1, 0xff), 0);
	v = 0x55;
	assert_int_equal(uart16550_ops.read(fx->u, 8, 1, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(uart16550_ops.read(fx->u, UINT64_MAX, 4, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(fx->f.ntx, 0);
}

static void test_fcr_write_only(void **state)
{
	struct fixture *fx = *state;

	wr(fx->u, FCR, 0xc7); /* FIFO on, resets, trigger 14 */
	/* Offset 2 reads IIR: no interrupt, FIFOs enabled. */
	assert_int_equal(rd(fx->u, IIR), 0xc1);
	wr(fx->u, FCR, 0x00);
	assert_int_equal(rd(fx->u, IIR), 0x01);
}

static void test_dlab(void **state)
{
	struct fixture *fx = *state;
	unsigned char in = 'x';

	wr(fx->u, IER, 0x05);
	assert_int_equal(uart16550_receive(fx->u, &in, 1), 1);
	wr(fx->u, LCR, 0x83);
	wr(fx->u, 0, 0x0c); /* DLL */
	wr(fx->u, 1, 0x01); /* DLM */
	assert_int_equal(rd(fx->u, 0), 0x0c);
	assert_int_equal(rd(fx->u, 1), 0x01);
	/* Neither transmitted, nor consumed RX, nor touched IER. */
	assert_int_equal(fx->f.ntx, 0);
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0x01);
	wr(fx->u, LCR, 0x03);
	assert_int_equal(rd(fx->u, LCR), 0x03);
	assert_int_equal(rd(fx->u, IER), 0x05);
	assert_int_equal(rd(fx->u, RBR), 'x');
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0);
	/* Divisor survives and reads back under DLAB again. */
	wr(fx->u, LCR, 0x80);
	assert_int_equal(rd(fx->u, 0), 0x0c);
	assert_int_equal(rd(fx->u, 1), 0x01);
}

static void test_tx_callback(void **state)
{
	struct fixture *fx = *state;

	wr(fx->u, THR, 'h');
	wr(fx->u, THR, 'i');
	assert_int_equal(fx->f.ntx, 2);
	assert_memory_equal(fx->f.tx, "hi", 2);
	assert_int_equal(rd(fx->u, LSR) & 0x60, 0x60);
}

static void test_fifo_overflow(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[20];

	for (int i = 0; i < 20; i++)
		buf[i] = (unsigned char)('a' + i);
	wr(fx->u, FCR, 0x07);
	assert_int_equal(uart16550_rx_space(fx->u), 16);
	fx->f.rx_ready_calls = 0;
	assert_int_equal(uart16550_receive(fx->u, buf, 10), 10);
	assert_int_equal(rd(fx->u, LSR) & 0x03, 0x01); /* DR, no OE yet */
	assert_int_equal(uart16550_receive(fx->u, buf + 10, 10), 6);
	assert_int_equal(uart16550_rx_space(fx->u), 0);
	uint8_t lsr = rd(fx->u, LSR);
	assert_int_equal(lsr & 0x03, 0x03);
	/* OE clears on LSR read. */
	assert_int_equal(rd(fx->u, LSR) & 0x02, 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(rd(fx->u, RBR), 'a' + i);
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0);
	assert_int_equal(fx->f.rx_ready_calls, 16);
	/* Reading an empty FIFO is harmless and does not call rx_ready. */
	rd(fx->u, RBR);
	assert_int_equal(fx->f.rx_ready_calls, 16);
}

static void test_no_fifo_one_byte(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[2] = { '1', '2' };

	assert_int_equal(uart16550_receive(fx->u, buf, 2), 1);
	assert_int_equal(rd(fx->u, LSR) & 0x03, 0x03);
	assert_int_equal(rd(fx->u, RBR), '1');
}

static void test_fifo_reset(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[3] = { 1, 2, 3 };

	wr(fx->u, FCR, 0x01);
	assert_int_equal(uart16550_receive(fx->u, buf, 3), 3);
	wr(fx->u, FCR, 0x03); /* RX reset */
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0);
	assert_int_equal(uart16550_receive(fx->u, buf, 3), 3);
	wr(fx->u, FCR, 0x00); /* disabling FIFOs flushes too */
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0);
}

static void test_trigger_levels(void **state)
{
	struct fixture *fx = *state;
	static const uint8_t fcr[4] = { 0x01, 0x41, 0x81, 0xc1 };
	static const unsigned trig[4] = { 1, 4, 8, 14 };
	unsigned char buf[16] = { 0 };

	wr(fx->u, IER, 0x01);
	for (int t = 0; t < 4; t++) {
		wr(fx->u, FCR, (uint8_t)(fcr[t] | 0x02));
		assert_int_equal(rd(fx->u, IIR), 0xc1);
		assert_int_equal(fx->f.level, 0);
		for (unsigned n = 1; n <= 16; n++) {
			assert_int_equal(uart16550_receive(fx->u, buf, 1), 1);
			uint8_t iir = rd(fx->u, IIR);
			if (n >= trig[t])
				assert_int_equal(iir, 0xc4);
			else
				assert_int_equal(iir, 0xcc); /* char timeout */
			assert_int_equal(fx->f.level, 1);
		}
		/* Drain below the trigger: back to the timeout indication. */
		for (unsigned n = 16; n > 0; n--) {
			rd(fx->u, RBR);
			uint8_t iir = rd(fx->u, IIR);
			if (n - 1 == 0)
				assert_int_equal(iir, 0xc1);
			else if (n - 1 >= trig[t])
				assert_int_equal(iir, 0xc4);
			else
				assert_int_equal(iir, 0xcc);
		}
		assert_int_equal(fx->f.level, 0);
	}
}

static void test_thre_interrupt(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(fx->f.level, 0);
	/* Enabling ETBEI with THR empty raises THRE at once. */
	wr(fx->u, IER, 0x02);
	assert_int_equal(fx->f.level, 1);
	/* Reading IIR reports and acknowledges it. */
	assert_int_equal(rd(fx->u, IIR), 0x02);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(rd(fx->u, IIR), 0x01);
	/* Writing THR: byte leaves at once, THR empty again -> THRE again. */
	wr(fx->u, THR, 'z');
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(rd(fx->u, IIR), 0x02);
	assert_int_equal(fx->f.level, 0);
	/* Re-writing IER with ETBEI already set is not an edge. */
	wr(fx->u, IER, 0x02);
	assert_int_equal(fx->f.level, 0);
	/* 0 -> 1 again is. */
	wr(fx->u, IER, 0x00);
	wr(fx->u, IER, 0x02);
	assert_int_equal(fx->f.level, 1);
	/* Disabling ETBEI drops the line. */
	wr(fx->u, IER, 0x00);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(rd(fx->u, IIR), 0x01);
}

static void test_iir_priority(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[17] = { 0 };

	wr(fx->u, FCR, 0x01);
	wr(fx->u, IER, 0x0f);
	/* THRE pending from the ETBEI edge. */
	assert_int_equal(uart16550_receive(fx->u, buf, 17), 16); /* OE */
	assert_int_equal(rd(fx->u, IIR), 0xc6); /* line status first */
	assert_int_equal(fx->f.level, 1);
	rd(fx->u, LSR);                         /* clears OE */
	assert_int_equal(rd(fx->u, IIR), 0xc4); /* then RX data */
	for (int i = 0; i < 16; i++)
		rd(fx->u, RBR);
	assert_int_equal(rd(fx->u, IIR), 0xc2); /* then THRE (acked) */
	assert_int_equal(rd(fx->u, IIR), 0xc1); /* MSR has no deltas */
	assert_int_equal(fx->f.level, 0);
	/* Modem status: loopback flips the lines, setting deltas. */
	wr(fx->u, MCR, 0x10);
	assert_int_equal(rd(fx->u, IIR), 0xc0);
	assert_int_equal(fx->f.level, 1);
	rd(fx->u, MSR);
	assert_int_equal(rd(fx->u, IIR), 0xc1);
	assert_int_equal(fx->f.level, 0);
}

static void test_loopback(void **state)
{
	struct fixture *fx = *state;
	unsigned char in = 'q';

	wr(fx->u, MCR, 0x10);
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0x00);
	wr(fx->u, MCR, 0x1f);
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0xf0);
	wr(fx->u, MCR, 0x12); /* RTS -> CTS */
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0x10);
	wr(fx->u, MCR, 0x11); /* DTR -> DSR */
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0x20);
	wr(fx->u, MCR, 0x14); /* OUT1 -> RI */
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0x40);
	wr(fx->u, MCR, 0x18); /* OUT2 -> DCD */
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0x80);

	wr(fx->u, IER, 0x01);
	wr(fx->u, THR, 0x5a);
	assert_int_equal(fx->f.ntx, 0); /* not sent to the host */
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0x01);
	/* Host input is disconnected in loopback. */
	assert_int_equal(uart16550_receive(fx->u, &in, 1), 1);
	assert_int_equal(rd(fx->u, RBR), 0x5a);
	assert_int_equal(rd(fx->u, LSR) & 0x01, 0);
	assert_int_equal(fx->f.level, 0);

	/* Leaving loopback: MSR back to CTS|DSR|DCD, TX goes to the host. */
	wr(fx->u, MCR, 0x00);
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0xb0);
	wr(fx->u, THR, 'k');
	assert_int_equal(fx->f.ntx, 1);
	assert_int_equal(fx->f.tx[0], 'k');
}

static void test_irq_level_tracking(void **state)
{
	struct fixture *fx = *state;
	unsigned char in = '!';
	int calls;

	/* RX data without ERBFI: no interrupt. */
	assert_int_equal(uart16550_receive(fx->u, &in, 1), 1);
	assert_int_equal(fx->f.level, 0);
	calls = fx->f.irq_calls;
	wr(fx->u, IER, 0x01);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(fx->f.irq_calls, calls + 1);
	/* Unrelated accesses don't re-drive the line. */
	rd(fx->u, SCR);
	wr(fx->u, SCR, 3);
	assert_int_equal(fx->f.irq_calls, calls + 1);
	/* Reading IIR for RX data doesn't clear it; reading RBR does. */
	assert_int_equal(rd(fx->u, IIR), 0x04);
	assert_int_equal(fx->f.level, 1);
	assert_int_equal(rd(fx->u, RBR), '!');
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(fx->f.irq_calls, calls + 2);
	/* Reset drops the line. */
	assert_int_equal(uart16550_receive(fx->u, &in, 1), 1);
	assert_int_equal(fx->f.level, 1);
	uart16550_ops.reset(fx->u);
	assert_int_equal(fx->f.level, 0);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	assert_int_equal(rd(fx->u, IIR), 0x01);
}

static void test_scr_and_lsr_readonly(void **state)
{
	struct fixture *fx = *state;

	wr(fx->u, SCR, 0xa5);
	assert_int_equal(rd(fx->u, SCR), 0xa5);
	wr(fx->u, LSR, 0x00);
	assert_int_equal(rd(fx->u, LSR), 0x60);
	wr(fx->u, MSR, 0x00);
	assert_int_equal(rd(fx->u, MSR) & 0xf0, 0xb0);
	assert_int_equal(rd(fx->u, IER), 0);
	wr(fx->u, IER, 0xff);
	assert_int_equal(rd(fx->u, IER), 0x0f);
}

/* rx_ready may push more input from inside the RBR read. */
struct reent {
	struct uart16550 *u;
	int calls;
};

static void reent_rx_ready(void *ctx)
{
	struct reent *r = ctx;
	unsigned char c = (unsigned char)('A' + r->calls);

	r->calls++;
	if (r->calls <= 3)
		uart16550_receive(r->u, &c, 1);
}

static void test_rx_ready_reentrant(void **state)
{
	struct reent r = { 0 };
	struct irq_line l = { 0 };
	uint64_t v;
	unsigned char c = '0';

	r.u = uart16550_new(l, NULL, reent_rx_ready, &r);
	assert_non_null(r.u);
	assert_int_equal(uart16550_receive(r.u, &c, 1), 1);
	assert_int_equal(uart16550_ops.read(r.u, RBR, 1, &v), 0);
	assert_int_equal(v, '0');
	assert_int_equal(uart16550_ops.read(r.u, RBR, 1, &v), 0);
	assert_int_equal(v, 'A');
	assert_int_equal(uart16550_ops.read(r.u, RBR, 1, &v), 0);
	assert_int_equal(v, 'B');
	assert_int_equal(uart16550_ops.read(r.u, RBR, 1, &v), 0);
	assert_int_equal(v, 'C');
	assert_int_equal(uart16550_ops.read(r.u, LSR, 1, &v), 0);
	assert_int_equal(v & 1, 0);
	/* No tx sink: THR writes are dropped safely. */
	assert_int_equal(uart16550_ops.write(r.u, THR, 1, 'x'), 0);
	uart16550_ops.destroy(r.u);
}

/* Issue 15: a byte typed before the driver starts (FIFO off, room for one)
 * pauses the backend; the driver then clears the FIFO, or the VM resets.
 * Either frees room without a pop, and must still wake the backend. */
static void test_rx_ready_after_clear(void **state)
{
	struct fixture *fx = *state;
	unsigned char buf[2] = { 'a', 'b' };

	assert_int_equal(uart16550_receive(fx->u, buf, 2), 1);
	assert_int_equal(uart16550_rx_space(fx->u), 0);
	int calls = fx->f.rx_ready_calls;
	wr(fx->u, FCR, 0x07); /* FIFO on, RX+TX reset: room for 16 */
	assert_int_equal(uart16550_rx_space(fx->u), 16);
	assert_true(fx->f.rx_ready_calls > calls);

	/* Full FIFO, then a system reset. */
	unsigned char many[16] = { 0 };
	assert_int_equal(uart16550_receive(fx->u, many, 16), 16);
	calls = fx->f.rx_ready_calls;
	uart16550_ops.reset(fx->u);
	assert_int_equal(uart16550_rx_space(fx->u), 1);
	assert_true(fx->f.rx_ready_calls > calls);

	/* Entering loopback disconnects (drops) the input: the backend must
	 * not stay paused on a full FIFO meanwhile. */
	assert_int_equal(uart16550_receive(fx->u, buf, 1), 1);
	calls = fx->f.rx_ready_calls;
	wr(fx->u, MCR, 0x10);
	assert_true(fx->f.rx_ready_calls > calls);

	/* A write that frees nothing does not call it. */
	calls = fx->f.rx_ready_calls;
	wr(fx->u, SCR, 0x55);
	assert_int_equal(fx->f.rx_ready_calls, calls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcr_write_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_overflow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fifo_one_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trigger_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_iir_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irq_level_tracking, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scr_and_lsr_readonly, setup, teardown),
		cmocka_unit_test(test_rx_ready_reentrant),
		cmocka_unit_test_setup_teardown(test_rx_ready_after_clear, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
