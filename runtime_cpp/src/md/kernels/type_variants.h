// Which type variants of the multi-type kernels a build keeps.
//
// Every kernel carries its float32 and int16 (16x8) paths next to the int8
// ones, and linking a kernel links them all. A build that knows its model
// needs none of them defines
//   MD_KERNELS_NO_FLOAT32  no float32 variant (CONV_2D, DEPTHWISE_CONV_2D,
//                          FULLY_CONNECTED, AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX)
//   MD_KERNELS_NO_INT16    no int16 variant of the same kernels (16x8 convs,
//                          int16 pooling, int8->int16 and int16 softmax)
// and those branches are compiled out (`microdeploy init` defines them when no
// op of the model needs the type: microdeploy/project/type_variants.py).
// An op that needs a compiled-out variant fails at prepare with
// kUnsupportedType and a message naming the type and the macro; it never runs.
// Default builds (no macro) keep every variant.
#ifndef MD_KERNELS_TYPE_VARIANTS_H_
#define MD_KERNELS_TYPE_VARIANTS_H_

#include "md/kernel.h"
#include "md/status.h"
#include "md/types.h"

namespace md {

#if defined(MD_KERNELS_NO_FLOAT32)
constexpr bool kKernelsHaveFloat32 = false;
#else
constexpr bool kKernelsHaveFloat32 = true;
#endif

#if defined(MD_KERNELS_NO_INT16)
constexpr bool kKernelsHaveInt16 = false;
#else
constexpr bool kKernelsHaveInt16 = true;
#endif

// Prepare check: kOk when `type` is compiled into this build's kernels,
// otherwise fails naming the type and the macro that removed it.
inline Status CheckTypeVariantCompiledIn(const OpContext& ctx, DataType type) {
  if (!kKernelsHaveFloat32 && type == DataType::kFloat32) {
    return ctx.Fail(Status::kUnsupportedType,
                    "float32 variant compiled out of this build (MD_KERNELS_NO_FLOAT32); "
                    "rebuild without that define");
  }
  if (!kKernelsHaveInt16 && type == DataType::kInt16) {
    return ctx.Fail(Status::kUnsupportedType,
                    "int16 variant compiled out of this build (MD_KERNELS_NO_INT16); "
                    "rebuild without that define");
  }
  return Status::kOk;
}

// The same for an op's input and output types.
inline Status CheckTypeVariantsCompiledIn(const OpContext& ctx, DataType input, DataType output) {
  const Status in = CheckTypeVariantCompiledIn(ctx, input);
  if (in != Status::kOk) return in;
  return CheckTypeVariantCompiledIn(ctx, output);
}

}  // namespace md

#endif  // MD_KERNELS_TYPE_VARIANTS_H_
