// A bounds-checked, read-in-place view of a .tflite flatbuffer (schema.fbs,
// version 3). Init() validates the whole model once: every offset, vtable,
// vector length and index the runtime will later follow, the size of every
// constant tensor's data, and per-channel quantization arrays. After a
// successful Init() the accessors read the buffer without further checks, so
// they are cheap enough to be called per op on every Invoke().
//
// Only subgraph 0 is used. Buffers with external data (the offset/size fields
// of >2 GB models) and sparse tensors are rejected.
//
// Alignment: the model buffer must start at a 16-byte aligned address.
// Flatbuffer vectors of int32/float/int64 are aligned relative to the buffer
// start, so views hand out typed pointers (dims, scales, zero points, tensor
// data) only when the base is aligned; Init() rejects an unaligned buffer.
// Tools copy a model file into an aligned buffer; firmware places the model
// array with alignas(16).
#ifndef MD_MODEL_VIEW_H_
#define MD_MODEL_VIEW_H_

#include <cstddef>
#include <cstdint>

#include "md/status.h"
#include "md/table_view.h"
#include "md/tensor.h"
#include "md/types.h"

namespace md {

// One tensor of subgraph 0, as stored in the model.
struct TensorInfo {
  const int32_t* dims = nullptr;  // `rank` entries (nullptr when the shape is absent)
  int32_t rank = 0;
  DataType type = DataType::kFloat32;
  uint32_t buffer = 0;
  const uint8_t* data = nullptr;  // constant data in the model, nullptr if none
  uint32_t data_size = 0;
  const float* scales = nullptr;  // quantization, nullptr if absent
  const int64_t* zero_points = nullptr;
  int32_t num_scales = 0;
  int32_t quantized_dimension = 0;
  bool is_variable = false;
};

// One operator of subgraph 0. Input entries are tensor indices or -1 for an
// absent optional input.
struct OpInfo {
  uint32_t opcode_index = 0;
  int32_t builtin_code = 0;
  const int32_t* inputs = nullptr;
  int32_t num_inputs = 0;
  const int32_t* outputs = nullptr;
  int32_t num_outputs = 0;
  const int32_t* intermediates = nullptr;
  int32_t num_intermediates = 0;
  uint32_t options_table = 0;  // offset of builtin_options, 0 if none
};

class ModelView {
 public:
  static constexpr size_t kRequiredAlignment = 16;
  static constexpr uint32_t kSchemaVersion = 3;

  // Validates `buf`. On failure writes a one-line message naming the table,
  // field and offset at fault into `error` (may be nullptr) and returns
  // kMalformedModel (or kUnsupportedType for valid but unsupported content).
  Status Init(const uint8_t* buf, size_t size, char* error, size_t error_size);

  bool valid() const { return buf_ != nullptr; }
  const uint8_t* buffer() const { return buf_; }
  size_t size() const { return size_; }
  uint32_t version() const { return version_; }

  int NumOperatorCodes() const { return static_cast<int>(opcodes_.count); }
  // Effective builtin code: max(builtin_code, deprecated_builtin_code).
  int32_t OperatorCode(int i) const;
  int NumBuffers() const { return static_cast<int>(buffers_.count); }
  int NumTensors() const { return static_cast<int>(tensors_.count); }
  // `with_data` false: leaves data/data_size unset (nullptr, 0) without reading the tensor's
  // buffer, for a caller that knows the tensor is not constant (the interpreter's planned ones).
  TensorInfo Tensor(int i, bool with_data = true) const;
  // Tensor i as the view a kernel gets, read straight into it (no TensorInfo in between: the
  // interpreter builds one per OpContext accessor call). `planned`: the tensor's memory when it
  // is planned (then it is not constant and its buffer is not read), else nullptr.
  TensorView View(int i, void* planned) const;
  int NumOperators() const { return static_cast<int>(operators_.count); }
  OpInfo Operator(int i) const;
  // Operator(i) into *op without resolving its builtin code (left 0): for a caller that knows
  // the code from opcode_index already (the interpreter caches one per operator code). Reads
  // the operator's vtable once; the interpreter calls it for every op of every Invoke().
  void ReadOperator(int i, OpInfo* op) const;
  TableView Options(const OpInfo& op) const;
  int NumInputs() const { return static_cast<int>(num_inputs_); }
  int32_t InputTensor(int i) const { return inputs_[i]; }
  int NumOutputs() const { return static_cast<int>(num_outputs_); }
  int32_t OutputTensor(int i) const { return outputs_[i]; }

  // Bytes of tensor data: element count x type size. Valid after Init().
  static uint32_t TensorBytes(const TensorInfo& t);

 private:
  struct Vec {
    uint32_t first = 0;  // offset of element 0
    uint32_t count = 0;
  };
  uint32_t TableAt(const Vec& v, uint32_t i) const;
  TensorInfo ReadTensor(int i, bool with_data) const;

  const uint8_t* buf_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  Vec opcodes_;
  Vec buffers_;
  Vec tensors_;
  Vec operators_;
  const int32_t* inputs_ = nullptr;
  uint32_t num_inputs_ = 0;
  const int32_t* outputs_ = nullptr;
  uint32_t num_outputs_ = 0;
};

}  // namespace md

#endif  // MD_MODEL_VIEW_H_
