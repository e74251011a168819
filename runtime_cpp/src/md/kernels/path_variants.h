// Which code paths of the int8 convolutions a build keeps ("link only what the model uses",
// one level below type_variants.h).
//
// On a Cortex-M core with the DSP extension the int8 CONV_2D and DEPTHWISE_CONV_2D ops of
// most models run entirely on one fast path each: CONV_2D on the SMLAD matrix product of
// pointwise_dsp.h (1x1 directly, any other window through im2col rows), DEPTHWISE_CONV_2D on
// the 3x3 four-channel SMLABB path with the doubled requantization. The code for everything
// else (the generic optimized chunks, the reference int8 loops they fall back to) is then
// dead weight in the firmware. A build that knows its model needs none of it defines
//   MD_KERNELS_NO_CONV_FALLBACK       every int8 CONV_2D meets ConvDspPathServes
//   MD_KERNELS_NO_DEPTHWISE_FALLBACK  every int8 DEPTHWISE_CONV_2D meets DepthwiseDspPathServes
// and on DSP builds those paths are compiled out (`microdeploy init` defines them when every
// such op of the model qualifies: microdeploy/project/path_variants.py, which applies the same
// rule to the model file; tests/test_path_variants.py checks that both agree).
//
// On every build (DSP, SSE2, portable, reference) an op that does not meet the rule fails at
// prepare with kUnsupportedType and a message naming the macro: the same model is accepted or
// rejected alike on the host and on the board, it never runs a removed path. Only DSP builds
// drop code; elsewhere the macros only add the prepare check. Default builds keep everything.
//
// The rules are the conditions under which the kernels' dispatch takes the fast path for every
// channel chunk (PointwiseDspChunkRuns in conv_2d_opt.h, DepthwiseInt8Optimized in
// depthwise_conv_2d_opt.h), stated on the op's shapes and quantization: the dispatch calls
// PointwiseDspChunkFits itself, and a chunk that finds a condition false with the fallback
// compiled out makes invoke fail instead of computing anything else.
#ifndef MD_KERNELS_PATH_VARIANTS_H_
#define MD_KERNELS_PATH_VARIANTS_H_

#include <cstdint>

#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/tensor.h"

namespace md {

#if defined(MD_KERNELS_NO_CONV_FALLBACK)
constexpr bool kKernelsHaveConvFallback = false;
#else
constexpr bool kKernelsHaveConvFallback = true;
#endif

#if defined(MD_KERNELS_NO_DEPTHWISE_FALLBACK)
constexpr bool kKernelsHaveDepthwiseFallback = false;
#else
constexpr bool kKernelsHaveDepthwiseFallback = true;
#endif

// Whether this build links the fallback code (only DSP builds drop it).
constexpr bool kConvFallbackLinked = kKernelsHaveConvFallback || !MD_KERNELS_ARM_DSP;
constexpr bool kDepthwiseFallbackLinked = kKernelsHaveDepthwiseFallback || !MD_KERNELS_ARM_DSP;

// Prepare's message for an op a build's rule refuses (%s: the path, the macro): one copy.
inline constexpr char kFallbackCompiledOut[] =
    "int8 op off the %s path, whose fallback is compiled out of this build (%s); rebuild without "
    "that define";

namespace opt {

// The DSP 1x1 / im2col path's limits (pointwise_dsp.h's kPointwiseMaxDepth and
// kPointwiseChunk; conv_2d_opt.h checks they are the same).
constexpr int32_t kDspPathMaxDepth = 256;
constexpr int32_t kDspPathChunk = 64;

// PointwiseDspChunkRuns's conditions on one chunk of `channels` output channels: rows of
// `depth` values (the 1x1 depth, or the window's filter_h x filter_w x depth rounded up to a
// multiple of 4 for im2col), int8 zero points, and for im2col the stack buffer holding the
// widened rows (8 x depth bytes), the gathered rows (4 x depth) and, when the row was padded,
// the chunk's padded filters.
inline bool PointwiseDspChunkFits(int32_t depth, bool window, bool pad_filters, int32_t channels,
                                  int32_t input_offset, int32_t output_offset) {
  const int32_t buf_bytes = 2 * kDspPathMaxDepth * 4;
  return depth > 0 && depth % 4 == 0 && depth <= kDspPathMaxDepth && input_offset >= -127 &&
         input_offset <= 128 && output_offset >= -128 && output_offset <= 127 &&
         (!window || 12 * depth + (pad_filters ? channels * depth : 0) <= buf_bytes);
}

// True when every channel chunk of an int8 CONV_2D (groups of 1) runs on the DSP path: filter
// scales > 0 (ConvInt8Optimized), PointwiseDspChunkFits for each chunk, and every channel's
// multiplier has the doubled requantization (DoubledRequantShift != 0: effective scale < 0.5).
// `g`: the op's whole geometry (a patch-based stage's bands keep 1x1 convs 1x1: band.h).
MD_PREPARE_CODE inline bool ConvDspPathServes(const WindowGeometry& g, int32_t in_depth,
                                              int32_t filter_depth, int32_t out_depth,
                                              const TensorView& input, const TensorView& filter,
                                              const TensorView& output) {
  if (filter_depth != in_depth || !ScalesArePositive(filter, out_depth)) return false;
  const bool window = !(g.filter_h == 1 && g.filter_w == 1 && g.stride_h == 1 && g.stride_w == 1 &&
                        g.pad_h == 0 && g.pad_w == 0);
  const int32_t filter_size = g.filter_h * g.filter_w * in_depth;
  const int32_t depth = window ? (filter_size + 3) / 4 * 4 : in_depth;
  for (int32_t c0 = 0; c0 < out_depth; c0 += kDspPathChunk) {
    const int32_t channels = out_depth - c0 < kDspPathChunk ? out_depth - c0 : kDspPathChunk;
    if (!PointwiseDspChunkFits(depth, window, depth != filter_size, channels, -input.zero_point,
                               output.zero_point)) {
      return false;
    }
  }
  const OptMultipliers multipliers(input.scale, output.scale);
  for (int32_t oc = 0; oc < out_depth; ++oc) {
    int32_t multiplier;
    int shift;
    multipliers.Make(ChannelScaleOf(filter, oc), &multiplier, &shift);
    if (DoubledRequantShift(multiplier, shift) == 0) return false;
  }
  return true;
}

// True when every output channel of an int8 DEPTHWISE_CONV_2D runs on the DSP 3x3 path with
// the doubled requantization: filter scales > 0, a 3x3 filter, depth multiplier 1 or a
// multiple of 4, a multiple of 4 output channels (no channel left to the generic taps), an
// int8 input zero point (the border windows' zero-point taps), and per channel
// DoubledRequantShift != 0 and |bias| < 2^30 - 9 x 128 x 255 (no accumulator reaches 2^30;
// a bias tensor must then be a constant). `bias_tensor`: nullptr when the op has none.
MD_PREPARE_CODE inline bool DepthwiseDspPathServes(
    const WindowGeometry& g, int32_t depth_multiplier, int32_t out_depth, const TensorView& input,
    const TensorView& filter, const TensorView& output, const TensorView* bias_tensor) {
  const int32_t input_offset = -input.zero_point;
  // A bias computed at run time cannot be checked here.
  if (bias_tensor != nullptr && !bias_tensor->is_constant) return false;
  const int32_t* bias = bias_tensor != nullptr ? bias_tensor->Data<const int32_t>() : nullptr;
  if (!ScalesArePositive(filter, out_depth) || g.filter_h != 3 || g.filter_w != 3 ||
      !(depth_multiplier == 1 || depth_multiplier % 4 == 0) || out_depth % 4 != 0 ||
      input_offset < -127 || input_offset > 128) {
    return false;
  }
  const int64_t bias_limit = (static_cast<int64_t>(1) << 30) - static_cast<int64_t>(9) * 128 * 255;
  const OptMultipliers multipliers(input.scale, output.scale);
  for (int32_t oc = 0; oc < out_depth; ++oc) {
    int32_t multiplier;
    int shift;
    multipliers.Make(ChannelScaleOf(filter, oc), &multiplier, &shift);
    const int64_t b = bias != nullptr ? bias[oc] : 0;
    if (DoubledRequantShift(multiplier, shift) == 0 || (b < 0 ? -b : b) >= bias_limit) {
      return false;
    }
  }
  return true;
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_PATH_VARIANTS_H_
