// STRIDED_SLICE with constant begin/end/strides, positive or negative
// strides, begin_mask, end_mask and shrink_axis_mask, for int8, int16, int32
// and float32 (up to 5-D), bit-exact with TFLM
// (micro/kernels/strided_slice_common.cc, reference/strided_slice.h).
// TFLM ignores ellipsis_mask, new_axis_mask and offset; a model using them
// would be mis-sliced there, so we reject them at prepare instead.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"

namespace md {
namespace {

constexpr int kMaxRank = 5;

// StridedSliceOptions field slots.
constexpr int kBeginMaskSlot = 0;
constexpr int kEndMaskSlot = 1;
constexpr int kEllipsisMaskSlot = 2;
constexpr int kNewAxisMaskSlot = 3;
constexpr int kShrinkAxisMaskSlot = 4;
constexpr int kOffsetSlot = 5;

int Clamp(int v, int lo, int hi) { return v > hi ? hi : (v < lo ? lo : v); }

// Resolved iteration range of every input axis.
struct SliceRange {
  int rank;
  int start[kMaxRank];
  int stop[kMaxRank];  // exclusive, in the stride's direction
  int stride[kMaxRank];
  bool shrink[kMaxRank];
};

// strided_slice::StridedSliceStartForAxis / StridedSliceEndForAxis.
void ResolveRange(const OpContext& ctx, const TensorView& in, SliceRange* r) {
  const TableView options = ctx.Options();
  const int32_t begin_mask = options.GetInt32(kBeginMaskSlot, 0);
  const int32_t end_mask = options.GetInt32(kEndMaskSlot, 0);
  const int32_t shrink_mask = options.GetInt32(kShrinkAxisMaskSlot, 0);
  const int32_t* begin = ctx.Input(1).Data<int32_t>();
  const int32_t* end = ctx.Input(2).Data<int32_t>();
  const int32_t* strides = ctx.Input(3).Data<int32_t>();
  r->rank = in.rank;
  for (int axis = 0; axis < in.rank; ++axis) {
    const int axis_size = in.dims[axis];
    const int stride = strides[axis];
    int start = begin[axis];
    if (start < 0) start += axis_size;
    start = stride > 0 ? Clamp(start, 0, axis_size) : Clamp(start, -1, axis_size - 1);
    if (begin_mask & (1 << axis)) start = stride > 0 ? 0 : axis_size - 1;

    const bool shrink = (shrink_mask & (1 << axis)) != 0;
    int stop;
    if (shrink) {
      stop = start >= axis_size ? start : start + 1;
    } else {
      stop = end[axis];
      if (stop < 0) stop += axis_size;
      stop = stride > 0 ? Clamp(stop, 0, axis_size) : Clamp(stop, -1, axis_size - 1);
      if (end_mask & (1 << axis)) stop = stride > 0 ? axis_size : -1;
    }
    r->start[axis] = start;
    r->stop[axis] = stop;
    r->stride[axis] = stride;
    r->shrink[axis] = shrink;
  }
}

// Elements taken along one axis (TFLM's ceil((end - begin) / stride), >= 0).
int AxisCount(const SliceRange& r, int axis) {
  const int n = static_cast<int>(
      std::ceil((r.stop[axis] - r.start[axis]) / static_cast<float>(r.stride[axis])));
  return n < 0 ? 0 : n;
}

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != 4 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 4 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const Status present = elementwise::RequireInputs(ctx, 0, 4);
  if (present != Status::kOk) return present;
  const TensorView in = ctx.Input(0);
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
  if (in.rank < 1 || in.rank > kMaxRank) {
    return ctx.Fail(Status::kShapeMismatch, "input rank %d not in [1, 5]",
                    static_cast<int>(in.rank));
  }
  const char* const names[3] = {"begin", "end", "strides"};
  for (int i = 1; i <= 3; ++i) {
    const TensorView t = ctx.Input(i);
    if (t.type != DataType::kInt32 || !t.is_constant || t.FlatSize() != in.rank) {
      return ctx.Fail(Status::kUnsupportedType, "%s must be a constant int32 vector of %d values",
                      names[i - 1], static_cast<int>(in.rank));
    }
  }
  const TableView options = ctx.Options();
  if (options.GetInt32(kEllipsisMaskSlot, 0) != 0 || options.GetInt32(kNewAxisMaskSlot, 0) != 0 ||
      options.GetBool(kOffsetSlot, false)) {
    return ctx.Fail(Status::kUnsupportedType,
                    "ellipsis_mask, new_axis_mask and offset are not supported (as in TFLM)");
  }
  const int32_t* strides = ctx.Input(3).Data<int32_t>();
  for (int axis = 0; axis < in.rank; ++axis) {
    if (strides[axis] == 0) {
      return ctx.Fail(Status::kShapeMismatch, "stride of axis %d is 0", axis);
    }
  }
  SliceRange r;
  ResolveRange(ctx, in, &r);
  int out_axis = 0;
  for (int axis = 0; axis < in.rank; ++axis) {
    if (r.shrink[axis]) {
      if (r.start[axis] < 0 || r.start[axis] >= in.dims[axis]) {
        return ctx.Fail(Status::kShapeMismatch, "shrunk axis %d index out of range", axis);
      }
      continue;
    }
    const int count = AxisCount(r, axis);
    if (out_axis >= out.rank || out.dims[out_axis] != count) {
      return ctx.Fail(Status::kShapeMismatch, "output dim %d should be %d", out_axis, count);
    }
    ++out_axis;
  }
  if (out_axis != out.rank) {
    return ctx.Fail(Status::kShapeMismatch, "output rank %d, slice gives %d",
                    static_cast<int>(out.rank), out_axis);
  }
  return Status::kOk;
}

// Writes the slice in row-major order of the iteration space.
template <typename T>
void Slice(const TensorView& in, const SliceRange& r, T* out) {
  int count[kMaxRank];
  int in_stride[kMaxRank];
  int stride = 1;
  for (int axis = r.rank - 1; axis >= 0; --axis) {
    count[axis] = AxisCount(r, axis);
    if (count[axis] == 0) return;
    in_stride[axis] = stride;
    stride *= in.dims[axis];
  }
  const T* x = in.Data<T>();
  const int last = r.rank - 1;
  int index[kMaxRank] = {0};
  for (;;) {
    int base = 0;
    for (int axis = 0; axis < last; ++axis) {
      base += (r.start[axis] + index[axis] * r.stride[axis]) * in_stride[axis];
    }
    for (int i = 0; i < count[last]; ++i) *out++ = x[base + r.start[last] + i * r.stride[last]];
    int axis = last - 1;
    for (; axis >= 0; --axis) {
      if (++index[axis] < count[axis]) break;
      index[axis] = 0;
    }
    if (axis < 0) return;
  }
}

Status Invoke(OpContext& ctx) {
  const TensorView in = ctx.Input(0);
  const TensorView out = ctx.Output(0);
  SliceRange r;
  ResolveRange(ctx, in, &r);
  switch (in.type) {
    case DataType::kInt8:
      Slice(in, r, out.Data<int8_t>());
      break;
    case DataType::kInt16:
      Slice(in, r, out.Data<int16_t>());
      break;
    case DataType::kInt32:
      Slice(in, r, out.Data<int32_t>());
      break;
    default:
      Slice(in, r, out.Data<float>());
      break;
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_STRIDED_SLICE() {
  static const KernelRegistration reg = {kOpStridedSlice, "STRIDED_SLICE", Prepare, Invoke};
  return reg;
}

}  // namespace md
