// Patch-based execution (docs/patch_execution.md): a windowed kernel (CONV_2D,
// DEPTHWISE_CONV_2D) asked for a band of output rows computes only those rows.
// The interpreter then hands it input 0 and output 0 as virtual full-size
// tensors (only the rows the band reads or writes are backed by memory), so
// the kernels keep indexing by absolute row; the band is applied by narrowing
// the geometry before the unchanged loops run.
#ifndef MD_KERNELS_BAND_H_
#define MD_KERNELS_BAND_H_

#include <cstdint>

#include "md/kernel.h"
#include "md/tensor.h"
#include "md/types.h"

namespace md {

// `Shape` has in_h, in_w, in_depth, out_depth and a WindowGeometry g (resolved
// for the full tensors). Batch 1 (the planner only tiles batch-1 ops).
template <typename Shape>
void ApplyBand(const Band& band, Shape* s, TensorView* input, TensorView* output) {
  if (!band.active()) return;
  const int32_t rows = band.row_end - band.row_begin;
  const int32_t out_row =
      s->g.out_w * s->out_depth * static_cast<int32_t>(DataTypeSize(output->type));
  output->data = static_cast<uint8_t*>(output->data) + band.row_begin * out_row;
  if (s->g.filter_h == 1 && s->g.stride_h == 1 && s->g.pad_h == 0) {
    // Output row r reads input row r only: present the band's input rows as
    // the whole input (keeps the 1x1 fast paths).
    const int32_t in_row = s->in_w * s->in_depth * static_cast<int32_t>(DataTypeSize(input->type));
    input->data = static_cast<uint8_t*>(input->data) + band.row_begin * in_row;
    s->in_h = rows;
  } else {
    // Output row r reads rows from r * stride - pad: shifting the padding by
    // the band's first row keeps every input row index absolute.
    s->g.pad_h -= band.row_begin * s->g.stride_h;
  }
  s->g.out_h = rows;
}

}  // namespace md

#endif  // MD_KERNELS_BAND_H_
