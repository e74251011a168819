// PAD (and the PADV2 form with a third constant-value input) for int8, int16,
// int32 and float32, up to 6-D, bit-exact with TFLM (micro/kernels/pad.cc):
// the pad value is the output zero point for int8 and 0 for the other types
// unless a constant value is given. Paddings must be a constant int32 tensor
// of shape [rank, 2] (TFLM requires it too: output shapes are static).
#include <cstdint>
#include <cstring>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"

namespace md {
namespace {

constexpr int kMaxRank = 6;

template <typename T>
void Fill(T* data, int32_t n, T value) {
  for (int32_t i = 0; i < n; ++i) data[i] = value;
}

Status Prepare(OpContext& ctx) {
  if ((ctx.NumInputs() != 2 && ctx.NumInputs() != 3) || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 2 or 3 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const Status present = elementwise::RequireInputs(ctx, 0, 2);
  if (present != Status::kOk) return present;
  const TensorView in = ctx.Input(0);
  const TensorView paddings = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  if (in.type != out.type) {
    return ctx.Fail(Status::kUnsupportedType, "input type %s differs from output type %s",
                    DataTypeName(in.type), DataTypeName(out.type));
  }
  if (in.type != DataType::kInt8 && in.type != DataType::kInt16 && in.type != DataType::kInt32 &&
      in.type != DataType::kFloat32) {
    return ctx.Fail(Status::kUnsupportedType, "type %s not supported (int8, int16, int32, float32)",
                    DataTypeName(in.type));
  }
  if (in.rank > kMaxRank || in.rank != out.rank) {
    return ctx.Fail(Status::kShapeMismatch, "input rank %d / output rank %d (need equal, <= 6)",
                    static_cast<int>(in.rank), static_cast<int>(out.rank));
  }
  if (paddings.type != DataType::kInt32 || !paddings.is_constant) {
    return ctx.Fail(Status::kUnsupportedType, "paddings must be a constant int32 tensor");
  }
  if (paddings.FlatSize() != 2 * in.rank) {
    return ctx.Fail(Status::kShapeMismatch, "paddings has %d values, need %d (rank x 2)",
                    static_cast<int>(paddings.FlatSize()), static_cast<int>(2 * in.rank));
  }
  const int32_t* pad = paddings.Data<int32_t>();
  for (int d = 0; d < in.rank; ++d) {
    if (pad[2 * d] < 0 || pad[2 * d + 1] < 0) {
      return ctx.Fail(Status::kShapeMismatch, "negative padding on dim %d", d);
    }
    // 64-bit sum: paddings near INT32_MAX (a hostile model) overflow 32 bits.
    const int64_t expected = static_cast<int64_t>(in.dims[d]) + pad[2 * d] + pad[2 * d + 1];
    if (out.dims[d] != expected) {
      return ctx.Fail(Status::kShapeMismatch, "output dim %d is %d, expected %ld", d,
                      static_cast<int>(out.dims[d]),
                      static_cast<long>(expected > INT32_MAX ? INT32_MAX : expected));
    }
  }
  if (ctx.NumInputs() == 3 && ctx.HasInput(2)) {
    const TensorView value = ctx.Input(2);
    if (value.type != in.type || value.FlatSize() != 1) {
      return ctx.Fail(Status::kUnsupportedType, "constant value must be one %s element",
                      DataTypeName(in.type));
    }
    if (in.type == DataType::kInt8 &&
        (value.zero_point != out.zero_point || value.scale != out.scale)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "constant value quantization differs from the output's");
    }
  } else if (in.type == DataType::kInt8 && (out.zero_point < -128 || out.zero_point > 127)) {
    return ctx.Fail(Status::kUnsupportedType, "output zero point %d outside int8",
                    static_cast<int>(out.zero_point));
  }
  return Status::kOk;
}

template <typename T>
T PadValue(const OpContext& ctx, const TensorView& out) {
  if (ctx.NumInputs() == 3 && ctx.HasInput(2)) return *ctx.Input(2).Data<T>();
  if (out.type == DataType::kInt8) return static_cast<T>(out.zero_point);
  return T(0);
}

// Fills the output with the pad value, then copies each innermost input row
// to its place (every row of the input lands contiguously in the output).
template <typename T>
void PadImpl(const OpContext& ctx, const TensorView& in, const TensorView& out) {
  const int32_t* pad = ctx.Input(1).Data<int32_t>();
  T* dst = out.Data<T>();
  Fill(dst, out.FlatSize(), PadValue<T>(ctx, out));
  const int rank = in.rank;
  if (in.FlatSize() == 0) return;
  if (rank == 0) {
    dst[0] = in.Data<T>()[0];
    return;
  }
  int32_t out_strides[kMaxRank];
  int32_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    out_strides[d] = stride;
    stride *= out.dims[d];
  }
  const int32_t row = in.dims[rank - 1];
  const int32_t rows = in.FlatSize() / row;
  const T* src = in.Data<T>();
  int32_t index[kMaxRank] = {0};  // over the input's outer dims [0, rank-1)
  for (int32_t r = 0; r < rows; ++r) {
    int32_t offset = pad[2 * (rank - 1)];
    for (int d = 0; d < rank - 1; ++d) offset += (index[d] + pad[2 * d]) * out_strides[d];
    std::memcpy(dst + offset, src + r * row, sizeof(T) * static_cast<size_t>(row));
    for (int d = rank - 2; d >= 0; --d) {
      if (++index[d] < in.dims[d]) break;
      index[d] = 0;
    }
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView in = ctx.Input(0);
  const TensorView out = ctx.Output(0);
  switch (in.type) {
    case DataType::kInt8:
      PadImpl<int8_t>(ctx, in, out);
      break;
    case DataType::kInt16:
      PadImpl<int16_t>(ctx, in, out);
      break;
    case DataType::kInt32:
      PadImpl<int32_t>(ctx, in, out);
      break;
    default:
      PadImpl<float>(ctx, in, out);
      break;
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_PAD() {
  static const KernelRegistration reg = {kOpPad, "PAD", Prepare, Invoke};
  return reg;
}

}  // namespace md
