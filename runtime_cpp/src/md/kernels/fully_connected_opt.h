// Optimized int8 FULLY_CONNECTED (see int8_opt.h for the selection and the bit-exactness
// argument): each output is bias + sum_k w * x + input_offset * sum_k w, the dot product
// and the weight row's sum taken in one vectorizable pass (SMLAD on the DSP path).
// Weights with a zero point (per-tensor, asymmetric) keep the reference kernel.
#ifndef MD_KERNELS_FULLY_CONNECTED_OPT_H_
#define MD_KERNELS_FULLY_CONNECTED_OPT_H_

#include <cstdint>

#include "md/kernels/conv_2d_opt.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/kernels/int8_sse2.h"
#include "md/tensor.h"

namespace md {
namespace opt {

struct FcInt8Args {
  const int8_t* input;   // [batches, accum_depth]
  const int8_t* filter;  // [out_depth, accum_depth]
  const int32_t* bias;   // may be nullptr
  int8_t* output;        // [batches, out_depth]
  int32_t batches, accum_depth, out_depth;
  int32_t input_offset, output_offset, act_min, act_max;
};

// Returns false, having written nothing, when the optimized path does not apply.
inline bool FcInt8Optimized(const FcInt8Args& args, const TensorView& input,
                            const TensorView& filter, const TensorView& output) {
  const FcInt8Args a = args;  // a local copy: int8_t stores would force reloads of the fields
  const bool per_channel = filter.num_channels > 1;
  if (!per_channel && filter.zero_point != 0) return false;
  if (!ScalesArePositive(filter, a.out_depth)) return false;
  Requant q[kChannelChunk];
  const OptMultipliers multipliers(input.scale, output.scale);
  for (int32_t c0 = 0; c0 < a.out_depth; c0 += kChannelChunk) {
    const int32_t c1 = c0 + kChannelChunk < a.out_depth ? c0 + kChannelChunk : a.out_depth;
    for (int32_t oc = c0; oc < c1; ++oc) {
      if (per_channel || oc == 0) {
        int32_t multiplier;
        int shift;
        multipliers.Make(ChannelScaleOf(filter, oc), &multiplier, &shift);
        q[per_channel ? oc - c0 : 0] = MakeRequant(multiplier, shift);
      }
    }
#if MD_KERNELS_SSE2
    if (SseOffsetOk(a.input_offset)) {
      // Four weight rows at a time against the input row (offset added to the inputs).
      uint32_t acc[kChannelChunk];
      Requant row_q[kChannelChunk];
      for (int32_t oc = c0; oc < c1; ++oc) row_q[oc - c0] = q[per_channel ? oc - c0 : 0];
      RequantSse2 requant;
      PrepareRequantSse2(row_q, c1 - c0, a.output_offset, &requant);
      for (int32_t b = 0; b < a.batches; ++b) {
        for (int32_t oc = c0; oc < c1; ++oc) {
          acc[oc - c0] = a.bias != nullptr ? static_cast<uint32_t>(a.bias[oc]) : 0u;
        }
        DotRowsSse2(a.input + b * a.accum_depth, a.input_offset, a.filter + c0 * a.accum_depth,
                    a.accum_depth, a.accum_depth, c1 - c0, acc);
        RequantizeRowSse2(requant, row_q, acc, c1 - c0, a.output_offset, a.act_min, a.act_max,
                          a.output + b * a.out_depth + c0);
      }
      continue;
    }
#endif
    for (int32_t b = 0; b < a.batches; ++b) {
      const int8_t* in = a.input + b * a.accum_depth;
      int8_t* out = a.output + b * a.out_depth;
      for (int32_t oc = c0; oc < c1; ++oc) {
        uint32_t weight_sum;
        uint32_t acc = DotAndSum(in, a.filter + oc * a.accum_depth, a.accum_depth, &weight_sum);
        acc += static_cast<uint32_t>(a.input_offset) * weight_sum;
        if (a.bias != nullptr) acc += static_cast<uint32_t>(a.bias[oc]);
        out[oc] = RequantizeToInt8(q[per_channel ? oc - c0 : 0], acc, a.output_offset, a.act_min,
                                   a.act_max);
      }
    }
  }
  return true;
}

}  // namespace opt
}  // namespace md

#endif  // MD_KERNELS_FULLY_CONNECTED_OPT_H_
