// Stand-in for <zephyr/drivers/uart.h>: the polling API (same signatures as Zephyr's).
#ifndef MD_PORT_STUBS_ZEPHYR_DRIVERS_UART_H_
#define MD_PORT_STUBS_ZEPHYR_DRIVERS_UART_H_

#include <zephyr/device.h>

int uart_poll_in(const struct device* dev, unsigned char* p_char);
void uart_poll_out(const struct device* dev, unsigned char out_char);

#endif  // MD_PORT_STUBS_ZEPHYR_DRIVERS_UART_H_
