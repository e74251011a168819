// Names of data types and builtin ops (for error messages and profiles).
#include "md/types.h"

#include <cstring>

namespace md {

int DataTypeSize(DataType t) {
  switch (t) {
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat16:
    case DataType::kInt16:
      return 2;
    case DataType::kUInt8:
    case DataType::kBool:
    case DataType::kInt8:
      return 1;
    case DataType::kInt64:
      return 8;
    case DataType::kString:
      return 0;
  }
  return 0;
}

const char* DataTypeName(DataType t) {
  switch (t) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kFloat16:
      return "float16";
    case DataType::kInt32:
      return "int32";
    case DataType::kUInt8:
      return "uint8";
    case DataType::kInt64:
      return "int64";
    case DataType::kString:
      return "string";
    case DataType::kBool:
      return "bool";
    case DataType::kInt16:
      return "int16";
    case DataType::kInt8:
      return "int8";
  }
  return "unknown";
}

namespace {
// schema.fbs BuiltinOperator names in code order (codes are contiguous from 0), each ended by
// '\0', in one array. Only the compiler reads it: flash holds it packed (kPackedNames below),
// since the names (2.6 KB as text) are read only for error messages.
constexpr char kBuiltinOpNames[] =
    "ADD\0"
    "AVERAGE_POOL_2D\0"
    "CONCATENATION\0"
    "CONV_2D\0"
    "DEPTHWISE_CONV_2D\0"
    "DEPTH_TO_SPACE\0"
    "DEQUANTIZE\0"
    "EMBEDDING_LOOKUP\0"
    "FLOOR\0"
    "FULLY_CONNECTED\0"
    "HASHTABLE_LOOKUP\0"
    "L2_NORMALIZATION\0"
    "L2_POOL_2D\0"
    "LOCAL_RESPONSE_NORMALIZATION\0"
    "LOGISTIC\0"
    "LSH_PROJECTION\0"
    "LSTM\0"
    "MAX_POOL_2D\0"
    "MUL\0"
    "RELU\0"
    "RELU_N1_TO_1\0"
    "RELU6\0"
    "RESHAPE\0"
    "RESIZE_BILINEAR\0"
    "RNN\0"
    "SOFTMAX\0"
    "SPACE_TO_DEPTH\0"
    "SVDF\0"
    "TANH\0"
    "CONCAT_EMBEDDINGS\0"
    "SKIP_GRAM\0"
    "CALL\0"
    "CUSTOM\0"
    "EMBEDDING_LOOKUP_SPARSE\0"
    "PAD\0"
    "UNIDIRECTIONAL_SEQUENCE_RNN\0"
    "GATHER\0"
    "BATCH_TO_SPACE_ND\0"
    "SPACE_TO_BATCH_ND\0"
    "TRANSPOSE\0"
    "MEAN\0"
    "SUB\0"
    "DIV\0"
    "SQUEEZE\0"
    "UNIDIRECTIONAL_SEQUENCE_LSTM\0"
    "STRIDED_SLICE\0"
    "BIDIRECTIONAL_SEQUENCE_RNN\0"
    "EXP\0"
    "TOPK_V2\0"
    "SPLIT\0"
    "LOG_SOFTMAX\0"
    "DELEGATE\0"
    "BIDIRECTIONAL_SEQUENCE_LSTM\0"
    "CAST\0"
    "PRELU\0"
    "MAXIMUM\0"
    "ARG_MAX\0"
    "MINIMUM\0"
    "LESS\0"
    "NEG\0"
    "PADV2\0"
    "GREATER\0"
    "GREATER_EQUAL\0"
    "LESS_EQUAL\0"
    "SELECT\0"
    "SLICE\0"
    "SIN\0"
    "TRANSPOSE_CONV\0"
    "SPARSE_TO_DENSE\0"
    "TILE\0"
    "EXPAND_DIMS\0"
    "EQUAL\0"
    "NOT_EQUAL\0"
    "LOG\0"
    "SUM\0"
    "SQRT\0"
    "RSQRT\0"
    "SHAPE\0"
    "POW\0"
    "ARG_MIN\0"
    "FAKE_QUANT\0"
    "REDUCE_PROD\0"
    "REDUCE_MAX\0"
    "PACK\0"
    "LOGICAL_OR\0"
    "ONE_HOT\0"
    "LOGICAL_AND\0"
    "LOGICAL_NOT\0"
    "UNPACK\0"
    "REDUCE_MIN\0"
    "FLOOR_DIV\0"
    "REDUCE_ANY\0"
    "SQUARE\0"
    "ZEROS_LIKE\0"
    "FILL\0"
    "FLOOR_MOD\0"
    "RANGE\0"
    "RESIZE_NEAREST_NEIGHBOR\0"
    "LEAKY_RELU\0"
    "SQUARED_DIFFERENCE\0"
    "MIRROR_PAD\0"
    "ABS\0"
    "SPLIT_V\0"
    "UNIQUE\0"
    "CEIL\0"
    "REVERSE_V2\0"
    "ADD_N\0"
    "GATHER_ND\0"
    "COS\0"
    "WHERE\0"
    "RANK\0"
    "ELU\0"
    "REVERSE_SEQUENCE\0"
    "MATRIX_DIAG\0"
    "QUANTIZE\0"
    "MATRIX_SET_DIAG\0"
    "ROUND\0"
    "HARD_SWISH\0"
    "IF\0"
    "WHILE\0"
    "NON_MAX_SUPPRESSION_V4\0"
    "NON_MAX_SUPPRESSION_V5\0"
    "SCATTER_ND\0"
    "SELECT_V2\0"
    "DENSIFY\0"
    "SEGMENT_SUM\0"
    "BATCH_MATMUL\0"
    "PLACEHOLDER_FOR_GREATER_OP_CODES\0"
    "CUMSUM\0"
    "CALL_ONCE\0"
    "BROADCAST_TO\0"
    "RFFT2D\0"
    "CONV_3D\0"
    "IMAG\0"
    "REAL\0"
    "COMPLEX_ABS\0"
    "HASHTABLE\0"
    "HASHTABLE_FIND\0"
    "HASHTABLE_IMPORT\0"
    "HASHTABLE_SIZE\0"
    "REDUCE_ALL\0"
    "CONV_3D_TRANSPOSE\0"
    "VAR_HANDLE\0"
    "READ_VARIABLE\0"
    "ASSIGN_VARIABLE\0"
    "BROADCAST_ARGS\0"
    "RANDOM_STANDARD_NORMAL\0"
    "BUCKETIZE\0"
    "RANDOM_UNIFORM\0"
    "MULTINOMIAL\0"
    "GELU\0"
    "DYNAMIC_UPDATE_SLICE\0"
    "RELU_0_TO_1\0"
    "UNSORTED_SEGMENT_PROD\0"
    "UNSORTED_SEGMENT_MAX\0"
    "UNSORTED_SEGMENT_SUM\0"
    "ATAN2\0"
    "UNSORTED_SEGMENT_MIN\0"
    "SIGN\0"
    "BITCAST\0"
    "BITWISE_XOR\0"
    "RIGHT_SHIFT\0"
    "STABLEHLO_LOGISTIC\0"
    "STABLEHLO_ADD\0"
    "STABLEHLO_DIVIDE\0"
    "STABLEHLO_MULTIPLY\0"
    "STABLEHLO_MAXIMUM\0"
    "STABLEHLO_RESHAPE\0"
    "STABLEHLO_CLAMP\0"
    "STABLEHLO_CONCATENATE\0"
    "STABLEHLO_BROADCAST_IN_DIM\0"
    "STABLEHLO_CONVOLUTION\0"
    "STABLEHLO_SLICE\0"
    "STABLEHLO_CUSTOM_CALL\0"
    "STABLEHLO_REDUCE\0"
    "STABLEHLO_ABS\0"
    "STABLEHLO_AND\0"
    "STABLEHLO_COSINE\0"
    "STABLEHLO_EXPONENTIAL\0"
    "STABLEHLO_FLOOR\0"
    "STABLEHLO_LOG\0"
    "STABLEHLO_MINIMUM\0"
    "STABLEHLO_NEGATE\0"
    "STABLEHLO_OR\0"
    "STABLEHLO_POWER\0"
    "STABLEHLO_REMAINDER\0"
    "STABLEHLO_RSQRT\0"
    "STABLEHLO_SELECT\0"
    "STABLEHLO_SUBTRACT\0"
    "STABLEHLO_TANH\0"
    "STABLEHLO_SCATTER\0"
    "STABLEHLO_COMPARE\0"
    "STABLEHLO_CONVERT\0"
    "STABLEHLO_DYNAMIC_SLICE\0"
    "STABLEHLO_DYNAMIC_UPDATE_SLICE\0"
    "STABLEHLO_PAD\0"
    "STABLEHLO_IOTA\0"
    "STABLEHLO_DOT_GENERAL\0"
    "STABLEHLO_REDUCE_WINDOW\0"
    "STABLEHLO_SORT\0"
    "STABLEHLO_WHILE\0"
    "STABLEHLO_GATHER\0"
    "STABLEHLO_TRANSPOSE\0"
    "DILATE\0"
    "STABLEHLO_RNG_BIT_GENERATOR\0"
    "REDUCE_WINDOW\0"
    "STABLEHLO_COMPOSITE\0"
    "STABLEHLO_SHIFT_LEFT\0"
    "STABLEHLO_CBRT\0"
    "STABLEHLO_CASE\0";
// The names' count: the '\0's that end them (the array's own last '\0' not counted).
constexpr int32_t CountNames() {
  int32_t n = 0;
  for (size_t i = 0; i + 1 < sizeof(kBuiltinOpNames); ++i) n += kBuiltinOpNames[i] == '\0' ? 1 : 0;
  return n;
}
constexpr int32_t kNumBuiltinOpNames = CountNames();
static_assert(kNumBuiltinOpNames == 210, "schema.fbs BuiltinOperator 0 .. 209");

// The packed names: 5-bit codes, little-endian bit order. A name is its characters' codes then
// kEnd; a digit (rare) is kDigit then the digit's value; "STABLEHLO_" (46 names start with it)
// is one code: 1,411 bytes instead of 2,648.
constexpr int kEnd = 0;  // 1 .. 26: 'A' .. 'Z'
constexpr int kUnderscore = 27;
constexpr int kStablehlo = 28;
constexpr int kDigit = 29;
constexpr char kStablehloText[] = "STABLEHLO_";
constexpr size_t kStablehloLength = sizeof(kStablehloText) - 1;

constexpr bool StartsStablehlo(size_t i) {
  for (size_t k = 0; k < kStablehloLength; ++k) {
    if (i + k + 1 >= sizeof(kBuiltinOpNames) || kBuiltinOpNames[i + k] != kStablehloText[k]) {
      return false;
    }
  }
  return true;
}

// Calls put(code) for each code of the packed names, in order.
template <typename Put>
constexpr void EncodeNames(Put&& put) {
  bool name_start = true;
  for (size_t i = 0; i + 1 < sizeof(kBuiltinOpNames);) {
    const char c = kBuiltinOpNames[i];
    if (name_start && StartsStablehlo(i)) {
      put(kStablehlo);
      i += kStablehloLength;
      name_start = false;
      continue;
    }
    if (c >= '0' && c <= '9') {
      put(kDigit);
      put(c - '0');
    } else {
      put(c == '\0' ? kEnd : c == '_' ? kUnderscore : c - 'A' + 1);
    }
    name_start = c == '\0';
    ++i;
  }
}

constexpr size_t CountCodes() {
  size_t n = 0;
  EncodeNames([&n](int) { ++n; });
  return n;
}
// One spare byte: a code is read as the 16 bits from its first byte.
constexpr size_t kPackedBytes = (CountCodes() * 5 + 7) / 8 + 1;

struct PackedNames {
  uint8_t bytes[kPackedBytes] = {};
};

constexpr PackedNames PackNames() {
  PackedNames packed;
  size_t bit = 0;
  EncodeNames([&packed, &bit](int code) {
    const unsigned shifted = static_cast<unsigned>(code) << (bit % 8);
    packed.bytes[bit / 8] = static_cast<uint8_t>(packed.bytes[bit / 8] | (shifted & 0xffu));
    packed.bytes[bit / 8 + 1] = static_cast<uint8_t>(packed.bytes[bit / 8 + 1] | (shifted >> 8));
    bit += 5;
  });
  return packed;
}
constexpr PackedNames kPackedNames = PackNames();

constexpr int CodeAt(const PackedNames& packed, size_t k) {
  const size_t bit = k * 5;
  const unsigned word =
      packed.bytes[bit / 8] | (static_cast<unsigned>(packed.bytes[bit / 8 + 1]) << 8);
  return static_cast<int>((word >> (bit % 8)) & 31u);
}

// Writes name `code` (0 <= code < kNumBuiltinOpNames) into out, '\0'-terminated.
constexpr void DecodeName(const PackedNames& packed, int32_t code, char* out) {
  size_t k = 0;
  for (int32_t i = 0; i < code;) {
    const int c = CodeAt(packed, k++);
    if (c == kDigit) ++k;  // its value may be 0: not an end
    if (c == kEnd) ++i;
  }
  size_t n = 0;
  for (int c = CodeAt(packed, k++); c != kEnd; c = CodeAt(packed, k++)) {
    if (c == kStablehlo) {
      for (size_t s = 0; s < kStablehloLength; ++s) out[n++] = kStablehloText[s];
    } else if (c == kDigit) {
      out[n++] = static_cast<char>('0' + CodeAt(packed, k++));
    } else {
      out[n++] = c == kUnderscore ? '_' : static_cast<char>('A' + c - 1);
    }
  }
  out[n] = '\0';
}

// Names [first, last) decode back to the text above and fit OpName; the last range also ends
// exactly at the text's end. Checked in ranges: each decode walks the names before it, and one
// check of all 210 passes clang's constexpr step limit (1,048,576).
constexpr bool PackedNamesRoundTrip(int32_t first, int32_t last) {
  size_t i = 0;
  for (int32_t skipped = 0; skipped < first; ++i) {
    if (kBuiltinOpNames[i] == '\0') ++skipped;
  }
  for (int32_t code = first; code < last; ++code) {
    char name[sizeof(OpName::text) + kStablehloLength] = {};
    DecodeName(kPackedNames, code, name);
    size_t n = 0;
    for (; name[n] != '\0'; ++n, ++i) {
      if (name[n] != kBuiltinOpNames[i]) return false;
    }
    if (kBuiltinOpNames[i++] != '\0' || n >= sizeof(OpName::text)) return false;
  }
  return last < kNumBuiltinOpNames || i + 1 == sizeof(kBuiltinOpNames);
}
static_assert(PackedNamesRoundTrip(0, 60), "the packed op names decode to kBuiltinOpNames");
static_assert(PackedNamesRoundTrip(60, 120), "the packed op names decode to kBuiltinOpNames");
static_assert(PackedNamesRoundTrip(120, 160), "the packed op names decode to kBuiltinOpNames");
static_assert(PackedNamesRoundTrip(160, 200), "the packed op names decode to kBuiltinOpNames");
static_assert(PackedNamesRoundTrip(200, kNumBuiltinOpNames),
              "the packed op names decode to kBuiltinOpNames");
}  // namespace

MD_INIT_CODE OpName BuiltinOpName(int32_t code) {
  OpName name = {"UNKNOWN"};
  if (code >= 0 && code < kNumBuiltinOpNames) DecodeName(kPackedNames, code, name.text);
  return name;
}

}  // namespace md
