// DEQUANTIZE int8 / int16 -> float32, bit-exact with TFLM: the product
// scale x (q - zero_point) is formed in double, then rounded to float.
#include <cstdint>

#include "md/kernel.h"
#include "md/kernels/register.h"

namespace md {
namespace {

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != 1 || ctx.NumOutputs() != 1 || !ctx.HasInput(0)) {
    return ctx.Fail(Status::kInvalidArgument, "expects 1 input and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if ((input.type != DataType::kInt8 && input.type != DataType::kInt16) ||
      output.type != DataType::kFloat32) {
    return ctx.Fail(Status::kUnsupportedType, "%s -> %s is not supported (int8/int16 -> float32)",
                    DataTypeName(input.type), DataTypeName(output.type));
  }
  if (input.FlatSize() != output.FlatSize()) {
    return ctx.Fail(Status::kShapeMismatch, "input has %d values, output %d",
                    static_cast<int>(input.FlatSize()), static_cast<int>(output.FlatSize()));
  }
  return Status::kOk;
}

template <typename InT>
void Dequantize(const InT* input, float* output, int32_t n, double scale, int32_t zero_point) {
  for (int32_t i = 0; i < n; ++i) {
    const int32_t v = input[i];
    output[i] = static_cast<float>(scale * (v - zero_point));
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  const double scale = static_cast<double>(input.scale);
  if (input.type == DataType::kInt8) {
    Dequantize(input.Data<const int8_t>(), output.Data<float>(), input.FlatSize(), scale,
               input.zero_point);
  } else {
    Dequantize(input.Data<const int16_t>(), output.Data<float>(), input.FlatSize(), scale,
               input.zero_point);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_DEQUANTIZE() {
  static const KernelRegistration registration = {kOpDequantize, "DEQUANTIZE", Prepare, Invoke};
  return registration;
}

}  // namespace md
