// Validation and in-place accessors for the .tflite flatbuffer. See
// model_view.h. Field slots follow schema.fbs declaration order (a union
// takes two slots: its type byte, then its value).
#include "md/model_view.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace md {

namespace {

// schema.fbs field slots.
namespace slot {
constexpr int kModelVersion = 0, kModelOperatorCodes = 1, kModelSubgraphs = 2, kModelBuffers = 4;
constexpr int kCodeDeprecated = 0, kCodeBuiltin = 3;
constexpr int kSubgraphTensors = 0, kSubgraphInputs = 1, kSubgraphOutputs = 2,
              kSubgraphOperators = 3;
constexpr int kTensorShape = 0, kTensorType = 1, kTensorBuffer = 2, kTensorQuantization = 4,
              kTensorIsVariable = 5, kTensorSparsity = 6;
constexpr int kQuantScale = 2, kQuantZeroPoint = 3, kQuantDetailsType = 4,
              kQuantQuantizedDimension = 6;
constexpr int kOpOpcodeIndex = 0, kOpInputs = 1, kOpOutputs = 2, kOpBuiltinOptions = 4,
              kOpIntermediates = 8;
constexpr int kBufferData = 0, kBufferOffset = 1, kBufferSize = 2;
}  // namespace slot

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Largest tensor we accept (bytes); keeps all later size arithmetic in range.
constexpr uint64_t kMaxTensorBytes = 0x7fffffffu;

bool IsKnownType(int8_t t) {
  switch (static_cast<DataType>(t)) {
    case DataType::kFloat32:
    case DataType::kFloat16:
    case DataType::kInt32:
    case DataType::kUInt8:
    case DataType::kInt64:
    case DataType::kBool:
    case DataType::kInt16:
    case DataType::kInt8:
      return true;
    case DataType::kString:
      return false;
  }
  return false;
}

// schema.fbs TensorType names, for messages about types we do not run.
const char* TypeName(int8_t t) {
  static const char* const kNames[] = {"FLOAT32", "FLOAT16",    "INT32",  "UINT8",     "INT64",
                                       "STRING",  "BOOL",       "INT16",  "COMPLEX64", "INT8",
                                       "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE",  "VARIANT",
                                       "UINT32",  "UINT16",     "INT4"};
  return (t >= 0 && t < static_cast<int8_t>(sizeof(kNames) / sizeof(kNames[0]))) ? kNames[t]
                                                                                 : "UNKNOWN";
}

struct Table {
  uint32_t pos = 0;
  uint32_t vtable = 0;
  uint16_t vtable_size = 0;
  uint16_t table_size = 0;
};

struct VecRef {
  uint32_t first = 0;  // offset of element 0 (0 when absent)
  uint32_t count = 0;
};

// Walks the flatbuffer with full bounds checks, writing the first problem
// found as "malformed model: <where> at offset N: <problem>".
class Checker {
 public:
  Checker(const uint8_t* buf, size_t size, char* error, size_t error_size)
      : buf_(buf), size_(size), error_(error), error_size_(error_size) {}

  // `where` names the object ("tensors[3].quantization"); returns false.
  bool Fail(const char* where, uint64_t offset, const char* fmt, ...)
#if defined(__GNUC__)
      __attribute__((format(printf, 4, 5)))
#endif
  {
    if (error_ != nullptr && error_size_ > 0) {
      int n = std::snprintf(error_, error_size_, "%s: %s at offset %lu: ", prefix_, where,
                            static_cast<unsigned long>(offset));
      if (n < 0) n = 0;
      if (static_cast<size_t>(n) < error_size_) {
        va_list args;
        va_start(args, fmt);
        std::vsnprintf(error_ + n, error_size_ - static_cast<size_t>(n), fmt, args);
        va_end(args);
      }
    }
    return false;
  }

  // For content that is well formed but beyond this runtime (the next Fail
  // says "unsupported model: ..." instead of "malformed model: ...").
  Checker& Unsupported() {
    prefix_ = "unsupported model";
    return *this;
  }

  bool ReadTable(uint64_t pos, const char* where, Table* t) {
    if (pos + 4 > size_)
      return Fail(where, pos, "table starts past the end of the buffer (%lu bytes)",
                  static_cast<unsigned long>(size_));
    const int64_t vtable = static_cast<int64_t>(pos) - Load<int32_t>(buf_ + pos);
    if (vtable < 0 || static_cast<uint64_t>(vtable) + 4 > size_) {
      return Fail(where, pos, "vtable offset %ld is outside the buffer", static_cast<long>(vtable));
    }
    const uint16_t vtable_size = Load<uint16_t>(buf_ + vtable);
    const uint16_t table_size = Load<uint16_t>(buf_ + vtable + 2);
    if (vtable_size < 4 || (vtable_size & 1) != 0 ||
        static_cast<uint64_t>(vtable) + vtable_size > size_) {
      return Fail(where, pos, "vtable at %ld has bad size %lu", static_cast<long>(vtable),
                  static_cast<unsigned long>(vtable_size));
    }
    if (table_size < 4 || pos + table_size > size_) {
      return Fail(where, pos, "table size %lu runs past the end of the buffer",
                  static_cast<unsigned long>(table_size));
    }
    t->pos = static_cast<uint32_t>(pos);
    t->vtable = static_cast<uint32_t>(vtable);
    t->vtable_size = vtable_size;
    t->table_size = table_size;
    return true;
  }

  // Position of a field's inline value, 0 when absent.
  bool Field(const Table& t, int field_slot, uint32_t field_size, const char* where,
             uint32_t* pos) {
    *pos = 0;
    const uint32_t entry = 4u + 2u * static_cast<uint32_t>(field_slot);
    if (entry + 2 > t.vtable_size) return true;
    const uint16_t off = Load<uint16_t>(buf_ + t.vtable + entry);
    if (off == 0) return true;
    if (static_cast<uint32_t>(off) + field_size > t.table_size) {
      return Fail(where, t.pos, "field (slot %ld) at +%lu overflows the table's %lu bytes",
                  static_cast<long>(field_slot), static_cast<unsigned long>(off),
                  static_cast<unsigned long>(t.table_size));
    }
    *pos = t.pos + off;
    return true;
  }

  // Follows an offset field (to a table, vector or string); 0 when absent.
  bool Offset(const Table& t, int field_slot, const char* where, uint64_t* target) {
    uint32_t pos = 0;
    *target = 0;
    if (!Field(t, field_slot, 4, where, &pos)) return false;
    if (pos == 0) return true;
    const uint64_t to = static_cast<uint64_t>(pos) + Load<uint32_t>(buf_ + pos);
    if (to + 4 > size_) return Fail(where, pos, "offset points past the end of the buffer");
    *target = to;
    return true;
  }

  // A vector field of fixed-size elements, checked for length and alignment.
  bool Vector(const Table& t, int field_slot, uint32_t elem_size, const char* where, VecRef* v) {
    uint64_t vec = 0;
    *v = VecRef();
    if (!Offset(t, field_slot, where, &vec)) return false;
    if (vec == 0) return true;
    const uint32_t n = Load<uint32_t>(buf_ + vec);
    if ((size_ - vec - 4) / elem_size < n) {
      return Fail(where, vec, "vector of %lu x %lu bytes runs past the end of the buffer (%lu)",
                  static_cast<unsigned long>(n), static_cast<unsigned long>(elem_size),
                  static_cast<unsigned long>(size_));
    }
    const uint64_t first = vec + 4;
    const uint32_t align = elem_size > 8 ? 8 : elem_size;
    if (((reinterpret_cast<uintptr_t>(buf_) + first) % align) != 0) {
      return Fail(where, vec, "vector data is not %lu-byte aligned",
                  static_cast<unsigned long>(align));
    }
    v->first = static_cast<uint32_t>(first);
    v->count = n;
    return true;
  }

  // Element i of a vector of tables, validated.
  bool TableElement(const VecRef& v, uint32_t i, const char* where, Table* t) {
    const uint32_t pos = v.first + 4 * i;
    const uint64_t to = static_cast<uint64_t>(pos) + Load<uint32_t>(buf_ + pos);
    return ReadTable(to, where, t);
  }

  const uint8_t* buf() const { return buf_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* buf_;
  size_t size_;
  char* error_;
  size_t error_size_;
  const char* prefix_ = "malformed model";
};

// "tensors[12].shape" into a caller buffer, for messages.
const char* Name(char* out, size_t n, const char* list, uint32_t index, const char* field) {
  std::snprintf(out, n, "%s[%lu]%s%s", list, static_cast<unsigned long>(index), field[0] ? "." : "",
                field);
  return out;
}

bool IndexVector(Checker& c, const VecRef& v, int32_t min, uint32_t limit, const char* where) {
  for (uint32_t i = 0; i < v.count; ++i) {
    const int32_t x = Load<int32_t>(c.buf() + v.first + 4 * i);
    if (x < min || (x >= 0 && static_cast<uint32_t>(x) >= limit)) {
      return c.Fail(where, v.first + 4 * i, "entry %lu is tensor index %ld, model has %lu tensors",
                    static_cast<unsigned long>(i), static_cast<long>(x),
                    static_cast<unsigned long>(limit));
    }
  }
  return true;
}

}  // namespace

MD_INIT_CODE Status ModelView::Init(const uint8_t* buf, size_t size, char* error,
                                    size_t error_size) {
  *this = ModelView();
  Checker c(buf, size, error, error_size);
  char where[64];
  if (buf == nullptr) {
    c.Fail("model", 0, "no model buffer");
    return Status::kMalformedModel;
  }
  if (reinterpret_cast<uintptr_t>(buf) % kRequiredAlignment != 0) {
    c.Fail("model", 0, "model buffer address is not %lu-byte aligned (place it with alignas(%lu))",
           static_cast<unsigned long>(kRequiredAlignment),
           static_cast<unsigned long>(kRequiredAlignment));
    return Status::kMalformedModel;
  }
  if (size < 8 || size > 0x7fffffffu) {
    c.Fail("model", 0, "buffer size %lu is not a flatbuffer model",
           static_cast<unsigned long>(size));
    return Status::kMalformedModel;
  }
  Table model;
  if (!c.ReadTable(Load<uint32_t>(buf), "Model", &model)) return Status::kMalformedModel;
  uint32_t pos = 0;
  if (!c.Field(model, slot::kModelVersion, 4, "Model.version", &pos)) {
    return Status::kMalformedModel;
  }
  const uint32_t version = pos ? Load<uint32_t>(buf + pos) : 0;
  if (version != kSchemaVersion) {
    c.Fail("Model.version", pos, "schema version %lu, expected %lu",
           static_cast<unsigned long>(version), static_cast<unsigned long>(kSchemaVersion));
    return Status::kMalformedModel;
  }

  // Operator codes.
  VecRef opcodes;
  if (!c.Vector(model, slot::kModelOperatorCodes, 4, "Model.operator_codes", &opcodes)) {
    return Status::kMalformedModel;
  }
  for (uint32_t i = 0; i < opcodes.count; ++i) {
    Table code;
    Name(where, sizeof(where), "operator_codes", i, "");
    if (!c.TableElement(opcodes, i, where, &code)) return Status::kMalformedModel;
    uint32_t dep = 0, builtin = 0;
    if (!c.Field(code, slot::kCodeDeprecated, 1, where, &dep) ||
        !c.Field(code, slot::kCodeBuiltin, 4, where, &builtin)) {
      return Status::kMalformedModel;
    }
    if ((dep && Load<int8_t>(buf + dep) < 0) || (builtin && Load<int32_t>(buf + builtin) < 0)) {
      c.Fail(where, code.pos, "negative builtin code");
      return Status::kMalformedModel;
    }
  }

  // Buffers.
  VecRef buffers;
  if (!c.Vector(model, slot::kModelBuffers, 4, "Model.buffers", &buffers)) {
    return Status::kMalformedModel;
  }
  for (uint32_t i = 0; i < buffers.count; ++i) {
    Table b;
    Name(where, sizeof(where), "buffers", i, "");
    if (!c.TableElement(buffers, i, where, &b)) return Status::kMalformedModel;
    VecRef data;
    uint32_t off = 0, sz = 0;
    if (!c.Vector(b, slot::kBufferData, 1, where, &data) ||
        !c.Field(b, slot::kBufferOffset, 8, where, &off) ||
        !c.Field(b, slot::kBufferSize, 8, where, &sz)) {
      return Status::kMalformedModel;
    }
    if (off && Load<uint64_t>(buf + off) > 1) {
      c.Fail(where, b.pos,
             "data stored outside the flatbuffer (offset/size fields of >2 GB models) is not "
             "supported; re-export the model without external buffers");
      return Status::kMalformedModel;
    }
  }

  // Subgraph 0.
  VecRef subgraphs;
  if (!c.Vector(model, slot::kModelSubgraphs, 4, "Model.subgraphs", &subgraphs)) {
    return Status::kMalformedModel;
  }
  if (subgraphs.count == 0) {
    c.Fail("Model.subgraphs", model.pos, "model has no subgraph");
    return Status::kMalformedModel;
  }
  Table sg;
  if (!c.TableElement(subgraphs, 0, "subgraphs[0]", &sg)) return Status::kMalformedModel;
  VecRef tensors, operators, inputs, outputs;
  if (!c.Vector(sg, slot::kSubgraphTensors, 4, "subgraphs[0].tensors", &tensors) ||
      !c.Vector(sg, slot::kSubgraphOperators, 4, "subgraphs[0].operators", &operators) ||
      !c.Vector(sg, slot::kSubgraphInputs, 4, "subgraphs[0].inputs", &inputs) ||
      !c.Vector(sg, slot::kSubgraphOutputs, 4, "subgraphs[0].outputs", &outputs)) {
    return Status::kMalformedModel;
  }
  if (!IndexVector(c, inputs, 0, tensors.count, "subgraphs[0].inputs") ||
      !IndexVector(c, outputs, 0, tensors.count, "subgraphs[0].outputs")) {
    return Status::kMalformedModel;
  }

  // Tensors.
  for (uint32_t i = 0; i < tensors.count; ++i) {
    Table t;
    Name(where, sizeof(where), "tensors", i, "");
    if (!c.TableElement(tensors, i, where, &t)) return Status::kMalformedModel;
    VecRef shape;
    uint32_t type_pos = 0, buffer_pos = 0, sparsity_pos = 0, variable_pos = 0;
    if (!c.Vector(t, slot::kTensorShape, 4, Name(where, sizeof(where), "tensors", i, "shape"),
                  &shape) ||
        !c.Field(t, slot::kTensorType, 1, where, &type_pos) ||
        !c.Field(t, slot::kTensorBuffer, 4, where, &buffer_pos) ||
        !c.Field(t, slot::kTensorSparsity, 4, where, &sparsity_pos) ||
        !c.Field(t, slot::kTensorIsVariable, 1, where, &variable_pos)) {
      return Status::kMalformedModel;
    }
    const int8_t type = type_pos ? Load<int8_t>(buf + type_pos) : 0;
    Name(where, sizeof(where), "tensors", i, "type");
    if (!IsKnownType(type)) {
      c.Unsupported().Fail(where, type_pos, "tensor type %s (%ld) is not supported", TypeName(type),
                           static_cast<long>(type));
      return Status::kUnsupportedType;
    }
    if (sparsity_pos != 0) {
      c.Unsupported().Fail(Name(where, sizeof(where), "tensors", i, "sparsity"), sparsity_pos,
                           "sparse tensors are not supported");
      return Status::kUnsupportedType;
    }
    uint64_t elements = 1;
    for (uint32_t d = 0; d < shape.count; ++d) {
      const int32_t dim = Load<int32_t>(buf + shape.first + 4 * d);
      if (dim < 0) {
        c.Fail(Name(where, sizeof(where), "tensors", i, "shape"), shape.first + 4 * d,
               "dimension %lu is negative (%ld)", static_cast<unsigned long>(d),
               static_cast<long>(dim));
        return Status::kMalformedModel;
      }
      elements *= static_cast<uint64_t>(dim);
      if (elements > kMaxTensorBytes) {
        c.Fail(Name(where, sizeof(where), "tensors", i, "shape"), shape.first,
               "tensor has more than %lu elements", static_cast<unsigned long>(kMaxTensorBytes));
        return Status::kMalformedModel;
      }
    }
    const uint64_t bytes =
        elements * static_cast<uint64_t>(DataTypeSize(static_cast<DataType>(type)));
    if (bytes > kMaxTensorBytes) {
      c.Fail(Name(where, sizeof(where), "tensors", i, "shape"), shape.first,
             "tensor is larger than 2 GB");
      return Status::kMalformedModel;
    }
    const uint32_t buffer = buffer_pos ? Load<uint32_t>(buf + buffer_pos) : 0;
    if (buffer >= buffers.count && !(buffer == 0 && buffers.count == 0)) {
      c.Fail(Name(where, sizeof(where), "tensors", i, "buffer"), buffer_pos,
             "buffer index %lu out of range (model has %lu buffers)",
             static_cast<unsigned long>(buffer), static_cast<unsigned long>(buffers.count));
      return Status::kMalformedModel;
    }
    if (buffers.count > 0) {
      Table b;
      VecRef data;
      Name(where, sizeof(where), "buffers", buffer, "");
      if (!c.TableElement(buffers, buffer, where, &b) ||
          !c.Vector(b, slot::kBufferData, 1, where, &data)) {
        return Status::kMalformedModel;
      }
      if (data.count != 0) {
        if (data.count != bytes) {
          c.Fail(Name(where, sizeof(where), "tensors", i, "buffer"), data.first,
                 "constant data is %lu bytes, shape x type size needs %lu",
                 static_cast<unsigned long>(data.count), static_cast<unsigned long>(bytes));
          return Status::kMalformedModel;
        }
        const uint32_t align =
            DataTypeSize(static_cast<DataType>(type)) > 8
                ? 8
                : static_cast<uint32_t>(DataTypeSize(static_cast<DataType>(type)));
        if (align > 1 && data.first % align != 0) {
          c.Fail(Name(where, sizeof(where), "tensors", i, "buffer"), data.first,
                 "constant data is not %lu-byte aligned", static_cast<unsigned long>(align));
          return Status::kMalformedModel;
        }
      }
    }
    uint64_t quant = 0;
    Name(where, sizeof(where), "tensors", i, "quantization");
    if (!c.Offset(t, slot::kTensorQuantization, where, &quant)) return Status::kMalformedModel;
    if (quant != 0) {
      Table q;
      VecRef scales, zero_points;
      uint32_t details = 0, qdim_pos = 0;
      if (!c.ReadTable(quant, where, &q) || !c.Vector(q, slot::kQuantScale, 4, where, &scales) ||
          !c.Vector(q, slot::kQuantZeroPoint, 8, where, &zero_points) ||
          !c.Field(q, slot::kQuantDetailsType, 1, where, &details) ||
          !c.Field(q, slot::kQuantQuantizedDimension, 4, where, &qdim_pos)) {
        return Status::kMalformedModel;
      }
      if (details != 0 && Load<uint8_t>(buf + details) != 0) {
        c.Unsupported().Fail(where, details, "custom quantization details are not supported");
        return Status::kUnsupportedType;
      }
      // Per-channel tensors need one zero point per scale (kernels index
      // both); a single scale may leave the zero point out (then 0).
      if ((zero_points.count != 0 || scales.count > 1) && zero_points.count != scales.count) {
        c.Fail(where, q.pos, "%lu scales but %lu zero points",
               static_cast<unsigned long>(scales.count),
               static_cast<unsigned long>(zero_points.count));
        return Status::kMalformedModel;
      }
      // Kernels compute with scales and zero points as given: a NaN, infinite
      // or negative scale, or a zero point outside the tensor type's range,
      // would only overflow their integer arithmetic.
      for (uint32_t k = 0; k < scales.count; ++k) {
        const float s = Load<float>(buf + scales.first + 4 * k);
        if (!(s >= 0.0f && s <= 3.4028235e38f)) {
          // No %g: newlib-nano formats floats only when _printf_float is linked.
          c.Fail(where, scales.first + 4 * k, "scale %lu is negative, NaN or infinite",
                 static_cast<unsigned long>(k));
          return Status::kMalformedModel;
        }
      }
      int64_t zp_min = INT32_MIN, zp_max = INT32_MAX;
      if (type == static_cast<int8_t>(DataType::kInt8)) zp_min = -128, zp_max = 127;
      if (type == static_cast<int8_t>(DataType::kUInt8)) zp_min = 0, zp_max = 255;
      if (type == static_cast<int8_t>(DataType::kInt16)) zp_min = -32768, zp_max = 32767;
      for (uint32_t k = 0; k < zero_points.count; ++k) {
        const int64_t z = Load<int64_t>(buf + zero_points.first + 8 * k);
        if (z < zp_min || z > zp_max) {
          // No %lld: newlib-nano has no long long formatting; the bounds fit
          // 32 bits and a wider zero point is shown clamped to them.
          const int64_t shown = z < INT32_MIN ? INT32_MIN : (z > INT32_MAX ? INT32_MAX : z);
          c.Fail(where, zero_points.first + 8 * k,
                 "zero point %lu is %ld, outside [%ld, %ld] for type %s",
                 static_cast<unsigned long>(k), static_cast<long>(shown), static_cast<long>(zp_min),
                 static_cast<long>(zp_max), TypeName(type));
          return Status::kMalformedModel;
        }
      }
      const int32_t qdim = qdim_pos ? Load<int32_t>(buf + qdim_pos) : 0;
      // Converters leave a filter's quantized_dimension (3) on rank-1 bias
      // tensors; TFLM accepts that, so a rank-1 tensor is read as dimension 0.
      const bool rank1_channels =
          shape.count == 1 && Load<uint32_t>(buf + shape.first) == scales.count;
      if (scales.count > 1 && !rank1_channels) {
        if (qdim < 0 || static_cast<uint32_t>(qdim) >= shape.count) {
          c.Fail(where, qdim_pos, "quantized_dimension %ld outside rank %lu",
                 static_cast<long>(qdim), static_cast<unsigned long>(shape.count));
          return Status::kMalformedModel;
        }
        const int32_t channels = Load<int32_t>(buf + shape.first + 4 * qdim);
        if (static_cast<uint32_t>(channels) != scales.count) {
          c.Fail(where, scales.first, "%lu per-channel scales for %ld channels (dimension %ld)",
                 static_cast<unsigned long>(scales.count), static_cast<long>(channels),
                 static_cast<long>(qdim));
          return Status::kMalformedModel;
        }
      }
    }
  }

  // Operators.
  for (uint32_t i = 0; i < operators.count; ++i) {
    Table op;
    Name(where, sizeof(where), "operators", i, "");
    if (!c.TableElement(operators, i, where, &op)) return Status::kMalformedModel;
    uint32_t opcode_pos = 0;
    VecRef ins, outs, inter;
    uint64_t options = 0;
    if (!c.Field(op, slot::kOpOpcodeIndex, 4, where, &opcode_pos) ||
        !c.Vector(op, slot::kOpInputs, 4, Name(where, sizeof(where), "operators", i, "inputs"),
                  &ins) ||
        !IndexVector(c, ins, -1, tensors.count, where) ||
        !c.Vector(op, slot::kOpOutputs, 4, Name(where, sizeof(where), "operators", i, "outputs"),
                  &outs) ||
        !IndexVector(c, outs, 0, tensors.count, where) ||
        !c.Vector(op, slot::kOpIntermediates, 4,
                  Name(where, sizeof(where), "operators", i, "intermediates"), &inter) ||
        !IndexVector(c, inter, 0, tensors.count, where) ||
        !c.Offset(op, slot::kOpBuiltinOptions, where, &options)) {
      return Status::kMalformedModel;
    }
    const uint32_t opcode = opcode_pos ? Load<uint32_t>(buf + opcode_pos) : 0;
    if (opcode >= opcodes.count) {
      c.Fail(Name(where, sizeof(where), "operators", i, "opcode_index"), opcode_pos,
             "opcode index %lu out of range (model has %lu operator codes)",
             static_cast<unsigned long>(opcode), static_cast<unsigned long>(opcodes.count));
      return Status::kMalformedModel;
    }
    if (options != 0) {
      Table t;
      if (!c.ReadTable(options, Name(where, sizeof(where), "operators", i, "builtin_options"),
                       &t)) {
        return Status::kMalformedModel;
      }
    }
  }

  buf_ = buf;
  size_ = size;
  version_ = version;
  opcodes_ = {opcodes.first, opcodes.count};
  buffers_ = {buffers.first, buffers.count};
  tensors_ = {tensors.first, tensors.count};
  operators_ = {operators.first, operators.count};
  inputs_ = reinterpret_cast<const int32_t*>(buf + inputs.first);
  num_inputs_ = inputs.count;
  outputs_ = reinterpret_cast<const int32_t*>(buf + outputs.first);
  num_outputs_ = outputs.count;
  // With the structure known to be sound: an op must not write into the
  // model (a constant tensor as an op output would be a write to flash).
  for (int i = 0; i < NumOperators(); ++i) {
    const OpInfo op = Operator(i);
    for (int k = 0; k < op.num_outputs + op.num_intermediates; ++k) {
      const int32_t t = k < op.num_outputs ? op.outputs[k] : op.intermediates[k - op.num_outputs];
      const TensorInfo info = Tensor(t);
      if (info.data != nullptr && !info.is_variable) {
        Name(where, sizeof(where), "operators", static_cast<uint32_t>(i),
             k < op.num_outputs ? "outputs" : "intermediates");
        c.Fail(where, static_cast<uint64_t>(info.data - buf), "tensor %ld has constant data",
               static_cast<long>(t));
        *this = ModelView();
        return Status::kMalformedModel;
      }
    }
  }
  if (error != nullptr && error_size > 0) error[0] = '\0';
  return Status::kOk;
}

// ---- Accessors: the structure was validated by Init(), so no checks here. ----

namespace {

// Position of a field's value in an already validated table, 0 if absent.
inline uint32_t FieldPos(const uint8_t* buf, uint32_t table, int field_slot) {
  const uint32_t vtable =
      static_cast<uint32_t>(static_cast<int64_t>(table) - Load<int32_t>(buf + table));
  const uint32_t entry = 4u + 2u * static_cast<uint32_t>(field_slot);
  if (entry + 2 > Load<uint16_t>(buf + vtable)) return 0;
  const uint16_t off = Load<uint16_t>(buf + vtable + entry);
  return off ? table + off : 0;
}

inline uint32_t Follow(const uint8_t* buf, uint32_t pos) { return pos + Load<uint32_t>(buf + pos); }

// Vector field -> (first element, count); count 0 if absent.
inline const uint8_t* VectorField(const uint8_t* buf, uint32_t table, int field_slot,
                                  uint32_t* count) {
  const uint32_t pos = FieldPos(buf, table, field_slot);
  if (pos == 0) {
    *count = 0;
    return nullptr;
  }
  const uint32_t vec = Follow(buf, pos);
  *count = Load<uint32_t>(buf + vec);
  return buf + vec + 4;
}

// A validated table with its vtable read once, for reading several of its fields.
class TableFields {
 public:
  TableFields(const uint8_t* buf, uint32_t table)
      : buf_(buf),
        table_(table),
        vtable_(static_cast<uint32_t>(static_cast<int64_t>(table) - Load<int32_t>(buf + table))),
        vtable_bytes_(Load<uint16_t>(buf + vtable_)) {}
  // Position of the field in `field_slot`, 0 when absent.
  uint32_t Pos(int field_slot) const {
    const uint32_t entry = 4u + 2u * static_cast<uint32_t>(field_slot);
    if (entry + 2 > vtable_bytes_) return 0;
    const uint16_t off = Load<uint16_t>(buf_ + vtable_ + entry);
    return off ? table_ + off : 0;
  }
  // Vector field -> first element (nullptr if absent) and *count (0 if absent).
  const uint8_t* Vector(int field_slot, uint32_t* count) const {
    const uint32_t pos = Pos(field_slot);
    if (pos == 0) {
      *count = 0;
      return nullptr;
    }
    const uint32_t vec = Follow(buf_, pos);
    *count = Load<uint32_t>(buf_ + vec);
    return buf_ + vec + 4;
  }

 private:
  const uint8_t* buf_;
  uint32_t table_;
  uint32_t vtable_;
  uint32_t vtable_bytes_;
};

}  // namespace

uint32_t ModelView::TableAt(const Vec& v, uint32_t i) const {
  return Follow(buf_, v.first + 4 * i);
}

int32_t ModelView::OperatorCode(int i) const {
  const uint32_t t = TableAt(opcodes_, static_cast<uint32_t>(i));
  const uint32_t dep = FieldPos(buf_, t, slot::kCodeDeprecated);
  const uint32_t builtin = FieldPos(buf_, t, slot::kCodeBuiltin);
  const int32_t a = dep ? Load<int8_t>(buf_ + dep) : 0;
  const int32_t b = builtin ? Load<int32_t>(buf_ + builtin) : 0;
  return a > b ? a : b;
}

// Inlined into Tensor() and View(), so View() keeps the fields in registers.
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline TensorInfo ModelView::ReadTensor(int i, bool with_data) const {
  // Every field read through one read of each table's vtable (FieldPos re-reads it per field),
  // and the result built in one initializer (assigning into a default-initialized TensorInfo
  // costs a memset): kernels get their tensors' views from here on every invoke.
  const TableFields t(buf_, TableAt(tensors_, static_cast<uint32_t>(i)));
  uint32_t rank = 0;
  const uint8_t* dims = t.Vector(slot::kTensorShape, &rank);  // nullptr only if shape is absent
  const uint32_t type_pos = t.Pos(slot::kTensorType);
  const DataType type = static_cast<DataType>(type_pos ? Load<int8_t>(buf_ + type_pos) : 0);
  const uint32_t buffer_pos = t.Pos(slot::kTensorBuffer);
  const uint32_t buffer = buffer_pos ? Load<uint32_t>(buf_ + buffer_pos) : 0;
  uint32_t data_size = 0;
  const uint8_t* data = nullptr;
  if (with_data && buffers_.count > 0) {
    data = VectorField(buf_, TableAt(buffers_, buffer), slot::kBufferData, &data_size);
    if (data_size == 0) data = nullptr;
  }
  const uint32_t variable = t.Pos(slot::kTensorIsVariable);
  const bool is_variable = variable ? Load<uint8_t>(buf_ + variable) != 0 : false;
  const float* scales = nullptr;
  const int64_t* zero_points = nullptr;
  uint32_t num_scales = 0;
  int32_t quantized_dimension = 0;
  const uint32_t quant = t.Pos(slot::kTensorQuantization);
  if (quant != 0) {
    const TableFields q(buf_, Follow(buf_, quant));
    uint32_t nz = 0;
    scales = reinterpret_cast<const float*>(q.Vector(slot::kQuantScale, &num_scales));
    if (num_scales == 0) scales = nullptr;
    zero_points = reinterpret_cast<const int64_t*>(q.Vector(slot::kQuantZeroPoint, &nz));
    if (nz == 0) zero_points = nullptr;
    const uint32_t qdim = q.Pos(slot::kQuantQuantizedDimension);
    quantized_dimension = qdim ? Load<int32_t>(buf_ + qdim) : 0;
    if (quantized_dimension >= static_cast<int32_t>(rank)) quantized_dimension = 0;  // see Init()
  }
  return TensorInfo{reinterpret_cast<const int32_t*>(dims),
                    static_cast<int32_t>(rank),
                    type,
                    buffer,
                    data,
                    data_size,
                    scales,
                    zero_points,
                    static_cast<int32_t>(num_scales),
                    quantized_dimension,
                    is_variable};
}

TensorInfo ModelView::Tensor(int i, bool with_data) const { return ReadTensor(i, with_data); }

TensorView ModelView::View(int i, void* planned) const {
  const TensorInfo t = ReadTensor(i, planned == nullptr);
  const bool quantized = t.num_scales > 0;
  const bool per_channel = t.num_scales > 1;
  const bool constant = t.data != nullptr && !t.is_variable;
  // Every field in one initializer: a default-constructed view that is then assigned to costs a
  // memset per view.
  return TensorView{constant ? const_cast<uint8_t*>(t.data) : planned,
                    t.type,
                    t.rank,
                    t.dims,
                    quantized ? t.scales[0] : 0.0f,
                    quantized && t.zero_points ? static_cast<int32_t>(t.zero_points[0]) : 0,
                    per_channel ? t.scales : nullptr,
                    per_channel ? t.zero_points : nullptr,
                    per_channel ? t.num_scales : 0,
                    per_channel ? t.quantized_dimension : 0,
                    constant,
                    t.is_variable,
                    i};
}

OpInfo ModelView::Operator(int i) const {
  OpInfo op;
  ReadOperator(i, &op);
  op.builtin_code = OperatorCode(static_cast<int>(op.opcode_index));
  return op;
}

void ModelView::ReadOperator(int i, OpInfo* op) const {
  const uint32_t t = TableAt(operators_, static_cast<uint32_t>(i));
  const uint32_t vtable = static_cast<uint32_t>(static_cast<int64_t>(t) - Load<int32_t>(buf_ + t));
  const uint32_t vtable_bytes = Load<uint16_t>(buf_ + vtable);
  // Position of the field in `slot`, 0 when absent (FieldPos with the vtable read once).
  auto field = [&](int slot) -> uint32_t {
    const uint32_t entry = 4u + 2u * static_cast<uint32_t>(slot);
    if (entry + 2 > vtable_bytes) return 0;
    const uint16_t off = Load<uint16_t>(buf_ + vtable + entry);
    return off ? t + off : 0;
  };
  auto vector = [&](int slot, int32_t* count) -> const int32_t* {
    const uint32_t pos = field(slot);
    if (pos == 0) {
      *count = 0;
      return nullptr;
    }
    const uint32_t vec = Follow(buf_, pos);
    *count = static_cast<int32_t>(Load<uint32_t>(buf_ + vec));
    return reinterpret_cast<const int32_t*>(buf_ + vec + 4);
  };
  const uint32_t opcode = field(slot::kOpOpcodeIndex);
  op->opcode_index = opcode ? Load<uint32_t>(buf_ + opcode) : 0;
  op->builtin_code = 0;
  op->inputs = vector(slot::kOpInputs, &op->num_inputs);
  op->outputs = vector(slot::kOpOutputs, &op->num_outputs);
  op->intermediates = vector(slot::kOpIntermediates, &op->num_intermediates);
  const uint32_t options = field(slot::kOpBuiltinOptions);
  op->options_table = options ? Follow(buf_, options) : 0;
}

TableView ModelView::Options(const OpInfo& op) const {
  if (op.options_table == 0) return TableView();
  return TableView(buf_, size_, op.options_table);
}

uint32_t ModelView::TensorBytes(const TensorInfo& t) {
  uint32_t n = static_cast<uint32_t>(DataTypeSize(t.type));
  for (int32_t d = 0; d < t.rank; ++d) n *= static_cast<uint32_t>(t.dims[d]);
  return n;
}

}  // namespace md
