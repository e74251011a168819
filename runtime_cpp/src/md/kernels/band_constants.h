// Per-channel constants of an int8 CONV_2D / DEPTHWISE_CONV_2D kept across the
// bands of a patch-based stage (docs/patch_execution.md, md::Band::constants), and
// the op's resolved call kept likewise (BandCall, md::Band::call, at the end).
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

#include <cstddef>
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

// An int8 op's call resolved on its first band of an Invoke, kept in Band::call for its other
// bands (docs/patch_execution.md): what the kernel would otherwise rebuild on every band from
// the model (four tensor views, the options, the window geometry; about 2,000 instructions on
// the Cortex-M4). The geometry is the full tensors': each band applies itself with ApplyBand
// as the first one did. The same size on every target (kBandCallBytes, which the planners
// reserve): addresses as 64-bit integers, the rest as 16-bit ones (a call that does not fit
// is not kept). The band's data come from Band::input and Band::output.
struct BandCall {
  uint64_t filter;         // int8 [out_depth, h, w, depth] or [1, h, w, out_depth]
  uint64_t bias;           // int32 [out_depth] (0: none)
  uint64_t filter_scales;  // the filter's TensorView::scales
  float input_scale, output_scale, filter_scale;
  int16_t valid;            // 1: the fields hold the call; 0: the kernel takes its full path
  int16_t filter_channels;  // the filter's TensorView::num_channels
  int16_t in_h, in_w, in_depth, depth_multiplier, out_depth;
  int16_t stride_h, stride_w, dilation_h, dilation_w, filter_h, filter_w, pad_h, pad_w, out_h,
      out_w;
  int16_t input_offset, output_offset, act_min, act_max;
};
static_assert(sizeof(BandCall) <= kBandCallBytes, "kBandCallBytes holds a BandCall");

template <typename T>
T* BandCallPointer(uint64_t address) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(address));
}

// The op's first band of an Invoke: marks the call as not kept, until the kernel's int8 path
// stores it (StoreBandCall); float, int16 and reference paths never do.
inline void ClearBandCall(const Band& band) {
  if (band.call == nullptr || !band.fill_constants) return;
  const int16_t invalid = 0;
  std::memcpy(static_cast<uint8_t*>(band.call) + offsetof(BandCall, valid), &invalid,
              sizeof(invalid));
}

// Narrows `value` into *field; false when it does not fit.
inline bool BandCallField(int32_t value, int16_t* field) {
  *field = static_cast<int16_t>(value);
  return *field == value;
}

// On the op's first band (after its int8 path ran): keeps the call for its later bands when
// the band carries the data addresses (Band::input, Band::output) and every value fits.
// `batches` must be 1 (the planner streams batch-1 ops only); the geometry is the full
// tensors', before ApplyBand.
// (Out of line: CONV_2D and DEPTHWISE_CONV_2D share one copy.)
__attribute__((noinline)) inline void StoreBandCall(const Band& band, const TensorView& input,
                                                    const TensorView& filter,
                                                    const TensorView& output, const int32_t* bias,
                                                    int32_t batches, int32_t in_h, int32_t in_w,
                                                    int32_t in_depth, int32_t depth_multiplier,
                                                    int32_t out_depth, const WindowGeometry& g,
                                                    int32_t act_min, int32_t act_max) {
  if (band.call == nullptr || !band.fill_constants || band.input == nullptr ||
      band.output == nullptr || batches != 1) {
    return;
  }
  BandCall call{};
  call.filter = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(filter.data));
  call.bias = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(bias));
  call.filter_scales = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(filter.scales));
  call.input_scale = input.scale;
  call.output_scale = output.scale;
  call.filter_scale = filter.scale;
  const bool fits =
      BandCallField(filter.num_channels, &call.filter_channels) &&
      BandCallField(in_h, &call.in_h) && BandCallField(in_w, &call.in_w) &&
      BandCallField(in_depth, &call.in_depth) &&
      BandCallField(depth_multiplier, &call.depth_multiplier) &&
      BandCallField(out_depth, &call.out_depth) && BandCallField(g.stride_h, &call.stride_h) &&
      BandCallField(g.stride_w, &call.stride_w) && BandCallField(g.dilation_h, &call.dilation_h) &&
      BandCallField(g.dilation_w, &call.dilation_w) && BandCallField(g.filter_h, &call.filter_h) &&
      BandCallField(g.filter_w, &call.filter_w) && BandCallField(g.pad_h, &call.pad_h) &&
      BandCallField(g.pad_w, &call.pad_w) && BandCallField(g.out_h, &call.out_h) &&
      BandCallField(g.out_w, &call.out_w) && BandCallField(-input.zero_point, &call.input_offset) &&
      BandCallField(output.zero_point, &call.output_offset) &&
      BandCallField(act_min, &call.act_min) && BandCallField(act_max, &call.act_max);
  if (!fits) return;
  call.valid = 1;
  std::memcpy(band.call, &call, sizeof(call));
}

// A later band of the op: true with *call when its first band kept the call.
inline bool LoadBandCall(const Band& band, BandCall* call) {
  if (band.call == nullptr || band.fill_constants) return false;
  std::memcpy(call, band.call, sizeof(*call));
  return call->valid == 1;
}

// The views a kept call gives the optimized kernels: the data, the int8 type and what they
// read of the quantization (scales; the offsets are in the call). Every field given: GCC
// zeroes a default-built view with a call to memset (about 50 instructions per view and band
// on the Cortex-M4).
inline TensorView BandCallView(void* data, float scale, const float* scales, int32_t num_channels) {
  return TensorView{data,    DataType::kInt8, 0, nullptr, scale, 0, scales,
                    nullptr, num_channels,    0, false,   false, -1};
}

inline TensorView BandCallFilterView(const BandCall& call) {
  return BandCallView(BandCallPointer<void>(call.filter), call.filter_scale,
                      BandCallPointer<const float>(call.filter_scales), call.filter_channels);
}

// The full tensors' geometry of a kept call (before ApplyBand).
__attribute__((noinline)) inline WindowGeometry BandCallGeometry(const BandCall& call) {
  WindowGeometry g;
  g.stride_h = call.stride_h;
  g.stride_w = call.stride_w;
  g.dilation_h = call.dilation_h;
  g.dilation_w = call.dilation_w;
  g.filter_h = call.filter_h;
  g.filter_w = call.filter_w;
  g.pad_h = call.pad_h;
  g.pad_w = call.pad_w;
  g.out_h = call.out_h;
  g.out_w = call.out_w;
  return g;
}

}  // namespace md

#endif  // MD_KERNELS_BAND_CONSTANTS_H_
