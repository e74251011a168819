// QUANTIZE, bit-exact with TFLM's reference kernel:
//   float32 -> int8 / int16: round(x / scale) + zero_point, clamped
//   requantization between integer types (TFLM's list: int8 -> int8/uint8/
//   int16/int32, uint8 -> int8, int16 -> int8/int16/int32, int32 -> int8/
//   int16): (q - zp_in) x multiplier(scale_in / scale_out) + zp_out, clamped.
// Only per-tensor output quantization, as in TFLM.
#include <cmath>
#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/register.h"
#include "md/quant.h"

namespace md {
namespace {

bool IsRequantization(DataType in, DataType out) {
  using T = DataType;
  return (in == T::kInt8 &&
          (out == T::kInt8 || out == T::kUInt8 || out == T::kInt16 || out == T::kInt32)) ||
         (in == T::kUInt8 && out == T::kInt8) ||
         (in == T::kInt16 && (out == T::kInt8 || out == T::kInt16 || out == T::kInt32)) ||
         (in == T::kInt32 && (out == T::kInt8 || out == T::kInt16));
}

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != 1 || ctx.NumOutputs() != 1 || !ctx.HasInput(0)) {
    return ctx.Fail(Status::kInvalidArgument, "expects 1 input and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if (input.FlatSize() != output.FlatSize()) {
    return ctx.Fail(Status::kShapeMismatch, "input has %d values, output %d",
                    static_cast<int>(input.FlatSize()), static_cast<int>(output.FlatSize()));
  }
  if (output.num_channels > 1) {
    return ctx.Fail(Status::kUnsupportedType,
                    "per-channel output quantization is not supported (%d scales)",
                    static_cast<int>(output.num_channels));
  }
  const bool from_float = input.type == DataType::kFloat32 &&
                          (output.type == DataType::kInt8 || output.type == DataType::kInt16);
  if (!from_float && !IsRequantization(input.type, output.type)) {
    return ctx.Fail(Status::kUnsupportedType,
                    "%s -> %s is not supported (float32 -> int8/int16, or TFLM's integer "
                    "requantizations)",
                    DataTypeName(input.type), DataTypeName(output.type));
  }
  if (output.scale <= 0.0f || (!from_float && input.scale <= 0.0f)) {
    return ctx.Fail(Status::kUnsupportedType, "quantized tensors need a scale > 0");
  }
  return Status::kOk;
}

template <typename OutT>
void QuantizeFloat(const float* input, OutT* output, int32_t n, float scale, int32_t zero_point) {
  constexpr int32_t kMin = std::numeric_limits<OutT>::min();
  constexpr int32_t kMax = std::numeric_limits<OutT>::max();
  for (int32_t i = 0; i < n; ++i) {
    int32_t v = WrappingAdd(FloatToInt32LikeX86(std::round(input[i] / scale)), zero_point);
    v = v < kMin ? kMin : (v > kMax ? kMax : v);
    output[i] = static_cast<OutT>(v);
  }
}

template <typename InT, typename OutT>
void Requantize(const InT* input, OutT* output, int32_t n, int32_t multiplier, int shift,
                int32_t input_zero_point, int32_t output_zero_point) {
  constexpr int32_t kMin = std::numeric_limits<OutT>::min();
  constexpr int32_t kMax = std::numeric_limits<OutT>::max();
  for (int32_t i = 0; i < n; ++i) {
    const int32_t centered = static_cast<int32_t>(input[i]) - input_zero_point;
    int32_t v = MultiplyByQuantizedMultiplier(centered, multiplier, shift) + output_zero_point;
    v = v < kMin ? kMin : (v > kMax ? kMax : v);
    output[i] = static_cast<OutT>(v);
  }
}

template <typename InT>
void RequantizeFrom(const TensorView& input, const TensorView& output, int32_t multiplier,
                    int shift) {
  const InT* in = input.Data<const InT>();
  const int32_t n = input.FlatSize();
  switch (output.type) {
    case DataType::kInt8:
      Requantize(in, output.Data<int8_t>(), n, multiplier, shift, input.zero_point,
                 output.zero_point);
      break;
    case DataType::kUInt8:
      Requantize(in, output.Data<uint8_t>(), n, multiplier, shift, input.zero_point,
                 output.zero_point);
      break;
    case DataType::kInt16:
      Requantize(in, output.Data<int16_t>(), n, multiplier, shift, input.zero_point,
                 output.zero_point);
      break;
    default:
      Requantize(in, output.Data<int32_t>(), n, multiplier, shift, input.zero_point,
                 output.zero_point);
      break;
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if (input.type == DataType::kFloat32) {
    if (output.type == DataType::kInt8) {
      QuantizeFloat(input.Data<const float>(), output.Data<int8_t>(), input.FlatSize(),
                    output.scale, output.zero_point);
    } else {
      QuantizeFloat(input.Data<const float>(), output.Data<int16_t>(), input.FlatSize(),
                    output.scale, output.zero_point);
    }
    return Status::kOk;
  }
  int32_t multiplier;
  int shift;
  QuantizeMultiplier(static_cast<double>(input.scale) / static_cast<double>(output.scale),
                     &multiplier, &shift);
  switch (input.type) {
    case DataType::kInt8:
      RequantizeFrom<int8_t>(input, output, multiplier, shift);
      break;
    case DataType::kUInt8:
      RequantizeFrom<uint8_t>(input, output, multiplier, shift);
      break;
    case DataType::kInt16:
      RequantizeFrom<int16_t>(input, output, multiplier, shift);
      break;
    default:
      RequantizeFrom<int32_t>(input, output, multiplier, shift);
      break;
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_QUANTIZE() {
  static const KernelRegistration registration = {kOpQuantize, "QUANTIZE", Prepare, Invoke};
  return registration;
}

}  // namespace md
