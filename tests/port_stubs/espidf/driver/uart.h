// Stand-in for ESP-IDF's driver/uart.h: the calls and types the espidf port uses, with the
// IDF's signatures (ESP-IDF v4.4/v5.x), over the simulated line.
#ifndef MD_PORT_STUBS_DRIVER_UART_H_
#define MD_PORT_STUBS_DRIVER_UART_H_

#include <cstddef>
#include <cstdint>

#include "freertos/FreeRTOS.h"

typedef int esp_err_t;
typedef void* QueueHandle_t;
typedef enum { UART_NUM_0 = 0, UART_NUM_1 = 1 } uart_port_t;
typedef enum { UART_DATA_8_BITS = 3 } uart_word_length_t;
typedef enum { UART_PARITY_DISABLE = 0 } uart_parity_t;
typedef enum { UART_STOP_BITS_1 = 1 } uart_stop_bits_t;
typedef enum { UART_HW_FLOWCTRL_DISABLE = 0 } uart_hw_flowcontrol_t;
typedef enum { UART_SCLK_APB = 4, UART_SCLK_DEFAULT = UART_SCLK_APB } uart_sclk_t;  // IDF 5

typedef struct {
  int baud_rate;
  uart_word_length_t data_bits;
  uart_parity_t parity;
  uart_stop_bits_t stop_bits;
  uart_hw_flowcontrol_t flow_ctrl;
  uint8_t rx_flow_ctrl_thresh;
  uart_sclk_t source_clk;
} uart_config_t;

esp_err_t uart_param_config(uart_port_t uart_num, const uart_config_t* uart_config);
esp_err_t uart_driver_install(uart_port_t uart_num, int rx_buffer_size, int tx_buffer_size,
                              int queue_size, QueueHandle_t* uart_queue, int intr_alloc_flags);
int uart_write_bytes(uart_port_t uart_num, const void* src, size_t size);
int uart_read_bytes(uart_port_t uart_num, void* buf, uint32_t length, TickType_t ticks_to_wait);
esp_err_t uart_get_buffered_data_len(uart_port_t uart_num, size_t* size);

#endif  // MD_PORT_STUBS_DRIVER_UART_H_
