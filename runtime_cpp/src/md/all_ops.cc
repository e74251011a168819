// AddAllOps: every Register_* of kernels/register.h.
//
// The registration functions are referenced weakly (GCC/Clang), so a program
// links when only some kernels/<op>.cc files are part of it (a generated
// project vendors only the kernels its model uses): a kernel that is not
// linked resolves to a null address and is skipped, and the interpreter then
// reports "op N (NAME) is not supported by this build" for a model that uses
// it. Weak references do not pull objects out of static archives, so kernels
// must be linked as object files (as the host runner and PlatformIO's src/ do).
#include "md/all_ops.h"

#include "md/kernels/register.h"

#define MD_KERNEL_LIST(X) \
  X(ADD)                  \
  X(AVERAGE_POOL_2D)      \
  X(CONCATENATION)        \
  X(CONV_2D)              \
  X(DEPTHWISE_CONV_2D)    \
  X(DEQUANTIZE)           \
  X(FULLY_CONNECTED)      \
  X(LOGISTIC)             \
  X(MAX_POOL_2D)          \
  X(MEAN)                 \
  X(MUL)                  \
  X(PAD)                  \
  X(QUANTIZE)             \
  X(RESHAPE)              \
  X(SOFTMAX)              \
  X(STRIDED_SLICE)        \
  X(SVDF)                 \
  X(TANH)                 \
  X(UNIDIRECTIONAL_SEQUENCE_LSTM)

namespace md {

#define MD_DECLARE_WEAK(OP) const KernelRegistration& Register_##OP() __attribute__((weak));
MD_KERNEL_LIST(MD_DECLARE_WEAK)
#undef MD_DECLARE_WEAK

namespace {
using RegisterFn = const KernelRegistration& (*)();

void AddIfLinked(MicroOpResolver<32>& resolver, RegisterFn fn) {
  if (fn != nullptr) resolver.Add(fn());
}
}  // namespace

void AddAllOps(MicroOpResolver<32>& resolver) {
#define MD_ADD(OP) AddIfLinked(resolver, &Register_##OP);
  MD_KERNEL_LIST(MD_ADD)
#undef MD_ADD
}

}  // namespace md
