// MAX_POOL_2D: TFLite's reference max pooling (int8, int16, float32),
// bit-exact with TFLM. The arithmetic lives in pooling.h.
#include "md/kernel.h"
#include "md/kernels/pooling.h"
#include "md/kernels/register.h"

namespace md {

const KernelRegistration& Register_MAX_POOL_2D() {
  static const KernelRegistration registration = {kOpMaxPool2D, "MAX_POOL_2D", pooling::PoolPrepare,
                                                  pooling::PoolInvoke<pooling::PoolKind::kMax>};
  return registration;
}

}  // namespace md
