// Stand-in for esp_idf_version.h: the ESP-IDF 5.x that PlatformIO's espressif32 ships.
#ifndef MD_PORT_STUBS_ESP_IDF_VERSION_H_
#define MD_PORT_STUBS_ESP_IDF_VERSION_H_

#define ESP_IDF_VERSION_MAJOR 5
#define ESP_IDF_VERSION_MINOR 1

#endif  // MD_PORT_STUBS_ESP_IDF_VERSION_H_
