// Stand-in for ESP-IDF's driver/ledc.h: the two enums camera_config_t uses.
#ifndef MD_PORT_STUBS_ESPIDF_LEDC_H_
#define MD_PORT_STUBS_ESPIDF_LEDC_H_

typedef enum { LEDC_TIMER_0 = 0, LEDC_TIMER_1 } ledc_timer_t;
typedef enum { LEDC_CHANNEL_0 = 0, LEDC_CHANNEL_1 } ledc_channel_t;

#endif  // MD_PORT_STUBS_ESPIDF_LEDC_H_
