// MEAN over any set of axes (negative and repeated axes allowed), keep_dims
// or not, bit-exact with TFLM (micro/kernels/reduce_common.cc,
// reference/reduce.h):
//  - int8/int16: raw values summed in int32 (scratch, one per output
//    element), then QuantizedMeanOrSum: 1/count is folded into the
//    input/output rescale multiplier (shifted up by floor(log2(count)) before
//    the division to keep precision), the input zero point is removed as
//    zero_point * count, one MultiplyByQuantizedMultiplier, + output zero point
//    (the TFLM build we match takes this path for every integer case, also
//    4-D axes {1,2} and equal input/output quantization);
//  - float32: sums accumulated in input order directly in the output, divided
//    by the element count (TFLM's 4-D axes-{1,2} special case adds in the same
//    order and divides by the same value, so one path serves both).
// The axis tensor must be constant (the output shape is static and checked).
// keep_dims only changes the output's shape, not its data, so like TFLM the
// kernel checks the output's element count and ignores the option.
#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"
#include "md/quant.h"

namespace md {
namespace {

constexpr int kMaxRank = 6;

// The int32 sums of the quantized path live in this op's first (only)
// scratch buffer; scratch indices are per op (md/interpreter.h).
constexpr int kSumScratch = 0;

// Which input dims are reduced, after resolving negative and duplicate axes.
bool ResolveAxes(const TensorView& in, const TensorView& axis, bool reduced[kMaxRank],
                 int* bad_axis) {
  for (int d = 0; d < kMaxRank; ++d) reduced[d] = false;
  const int32_t* a = axis.Data<int32_t>();
  const int32_t n = axis.FlatSize();
  for (int32_t i = 0; i < n; ++i) {
    const int d = elementwise::PositiveAxis(a[i], in.rank);
    if (d < 0) {
      *bad_axis = a[i];
      return false;
    }
    reduced[d] = true;
  }
  return true;
}

// Output element strides per input dim (0 for reduced dims) and the number of
// input elements folded into each output element.
void OutputStrides(const TensorView& in, const bool reduced[kMaxRank], int32_t strides[kMaxRank],
                   int64_t* count) {
  int32_t stride = 1;
  *count = 1;
  for (int d = in.rank - 1; d >= 0; --d) {
    if (reduced[d]) {
      strides[d] = 0;
      *count *= in.dims[d];
    } else {
      strides[d] = stride;
      stride *= in.dims[d];
    }
  }
}

// acc[out(i)] += input[i] over the input in row-major order.
template <typename In, typename Acc>
void SumInto(const TensorView& in, const int32_t strides[kMaxRank], Acc* acc) {
  const In* x = in.Data<In>();
  const int32_t n = in.FlatSize();
  if (n == 0) return;
  int32_t index[kMaxRank] = {0};
  int32_t out_offset = 0;
  for (int32_t i = 0; i < n; ++i) {
    acc[out_offset] += static_cast<Acc>(x[i]);
    for (int d = in.rank - 1; d >= 0; --d) {
      out_offset += strides[d];
      if (++index[d] < in.dims[d]) break;
      out_offset -= strides[d] * in.dims[d];
      index[d] = 0;
    }
  }
}

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != 2 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 2 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const Status present = elementwise::RequireInputs(ctx, 0, 2);
  if (present != Status::kOk) return present;
  const TensorView in = ctx.Input(0);
  const TensorView axis = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  if (in.type != out.type) {
    return ctx.Fail(Status::kUnsupportedType, "input type %s differs from output type %s",
                    DataTypeName(in.type), DataTypeName(out.type));
  }
  if (in.type != DataType::kInt8 && in.type != DataType::kInt16 && in.type != DataType::kFloat32) {
    return ctx.Fail(Status::kUnsupportedType, "type %s not supported (int8, int16, float32)",
                    DataTypeName(in.type));
  }
  if (axis.type != DataType::kInt32 || !axis.is_constant) {
    return ctx.Fail(Status::kUnsupportedType, "axis must be a constant int32 tensor");
  }
  if (in.rank > kMaxRank) {
    return ctx.Fail(Status::kShapeMismatch, "input rank %d > 6", static_cast<int>(in.rank));
  }
  bool reduced[kMaxRank];
  int bad_axis = 0;
  if (!ResolveAxes(in, axis, reduced, &bad_axis)) {
    return ctx.Fail(Status::kShapeMismatch, "axis %d out of range for rank %d", bad_axis,
                    static_cast<int>(in.rank));
  }
  int32_t strides[kMaxRank];
  int64_t count;
  OutputStrides(in, reduced, strides, &count);
  const int64_t expected = count > 0 ? in.FlatSize() / count : 0;
  if (out.FlatSize() != expected) {
    return ctx.Fail(Status::kShapeMismatch, "output has %d elements, the reduction gives %d",
                    static_cast<int>(out.FlatSize()), static_cast<int>(expected));
  }
  if (count == 0) {
    return ctx.Fail(Status::kShapeMismatch, "reduces over an empty dimension");
  }
  if (in.type != DataType::kFloat32) {
    if (in.scale <= 0.0f || out.scale <= 0.0f) {
      return ctx.Fail(Status::kUnsupportedType, "quantized MEAN needs input and output scales");
    }
    int scratch_index = -1;
    const Status s =
        ctx.RequestScratch(sizeof(int32_t) * static_cast<size_t>(out.FlatSize()), &scratch_index);
    if (s != Status::kOk) return s;
    if (scratch_index != kSumScratch) {
      return ctx.Fail(Status::kKernelError, "unexpected scratch index %d", scratch_index);
    }
  }
  return Status::kOk;
}

// reference_ops::QuantizedMeanOrSum (compute_sum = false).
template <typename T>
void MeanQuantized(const TensorView& in, const TensorView& out, const int32_t strides[kMaxRank],
                   int64_t count, int32_t* temp_sum) {
  const int32_t n_out = out.FlatSize();
  for (int32_t i = 0; i < n_out; ++i) temp_sum[i] = 0;
  SumInto<T, int32_t>(in, strides, temp_sum);

  int32_t multiplier;
  int shift;
  QuantizeMultiplier(static_cast<double>(in.scale) / static_cast<double>(out.scale), &multiplier,
                     &shift);
  // Fold 1/count into the multiplier; keep output_shift >= -31.
  int extra = 63 - __builtin_clzll(static_cast<uint64_t>(count));
  extra = std::min(extra, 32);
  extra = std::min(extra, 31 + shift);
  multiplier = static_cast<int32_t>((static_cast<int64_t>(multiplier) << extra) / count);
  shift -= extra;

  T* y = out.Data<T>();
  const int32_t lo = std::numeric_limits<T>::min();
  const int32_t hi = std::numeric_limits<T>::max();
  for (int32_t i = 0; i < n_out; ++i) {
    const int32_t shifted_sum =
        static_cast<int32_t>(temp_sum[i] - static_cast<int64_t>(in.zero_point) * count);
    int32_t v = MultiplyByQuantizedMultiplier(shifted_sum, multiplier, shift) + out.zero_point;
    v = std::min(std::max(v, lo), hi);
    y[i] = static_cast<T>(v);
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView in = ctx.Input(0);
  const TensorView out = ctx.Output(0);
  bool reduced[kMaxRank];
  int bad_axis = 0;
  ResolveAxes(in, ctx.Input(1), reduced, &bad_axis);
  int32_t strides[kMaxRank];
  int64_t count;
  OutputStrides(in, reduced, strides, &count);
  if (in.type == DataType::kFloat32) {
    float* y = out.Data<float>();
    const int32_t n_out = out.FlatSize();
    for (int32_t i = 0; i < n_out; ++i) y[i] = 0.0f;
    SumInto<float, float>(in, strides, y);
    const float divisor = static_cast<float>(static_cast<size_t>(count));
    for (int32_t i = 0; i < n_out; ++i) y[i] = y[i] / divisor;
    return Status::kOk;
  }
  auto* temp_sum = static_cast<int32_t*>(ctx.Scratch(kSumScratch));
  if (in.type == DataType::kInt8) {
    MeanQuantized<int8_t>(in, out, strides, count, temp_sum);
  } else {
    MeanQuantized<int16_t>(in, out, strides, count, temp_sum);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_MEAN() {
  static const KernelRegistration reg = {kOpMean, "MEAN", Prepare, Invoke};
  return reg;
}

}  // namespace md
