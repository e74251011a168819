// CONCATENATION along any axis (negative axes count from the end), for int8,
// int16, int32, int64 and float32. Like TFLM (micro/kernels/concatenation.cc) the
// op only copies bytes: quantized inputs must share the output's scale and
// zero point (TFLM copies int8 without requantizing, so a model with
// differing parameters would be wrong there too; we reject it at prepare).
#include <cstdint>
#include <cstring>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"

namespace md {
namespace {

constexpr int kAxisSlot = 0;        // ConcatenationOptions.axis
constexpr int kActivationSlot = 1;  // ConcatenationOptions.fused_activation_function

int Axis(const OpContext& ctx, int rank) {
  return elementwise::PositiveAxis(ctx.Options().GetInt32(kAxisSlot, 0), rank);
}

Status Prepare(OpContext& ctx) {
  const int n = ctx.NumInputs();
  if (n < 1 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects at least 1 input and 1 output");
  }
  const Status present = elementwise::RequireInputs(ctx, 0, n);
  if (present != Status::kOk) return present;
  const TensorView out = ctx.Output(0);
  if (out.type != DataType::kInt8 && out.type != DataType::kInt16 && out.type != DataType::kInt32 &&
      out.type != DataType::kInt64 && out.type != DataType::kFloat32) {
    return ctx.Fail(Status::kUnsupportedType,
                    "type %s not supported (int8, int16, int32, int64, float32)",
                    DataTypeName(out.type));
  }
  if (ctx.Options().GetInt8(kActivationSlot, 0) != 0) {
    return ctx.Fail(Status::kUnsupportedType, "fused activation is not supported");
  }
  const int raw_axis = ctx.Options().GetInt32(kAxisSlot, 0);
  const int axis = Axis(ctx, out.rank);
  if (axis < 0) {
    return ctx.Fail(Status::kShapeMismatch, "axis %d out of range for rank %d", raw_axis,
                    static_cast<int>(out.rank));
  }
  const bool quantized = out.type == DataType::kInt8 || out.type == DataType::kInt16;
  int32_t axis_sum = 0;
  for (int i = 0; i < n; ++i) {
    const TensorView in = ctx.Input(i);
    if (in.type != out.type) {
      return ctx.Fail(Status::kUnsupportedType, "input %d type %s differs from output type %s", i,
                      DataTypeName(in.type), DataTypeName(out.type));
    }
    if (in.rank != out.rank) {
      return ctx.Fail(Status::kShapeMismatch, "input %d has rank %d, output %d", i,
                      static_cast<int>(in.rank), static_cast<int>(out.rank));
    }
    for (int d = 0; d < out.rank; ++d) {
      if (d != axis && in.dims[d] != out.dims[d]) {
        return ctx.Fail(Status::kShapeMismatch, "input %d dim %d is %d, output has %d", i, d,
                        static_cast<int>(in.dims[d]), static_cast<int>(out.dims[d]));
      }
    }
    axis_sum += in.dims[axis];
    if (quantized && (in.scale != out.scale || in.zero_point != out.zero_point)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "input %d quantization (scale %g, zero point %d) differs from the output's "
                      "(%g, %d); requantizing concatenation is not supported",
                      i, static_cast<double>(in.scale), static_cast<int>(in.zero_point),
                      static_cast<double>(out.scale), static_cast<int>(out.zero_point));
    }
  }
  if (axis_sum != out.dims[axis]) {
    return ctx.Fail(Status::kShapeMismatch, "inputs sum to %d along axis %d, output has %d",
                    static_cast<int>(axis_sum), axis, static_cast<int>(out.dims[axis]));
  }
  return Status::kOk;
}

Status Invoke(OpContext& ctx) {
  const TensorView out = ctx.Output(0);
  const int axis = Axis(ctx, out.rank);
  const size_t element_size = static_cast<size_t>(DataTypeSize(out.type));
  // Rows = product of dims before the axis; each input contributes a
  // contiguous block of dims[axis] * (product of dims after the axis) per row.
  int32_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= out.dims[d];
  int32_t inner = 1;
  for (int d = axis + 1; d < out.rank; ++d) inner *= out.dims[d];
  const size_t out_row = static_cast<size_t>(out.dims[axis]) * inner * element_size;
  uint8_t* dst = out.Data<uint8_t>();
  size_t column = 0;  // byte offset of the current input's block within an output row
  const int n = ctx.NumInputs();
  for (int i = 0; i < n; ++i) {
    const TensorView in = ctx.Input(i);
    const size_t block = static_cast<size_t>(in.dims[axis]) * inner * element_size;
    const uint8_t* src = in.Data<uint8_t>();
    for (int32_t row = 0; row < outer; ++row) {
      std::memcpy(dst + row * out_row + column, src + row * block, block);
    }
    column += block;
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_CONCATENATION() {
  static const KernelRegistration reg = {kOpConcatenation, "CONCATENATION", Prepare, Invoke};
  return reg;
}

}  // namespace md
