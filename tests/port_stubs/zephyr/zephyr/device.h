// Stand-in for <zephyr/device.h>.
#ifndef MD_PORT_STUBS_ZEPHYR_DEVICE_H_
#define MD_PORT_STUBS_ZEPHYR_DEVICE_H_

struct device {
  const char* name;
};

extern const struct device md_sim_console;

#define DEVICE_DT_GET(node_id) (&(node_id))

bool device_is_ready(const struct device* dev);

#endif  // MD_PORT_STUBS_ZEPHYR_DEVICE_H_
