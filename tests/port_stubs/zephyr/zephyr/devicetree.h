// Stand-in for <zephyr/devicetree.h>: only the chosen console node the zephyr port names.
#ifndef MD_PORT_STUBS_ZEPHYR_DEVICETREE_H_
#define MD_PORT_STUBS_ZEPHYR_DEVICETREE_H_

#define DT_CHOSEN(prop) DT_CHOSEN_##prop
#define DT_CHOSEN_zephyr_console md_sim_console

#endif  // MD_PORT_STUBS_ZEPHYR_DEVICETREE_H_
