// Enumerations mirroring the TFLite schema (schema.fbs). Values are the
// schema's own, so they can be compared with what the flatbuffer stores.
#ifndef MD_TYPES_H_
#define MD_TYPES_H_

#include <cstdint>

// Code that runs once, at Init/AllocateTensors (model checks, planning, kernels' prepare):
// GCC optimizes `cold` functions for size and keeps them out of the hot code's way; their
// speed does not matter, their flash does (about 1.5 KB less on the Cortex-M4).
#if defined(__GNUC__)
#define MD_INIT_CODE __attribute__((cold))
#else
#define MD_INIT_CODE
#endif

namespace md {

enum class DataType : int8_t {
  kFloat32 = 0,
  kFloat16 = 1,
  kInt32 = 2,
  kUInt8 = 3,
  kInt64 = 4,
  kString = 5,
  kBool = 6,
  kInt16 = 7,
  kInt8 = 9,
};

// Bytes per element, 0 for types the runtime does not store.
int DataTypeSize(DataType t);
const char* DataTypeName(DataType t);

enum class Padding : int8_t { kSame = 0, kValid = 1 };

enum class FusedActivation : int8_t {
  kNone = 0,
  kRelu = 1,
  kReluN1To1 = 2,
  kRelu6 = 3,
  kTanh = 4,
  kSignBit = 5,
};

// Builtin operator codes used by the runtime (schema.fbs BuiltinOperator).
enum BuiltinOp : int32_t {
  kOpAdd = 0,
  kOpAveragePool2D = 1,
  kOpConcatenation = 2,
  kOpConv2D = 3,
  kOpDepthwiseConv2D = 4,
  kOpDequantize = 6,
  kOpFullyConnected = 9,
  kOpLogistic = 14,
  kOpMaxPool2D = 17,
  kOpMul = 18,
  kOpReshape = 22,
  kOpSoftmax = 25,
  kOpSvdf = 27,
  kOpTanh = 28,
  kOpPad = 34,
  kOpMean = 40,
  kOpUnidirectionalSequenceLstm = 44,
  kOpStridedSlice = 45,
  kOpQuantize = 114,
};

// Name of a builtin op as TFLite spells it ("CONV_2D"), "UNKNOWN" otherwise. The names are
// stored packed, so each is unpacked into the OpName returned (use .text).
struct OpName {
  char text[36];  // the longest, PLACEHOLDER_FOR_GREATER_OP_CODES, is 32
};
OpName BuiltinOpName(int32_t code);

}  // namespace md

#endif  // MD_TYPES_H_
