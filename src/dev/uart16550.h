/* ns16550a UART with the complete register set: RBR/THR, IER, IIR/FCR,
 * LCR (DLAB), MCR, LSR, MSR, SCR, the divisor latch, 16-byte FIFOs. */
#ifndef TERN_UART16550_H
#define TERN_UART16550_H
#include <stddef.h>
#include "dev/dev.h"

struct uart16550;
/* Output sink for transmitted bytes. */
typedef void (*uart_tx_fn)(void *ctx, const unsigned char *buf, size_t len);
/* Called (with the VM lock held) when the RX FIFO has room again after the
 * guest read from it, so the backend can deliver buffered input. */
typedef void (*uart_rx_ready_fn)(void *ctx);

extern const struct dev_ops uart16550_ops;
struct uart16550 *uart16550_new(struct irq_line irq, uart_tx_fn tx, uart_rx_ready_fn rx_ready, void *ctx);
/* Host input into the RX FIFO; returns how many bytes fit (a full FIFO sets
 * LSR.OE). In loopback mode input is disconnected: all bytes are dropped. */
size_t uart16550_receive(struct uart16550 *u, const unsigned char *buf, size_t len);
/* How many bytes uart16550_receive() would accept now. Pushing more than
 * this sets LSR.OE, so backends should push at most this many. */
size_t uart16550_rx_space(const struct uart16550 *u);
#endif
