// LOGISTIC (sigmoid), bit-exact with TFLM (micro/kernels/logistic_common.cc,
// reference/integer_ops/logistic.h):
//  - int8: input rescaled to Q4.27 (multiplier from frexp of scale * 2^27),
//    saturated outside +-radius, gemmlowp fixed-point logistic, output with
//    zero point -128 (required, as in TFLM) and scale 1/256;
//  - int16: zero points 0, output scale 2^-15, table lookup with
//    interpolation (power-of-two input scales take the exact shift path);
//  - float32: TFLM's cut-off formulation around std::exp.
// The rescaling parameters are recomputed on every invoke (no persistent data).

// Float math must round like TFLM's x86 build, which never fuses a multiply
// and an add; GCC contracts them into FMAs on FPUs that have them (Cortex-M4F,
// and double FMAs on M7) even in ISO mode. Set before the includes so the
// header-inline float helpers (exp_common.h, sigmoid_tanh_common.h) are
// covered too.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>
#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/register.h"
#include "md/kernels/sigmoid_tanh_common.h"
#include "md/quant.h"

namespace md {
namespace {

Status Prepare(OpContext& ctx) {
  return lut::PrepareSigmoidOrTanh(ctx, lut::Int8OutputZeroPointCheck::kMustBeMinus128);
}

void LogisticInt8(const TensorView& in, const TensorView& out) {
  constexpr int32_t kOutputIntegerBits = 8;
  constexpr int32_t kOutputZeroPoint = -128;
  const lut::Int8InputRescale p = lut::ComputeInt8InputRescale(in.scale);
  const int8_t* x = in.Data<int8_t>();
  int8_t* y = out.Data<int8_t>();
  const int32_t n = in.FlatSize();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t input = static_cast<int32_t>(x[i]) - in.zero_point;
    if (input <= -p.range_radius) {
      y[i] = std::numeric_limits<int8_t>::min();
    } else if (input >= p.range_radius) {
      y[i] = std::numeric_limits<int8_t>::max();
    } else {
      const int32_t input_in_q4 = MultiplyByQuantizedMultiplier(input, p.multiplier, p.left_shift);
      const int32_t output_in_q0 = fixedpoint::Logistic<4>(input_in_q4);
      int32_t output_in_q23 = RoundingDivideByPOT(output_in_q0, 31 - kOutputIntegerBits);
      output_in_q23 =
          std::min(std::max(output_in_q23 + kOutputZeroPoint, int32_t{-128}), int32_t{127});
      y[i] = static_cast<int8_t>(output_in_q23);
    }
  }
}

void LogisticFloatTensor(const TensorView& in, const TensorView& out) {
  const float* x = in.Data<float>();
  float* y = out.Data<float>();
  const int32_t n = in.FlatSize();
  for (int32_t i = 0; i < n; ++i) y[i] = LogisticFloat(x[i]);
}

Status Invoke(OpContext& ctx) {
  const TensorView in = ctx.Input(0);
  const TensorView out = ctx.Output(0);
  switch (in.type) {
    case DataType::kInt8:
      LogisticInt8(in, out);
      break;
    case DataType::kInt16: {
      const lut::Int16InputRescale p = lut::ComputeInt16InputRescale(in.scale, 0);
      lut::LogisticInt16(p.multiplier, p.left_shift, in.FlatSize(), in.Data<int16_t>(),
                         out.Data<int16_t>());
      break;
    }
    default:
      LogisticFloatTensor(in, out);
      break;
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_LOGISTIC() {
  static const KernelRegistration reg = {kOpLogistic, "LOGISTIC", Prepare, Invoke};
  return reg;
}

}  // namespace md
