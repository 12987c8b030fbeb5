/* virtio-input (device id 18) as a power button: one key, KEY_POWER, which
 * the stock kernel's virtio_input driver turns into an evdev device that
 * systemd-logind (or a watcher in the guest) powers off on. */
#ifndef TERN_VIRTIO_INPUT_H
#define TERN_VIRTIO_INPUT_H
#include "dev/dev.h"

struct vm;
struct virtio_mmio;

#define VIRTIO_ID_INPUT 18
#define VIRTIO_INPUT_QUEUE_MAX 64
/* Events kept while the guest has no buffer for them or the VM is paused. */
#define VIRTIO_INPUT_PENDING 32

/* Config space selectors (virtio 1.2, 5.8.5). */
#define VIRTIO_INPUT_CFG_UNSET 0x00
#define VIRTIO_INPUT_CFG_ID_NAME 0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL 0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS 0x03
#define VIRTIO_INPUT_CFG_PROP_BITS 0x10
#define VIRTIO_INPUT_CFG_EV_BITS 0x11
#define VIRTIO_INPUT_CFG_ABS_INFO 0x12
#define VIRTIO_INPUT_CONFIG_LEN 136     /* select, subsel, size, 5 reserved, 128 */

/* Linux input event codes the button uses. */
#define VIRTIO_INPUT_EV_SYN 0
#define VIRTIO_INPUT_EV_KEY 1
#define VIRTIO_INPUT_KEY_POWER 116

#define VIRTIO_INPUT_NAME "tern power button"

/* A power button behind a new virtio-mmio transport, or NULL. */
struct virtio_mmio *virtio_input_power_button_new(struct vm *vm, struct irq_line irq);
/* Press and release the button (caller holds vm->lock). The events go to
 * the guest now, or once it gives buffers or the VM runs again. Returns 0,
 * or -ENODEV when no driver has the device (they are dropped then, as a
 * press on a machine whose OS does not listen). */
int virtio_input_press_power(struct virtio_mmio *t);
/* vm->on_resume: deliver the events held while the VM was paused (takes
 * vm->lock; does nothing for another device). */
void virtio_input_resume(struct virtio_mmio *t);
#endif
