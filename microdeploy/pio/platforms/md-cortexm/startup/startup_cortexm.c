// Reset code and vector table of microdeploy's md-cortexm platform (Cortex-M3/M4/M7).
//
// Reset_Handler enables the FPU (before any compiled code may use it), copies .data from its
// image in flash, zeroes .bss, runs static constructors and calls main(). All other handlers
// are weak aliases of Default_Handler (spins), so a runtime port can override them, e.g. the
// mps2 port defines SysTick_Handler for its tick counter and HardFault_Handler to exit QEMU.
#include <stdint.h>

extern uint32_t __data_start__;
extern uint32_t __data_end__;
extern uint32_t __data_load__;
extern uint32_t __bss_start__;
extern uint32_t __bss_end__;
extern uint32_t __stack_top;

extern int main(void);
extern void __libc_init_array(void);

void Reset_Handler(void);

void Default_Handler(void) {
  for (;;) {
  }
}

#define MD_WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))

MD_WEAK_HANDLER(NMI_Handler);
MD_WEAK_HANDLER(HardFault_Handler);
MD_WEAK_HANDLER(MemManage_Handler);
MD_WEAK_HANDLER(BusFault_Handler);
MD_WEAK_HANDLER(UsageFault_Handler);
MD_WEAK_HANDLER(SVC_Handler);
MD_WEAK_HANDLER(DebugMon_Handler);
MD_WEAK_HANDLER(PendSV_Handler);
MD_WEAK_HANDLER(SysTick_Handler);
MD_WEAK_HANDLER(IRQ_Handler);  // every external interrupt (none used by the runtime)

typedef void (*VectorEntry)(void);

__attribute__((section(".isr_vector"), used)) const VectorEntry g_md_vectors[16 + 32] = {
    (VectorEntry)(uintptr_t)&__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
    [16 ... 47] = IRQ_Handler,
};

__attribute__((noreturn)) void Reset_Handler(void) {
#if defined(__ARM_FP)
  // CPACR: full access to CP10/CP11 (the FPU). Must precede any floating-point instruction.
  volatile uint32_t* cpacr = (volatile uint32_t*)0xE000ED88u;
  *cpacr |= 0xFu << 20;
  __asm volatile("dsb\n\tisb" ::: "memory");
#endif
  const uint32_t* src = &__data_load__;
  for (uint32_t* dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  __libc_init_array();
  main();
  for (;;) {
  }
}
