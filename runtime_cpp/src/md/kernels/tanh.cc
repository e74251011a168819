// TANH, bit-exact with TFLM (micro/kernels/tanh.cc,
// reference/integer_ops/tanh.h):
//  - int8: input rescaled to Q4.27, saturated outside +-radius, gemmlowp
//    fixed-point tanh, output in Q0.7 (TFLM assumes output scale 1/128 and
//    zero point 0 without checking; so do we, to produce the same bytes);
//  - int16: zero points 0, output scale 2^-15, sigmoid-table lookup with
//    interpolation (power-of-two input scales with shift 0 or 1 are exact);
//  - float32: glibc's tanhf (TanhLikeTflm, also exact on non-glibc targets).
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
  return lut::PrepareSigmoidOrTanh(ctx, lut::Int8OutputZeroPointCheck::kNone);
}

void TanhInt8(const TensorView& in, const TensorView& out) {
  constexpr int32_t kOutputScale = 7;
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
      const int32_t output_in_q0 = fixedpoint::Tanh<4>(input_in_q4);
      int32_t output_in_q24 = RoundingDivideByPOT(output_in_q0, 31 - kOutputScale);
      output_in_q24 = std::min(std::max(output_in_q24, int32_t{-128}), int32_t{127});
      y[i] = static_cast<int8_t>(output_in_q24);
    }
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView in = ctx.Input(0);
  const TensorView out = ctx.Output(0);
  switch (in.type) {
    case DataType::kInt8:
      TanhInt8(in, out);
      break;
    case DataType::kInt16: {
      const lut::Int16InputRescale p = lut::ComputeInt16InputRescale(in.scale, 1);
      lut::TanhInt16(p.multiplier, p.left_shift, in.FlatSize(), in.Data<int16_t>(),
                     out.Data<int16_t>());
      break;
    }
    default: {
      const float* x = in.Data<float>();
      float* y = out.Data<float>();
      const int32_t n = in.FlatSize();
      for (int32_t i = 0; i < n; ++i) y[i] = TanhLikeTflm(x[i]);
      break;
    }
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_TANH() {
  static const KernelRegistration reg = {kOpTanh, "TANH", Prepare, Invoke};
  return reg;
}

}  // namespace md
