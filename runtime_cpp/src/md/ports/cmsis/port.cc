// Bare-metal port for Cortex-M boards built by our md-cortexm platform (no vendor SDK): the
// clock is the DWT cycle counter (CMSIS-Core's DWT->CYCCNT, enabled through
// CoreDebug->DEMCR.TRCENA), the serial line is one UART driven at register level. The board
// definition picks the UART with a define:
//
//   MD_CMSIS_STM32F7_USART1  STM32F746G-DISCO: USART1 on PA9 (TX) / PB7 (RX), the ST-LINK's
//                            virtual COM port (RM0385: RCC, GPIO and USART register maps)
//   MD_CMSIS_NRF52_UART0     nRF52840 (Arduino Nano 33 BLE Sense): UART0 on P1.03 (TX) /
//                            P1.10 (RX), the board's D1/D0 pins (nRF52840 PS: UART, legacy
//                            non-DMA mode, which the nRF52840 still has)
//
// Another MCU: define neither and provide the three hooks below (md_uart_init/_put/_get); they
// are weak here only so that a board-specific file can replace them.
//
// The core runs on its reset clock (the port starts no PLL): 16 MHz HSI on the STM32F746,
// 64 MHz on the nRF52840. The board definition's clock_hz says the same, and TicksPerSecond
// returns it (MD_CPU_HZ, from the board's f_cpu).
#include "md/port.h"

#include <cstddef>
#include <cstdint>

#ifndef MD_SERIAL_BAUD
#define MD_SERIAL_BAUD 115200
#endif
#ifndef MD_CPU_HZ
#ifdef F_CPU
#define MD_CPU_HZ F_CPU
#else
#error "MD_CPU_HZ (the core clock in Hz) must be defined by the board"
#endif
#endif

namespace {

volatile uint32_t& Reg(uintptr_t address) { return *reinterpret_cast<volatile uint32_t*>(address); }

// CMSIS-Core names: CoreDebug->DEMCR, DWT->CTRL, DWT->CYCCNT, DWT->LAR (Armv7-M ARM, C1.8).
constexpr uintptr_t kDemcr = 0xE000EDFCu;
constexpr uint32_t kDemcrTrcena = 1u << 24;
constexpr uintptr_t kDwtCtrl = 0xE0001000u;
constexpr uintptr_t kDwtCyccnt = 0xE0001004u;
constexpr uintptr_t kDwtLar = 0xE0001FB0u;  // Cortex-M7 locks the DWT until this is written
constexpr uint32_t kDwtCyccntEna = 1u << 0;

}  // namespace

#if defined(MD_CMSIS_STM32F7_USART1)

namespace {
constexpr uintptr_t kRcc = 0x40023800u;
constexpr uintptr_t kRccAhb1enr = kRcc + 0x30u;  // b0 GPIOA, b1 GPIOB
constexpr uintptr_t kRccApb2enr = kRcc + 0x44u;  // b4 USART1
constexpr uintptr_t kGpioA = 0x40020000u;
constexpr uintptr_t kGpioB = 0x40020400u;
constexpr uintptr_t kModer = 0x00u, kAfrl = 0x20u, kAfrh = 0x24u;
constexpr uintptr_t kUsart1 = 0x40011000u;
constexpr uintptr_t kCr1 = 0x00u, kBrr = 0x0Cu, kIsr = 0x1Cu, kIcr = 0x20u, kRdr = 0x24u,
                    kTdr = 0x28u;
constexpr uint32_t kCr1Ue = 1u << 0, kCr1Re = 1u << 2, kCr1Te = 1u << 3;
constexpr uint32_t kIsrRxne = 1u << 5, kIsrTxe = 1u << 7, kIsrOre = 1u << 3;
constexpr uint32_t kAf7Usart1 = 7u;

void AlternateFunction(uintptr_t gpio, int pin, uint32_t af) {
  Reg(gpio + kModer) = (Reg(gpio + kModer) & ~(3u << (2 * pin))) | (2u << (2 * pin));
  const uintptr_t afr = gpio + (pin < 8 ? kAfrl : kAfrh);
  const int shift = 4 * (pin % 8);
  Reg(afr) = (Reg(afr) & ~(0xFu << shift)) | (af << shift);
}
}  // namespace

extern "C" __attribute__((weak)) void md_uart_init(uint32_t baud) {
  Reg(kRccAhb1enr) |= (1u << 0) | (1u << 1);
  Reg(kRccApb2enr) |= 1u << 4;
  const uint32_t enabled = Reg(kRccApb2enr);  // read back: clock on before the first access
  (void)enabled;
  AlternateFunction(kGpioA, 9, kAf7Usart1);  // TX
  AlternateFunction(kGpioB, 7, kAf7Usart1);  // RX
  Reg(kUsart1 + kCr1) = 0;
  Reg(kUsart1 + kBrr) = (MD_CPU_HZ + baud / 2) / baud;  // USART1 on APB2 = core clock at reset
  Reg(kUsart1 + kCr1) = kCr1Ue | kCr1Re | kCr1Te;
}

extern "C" __attribute__((weak)) void md_uart_put(uint8_t byte) {
  while (!(Reg(kUsart1 + kIsr) & kIsrTxe)) {
  }
  Reg(kUsart1 + kTdr) = byte;
}

extern "C" __attribute__((weak)) int md_uart_get() {
  const uint32_t isr = Reg(kUsart1 + kIsr);
  if (isr & kIsrOre) Reg(kUsart1 + kIcr) = kIsrOre;  // an overrun would stop reception
  if (!(isr & kIsrRxne)) return -1;
  return static_cast<int>(Reg(kUsart1 + kRdr) & 0xFFu);
}

#elif defined(MD_CMSIS_NRF52_UART0)

namespace {
constexpr uintptr_t kUart0 = 0x40002000u;
constexpr uintptr_t kStartRx = 0x000u, kStartTx = 0x008u, kEventRxdrdy = 0x108u,
                    kEventTxdrdy = 0x11Cu, kEnable = 0x500u, kPselTxd = 0x50Cu, kPselRxd = 0x514u,
                    kRxd = 0x518u, kTxd = 0x51Cu, kBaudrate = 0x524u;
constexpr uint32_t kEnableUart = 4u;
constexpr uint32_t kPinTx = 32u + 3u;   // P1.03
constexpr uint32_t kPinRx = 32u + 10u;  // P1.10

uint32_t BaudrateRegister(uint32_t baud) {
  switch (baud) {  // nRF52840 PS, UART BAUDRATE register values
    case 9600:
      return 0x00275000u;
    case 57600:
      return 0x00EBF000u;
    case 230400:
      return 0x03AFB000u;
    case 460800:
      return 0x075F7000u;
    case 921600:
      return 0x0EBED000u;
    default:
      return 0x01D7E000u;  // 115200
  }
}
}  // namespace

extern "C" __attribute__((weak)) void md_uart_init(uint32_t baud) {
  Reg(kUart0 + kPselTxd) = kPinTx;
  Reg(kUart0 + kPselRxd) = kPinRx;
  Reg(kUart0 + kBaudrate) = BaudrateRegister(baud);
  Reg(kUart0 + kEnable) = kEnableUart;
  Reg(kUart0 + kStartTx) = 1;
  Reg(kUart0 + kStartRx) = 1;
}

extern "C" __attribute__((weak)) void md_uart_put(uint8_t byte) {
  Reg(kUart0 + kEventTxdrdy) = 0;
  Reg(kUart0 + kTxd) = byte;
  while (Reg(kUart0 + kEventTxdrdy) == 0) {
  }
}

extern "C" __attribute__((weak)) int md_uart_get() {
  if (Reg(kUart0 + kEventRxdrdy) == 0) return -1;
  Reg(kUart0 + kEventRxdrdy) = 0;  // clear before reading RXD, as the PS orders
  return static_cast<int>(Reg(kUart0 + kRxd) & 0xFFu);
}

#else

// A board of its own provides these (e.g. in src/): set up the UART, send one byte (blocking),
// take one received byte or return -1 when none is waiting.
extern "C" void md_uart_init(uint32_t baud);
extern "C" void md_uart_put(uint8_t byte);
extern "C" int md_uart_get();

#endif

namespace md {
namespace port {

void Init() {
  Reg(kDemcr) |= kDemcrTrcena;
  Reg(kDwtLar) = 0xC5ACCE55u;
  Reg(kDwtCyccnt) = 0;
  Reg(kDwtCtrl) |= kDwtCyccntEna;
  md_uart_init(MD_SERIAL_BAUD);
}

void SerialWrite(const uint8_t* data, size_t n) {
  for (size_t i = 0; i < n; ++i) md_uart_put(data[i]);
}

int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms) {
  if (n == 0) return 0;
  const uint64_t deadline = Ticks() + static_cast<uint64_t>(timeout_ms) * (MD_CPU_HZ / 1000u);
  int c = md_uart_get();
  while (c < 0) {
    if (Ticks() >= deadline) return 0;
    c = md_uart_get();
  }
  size_t got = 0;
  data[got++] = static_cast<uint8_t>(c);
  while (got < n && (c = md_uart_get()) >= 0) data[got++] = static_cast<uint8_t>(c);
  return static_cast<int>(got);
}

uint64_t Ticks() {
  // CYCCNT is 32 bits (wraps every 2^32 cycles: 268 s at 16 MHz, 67 s at 64 MHz); extended
  // here, assuming a call at least once per wrap and from one context only.
  static uint32_t last = 0;
  static uint64_t high = 0;
  const uint32_t now = Reg(kDwtCyccnt);
  if (now < last) high += uint64_t{1} << 32;
  last = now;
  return high | now;
}

uint32_t TicksPerSecond() { return MD_CPU_HZ; }

const char* ClockName() { return "dwt"; }

void DebugLog(const char* text) { (void)text; }

[[noreturn]] void Exit(int code) {
  (void)code;
  for (;;) {
    __asm volatile("wfi");
  }
}

}  // namespace port
}  // namespace md
