#include <zephyr/device.h>
#include <zephyr/drivers/uart.h>

#include "sim.h"

const struct device md_sim_console = {"console"};

bool device_is_ready(const struct device* dev) { return dev == &md_sim_console; }

int uart_poll_in(const struct device* dev, unsigned char* p_char) {
  if (dev != &md_sim_console || sim::rx.empty()) return -1;
  *p_char = sim::rx.front();
  sim::rx.pop_front();
  return 0;
}

void uart_poll_out(const struct device* dev, unsigned char out_char) {
  if (dev == &md_sim_console) sim::tx.push_back(static_cast<char>(out_char));
}
