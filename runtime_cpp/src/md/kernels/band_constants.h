// Per-channel constants of an int8 CONV_2D / DEPTHWISE_CONV_2D kept across the
// bands of a patch-based stage (docs/patch_execution.md, md::Band::constants).
//
// Layout of the area (BandConstantsBytes(out_depth) bytes, 4-aligned):
//   uint32_t flags;                    // bit 0: every filter scale > 0 (opt::ScalesArePositive)
//                                      // bit 1: the records are in the 1x1 DSP path's form
//   BandChannel channel[out_depth];    // multiplier, shift, base
// A CONV_2D on the Cortex-M DSP path may rewrite the records, right after the fill, into its
// own 12-byte form (conv_2d_opt.h, PointwiseBandForm) and set bit 1; only that path reads
// them then.
// The multiplier and shift are ChannelOutputMultiplier's (OptChannelMultiplier in the
// optimized build: the same bits, see int8_opt.h) and base = bias + input_offset x (sum of
// the channel's whole filter), modulo 2^32, exactly what the kernels compute per call when
// no area is given. Filled on the op's first band of an Invoke, read by the others.
#ifndef MD_KERNELS_BAND_CONSTANTS_H_
#define MD_KERNELS_BAND_CONSTANTS_H_

#include <cstdint>
#include <cstring>

#include "md/kernel.h"
#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/tensor.h"

namespace md {

struct BandChannel {
  int32_t multiplier;
  int32_t shift;
  uint32_t base;
};

// The filled area as the kernels read it.
struct BandConstantsView {
  bool scales_positive;
  const BandChannel* channel;  // [out_depth]

  // Bit 1 (see above): `channel` holds the 1x1 DSP path's records (read off the flags word
  // before them, so the view, which every kernel passes around, keeps its layout).
  bool pointwise_form() const;
};

constexpr uint32_t kBandScalesPositive = 1u;
constexpr uint32_t kBandPointwiseForm = 2u;

// Filter layout of the op, for the per-channel filter sums.
enum class BandFilterLayout : uint8_t {
  kPerChannelBlock,  // CONV_2D [out_depth, h, w, depth]: `taps` contiguous values per channel
  kChannelsLast,     // DEPTHWISE_CONV_2D [1, h, w, out_depth]: `taps` values out_depth apart
};

// Fills `area` (Band::constants) for an int8 op with `out_depth` output channels whose filter
// holds `taps` values per channel. Not inlined: it runs once per op and Invoke, and conv and
// depthwise share the one copy.
__attribute__((noinline)) inline void FillBandConstants(void* area, const TensorView& input,
                                                        const TensorView& filter,
                                                        const TensorView& output,
                                                        const int32_t* bias, int32_t out_depth,
                                                        int32_t taps, BandFilterLayout layout,
                                                        int32_t input_offset) {
  uint8_t* bytes = static_cast<uint8_t*>(area);
  const uint32_t positive = opt::ScalesArePositive(filter, out_depth) ? kBandScalesPositive : 0u;
  std::memcpy(bytes, &positive, sizeof(positive));
  BandChannel* channel = reinterpret_cast<BandChannel*>(bytes + sizeof(uint32_t));
  const int8_t* f = filter.Data<const int8_t>();
#if MD_KERNELS_OPTIMIZED
  const opt::OptMultipliers multipliers(input.scale, output.scale);
#endif
  for (int32_t oc = 0; oc < out_depth; ++oc) {
    int32_t multiplier;
    int shift;
#if MD_KERNELS_OPTIMIZED
    multipliers.Make(ChannelScaleOf(filter, oc), &multiplier, &shift);
#else
    ChannelOutputMultiplier(input.scale, ChannelScaleOf(filter, oc), output.scale, &multiplier,
                            &shift);
#endif
    uint32_t filter_sum = 0;
    if (layout == BandFilterLayout::kPerChannelBlock) {
      filter_sum = opt::Sum(f + oc * taps, taps);
    } else {
      for (int32_t t = 0; t < taps; ++t) {
        filter_sum += static_cast<uint32_t>(static_cast<int32_t>(f[t * out_depth + oc]));
      }
    }
    const uint32_t b = bias != nullptr ? static_cast<uint32_t>(bias[oc]) : 0u;
    channel[oc] = BandChannel{multiplier, static_cast<int32_t>(shift),
                              b + static_cast<uint32_t>(input_offset) * filter_sum};
  }
}

inline BandConstantsView ReadBandConstants(const void* area) {
  const uint8_t* bytes = static_cast<const uint8_t*>(area);
  uint32_t flags;
  std::memcpy(&flags, bytes, sizeof(flags));
  // (bit 1 is only ever set together with bit 0)
  return BandConstantsView{flags != 0,
                           reinterpret_cast<const BandChannel*>(bytes + sizeof(uint32_t))};
}

inline bool BandConstantsView::pointwise_form() const {
  uint32_t flags;
  std::memcpy(&flags, reinterpret_cast<const uint8_t*>(channel) - sizeof(uint32_t), sizeof(flags));
  return (flags & kBandPointwiseForm) != 0;
}

// What an int8 kernel calls with its band: nullptr outside a patch-based stage (the kernel then
// computes its per-channel data per call); inside one, the op's constants, filled first when
// this is the op's first band of the Invoke. `*view` holds what the result points to.
inline const BandConstantsView* BandConstantsFor(const Band& band, const TensorView& input,
                                                 const TensorView& filter, const TensorView& output,
                                                 const int32_t* bias, int32_t out_depth,
                                                 int32_t taps, BandFilterLayout layout,
                                                 BandConstantsView* view) {
  if (band.constants == nullptr) return nullptr;
  if (band.fill_constants) {
    FillBandConstants(band.constants, input, filter, output, bias, out_depth, taps, layout,
                      -input.zero_point);
  }
  *view = ReadBandConstants(band.constants);
  return view;
}

}  // namespace md

#endif  // MD_KERNELS_BAND_CONSTANTS_H_
