// A tensor as a kernel sees it during prepare/invoke: a short-lived view
// built by the interpreter from the model (shape and quantization point into
// the flatbuffer in flash) and the arena plan (data points into the arena, or
// into the model's buffer for constant tensors). Views are built on the stack
// per op call, so no per-tensor struct is kept in the arena.
#ifndef MD_TENSOR_H_
#define MD_TENSOR_H_

#include <cstddef>
#include <cstdint>

#include "md/types.h"

namespace md {

struct TensorView {
  void* data = nullptr;  // nullptr only for optional inputs that are absent
  DataType type = DataType::kFloat32;
  int32_t rank = 0;
  const int32_t* dims = nullptr;  // rank entries, in the flatbuffer
  // Quantization. `scale`/`zero_point` are the first (or only) entries; for
  // per-channel tensors `scales`/`zero_points` have `num_channels` entries
  // along `quantized_dimension`. Scalars are unquantized when scale == 0.
  float scale = 0.0f;
  int32_t zero_point = 0;
  const float* scales = nullptr;
  const int64_t* zero_points = nullptr;
  int32_t num_channels = 0;
  int32_t quantized_dimension = 0;
  bool is_constant = false;  // data lives in the model (flash)
  bool is_variable = false;  // state kept between invokes (SVDF, LSTM)
  int32_t index = -1;        // tensor index in the subgraph

  int32_t Dim(int i) const { return dims[i]; }
  // Number of elements (product of dims; 1 for a scalar).
  int32_t FlatSize() const {
    int32_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
  template <typename T>
  T* Data() const {
    return static_cast<T*>(data);
  }
  // Per-channel scale c; falls back to the per-tensor scale.
  float ChannelScale(int c) const { return scales ? scales[c] : scale; }
};

}  // namespace md

#endif  // MD_TENSOR_H_
