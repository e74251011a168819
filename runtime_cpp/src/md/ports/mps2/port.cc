// Port of the runtime to the Arm MPS2 AN386 (Cortex-M4F) as QEMU emulates it, and to
// AN385 (Cortex-M3, no FPU) and AN500 (Cortex-M7), which QEMU gives the same peripherals at the
// same addresses and the same 25 MHz clock
// (`qemu-system-arm -M mps2-an386 -semihosting-config enable=on,target=native`).
//
// - Serial line: CMSDK APB UART0 at 0x40004000 (QEMU's first -serial).
// - Debug text: CMSDK UART1 at 0x40005000 (a second -serial shows it; otherwise
//   QEMU drops it), so it never mixes with the protocol on UART0.
// - Clock: SysTick on the 25 MHz processor clock, counting down from 2^24-1; its
//   wrap interrupt extends it to a 64-bit tick counter. Under `-icount shift=0`
//   one tick is exactly 40 instructions, repeatable run to run.
// - Exit: semihosting SYS_EXIT_EXTENDED, which makes QEMU exit with the code.
// The reset code and vector table are in the md-cortexm platform's startup;
// this file overrides its weak SysTick_Handler, HardFault_Handler and
// IRQ_Handler (UART0 RX and timer 0 interrupts, used only to wake SerialRead
// from WFI).
#include "md/port.h"

#include <cstddef>
#include <cstdint>

namespace {

struct CmsdkUart {
  volatile uint32_t data;       // +0x00
  volatile uint32_t state;      // +0x04: b0 TX full, b1 RX full
  volatile uint32_t ctrl;       // +0x08: b0 TX enable, b1 RX enable
  volatile uint32_t intstatus;  // +0x0C: read status / write 1 to clear (b0 TX, b1 RX)
  volatile uint32_t bauddiv;    // +0x10
};

constexpr uintptr_t kUart0Base = 0x40004000u;
constexpr uintptr_t kUart1Base = 0x40005000u;
constexpr uint32_t kStateTxFull = 1u << 0;
constexpr uint32_t kStateRxFull = 1u << 1;
constexpr uint32_t kCtrlTxEnable = 1u << 0;
constexpr uint32_t kCtrlRxEnable = 1u << 1;
constexpr uint32_t kCtrlRxInterrupt = 1u << 3;
constexpr uint32_t kIntRx = 1u << 1;  // INTSTATUS/INTCLEAR bit of the RX interrupt
constexpr int kUart0RxIrq = 0;

// CMSDK APB timer 0: wakes SerialRead's WFI at its deadline (SysTick stays a free-running clock).
struct CmsdkTimer {
  volatile uint32_t ctrl;       // +0x00: b0 enable, b3 interrupt enable
  volatile uint32_t value;      // +0x04: counts down at 25 MHz
  volatile uint32_t reload;     // +0x08
  volatile uint32_t intstatus;  // +0x0C: read status / write 1 to clear
};
constexpr uintptr_t kTimer0Base = 0x40000000u;
constexpr uint32_t kTimerEnable = 1u << 0;
constexpr uint32_t kTimerInterrupt = 1u << 3;
constexpr int kTimer0Irq = 8;
constexpr uint32_t kCpuHz = 25000000u;
constexpr uint32_t kBaud = 115200u;

// SysTick registers (ARMv7-M System Control Space).
volatile uint32_t& SysTickCtrl() { return *reinterpret_cast<volatile uint32_t*>(0xE000E010u); }
volatile uint32_t& SysTickLoad() { return *reinterpret_cast<volatile uint32_t*>(0xE000E014u); }
volatile uint32_t& SysTickVal() { return *reinterpret_cast<volatile uint32_t*>(0xE000E018u); }
volatile uint32_t& NvicIser0() { return *reinterpret_cast<volatile uint32_t*>(0xE000E100u); }
constexpr uint32_t kSysTickEnable = 1u << 0;
constexpr uint32_t kSysTickInterrupt = 1u << 1;
constexpr uint32_t kSysTickProcessorClock = 1u << 2;
constexpr uint32_t kSysTickMax = 0x00FFFFFFu;

// Number of completed SysTick periods (2^24 ticks each).
volatile uint32_t g_systick_wraps = 0;

CmsdkUart* Uart(uintptr_t base) { return reinterpret_cast<CmsdkUart*>(base); }
CmsdkTimer* Timer0() { return reinterpret_cast<CmsdkTimer*>(kTimer0Base); }

void UartInit(uintptr_t base) {
  CmsdkUart* uart = Uart(base);
  uart->bauddiv = kCpuHz / kBaud;  // 217; QEMU ignores the rate but checks >= 16
  uart->ctrl = kCtrlTxEnable | kCtrlRxEnable;
}

void UartWrite(uintptr_t base, const uint8_t* data, size_t n) {
  CmsdkUart* uart = Uart(base);
  for (size_t i = 0; i < n; ++i) {
    while (uart->state & kStateTxFull) {
    }
    uart->data = data[i];
  }
}

// ARM semihosting call (BKPT 0xAB); QEMU must run with semihosting enabled.
uint32_t Semihost(uint32_t op, const void* arg) {
  uint32_t result;
  __asm volatile(
      "mov r0, %1\n\t"
      "mov r1, %2\n\t"
      "bkpt 0xab\n\t"
      "mov %0, r0"
      : "=r"(result)
      : "r"(op), "r"(arg)
      : "r0", "r1", "memory");
  return result;
}

[[noreturn]] void SemihostExit(int code) {
  constexpr uint32_t kSysExitExtended = 0x20;
  constexpr uint32_t kAdpStoppedApplicationExit = 0x20026;
  const uint32_t block[2] = {kAdpStoppedApplicationExit, static_cast<uint32_t>(code)};
  Semihost(kSysExitExtended, block);
  for (;;) {
  }
}

}  // namespace

extern "C" void SysTick_Handler() { g_systick_wraps = g_systick_wraps + 1; }

// All external interrupts share this handler (see the md-cortexm startup); only UART0 RX and
// timer 0 are enabled, and both only wake SerialRead's WFI: the byte stays in the UART for
// SerialRead to take, the one-shot timer is stopped.
extern "C" void IRQ_Handler() {
  Uart(kUart0Base)->intstatus = kIntRx;
  if (Timer0()->intstatus) {
    Timer0()->ctrl = 0;
    Timer0()->intstatus = 1;
  }
}

extern "C" void HardFault_Handler() {
  static const char kMessage[] = "\nmd: hard fault\n";
  UartWrite(kUart0Base, reinterpret_cast<const uint8_t*>(kMessage), sizeof(kMessage) - 1);
  SemihostExit(3);
}

namespace md {
namespace port {

void Init() {
  UartInit(kUart0Base);
  UartInit(kUart1Base);
  Uart(kUart0Base)->ctrl = kCtrlTxEnable | kCtrlRxEnable | kCtrlRxInterrupt;
  Timer0()->ctrl = 0;
  NvicIser0() = (1u << kUart0RxIrq) | (1u << kTimer0Irq);
  SysTickLoad() = kSysTickMax;
  SysTickVal() = 0;
  SysTickCtrl() = kSysTickEnable | kSysTickInterrupt | kSysTickProcessorClock;
}

void SerialWrite(const uint8_t* data, size_t n) { UartWrite(kUart0Base, data, n); }

int SerialRead(uint8_t* data, size_t n, uint32_t timeout_ms) {
  if (n == 0) return 0;
  CmsdkUart* uart = Uart(kUart0Base);
  const uint64_t deadline = Ticks() + static_cast<uint64_t>(timeout_ms) * (kCpuHz / 1000u);
  // Sleep until the RX interrupt (or the next SysTick wrap) instead of spinning: under QEMU
  // with -icount, idle time then passes as real time, so a timeout lasts what it says rather
  // than as long as QEMU takes to execute that many busy-loop instructions. Interrupts are
  // masked around check+WFI so a byte arriving in between still wakes the WFI.
  while (!(uart->state & kStateRxFull)) {
    const uint64_t now = Ticks();
    if (now >= deadline) return 0;
    const uint64_t remaining = deadline - now;
    __asm volatile("cpsid i" ::: "memory");
    Timer0()->ctrl = 0;
    Timer0()->intstatus = 1;
    Timer0()->reload = remaining > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(remaining);
    Timer0()->value = Timer0()->reload;
    Timer0()->ctrl = kTimerEnable | kTimerInterrupt;
    if (!(uart->state & kStateRxFull)) __asm volatile("wfi" ::: "memory");
    __asm volatile("cpsie i" ::: "memory");
  }
  Timer0()->ctrl = 0;
  size_t got = 0;
  // Take what is already there without waiting again once the first byte came.
  while (got < n && (uart->state & kStateRxFull)) {
    data[got++] = static_cast<uint8_t>(uart->data);
  }
  return static_cast<int>(got);
}

uint64_t Ticks() {
  // Wraps, counter, wraps again: equal wrap counts mean the pair belongs together.
  // The counter can still be seen wrapped before its interrupt is taken (QEMU
  // without -icount delivers the SysTick interrupt a little late; a masked
  // interrupt waits too), which would look like time going back by one period:
  // count that wrap here. Assumes Ticks() runs at least once per period
  // (2^24 ticks = 0.67 s) while interrupts are masked, and from one context only.
  static uint64_t last = 0;
  for (;;) {
    const uint32_t wraps = g_systick_wraps;
    const uint32_t value = SysTickVal();
    if (wraps != g_systick_wraps) continue;
    uint64_t now = (static_cast<uint64_t>(wraps) << 24) | (kSysTickMax - value);
    if (now < last) now += uint64_t{1} << 24;
    last = now;
    return now;
  }
}

uint32_t TicksPerSecond() { return kCpuHz; }

const char* ClockName() { return "systick"; }

void DebugLog(const char* text) {
  size_t n = 0;
  while (text[n] != '\0') ++n;
  UartWrite(kUart1Base, reinterpret_cast<const uint8_t*>(text), n);
}

[[noreturn]] void Exit(int code) { SemihostExit(code); }

}  // namespace port
}  // namespace md
