// MUL: elementwise product with numpy-style broadcasting (up to 6-D),
// bit-exact with TFLM (micro/kernels/mul_common.cc,
// reference/integer_ops/mul.h). int8/int16: (x - zx) * (y - zy) rescaled by
// sx*sy/so with one MultiplyByQuantizedMultiplier (int16 needs zero points of
// 0, as in TFLM); int32: wrapping product clamped to the fused activation;
// float32: product clamped to the fused activation. The rescale multiplier is
// recomputed on every invoke, so the op keeps no persistent data.
#include <cstdint>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"
#include "md/quant.h"

namespace md {
namespace {

constexpr int kActivationSlot = 0;  // MulOptions.fused_activation_function

FusedActivation Activation(const OpContext& ctx) {
  return elementwise::ActivationFromOption(ctx.Options().GetInt8(kActivationSlot, 0));
}

Status Prepare(OpContext& ctx) {
  const FusedActivation act = Activation(ctx);
  const Status checked = elementwise::CheckBinaryArithmetic(ctx, act, "MUL");
  if (checked != Status::kOk) return checked;
  const TensorView in1 = ctx.Input(0);
  const TensorView in2 = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  if (out.type == DataType::kInt16 &&
      (in1.zero_point != 0 || in2.zero_point != 0 || out.zero_point != 0)) {
    return ctx.Fail(Status::kUnsupportedType, "int16 MUL needs zero points of 0, got %d/%d/%d",
                    static_cast<int>(in1.zero_point), static_cast<int>(in2.zero_point),
                    static_cast<int>(out.zero_point));
  }
  return Status::kOk;
}

template <typename T>
void MulQuantized(const TensorView& in1, const TensorView& in2, const TensorView& out,
                  FusedActivation act) {
  // Same expression and evaluation order as mul_common.cc: the float scales
  // are widened to double first, then multiplied and divided in double.
  const double real_multiplier = static_cast<double>(in1.scale) * static_cast<double>(in2.scale) /
                                 static_cast<double>(out.scale);
  int32_t multiplier;
  int shift;
  QuantizeMultiplier(real_multiplier, &multiplier, &shift);
  int32_t act_min;
  int32_t act_max;
  elementwise::QuantizedActivationRange(act, out, &act_min, &act_max);
  const int32_t offset1 = -in1.zero_point;
  const int32_t offset2 = -in2.zero_point;
  const int32_t out_offset = out.zero_point;
  elementwise::BinaryApply<T, T>(in1, in2, out, [=](T x, T y) {
    const int32_t raw = out_offset + MultiplyByQuantizedMultiplier((offset1 + x) * (offset2 + y),
                                                                   multiplier, shift);
    return static_cast<T>(std::min(act_max, std::max(act_min, raw)));
  });
}

Status Invoke(OpContext& ctx) {
  const TensorView in1 = ctx.Input(0);
  const TensorView in2 = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  const FusedActivation act = Activation(ctx);
  switch (out.type) {
    case DataType::kInt8:
      MulQuantized<int8_t>(in1, in2, out, act);
      break;
    case DataType::kInt16:
      MulQuantized<int16_t>(in1, in2, out, act);
      break;
    case DataType::kFloat32: {
      float lo;
      float hi;
      elementwise::ActivationRange(act, &lo, &hi);
      elementwise::BinaryApply<float, float>(
          in1, in2, out, [lo, hi](float x, float y) { return elementwise::Clamp(x * y, lo, hi); });
      break;
    }
    default: {  // int32, validated in prepare
      int32_t lo;
      int32_t hi;
      elementwise::ActivationRange(act, &lo, &hi);
      elementwise::BinaryApply<int32_t, int32_t>(in1, in2, out, [lo, hi](int32_t x, int32_t y) {
        return elementwise::Clamp(elementwise::WrappingMul(x, y), lo, hi);
      });
      break;
    }
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_MUL() {
  static const KernelRegistration reg = {kOpMul, "MUL", Prepare, Invoke};
  return reg;
}

}  // namespace md
