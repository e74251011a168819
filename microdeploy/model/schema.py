"""Facts from the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs) that we need.

Values and field orders are the schema's own. A table field's vtable slot is its declaration
index; deprecated fields keep their slot, and a union field takes two slots (its `_type` byte
first, then the value). The options tables were generated once from the schema and checked by
hand against schema.fbs; tests/test_model_schema.py compares them with tflite-micro's generated
Python schema when that package is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

FILE_IDENTIFIER = b"TFL3"
SCHEMA_VERSION = 3
# Operator codes below this are stored in the old int8 `deprecated_builtin_code` field too.
PLACEHOLDER_FOR_GREATER_OP_CODES = 127


class TensorType(IntEnum):
    FLOAT32 = 0
    FLOAT16 = 1
    INT32 = 2
    UINT8 = 3
    INT64 = 4
    STRING = 5
    BOOL = 6
    INT16 = 7
    COMPLEX64 = 8
    INT8 = 9
    FLOAT64 = 10
    COMPLEX128 = 11
    UINT64 = 12
    RESOURCE = 13
    VARIANT = 14
    UINT32 = 15
    UINT16 = 16
    INT4 = 17
    BFLOAT16 = 18
    INT2 = 19
    UINT4 = 20
    FLOAT8_E4M3FN = 21
    FLOAT8_E5M2 = 22


class BuiltinOperator(IntEnum):
    ADD = 0
    AVERAGE_POOL_2D = 1
    CONCATENATION = 2
    CONV_2D = 3
    DEPTHWISE_CONV_2D = 4
    DEPTH_TO_SPACE = 5
    DEQUANTIZE = 6
    EMBEDDING_LOOKUP = 7
    FLOOR = 8
    FULLY_CONNECTED = 9
    HASHTABLE_LOOKUP = 10
    L2_NORMALIZATION = 11
    L2_POOL_2D = 12
    LOCAL_RESPONSE_NORMALIZATION = 13
    LOGISTIC = 14
    LSH_PROJECTION = 15
    LSTM = 16
    MAX_POOL_2D = 17
    MUL = 18
    RELU = 19
    RELU_N1_TO_1 = 20
    RELU6 = 21
    RESHAPE = 22
    RESIZE_BILINEAR = 23
    RNN = 24
    SOFTMAX = 25
    SPACE_TO_DEPTH = 26
    SVDF = 27
    TANH = 28
    CONCAT_EMBEDDINGS = 29
    SKIP_GRAM = 30
    CALL = 31
    CUSTOM = 32
    EMBEDDING_LOOKUP_SPARSE = 33
    PAD = 34
    UNIDIRECTIONAL_SEQUENCE_RNN = 35
    GATHER = 36
    BATCH_TO_SPACE_ND = 37
    SPACE_TO_BATCH_ND = 38
    TRANSPOSE = 39
    MEAN = 40
    SUB = 41
    DIV = 42
    SQUEEZE = 43
    UNIDIRECTIONAL_SEQUENCE_LSTM = 44
    STRIDED_SLICE = 45
    BIDIRECTIONAL_SEQUENCE_RNN = 46
    EXP = 47
    TOPK_V2 = 48
    SPLIT = 49
    LOG_SOFTMAX = 50
    DELEGATE = 51
    BIDIRECTIONAL_SEQUENCE_LSTM = 52
    CAST = 53
    PRELU = 54
    MAXIMUM = 55
    ARG_MAX = 56
    MINIMUM = 57
    LESS = 58
    NEG = 59
    PADV2 = 60
    GREATER = 61
    GREATER_EQUAL = 62
    LESS_EQUAL = 63
    SELECT = 64
    SLICE = 65
    SIN = 66
    TRANSPOSE_CONV = 67
    SPARSE_TO_DENSE = 68
    TILE = 69
    EXPAND_DIMS = 70
    EQUAL = 71
    NOT_EQUAL = 72
    LOG = 73
    SUM = 74
    SQRT = 75
    RSQRT = 76
    SHAPE = 77
    POW = 78
    ARG_MIN = 79
    FAKE_QUANT = 80
    REDUCE_PROD = 81
    REDUCE_MAX = 82
    PACK = 83
    LOGICAL_OR = 84
    ONE_HOT = 85
    LOGICAL_AND = 86
    LOGICAL_NOT = 87
    UNPACK = 88
    REDUCE_MIN = 89
    FLOOR_DIV = 90
    REDUCE_ANY = 91
    SQUARE = 92
    ZEROS_LIKE = 93
    FILL = 94
    FLOOR_MOD = 95
    RANGE = 96
    RESIZE_NEAREST_NEIGHBOR = 97
    LEAKY_RELU = 98
    SQUARED_DIFFERENCE = 99
    MIRROR_PAD = 100
    ABS = 101
    SPLIT_V = 102
    UNIQUE = 103
    CEIL = 104
    REVERSE_V2 = 105
    ADD_N = 106
    GATHER_ND = 107
    COS = 108
    WHERE = 109
    RANK = 110
    ELU = 111
    REVERSE_SEQUENCE = 112
    MATRIX_DIAG = 113
    QUANTIZE = 114
    MATRIX_SET_DIAG = 115
    ROUND = 116
    HARD_SWISH = 117
    IF = 118
    WHILE = 119
    NON_MAX_SUPPRESSION_V4 = 120
    NON_MAX_SUPPRESSION_V5 = 121
    SCATTER_ND = 122
    SELECT_V2 = 123
    DENSIFY = 124
    SEGMENT_SUM = 125
    BATCH_MATMUL = 126
    PLACEHOLDER_FOR_GREATER_OP_CODES = 127
    CUMSUM = 128
    CALL_ONCE = 129
    BROADCAST_TO = 130
    RFFT2D = 131
    CONV_3D = 132
    IMAG = 133
    REAL = 134
    COMPLEX_ABS = 135
    HASHTABLE = 136
    HASHTABLE_FIND = 137
    HASHTABLE_IMPORT = 138
    HASHTABLE_SIZE = 139
    REDUCE_ALL = 140
    CONV_3D_TRANSPOSE = 141
    VAR_HANDLE = 142
    READ_VARIABLE = 143
    ASSIGN_VARIABLE = 144
    BROADCAST_ARGS = 145
    RANDOM_STANDARD_NORMAL = 146
    BUCKETIZE = 147
    RANDOM_UNIFORM = 148
    MULTINOMIAL = 149
    GELU = 150
    DYNAMIC_UPDATE_SLICE = 151
    RELU_0_TO_1 = 152
    UNSORTED_SEGMENT_PROD = 153
    UNSORTED_SEGMENT_MAX = 154
    UNSORTED_SEGMENT_SUM = 155
    ATAN2 = 156
    UNSORTED_SEGMENT_MIN = 157
    SIGN = 158
    BITCAST = 159
    BITWISE_XOR = 160
    RIGHT_SHIFT = 161
    STABLEHLO_LOGISTIC = 162
    STABLEHLO_ADD = 163
    STABLEHLO_DIVIDE = 164
    STABLEHLO_MULTIPLY = 165
    STABLEHLO_MAXIMUM = 166
    STABLEHLO_RESHAPE = 167
    STABLEHLO_CLAMP = 168
    STABLEHLO_CONCATENATE = 169
    STABLEHLO_BROADCAST_IN_DIM = 170
    STABLEHLO_CONVOLUTION = 171
    STABLEHLO_SLICE = 172
    STABLEHLO_CUSTOM_CALL = 173
    STABLEHLO_REDUCE = 174
    STABLEHLO_ABS = 175
    STABLEHLO_AND = 176
    STABLEHLO_COSINE = 177
    STABLEHLO_EXPONENTIAL = 178
    STABLEHLO_FLOOR = 179
    STABLEHLO_LOG = 180
    STABLEHLO_MINIMUM = 181
    STABLEHLO_NEGATE = 182
    STABLEHLO_OR = 183
    STABLEHLO_POWER = 184
    STABLEHLO_REMAINDER = 185
    STABLEHLO_RSQRT = 186
    STABLEHLO_SELECT = 187
    STABLEHLO_SUBTRACT = 188
    STABLEHLO_TANH = 189
    STABLEHLO_SCATTER = 190
    STABLEHLO_COMPARE = 191
    STABLEHLO_CONVERT = 192
    STABLEHLO_DYNAMIC_SLICE = 193
    STABLEHLO_DYNAMIC_UPDATE_SLICE = 194
    STABLEHLO_PAD = 195
    STABLEHLO_IOTA = 196
    STABLEHLO_DOT_GENERAL = 197
    STABLEHLO_REDUCE_WINDOW = 198
    STABLEHLO_SORT = 199
    STABLEHLO_WHILE = 200
    STABLEHLO_GATHER = 201
    STABLEHLO_TRANSPOSE = 202
    DILATE = 203
    STABLEHLO_RNG_BIT_GENERATOR = 204
    REDUCE_WINDOW = 205
    STABLEHLO_COMPOSITE = 206
    STABLEHLO_SHIFT_LEFT = 207
    STABLEHLO_CBRT = 208
    STABLEHLO_CASE = 209


class Padding(IntEnum):
    SAME = 0
    VALID = 1


class ActivationFunctionType(IntEnum):
    NONE = 0
    RELU = 1
    RELU_N1_TO_1 = 2
    RELU6 = 3
    TANH = 4
    SIGN_BIT = 5


class FullyConnectedOptionsWeightsFormat(IntEnum):
    DEFAULT = 0
    SHUFFLED4x16INT8 = 1


class LSTMKernelType(IntEnum):
    FULL = 0
    BASIC = 1


class CombinerType(IntEnum):
    SUM = 0
    MEAN = 1
    SQRTN = 2


class MirrorPadMode(IntEnum):
    REFLECT = 0
    SYMMETRIC = 1


class LSHProjectionType(IntEnum):
    UNKNOWN = 0
    SPARSE = 1
    DENSE = 2


# numpy dtype name and bytes per element for the tensor types we can store and read.
TENSOR_TYPE_DTYPES: dict[TensorType, str] = {
    TensorType.FLOAT32: "float32",
    TensorType.FLOAT16: "float16",
    TensorType.FLOAT64: "float64",
    TensorType.INT8: "int8",
    TensorType.INT16: "int16",
    TensorType.INT32: "int32",
    TensorType.INT64: "int64",
    TensorType.UINT8: "uint8",
    TensorType.UINT16: "uint16",
    TensorType.UINT32: "uint32",
    TensorType.UINT64: "uint64",
    TensorType.BOOL: "bool",
    TensorType.COMPLEX64: "complex64",
    TensorType.COMPLEX128: "complex128",
}
TENSOR_TYPE_SIZES: dict[TensorType, int] = {
    TensorType.FLOAT32: 4,
    TensorType.FLOAT16: 2,
    TensorType.FLOAT64: 8,
    TensorType.INT8: 1,
    TensorType.INT16: 2,
    TensorType.INT32: 4,
    TensorType.INT64: 8,
    TensorType.UINT8: 1,
    TensorType.UINT16: 2,
    TensorType.UINT32: 4,
    TensorType.UINT64: 8,
    TensorType.BOOL: 1,
    TensorType.COMPLEX64: 8,
    TensorType.COMPLEX128: 16,
}


class ModelSlot(IntEnum):
    VERSION = 0
    OPERATOR_CODES = 1
    SUBGRAPHS = 2
    DESCRIPTION = 3
    BUFFERS = 4
    METADATA_BUFFER = 5
    METADATA = 6
    SIGNATURE_DEFS = 7


class SubGraphSlot(IntEnum):
    TENSORS = 0
    INPUTS = 1
    OUTPUTS = 2
    OPERATORS = 3
    NAME = 4


class TensorSlot(IntEnum):
    SHAPE = 0
    TYPE = 1
    BUFFER = 2
    NAME = 3
    QUANTIZATION = 4
    IS_VARIABLE = 5
    SPARSITY = 6
    SHAPE_SIGNATURE = 7
    HAS_RANK = 8


class QuantizationSlot(IntEnum):
    MIN = 0
    MAX = 1
    SCALE = 2
    ZERO_POINT = 3
    DETAILS_TYPE = 4
    DETAILS = 5
    QUANTIZED_DIMENSION = 6


class OperatorCodeSlot(IntEnum):
    DEPRECATED_BUILTIN_CODE = 0
    CUSTOM_CODE = 1
    VERSION = 2
    BUILTIN_CODE = 3


class OperatorSlot(IntEnum):
    OPCODE_INDEX = 0
    INPUTS = 1
    OUTPUTS = 2
    BUILTIN_OPTIONS_TYPE = 3
    BUILTIN_OPTIONS = 4
    CUSTOM_OPTIONS = 5
    CUSTOM_OPTIONS_FORMAT = 6
    MUTATING_VARIABLE_INPUTS = 7
    INTERMEDIATES = 8


class BufferSlot(IntEnum):
    DATA = 0
    OFFSET = 1
    SIZE = 2


class MetadataSlot(IntEnum):
    NAME = 0
    BUFFER = 1


# Enums that options fields refer to, by the schema's enum name ("enum:Padding").
ENUMS: dict[str, type[IntEnum]] = {
    "TensorType": TensorType,
    "Padding": Padding,
    "ActivationFunctionType": ActivationFunctionType,
    "FullyConnectedOptionsWeightsFormat": FullyConnectedOptionsWeightsFormat,
    "LSTMKernelType": LSTMKernelType,
    "CombinerType": CombinerType,
    "MirrorPadMode": MirrorPadMode,
    "LSHProjectionType": LSHProjectionType,
}


@dataclass(frozen=True)
class Field:
    """One options-table field; its slot is its index in the table's tuple.

    kind: "int32", "uint32", "int64", "float32", "bool", "enum:<EnumName>" (stored as int8),
    "vector:<int32|float32|int64|uint8>", "string", or "deprecated" (slot kept, never written).
    default: the schema default (enum defaults as the integer value); None for vectors/strings.
    """

    name: str
    kind: str
    default: int | float | bool | None


# fmt: off
OPTIONS_TABLES: dict[str, tuple[Field, ...]] = {
    "Conv2DOptions": (
        Field('padding', 'enum:Padding', 0),
        Field('stride_w', 'int32', 0),
        Field('stride_h', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('dilation_w_factor', 'int32', 1),
        Field('dilation_h_factor', 'int32', 1),
        Field('quantized_bias_type', 'enum:TensorType', 0),
    ),
    "DepthwiseConv2DOptions": (
        Field('padding', 'enum:Padding', 0),
        Field('stride_w', 'int32', 0),
        Field('stride_h', 'int32', 0),
        Field('depth_multiplier', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('dilation_w_factor', 'int32', 1),
        Field('dilation_h_factor', 'int32', 1),
    ),
    "ConcatEmbeddingsOptions": (
        Field('num_channels', 'int32', 0),
        Field('num_columns_per_channel', 'vector:int32', None),
        Field('embedding_dim_per_channel', 'vector:int32', None),
    ),
    "LSHProjectionOptions": (
        Field('type', 'enum:LSHProjectionType', 0),
    ),
    "Pool2DOptions": (
        Field('padding', 'enum:Padding', 0),
        Field('stride_w', 'int32', 0),
        Field('stride_h', 'int32', 0),
        Field('filter_width', 'int32', 0),
        Field('filter_height', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
    ),
    "SVDFOptions": (
        Field('rank', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "RNNOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "FullyConnectedOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('weights_format', 'enum:FullyConnectedOptionsWeightsFormat', 0),
        Field('keep_num_dims', 'bool', False),
        Field('asymmetric_quantize_inputs', 'bool', False),
        Field('quantized_bias_type', 'enum:TensorType', 0),
        Field('quant_spec', 'vector:uint8', None),
    ),
    "SoftmaxOptions": (
        Field('beta', 'float32', 0.0),
    ),
    "ConcatenationOptions": (
        Field('axis', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
    ),
    "AddOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('pot_scale_int16', 'bool', True),
    ),
    "L2NormOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
    ),
    "LocalResponseNormalizationOptions": (
        Field('radius', 'int32', 0),
        Field('bias', 'float32', 0.0),
        Field('alpha', 'float32', 0.0),
        Field('beta', 'float32', 0.0),
    ),
    "LSTMOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('cell_clip', 'float32', 0.0),
        Field('proj_clip', 'float32', 0.0),
        Field('kernel_type', 'enum:LSTMKernelType', 0),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "ResizeBilinearOptions": (
        Field('deprecated_0', 'deprecated', None),
        Field('deprecated_1', 'deprecated', None),
        Field('align_corners', 'bool', False),
        Field('half_pixel_centers', 'bool', False),
    ),
    "CallOptions": (
        Field('subgraph', 'uint32', 0),
    ),
    "ReshapeOptions": (
        Field('new_shape', 'vector:int32', None),
    ),
    "SkipGramOptions": (
        Field('ngram_size', 'int32', 0),
        Field('max_skip_size', 'int32', 0),
        Field('include_all_ngrams', 'bool', False),
    ),
    "SpaceToDepthOptions": (
        Field('block_size', 'int32', 0),
    ),
    "EmbeddingLookupSparseOptions": (
        Field('combiner', 'enum:CombinerType', 0),
    ),
    "MulOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
    ),
    "PadOptions": (),
    "GatherOptions": (
        Field('axis', 'int32', 0),
        Field('batch_dims', 'int32', 0),
    ),
    "BatchToSpaceNDOptions": (),
    "SpaceToBatchNDOptions": (),
    "TransposeOptions": (),
    "ReducerOptions": (
        Field('keep_dims', 'bool', False),
    ),
    "SubOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('pot_scale_int16', 'bool', True),
    ),
    "DivOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
    ),
    "SqueezeOptions": (
        Field('squeeze_dims', 'vector:int32', None),
    ),
    "SequenceRNNOptions": (
        Field('time_major', 'bool', False),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "StridedSliceOptions": (
        Field('begin_mask', 'int32', 0),
        Field('end_mask', 'int32', 0),
        Field('ellipsis_mask', 'int32', 0),
        Field('new_axis_mask', 'int32', 0),
        Field('shrink_axis_mask', 'int32', 0),
        Field('offset', 'bool', False),
    ),
    "ExpOptions": (),
    "TopKV2Options": (),
    "SplitOptions": (
        Field('num_splits', 'int32', 0),
    ),
    "LogSoftmaxOptions": (),
    "CastOptions": (
        Field('in_data_type', 'enum:TensorType', 0),
        Field('out_data_type', 'enum:TensorType', 0),
    ),
    "DequantizeOptions": (),
    "MaximumMinimumOptions": (),
    "ArgMaxOptions": (
        Field('output_type', 'enum:TensorType', 0),
    ),
    "LessOptions": (),
    "NegOptions": (),
    "PadV2Options": (),
    "GreaterOptions": (),
    "GreaterEqualOptions": (),
    "LessEqualOptions": (),
    "SelectOptions": (),
    "SliceOptions": (),
    "TransposeConvOptions": (
        Field('padding', 'enum:Padding', 0),
        Field('stride_w', 'int32', 0),
        Field('stride_h', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('quantized_bias_type', 'enum:TensorType', 0),
    ),
    "SparseToDenseOptions": (
        Field('validate_indices', 'bool', False),
    ),
    "TileOptions": (),
    "ExpandDimsOptions": (),
    "EqualOptions": (),
    "NotEqualOptions": (),
    "ShapeOptions": (
        Field('out_type', 'enum:TensorType', 0),
    ),
    "PowOptions": (),
    "ArgMinOptions": (
        Field('output_type', 'enum:TensorType', 0),
    ),
    "FakeQuantOptions": (
        Field('min', 'float32', 0.0),
        Field('max', 'float32', 0.0),
        Field('num_bits', 'int32', 0),
        Field('narrow_range', 'bool', False),
    ),
    "PackOptions": (
        Field('values_count', 'int32', 0),
        Field('axis', 'int32', 0),
    ),
    "LogicalOrOptions": (),
    "OneHotOptions": (
        Field('axis', 'int32', 0),
    ),
    "LogicalAndOptions": (),
    "LogicalNotOptions": (),
    "UnpackOptions": (
        Field('num', 'int32', 0),
        Field('axis', 'int32', 0),
    ),
    "FloorDivOptions": (),
    "SquareOptions": (),
    "ZerosLikeOptions": (),
    "FillOptions": (),
    "BidirectionalSequenceLSTMOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('cell_clip', 'float32', 0.0),
        Field('proj_clip', 'float32', 0.0),
        Field('merge_outputs', 'bool', False),
        Field('time_major', 'bool', True),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "BidirectionalSequenceRNNOptions": (
        Field('time_major', 'bool', False),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('merge_outputs', 'bool', False),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "UnidirectionalSequenceLSTMOptions": (
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('cell_clip', 'float32', 0.0),
        Field('proj_clip', 'float32', 0.0),
        Field('time_major', 'bool', False),
        Field('asymmetric_quantize_inputs', 'bool', False),
        Field('diagonal_recurrent_tensors', 'bool', False),
    ),
    "FloorModOptions": (),
    "RangeOptions": (),
    "ResizeNearestNeighborOptions": (
        Field('align_corners', 'bool', False),
        Field('half_pixel_centers', 'bool', False),
    ),
    "LeakyReluOptions": (
        Field('alpha', 'float32', 0.0),
    ),
    "SquaredDifferenceOptions": (),
    "MirrorPadOptions": (
        Field('mode', 'enum:MirrorPadMode', 0),
    ),
    "AbsOptions": (),
    "SplitVOptions": (
        Field('num_splits', 'int32', 0),
    ),
    "UniqueOptions": (
        Field('idx_out_type', 'enum:TensorType', 2),
    ),
    "ReverseV2Options": (),
    "AddNOptions": (),
    "GatherNdOptions": (),
    "CosOptions": (),
    "WhereOptions": (),
    "RankOptions": (),
    "ReverseSequenceOptions": (
        Field('seq_dim', 'int32', 0),
        Field('batch_dim', 'int32', 0),
    ),
    "MatrixDiagOptions": (),
    "QuantizeOptions": (),
    "MatrixSetDiagOptions": (),
    "HardSwishOptions": (),
    "IfOptions": (
        Field('then_subgraph_index', 'int32', 0),
        Field('else_subgraph_index', 'int32', 0),
    ),
    "WhileOptions": (
        Field('cond_subgraph_index', 'int32', 0),
        Field('body_subgraph_index', 'int32', 0),
    ),
    "DepthToSpaceOptions": (
        Field('block_size', 'int32', 0),
    ),
    "NonMaxSuppressionV4Options": (),
    "NonMaxSuppressionV5Options": (),
    "ScatterNdOptions": (),
    "SelectV2Options": (),
    "DensifyOptions": (),
    "SegmentSumOptions": (),
    "BatchMatMulOptions": (
        Field('adj_x', 'bool', False),
        Field('adj_y', 'bool', False),
        Field('asymmetric_quantize_inputs', 'bool', False),
    ),
    "CumsumOptions": (
        Field('exclusive', 'bool', False),
        Field('reverse', 'bool', False),
    ),
    "CallOnceOptions": (
        Field('init_subgraph_index', 'int32', 0),
    ),
    "BroadcastToOptions": (),
    "Rfft2dOptions": (),
    "Conv3DOptions": (
        Field('padding', 'enum:Padding', 0),
        Field('stride_d', 'int32', 0),
        Field('stride_w', 'int32', 0),
        Field('stride_h', 'int32', 0),
        Field('fused_activation_function', 'enum:ActivationFunctionType', 0),
        Field('dilation_d_factor', 'int32', 1),
        Field('dilation_w_factor', 'int32', 1),
        Field('dilation_h_factor', 'int32', 1),
    ),
    "HashtableOptions": (
        Field('table_id', 'int32', 0),
        Field('key_dtype', 'enum:TensorType', 0),
        Field('value_dtype', 'enum:TensorType', 0),
    ),
    "HashtableFindOptions": (),
    "HashtableImportOptions": (),
    "HashtableSizeOptions": (),
    "VarHandleOptions": (
        Field('container', 'string', None),
        Field('shared_name', 'string', None),
    ),
    "ReadVariableOptions": (),
    "AssignVariableOptions": (),
    "RandomOptions": (
        Field('seed', 'int64', 0),
        Field('seed2', 'int64', 0),
    ),
    "BucketizeOptions": (
        Field('boundaries', 'vector:float32', None),
    ),
    "GeluOptions": (
        Field('approximate', 'bool', False),
    ),
    "DynamicUpdateSliceOptions": (),
    "UnsortedSegmentProdOptions": (),
    "UnsortedSegmentMaxOptions": (),
    "UnsortedSegmentMinOptions": (),
    "UnsortedSegmentSumOptions": (),
    "ATan2Options": (),
    "SignOptions": (),
    "BitcastOptions": (),
    "BitwiseXorOptions": (),
    "RightShiftOptions": (),
}
# fmt: on

# BuiltinOptions union members in declaration order; the union type id is index + 1.
BUILTIN_OPTIONS: tuple[str, ...] = (
    "Conv2DOptions",
    "DepthwiseConv2DOptions",
    "ConcatEmbeddingsOptions",
    "LSHProjectionOptions",
    "Pool2DOptions",
    "SVDFOptions",
    "RNNOptions",
    "FullyConnectedOptions",
    "SoftmaxOptions",
    "ConcatenationOptions",
    "AddOptions",
    "L2NormOptions",
    "LocalResponseNormalizationOptions",
    "LSTMOptions",
    "ResizeBilinearOptions",
    "CallOptions",
    "ReshapeOptions",
    "SkipGramOptions",
    "SpaceToDepthOptions",
    "EmbeddingLookupSparseOptions",
    "MulOptions",
    "PadOptions",
    "GatherOptions",
    "BatchToSpaceNDOptions",
    "SpaceToBatchNDOptions",
    "TransposeOptions",
    "ReducerOptions",
    "SubOptions",
    "DivOptions",
    "SqueezeOptions",
    "SequenceRNNOptions",
    "StridedSliceOptions",
    "ExpOptions",
    "TopKV2Options",
    "SplitOptions",
    "LogSoftmaxOptions",
    "CastOptions",
    "DequantizeOptions",
    "MaximumMinimumOptions",
    "ArgMaxOptions",
    "LessOptions",
    "NegOptions",
    "PadV2Options",
    "GreaterOptions",
    "GreaterEqualOptions",
    "LessEqualOptions",
    "SelectOptions",
    "SliceOptions",
    "TransposeConvOptions",
    "SparseToDenseOptions",
    "TileOptions",
    "ExpandDimsOptions",
    "EqualOptions",
    "NotEqualOptions",
    "ShapeOptions",
    "PowOptions",
    "ArgMinOptions",
    "FakeQuantOptions",
    "PackOptions",
    "LogicalOrOptions",
    "OneHotOptions",
    "LogicalAndOptions",
    "LogicalNotOptions",
    "UnpackOptions",
    "FloorDivOptions",
    "SquareOptions",
    "ZerosLikeOptions",
    "FillOptions",
    "BidirectionalSequenceLSTMOptions",
    "BidirectionalSequenceRNNOptions",
    "UnidirectionalSequenceLSTMOptions",
    "FloorModOptions",
    "RangeOptions",
    "ResizeNearestNeighborOptions",
    "LeakyReluOptions",
    "SquaredDifferenceOptions",
    "MirrorPadOptions",
    "AbsOptions",
    "SplitVOptions",
    "UniqueOptions",
    "ReverseV2Options",
    "AddNOptions",
    "GatherNdOptions",
    "CosOptions",
    "WhereOptions",
    "RankOptions",
    "ReverseSequenceOptions",
    "MatrixDiagOptions",
    "QuantizeOptions",
    "MatrixSetDiagOptions",
    "HardSwishOptions",
    "IfOptions",
    "WhileOptions",
    "DepthToSpaceOptions",
    "NonMaxSuppressionV4Options",
    "NonMaxSuppressionV5Options",
    "ScatterNdOptions",
    "SelectV2Options",
    "DensifyOptions",
    "SegmentSumOptions",
    "BatchMatMulOptions",
    "CumsumOptions",
    "CallOnceOptions",
    "BroadcastToOptions",
    "Rfft2dOptions",
    "Conv3DOptions",
    "HashtableOptions",
    "HashtableFindOptions",
    "HashtableImportOptions",
    "HashtableSizeOptions",
    "VarHandleOptions",
    "ReadVariableOptions",
    "AssignVariableOptions",
    "RandomOptions",
    "BucketizeOptions",
    "GeluOptions",
    "DynamicUpdateSliceOptions",
    "UnsortedSegmentProdOptions",
    "UnsortedSegmentMaxOptions",
    "UnsortedSegmentMinOptions",
    "UnsortedSegmentSumOptions",
    "ATan2Options",
    "SignOptions",
    "BitcastOptions",
    "BitwiseXorOptions",
    "RightShiftOptions",
)

# Ops whose options table is not simply "<CamelCaseOpName>Options".
_OPTIONS_OVERRIDES: dict[str, str] = {
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "L2_NORMALIZATION": "L2NormOptions",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions",
    "CONV_3D_TRANSPOSE": "Conv3DOptions",
    "RANDOM_STANDARD_NORMAL": "RandomOptions",
    "RANDOM_UNIFORM": "RandomOptions",
    "MULTINOMIAL": "RandomOptions",
}


def _build_op_options() -> dict[str, str]:
    by_lower = {name.lower(): name for name in BUILTIN_OPTIONS}
    table: dict[str, str] = {}
    for op in BuiltinOperator:
        derived = op.name.replace("_", "").lower() + "options"
        name = _OPTIONS_OVERRIDES.get(op.name) or by_lower.get(derived)
        if name:
            table[op.name] = name
    return table


# Builtin op name -> its BuiltinOptions table (ops such as LOGISTIC, TANH, RELU have none).
OP_OPTIONS: dict[str, str] = _build_op_options()


def builtin_options_type(table_name: str) -> int:
    """The BuiltinOptions union type id of an options table (NONE is 0)."""
    return BUILTIN_OPTIONS.index(table_name) + 1


def builtin_op_name(code: int) -> str:
    """TFLite's name of a builtin op code ("CONV_2D"), or "UNKNOWN_<code>"."""
    try:
        return BuiltinOperator(code).name
    except ValueError:
        return f"UNKNOWN_{code}"
