// MD_NO_FP_CONTRACT marks a function whose floating-point multiply-adds must
// stay separate operations. TFLM's x86 build (the reference for bit-exact
// float results) never fuses them, but GCC contracts `a * b + c` into an FMA
// on FPUs that have one (Cortex-M4F single precision, Cortex-M7 double) even
// with -std=c++17. Applied per function, so integer code is untouched.
// (Clang contracts only within a statement and needs
// `#pragma clang fp contract(off)`; our toolchains are GCC.)
#ifndef MD_KERNELS_FLOAT_EXACT_COMMON_H_
#define MD_KERNELS_FLOAT_EXACT_COMMON_H_

#if defined(__GNUC__) && !defined(__clang__)
#define MD_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define MD_NO_FP_CONTRACT
#endif

#endif  // MD_KERNELS_FLOAT_EXACT_COMMON_H_
