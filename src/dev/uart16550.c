/* ns16550a UART model (reg-shift 0): full register set, 16-byte RX FIFO,
 * loopback, and a level interrupt line. TX is immediate, so THR is always
 * empty again by the time the guest can look. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "dev/uart16550.h"
#include "state/devlog.h"
#include "state/vmbuf.h"

#define UART_FIFO_SIZE 16

/* Register offsets (reg-shift 0). */
#define REG_RBR_THR 0
#define REG_IER 1
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_ERBFI 0x01
#define IER_ETBEI 0x02
#define IER_ELSI 0x04
#define IER_EDSSI 0x08

#define IIR_NO_INT 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_FE 0x01
#define FCR_RXRST 0x02
#define FCR_TXRST 0x04
#define FCR_KEEP 0xc9 /* FE, DMA mode, trigger level */

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_PE 0x04
#define LSR_FE 0x08
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80
#define MSR_DELTAS 0x0f

struct uart16550 {
	struct irq_line irq;
	uart_tx_fn tx;
	uart_rx_ready_fn rx_ready;
	void *ctx;

	uint8_t rx_fifo[UART_FIFO_SIZE];
	unsigned rx_head; /* index of the oldest byte */
	unsigned rx_count;

	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr, dll, dlm;
	bool thr_ipending; /* THR-empty interrupt not yet acknowledged */
	int irq_level;     /* last level driven on the line, -1 = unknown */
};

static unsigned rx_capacity(const struct uart16550 *u)
{
	return (u->fcr & FCR_FE) ? UART_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct uart16550 *u)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 };

	if (!(u->fcr & FCR_FE))
		return 1;
	return levels[(u->fcr >> 6) & 3];
}

/* Interrupt identification in priority order, without the FIFO bits. */
static uint8_t uart_iir_id(const struct uart16550 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRS))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count)
		return u->rx_count >= rx_trigger(u) ? IIR_RDI : IIR_CTI;
	if ((u->ier & IER_ETBEI) && u->thr_ipending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

static void uart_update_irq(struct uart16550 *u)
{
	int level = uart_iir_id(u) != IIR_NO_INT;

	if (level != u->irq_level) {
		u->irq_level = level;
		irq_set(&u->irq, level);
	}
}

/* Modem status lines as seen by the guest; delta bits record changes. */
static void uart_update_msr(struct uart16550 *u)
{
	uint8_t status, old = u->msr & 0xf0, delta = 0;

	if (u->mcr & MCR_LOOP) {
		status = 0;
		if (u->mcr & MCR_RTS)
			status |= MSR_CTS;
		if (u->mcr & MCR_DTR)
			status |= MSR_DSR;
		if (u->mcr & MCR_OUT1)
			status |= MSR_RI;
		if (u->mcr & MCR_OUT2)
			status |= MSR_DCD;
	} else {
		status = MSR_CTS | MSR_DSR | MSR_DCD;
	}
	if ((old ^ status) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((old ^ status) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((old & MSR_RI) && !(status & MSR_RI)) /* trailing edge only */
		delta |= MSR_TERI;
	if ((old ^ status) & MSR_DCD)
		delta |= MSR_DDCD;
	u->msr = status | (u->msr & MSR_DELTAS) | delta;
}

/* Push one byte into the RX FIFO; returns false (and flags OE) if full. */
static bool rx_push(struct uart16550 *u, unsigned char c)
{
	if (u->rx_count >= rx_capacity(u)) {
		u->lsr |= LSR_OE;
		return false;
	}
	u->rx_fifo[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = c;
	u->rx_count++;
	u->lsr |= LSR_DR;
	return true;
}

static void rx_clear(struct uart16550 *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
	u->lsr &= ~LSR_DR;
}

static void uart_reset_regs(struct uart16550 *u)
{
	rx_clear(u);
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->lsr = LSR_THRE | LSR_TEMT;
	u->msr = MSR_CTS | MSR_DSR | MSR_DCD;
	u->scr = 0;
	u->fcr = 0;
	u->dll = 0;
	u->dlm = 0;
	u->thr_ipending = false;
	u->irq_level = -1; /* force the line to be driven low */
	uart_update_irq(u);
}

static void uart_reset(void *dev)
{
	struct uart16550 *u = dev;

	uart_reset_regs(u);
	/* The FIFO was emptied without a pop: a backend paused on a full FIFO
	 * must hear that there is room again, or input stays dead. */
	if (u->rx_ready)
		u->rx_ready(u->ctx);
}

static void uart_transmit(struct uart16550 *u, uint8_t c)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, c);
	else if (u->tx)
		u->tx(u->ctx, &c, 1);
	/* Sent at once: THR and the shift register are empty again, which a
	 * real UART reports with a fresh THRE interrupt. */
	u->lsr |= LSR_THRE | LSR_TEMT;
	u->thr_ipending = true;
}

static int uart_read(void *dev, uint64_t off, unsigned size, uint64_t *val)
{
	struct uart16550 *u = dev;
	bool popped = false;
	uint8_t v = 0;

	*val = 0;
	if (size != 1 && size != 4)
		return -EFAULT;
	if (off > REG_SCR)
		return 0;

	switch (off) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (u->rx_count) {
			v = u->rx_fifo[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
			u->rx_count--;
			if (!u->rx_count)
				u->lsr &= ~LSR_DR;
			popped = true;
		}
		break;
	case REG_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case REG_IIR_FCR:
		v = uart_iir_id(u);
		/* Reading IIR acknowledges a THRE interrupt it reports. */
		if (v == IIR_THRI)
			u->thr_ipending = false;
		if (u->fcr & FCR_FE)
			v |= IIR_FIFO_ON;
		break;
	case REG_LCR:
		v = u->lcr;
		break;
	case REG_MCR:
		v = u->mcr;
		break;
	case REG_LSR:
		v = u->lsr;
		if (u->rx_count)
			v |= LSR_DR;
		u->lsr &= ~LSR_ERRS;
		break;
	case REG_MSR:
		v = u->msr;
		u->msr &= ~MSR_DELTAS;
		break;
	case REG_SCR:
		v = u->scr;
		break;
	}
	*val = v;
	uart_update_irq(u);
	/* Last: the backend may call uart16550_receive() from here. */
	if (popped && u->rx_ready)
		u->rx_ready(u->ctx);
	return 0;
}

static int uart_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct uart16550 *u = dev;
	uint8_t v = (uint8_t)val;
	size_t room = uart16550_rx_space(u);

	if (size != 1 && size != 4)
		return -EFAULT;
	if (off > REG_SCR)
		return 0;

	switch (off) {
	case REG_RBR_THR:
		if (u->lcr & LCR_DLAB) {
			u->dll = v;
		} else {
			u->thr_ipending = false;
			uart_transmit(u, v);
		}
		break;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
		} else {
			uint8_t old = u->ier;

			u->ier = v & 0x0f;
			/* Enabling ETBEI with THR empty raises THRE at once;
			 * Linux's 8250 driver relies on this edge. */
			if (!(old & IER_ETBEI) && (u->ier & IER_ETBEI) &&
			    (u->lsr & LSR_THRE))
				u->thr_ipending = true;
		}
		break;
	case REG_IIR_FCR: {
		bool was_on = u->fcr & FCR_FE;

		/* Toggling FIFO enable flushes both FIFOs. */
		if ((v & FCR_RXRST) || was_on != !!(v & FCR_FE))
			rx_clear(u);
		if (v & FCR_TXRST)
			u->lsr |= LSR_THRE | LSR_TEMT;
		u->fcr = v & FCR_KEEP;
		break;
	}
	case REG_LCR:
		u->lcr = v;
		break;
	case REG_MCR:
		u->mcr = v & 0x1f;
		uart_update_msr(u);
		break;
	case REG_LSR:
	case REG_MSR:
		break; /* read-only (factory test writes ignored) */
	case REG_SCR:
		u->scr = v;
		break;
	}
	uart_update_irq(u);
	/* FIFO reset, FIFO enable or loopback can free room without a pop
	 * (the 8250 driver clears the FIFO at startup): wake the backend. */
	if (uart16550_rx_space(u) > room && u->rx_ready)
		u->rx_ready(u->ctx);
	return 0;
}

static void uart_destroy(void *dev)
{
	free(dev);
}

static int uart_save(void *dev, struct vmbuf *b)
{
	struct uart16550 *u = dev;
	vmbuf_put_bytes(b, u->rx_fifo, UART_FIFO_SIZE);
	vmbuf_put_u8(b, (uint8_t)u->rx_head);
	vmbuf_put_u8(b, (uint8_t)u->rx_count);
	uint8_t regs[9] = { u->ier, u->lcr, u->mcr, u->lsr, u->msr, u->scr, u->fcr, u->dll, u->dlm };
	vmbuf_put_bytes(b, regs, sizeof(regs));
	vmbuf_put_u8(b, u->thr_ipending);
	vmbuf_put_u8(b, (uint8_t)(u->irq_level + 1));
	return 0;
}

static int uart_load(void *dev, struct vmrd *r, unsigned version)
{
	struct uart16550 *u = dev;
	uint8_t regs[9];
	if (version != 1)
		return -1;
	vmrd_bytes(r, u->rx_fifo, UART_FIFO_SIZE);
	u->rx_head = vmrd_u8(r);
	u->rx_count = vmrd_u8(r);
	vmrd_bytes(r, regs, sizeof(regs));
	u->thr_ipending = vmrd_u8(r) != 0;
	u->irq_level = (int)vmrd_u8(r) - 1;
	if (!vmrd_done(r) || u->rx_head >= UART_FIFO_SIZE || u->rx_count > UART_FIFO_SIZE)
		return -1;
	u->ier = regs[0]; u->lcr = regs[1]; u->mcr = regs[2]; u->lsr = regs[3]; u->msr = regs[4];
	u->scr = regs[5]; u->fcr = regs[6]; u->dll = regs[7]; u->dlm = regs[8];
	return 0;
}

/* ---- write-log replay ---- */

/* Offsets 0 and 1 are the divisor latch while LCR.DLAB is set (context 1). */
enum { CTX_NORMAL = 0, CTX_DLAB = 1 };

static const struct devlog_reg uart_regs[] = {
	/* Transmits (or loops back into the RX FIFO): the FIFO, LSR and the
	 * THRE interrupt it leaves are residue. */
	{ "THR", REG_RBR_THR, 1, 1, CTX_NORMAL, CTX_NORMAL, DEVLOG_ACTION, 0 },
	{ "DLL", REG_RBR_THR, 1, 1, CTX_DLAB, CTX_DLAB, DEVLOG_WRITE_ONLY, 0 },
	{ "IER", REG_IER, 1, 1, CTX_NORMAL, CTX_NORMAL, DEVLOG_READ_WRITE, 0 },
	{ "DLM", REG_IER, 1, 1, CTX_DLAB, CTX_DLAB, DEVLOG_WRITE_ONLY, 0 },
	/* Reads as IIR: the FIFO mode and trigger level can only be logged. */
	{ "FCR", REG_IIR_FCR, 1, 1, 0, 0, DEVLOG_WRITE_ONLY, 0 },
	{ "LCR", REG_LCR, 1, 1, 0, 0, DEVLOG_READ_WRITE, 0 },
	{ "MCR", REG_MCR, 1, 1, 0, 0, DEVLOG_READ_WRITE, 0 },
	{ "LSR", REG_LSR, 1, 1, 0, 0, DEVLOG_IGNORED, 0 },
	{ "MSR", REG_MSR, 1, 1, 0, 0, DEVLOG_IGNORED, 0 },
	{ "SCR", REG_SCR, 1, 1, 0, 0, DEVLOG_READ_WRITE, 0 },
};

static uint32_t uart_log_context(void *dev, uint32_t off)
{
	const struct uart16550 *u = dev;
	return off <= REG_IER && (u->lcr & LCR_DLAB) ? CTX_DLAB : CTX_NORMAL;
}

static uint32_t uart_swap_context(void *dev, uint32_t off, uint32_t ctx)
{
	struct uart16550 *u = dev;
	uint32_t old = uart_log_context(dev, off);
	if (off <= REG_IER)
		u->lcr = ctx == CTX_DLAB ? u->lcr | LCR_DLAB : u->lcr & ~LCR_DLAB;
	return old;
}

static void uart_read_back(void *dev, struct devlog_sink *s)
{
	devlog_read_back(s, REG_IER, CTX_NORMAL);
	devlog_read_back(s, REG_LCR, 0);
	devlog_read_back(s, REG_MCR, 0);
	devlog_read_back(s, REG_SCR, 0);
}

/* What no register write reproduces: the RX FIFO, the status registers
 * (their bits come from traffic), the pending THRE interrupt, the line. */
static int uart_residue_save(void *dev, struct vmbuf *b)
{
	struct uart16550 *u = dev;
	vmbuf_put_bytes(b, u->rx_fifo, UART_FIFO_SIZE);
	vmbuf_put_u8(b, (uint8_t)u->rx_head);
	vmbuf_put_u8(b, (uint8_t)u->rx_count);
	vmbuf_put_u8(b, u->lsr);
	vmbuf_put_u8(b, u->msr);
	vmbuf_put_u8(b, u->thr_ipending);
	vmbuf_put_u8(b, (uint8_t)(u->irq_level + 1));
	return 0;
}

static int uart_residue_load(void *dev, struct vmrd *r, unsigned version)
{
	struct uart16550 *u = dev;
	if (version != 1)
		return -1;
	vmrd_bytes(r, u->rx_fifo, UART_FIFO_SIZE);
	unsigned head = vmrd_u8(r), count = vmrd_u8(r);
	u->lsr = vmrd_u8(r);
	u->msr = vmrd_u8(r);
	u->thr_ipending = vmrd_u8(r) != 0;
	u->irq_level = (int)vmrd_u8(r) - 1;
	if (!vmrd_done(r) || head >= UART_FIFO_SIZE || count > UART_FIFO_SIZE)
		return -1;
	u->rx_head = head;
	u->rx_count = count;
	return 0;
}

static const struct devlog_ops uart_devlog = {
	.regs = uart_regs,
	.nregs = sizeof(uart_regs) / sizeof(uart_regs[0]),
	.width = 1,
	.sizes = (1u << 1) | (1u << 4),
	.context = uart_log_context,
	.swap_context = uart_swap_context,
	.read_back = uart_read_back,
	.residue_version = 1,
	.residue_save = uart_residue_save,
	.residue_load = uart_residue_load,
};

const struct dev_ops uart16550_ops = {
	.name = "uart16550",
	.devlog = &uart_devlog,
	.state_version = 1,
	.save = uart_save,
	.load = uart_load,
	.reset = uart_reset,
	.read = uart_read,
	.write = uart_write,
	.destroy = uart_destroy,
};

struct uart16550 *uart16550_new(struct irq_line irq, uart_tx_fn tx, uart_rx_ready_fn rx_ready, void *ctx)
{
	struct uart16550 *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->irq = irq;
	u->tx = tx;
	u->rx_ready = rx_ready;
	u->ctx = ctx;
	uart_reset_regs(u);
	return u;
}

size_t uart16550_receive(struct uart16550 *u, const unsigned char *buf, size_t len)
{
	size_t n = 0;

	/* In loopback the serial input is disconnected: bytes are dropped,
	 * as on real hardware, rather than left queued in the backend. */
	if (u->mcr & MCR_LOOP)
		return len;
	while (n < len && rx_push(u, buf[n]))
		n++;
	uart_update_irq(u);
	return n;
}

size_t uart16550_rx_space(const struct uart16550 *u)
{
	if (u->mcr & MCR_LOOP)
		return SIZE_MAX;
	return rx_capacity(u) - u->rx_count;
}
