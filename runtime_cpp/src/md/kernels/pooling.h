// Shared implementation of AVERAGE_POOL_2D and MAX_POOL_2D (TFLite's
// reference pooling, bit-exact with TFLM) for int8, int16 and float32 NHWC
// tensors. Each op file registers its own kernel and calls PoolPrepare /
// PoolInvoke with its kind.
#ifndef MD_KERNELS_POOLING_H_
#define MD_KERNELS_POOLING_H_

#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/type_variants.h"
#include "md/quant.h"

namespace md {
namespace pooling {

enum class PoolKind { kAverage, kMax };

// Pool2DOptions slots (schema.fbs).
constexpr int kPadding = 0;
constexpr int kStrideW = 1;
constexpr int kStrideH = 2;
constexpr int kFilterWidth = 3;
constexpr int kFilterHeight = 4;
constexpr int kActivation = 5;

struct PoolShape {
  int32_t batches, in_h, in_w, depth;
  WindowGeometry g;
};

inline PoolShape ReadShape(const OpContext& ctx, const TensorView& input, int32_t* padding) {
  const TableView opts = ctx.Options();
  PoolShape s;
  *padding = opts.GetInt8(kPadding, 0);
  s.g.stride_w = opts.GetInt32(kStrideW, 0);
  s.g.stride_h = opts.GetInt32(kStrideH, 0);
  s.g.filter_w = opts.GetInt32(kFilterWidth, 0);
  s.g.filter_h = opts.GetInt32(kFilterHeight, 0);
  s.batches = input.Dim(0);
  s.in_h = input.Dim(1);
  s.in_w = input.Dim(2);
  s.depth = input.Dim(3);
  ResolveWindow(static_cast<Padding>(*padding), s.in_h, s.in_w, &s.g);
  return s;
}

inline Status PoolPrepare(OpContext& ctx) {
  if (ctx.NumInputs() != 1 || ctx.NumOutputs() != 1 || !ctx.HasInput(0)) {
    return ctx.Fail(Status::kInvalidArgument, "expects 1 input and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if (input.rank != 4 || output.rank != 4) {
    return ctx.Fail(Status::kShapeMismatch, "input and output must be 4-D (got ranks %d, %d)",
                    static_cast<int>(input.rank), static_cast<int>(output.rank));
  }
  if ((input.type != DataType::kInt8 && input.type != DataType::kInt16 &&
       input.type != DataType::kFloat32) ||
      output.type != input.type) {
    return ctx.Fail(Status::kUnsupportedType,
                    "unsupported types input=%s output=%s (supported: int8, int16, float32)",
                    DataTypeName(input.type), DataTypeName(output.type));
  }
  const Status compiled_in = CheckTypeVariantCompiledIn(ctx, input.type);
  if (compiled_in != Status::kOk) return compiled_in;
  int32_t padding = 0;
  const PoolShape s = ReadShape(ctx, input, &padding);
  const Status batch_depth = CheckOutputBatchDepth(ctx, output, s.batches, s.depth);
  if (batch_depth != Status::kOk) return batch_depth;
  return CheckWindow(ctx, padding, s.g, output);
}

// Window of output (out_y, out_x) clipped to the input, as TFLite computes it.
struct Window {
  int32_t in_y_origin, in_x_origin, y_start, y_end, x_start, x_end;
};

inline Window ClipWindow(const PoolShape& s, int32_t out_y, int32_t out_x) {
  Window w;
  w.in_x_origin = out_x * s.g.stride_w - s.g.pad_w;
  w.in_y_origin = out_y * s.g.stride_h - s.g.pad_h;
  w.x_start = w.in_x_origin < 0 ? -w.in_x_origin : 0;
  w.x_end = s.in_w - w.in_x_origin < s.g.filter_w ? s.in_w - w.in_x_origin : s.g.filter_w;
  w.y_start = w.in_y_origin < 0 ? -w.in_y_origin : 0;
  w.y_end = s.in_h - w.in_y_origin < s.g.filter_h ? s.in_h - w.in_y_origin : s.g.filter_h;
  return w;
}

// Calls visit(w, input_row, out) for every output pixel of every batch: `w` is
// the window clipped to the input, input_row(fy) the first channel of input
// row w.in_y_origin + fy of that batch, `out` the pixel's first channel.
template <typename InT, typename OutT, typename Visit>
void ForEachPoolOutput(const PoolShape& s, const InT* input, OutT* output, Visit visit) {
  for (int32_t b = 0; b < s.batches; ++b) {
    for (int32_t out_y = 0; out_y < s.g.out_h; ++out_y) {
      for (int32_t out_x = 0; out_x < s.g.out_w; ++out_x) {
        const Window w = ClipWindow(s, out_y, out_x);
        OutT* out = output + ((b * s.g.out_h + out_y) * s.g.out_w + out_x) * s.depth;
        const auto input_row = [&s, input, b, &w](int32_t fy) {
          return input + ((b * s.in_h + w.in_y_origin + fy) * s.in_w) * s.depth;
        };
        visit(w, input_row, out);
      }
    }
  }
}

// Integer average with TFLite's round-half-away-from-zero division.
template <typename T>
void AveragePoolInt(const PoolShape& s, const T* input, T* output, int32_t act_min,
                    int32_t act_max) {
  ForEachPoolOutput(s, input, output, [&](const Window& w, const auto& input_row, T* out) {
    for (int32_t c = 0; c < s.depth; ++c) {
      int32_t acc = 0;
      int32_t count = 0;
      for (int32_t fy = w.y_start; fy < w.y_end; ++fy) {
        const T* row = input_row(fy);
        for (int32_t fx = w.x_start; fx < w.x_end; ++fx) {
          acc += row[(w.in_x_origin + fx) * s.depth + c];
          ++count;
        }
      }
      // Windows always overlap the input (padding < filter), so count > 0.
      acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
      acc = acc < act_min ? act_min : acc;
      acc = acc > act_max ? act_max : acc;
      out[c] = static_cast<T>(acc);
    }
  });
}

template <typename T>
void MaxPoolInt(const PoolShape& s, const T* input, T* output, int32_t act_min, int32_t act_max) {
  ForEachPoolOutput(s, input, output, [&](const Window& w, const auto& input_row, T* out) {
    for (int32_t c = 0; c < s.depth; ++c) {
      T max = std::numeric_limits<T>::lowest();
      for (int32_t fy = w.y_start; fy < w.y_end; ++fy) {
        const T* row = input_row(fy);
        for (int32_t fx = w.x_start; fx < w.x_end; ++fx) {
          const T v = row[(w.in_x_origin + fx) * s.depth + c];
          max = v > max ? v : max;
        }
      }
      int32_t v = max;
      v = v < act_min ? act_min : v;
      v = v > act_max ? act_max : v;
      out[c] = static_cast<T>(v);
    }
  });
}

template <PoolKind kKind>
void PoolFloat(const PoolShape& s, const float* input, float* output, float act_min,
               float act_max) {
  ForEachPoolOutput(s, input, output, [&](const Window& w, const auto& input_row, float* out) {
    for (int32_t c = 0; c < s.depth; ++c) {
      float total = 0.0f;
      float count = 0.0f;
      float max = std::numeric_limits<float>::lowest();
      for (int32_t fy = w.y_start; fy < w.y_end; ++fy) {
        const float* row = input_row(fy);
        for (int32_t fx = w.x_start; fx < w.x_end; ++fx) {
          const float v = row[(w.in_x_origin + fx) * s.depth + c];
          if (kKind == PoolKind::kAverage) {
            total += v;
            count += 1.0f;
          } else {
            max = max < v ? v : max;  // std::max(max, v)
          }
        }
      }
      float v = kKind == PoolKind::kAverage ? total / count : max;
      v = v < act_min ? act_min : v;
      v = v > act_max ? act_max : v;
      out[c] = v;
    }
  });
}

template <PoolKind kKind>
Status PoolInvoke(OpContext& ctx) {
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  int32_t padding = 0;
  const PoolShape s = ReadShape(ctx, input, &padding);
  const auto act = static_cast<FusedActivation>(ctx.Options().GetInt8(kActivation, 0));
  // Compiled-out variants (type_variants.h) never get here: prepare rejected them.
  if (kKernelsHaveFloat32 && input.type == DataType::kFloat32) {
    float act_min, act_max;
    CalculateActivationRangeFloat(act, &act_min, &act_max);
    PoolFloat<kKind>(s, input.Data<const float>(), output.Data<float>(), act_min, act_max);
    return Status::kOk;
  }
  int32_t act_min, act_max;
  OutputActivationRange(act, output, &act_min, &act_max);
  if (input.type == DataType::kInt8) {
    if (kKind == PoolKind::kAverage) {
      AveragePoolInt<int8_t>(s, input.Data<const int8_t>(), output.Data<int8_t>(), act_min,
                             act_max);
    } else {
      MaxPoolInt<int8_t>(s, input.Data<const int8_t>(), output.Data<int8_t>(), act_min, act_max);
    }
  } else if (kKernelsHaveInt16 && input.type == DataType::kInt16) {
    if (kKind == PoolKind::kAverage) {
      AveragePoolInt<int16_t>(s, input.Data<const int16_t>(), output.Data<int16_t>(), act_min,
                              act_max);
    } else {
      MaxPoolInt<int16_t>(s, input.Data<const int16_t>(), output.Data<int16_t>(), act_min, act_max);
    }
  } else {
    return Status::kUnsupportedType;  // a compiled-out variant (prepare rejects it)
  }
  return Status::kOk;
}

}  // namespace pooling
}  // namespace md

#endif  // MD_KERNELS_POOLING_H_
