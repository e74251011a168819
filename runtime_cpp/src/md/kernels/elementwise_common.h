// Helpers shared by the elementwise and shape kernels (ADD, MUL, LOGISTIC,
// TANH, CONCATENATION, PAD, MEAN, STRIDED_SLICE, SVDF): option parsing,
// TFLM-compatible activation ranges, shape checks and N-d broadcasting.
// Header-only and allocation-free; everything here runs on the stack.
#ifndef MD_KERNELS_ELEMENTWISE_COMMON_H_
#define MD_KERNELS_ELEMENTWISE_COMMON_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/quant.h"
#include "md/tensor.h"
#include "md/types.h"

namespace md {
namespace elementwise {

// TFLM's broadcasting kernels handle up to 6 dimensions.
constexpr int kMaxBroadcastRank = 6;

inline FusedActivation ActivationFromOption(int8_t raw) {
  return static_cast<FusedActivation>(raw);
}

// True for the fused activations that quantized/float clamping understands.
inline bool IsClampActivation(FusedActivation act) {
  return act == FusedActivation::kNone || act == FusedActivation::kRelu ||
         act == FusedActivation::kRelu6 || act == FusedActivation::kReluN1To1;
}

// tflite::CalculateActivationRange<T> (kernel_util.h): lowest()/max() when no
// activation, so the clamp is a no-op even for infinities the same way.
template <typename T>
inline void ActivationRange(FusedActivation act, T* lo, T* hi) {
  if (act == FusedActivation::kRelu) {
    *lo = 0;
    *hi = std::numeric_limits<T>::max();
  } else if (act == FusedActivation::kRelu6) {
    *lo = 0;
    *hi = 6;
  } else if (act == FusedActivation::kReluN1To1) {
    *lo = -1;
    *hi = 1;
  } else {
    *lo = std::numeric_limits<T>::lowest();
    *hi = std::numeric_limits<T>::max();
  }
}

// tflite::ActivationFunctionWithMinMax: same operand order so NaN propagates
// identically.
template <typename T>
inline T Clamp(T x, T lo, T hi) {
  return std::min(std::max(x, lo), hi);
}

// Quantized clamp range of a fused activation for an int8/int16 output.
inline void QuantizedActivationRange(FusedActivation act, const TensorView& out, int32_t* lo,
                                     int32_t* hi) {
  const int32_t qmin = out.type == DataType::kInt8 ? -128 : -32768;
  const int32_t qmax = out.type == DataType::kInt8 ? 127 : 32767;
  CalculateActivationRangeQuantized(act, out.scale, out.zero_point, qmin, qmax, lo, hi);
}

inline bool SameDims(const TensorView& a, const TensorView& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i) {
    if (a.dims[i] != b.dims[i]) return false;
  }
  return true;
}

// Shapes equal once both are left-padded with 1s to the same rank (TFLM's
// ProcessBroadcastShapes "exact match": no broadcasting needed).
inline bool SameExtendedDims(const TensorView& a, const TensorView& b) {
  const int rank = std::max(a.rank, b.rank);
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank - rank + i;
    const int ib = b.rank - rank + i;
    const int32_t da = ia >= 0 ? a.dims[ia] : 1;
    const int32_t db = ib >= 0 ? b.dims[ib] : 1;
    if (da != db) return false;
  }
  return true;
}

// Index plan for a binary op broadcasting two inputs to the output shape,
// everything right-aligned and left-padded to kMaxBroadcastRank dims.
struct BroadcastPlan {
  int32_t out_dims[kMaxBroadcastRank];
  int32_t stride1[kMaxBroadcastRank];  // 0 along dims where input 1 repeats
  int32_t stride2[kMaxBroadcastRank];
};

// Builds the plan and checks that `out` has exactly the broadcast shape.
// Returns false (and leaves `why` pointing to a reason) on any mismatch.
inline bool MakeBroadcastPlan(const TensorView& in1, const TensorView& in2, const TensorView& out,
                              BroadcastPlan* plan, const char** why) {
  const int rank = std::max(in1.rank, in2.rank);
  if (rank > kMaxBroadcastRank || out.rank > kMaxBroadcastRank) {
    *why = "more than 6 dimensions";
    return false;
  }
  if (out.rank != rank) {
    *why = "output rank differs from the broadcast rank of the inputs";
    return false;
  }
  int32_t d1[kMaxBroadcastRank];
  int32_t d2[kMaxBroadcastRank];
  for (int i = 0; i < kMaxBroadcastRank; ++i) {
    const int k = i - (kMaxBroadcastRank - rank);  // index in the rank-`rank` shape
    const int i1 = in1.rank - rank + k;
    const int i2 = in2.rank - rank + k;
    d1[i] = (k >= 0 && i1 >= 0) ? in1.dims[i1] : 1;
    d2[i] = (k >= 0 && i2 >= 0) ? in2.dims[i2] : 1;
    const int32_t o = k >= 0 ? out.dims[k] : 1;
    if (d1[i] != d2[i] && d1[i] != 1 && d2[i] != 1) {
      *why = "input shapes are not broadcast-compatible";
      return false;
    }
    const int32_t expect = d1[i] == 1 ? d2[i] : d1[i];
    if (o != expect) {
      *why = "output shape is not the broadcast shape of the inputs";
      return false;
    }
    plan->out_dims[i] = o;
  }
  int32_t s1 = 1;
  int32_t s2 = 1;
  for (int i = kMaxBroadcastRank - 1; i >= 0; --i) {
    plan->stride1[i] = (d1[i] == 1) ? 0 : s1;
    plan->stride2[i] = (d2[i] == 1) ? 0 : s2;
    s1 *= d1[i];
    s2 *= d2[i];
  }
  return true;
}

// out[i] = f(x[...], y[...]) over the broadcast output, row-major order.
template <typename In, typename Out, typename F>
inline void BroadcastApply(const BroadcastPlan& p, const In* x, const In* y, Out* out, F f) {
  const int32_t* d = p.out_dims;
  const int32_t* a = p.stride1;
  const int32_t* b = p.stride2;
  int32_t o = 0;
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        for (int32_t i3 = 0; i3 < d[3]; ++i3) {
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const int32_t base1 = i0 * a[0] + i1 * a[1] + i2 * a[2] + i3 * a[3] + i4 * a[4];
            const int32_t base2 = i0 * b[0] + i1 * b[1] + i2 * b[2] + i3 * b[3] + i4 * b[4];
            for (int32_t i5 = 0; i5 < d[5]; ++i5) {
              out[o++] = f(x[base1 + i5 * a[5]], y[base2 + i5 * b[5]]);
            }
          }
        }
      }
    }
  }
}

// Elementwise when shapes match (after left-padding), broadcast otherwise.
template <typename In, typename Out, typename F>
inline void BinaryApply(const TensorView& in1, const TensorView& in2, const TensorView& out, F f) {
  const In* x = in1.Data<In>();
  const In* y = in2.Data<In>();
  Out* z = out.Data<Out>();
  if (SameExtendedDims(in1, in2)) {
    const int32_t n = out.FlatSize();
    for (int32_t i = 0; i < n; ++i) z[i] = f(x[i], y[i]);
    return;
  }
  BroadcastPlan plan;
  const char* why = nullptr;
  MakeBroadcastPlan(in1, in2, out, &plan, &why);  // validated in prepare
  BroadcastApply(plan, x, y, z, f);
}

// Arithmetic that TFLite lets wrap (int32 MUL): done unsigned, no UB.
inline int32_t WrappingMul(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) * static_cast<uint32_t>(b));
}

// tflite::CheckedLog2: log2(x) rounded, and whether x is (close to) a power of two.
inline bool CheckedLog2(float x, int* log2_result) {
  // A zero, negative, infinite or NaN scale has no log2 that fits an int (TFLite casts it
  // anyway, which is undefined behaviour): not a power of two.
  if (!(x > 0.0f) || !std::isfinite(x)) {
    *log2_result = 0;
    return false;
  }
  const float x_log2 = std::log(x) * (1.0f / std::log(2.0f));
  const float x_log2_rounded = std::round(x_log2);
  const float x_log2_fracpart = x_log2 - x_log2_rounded;
  *log2_result = static_cast<int>(x_log2_rounded);
  return std::abs(x_log2_fracpart) < 1e-3f;
}

// Prepare helper: fails naming the first of inputs [first, first + count)
// that the model leaves out (-1), since invoke reads them unchecked.
inline Status RequireInputs(OpContext& ctx, int first, int count) {
  for (int i = first; i < first + count; ++i) {
    if (!ctx.HasInput(i)) {
      return ctx.Fail(Status::kShapeMismatch, "required input %d is missing", i);
    }
  }
  return Status::kOk;
}

// Normalises a possibly negative axis; returns -1 when out of range.
inline int PositiveAxis(int axis, int rank) {
  const int a = axis < 0 ? axis + rank : axis;
  return (a >= 0 && a < rank) ? a : -1;
}

// Prepare checks shared by ADD and MUL: two present inputs and one output of
// the same supported type, a clamp activation, broadcastable shapes, and for
// int8/int16 a positive scale on every tensor. `op_name` names the op in the
// last message ("quantized ADD needs scales on all tensors").
inline Status CheckBinaryArithmetic(OpContext& ctx, FusedActivation act, const char* op_name) {
  if (ctx.NumInputs() != 2 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 2 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const Status present = RequireInputs(ctx, 0, 2);
  if (present != Status::kOk) return present;
  const TensorView in1 = ctx.Input(0);
  const TensorView in2 = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  if (in1.type != out.type || in2.type != out.type) {
    return ctx.Fail(Status::kUnsupportedType, "input types %s/%s differ from output type %s",
                    DataTypeName(in1.type), DataTypeName(in2.type), DataTypeName(out.type));
  }
  if (out.type != DataType::kInt8 && out.type != DataType::kInt16 &&
      out.type != DataType::kFloat32 && out.type != DataType::kInt32) {
    return ctx.Fail(Status::kUnsupportedType, "type %s not supported (int8, int16, float32, int32)",
                    DataTypeName(out.type));
  }
  if (!IsClampActivation(act)) {
    return ctx.Fail(Status::kUnsupportedType, "fused activation %d not supported",
                    static_cast<int>(act));
  }
  BroadcastPlan plan;
  const char* why = nullptr;
  if (!MakeBroadcastPlan(in1, in2, out, &plan, &why)) {
    return ctx.Fail(Status::kShapeMismatch, "%s", why);
  }
  if ((out.type == DataType::kInt8 || out.type == DataType::kInt16) &&
      (in1.scale <= 0.0f || in2.scale <= 0.0f || out.scale <= 0.0f)) {
    return ctx.Fail(Status::kUnsupportedType, "quantized %s needs scales on all tensors", op_name);
  }
  return Status::kOk;
}

}  // namespace elementwise
}  // namespace md

#endif  // MD_KERNELS_ELEMENTWISE_COMMON_H_
