// UNIDIRECTIONAL_SEQUENCE_LSTM, the standard (Keras) LSTM cell, bit-exact
// with TFLM (micro/kernels/unidirectional_sequence_lstm.cc, lstm_eval.h,
// lstm_eval.cc, lstm_eval_common.cc):
//  - 8x8->16: int8 input/hidden state/output, int8 weights, int32 biases,
//    int16 cell state (trained_lstm_int8);
//  - 16x8->16: int16 input/hidden state/output, int8 weights, int64 biases;
//  - float32 everywhere.
// Like TFLM, no CIFG, peephole, projection or layer norm (those inputs must
// be absent) and the cell gate activation must be TANH.
//
// Per time step, for each gate (forget, input, cell, output):
//   gate = act(FC(input_t, W_in) + bias + FC(hidden, W_rec))
// with FC outputs in Q3.12 (int16), saturating adds, sigmoid/tanh from the
// int16 table functions; then cell = forget * cell + input * cell_gate
// (optionally clipped) and hidden = tanh(cell) * output_gate, copied to the
// output. Hidden and cell state are variable tensors kept across invokes.
// Quantization multipliers are recomputed once per invoke (no persistent
// data); the four gate buffers share one scratch request.

// Float math must round like TFLM's x86 build, which never fuses a multiply
// and an add; GCC contracts them into FMAs on FPUs that have them (Cortex-M4F,
// and double FMAs on M7) even in ISO mode. Set before the includes so the
// header-inline float helpers (exp_common.h, sigmoid_tanh_common.h) are
// covered too.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"
#include "md/kernels/sigmoid_tanh_common.h"
#include "md/quant.h"

namespace md {
namespace {

// Input tensor indices (TFLM lstm_shared.h).
constexpr int kInput = 0;
constexpr int kInputWeightsFirst = 1;      // input-to-{input,forget,cell,output} weights: 1..4
constexpr int kRecurrentWeightsFirst = 5;  // recurrent-to-{input,forget,cell,output}: 5..8
constexpr int kBiasFirst = 12;             // {input,forget,cell,output} gate biases: 12..15
constexpr int kHiddenState = 18;
constexpr int kCellState = 19;
constexpr int kNumInputs = 24;

// Gate numbering matches the tensor order above.
constexpr int kInputGate = 0;
constexpr int kForgetGate = 1;
constexpr int kCellGate = 2;
constexpr int kOutputGate = 3;

// UnidirectionalSequenceLSTMOptions field slots.
constexpr int kActivationSlot = 0;
constexpr int kCellClipSlot = 1;
constexpr int kTimeMajorSlot = 3;

constexpr int kBufferScratch = 0;

constexpr int32_t kInt16Min = std::numeric_limits<int16_t>::min();
constexpr int32_t kInt16Max =
    std::numeric_limits<int16_t>::max();  // one scratch holding the 4 gate buffers

// Gate FC output / nonlinearity input scale (Q3.12) and output scale (Q0.15).
constexpr float kNonlinearInputScale = 0.000244140625f;      // 2^-12
constexpr float kNonlinearOutputScale = 0.000030517578125f;  // 2^-15

struct SizeInfo {
  bool time_major;
  int batch;
  int time_steps;
  int input_dim;
  int state_dim;
};

SizeInfo GetSizes(const OpContext& ctx) {
  const TensorView in = ctx.Input(kInput);
  SizeInfo s;
  s.time_major = ctx.Options().GetBool(kTimeMajorSlot, false);
  s.batch = s.time_major ? in.dims[1] : in.dims[0];
  s.time_steps = s.time_major ? in.dims[0] : in.dims[1];
  s.input_dim = in.dims[2];
  s.state_dim = ctx.Input(kHiddenState).dims[1];
  return s;
}

// Where one LstmStep reads and writes (TFLM's LstmStepManager): a time-major
// step covers every batch at once, a batch-major step one batch row.
struct StepCursor {
  int rows;  // batch rows processed per step
  int input_offset = 0;
  int output_offset = 0;
  int state_offset = 0;
};

// ---- Prepare --------------------------------------------------------------

Status CheckDims(OpContext& ctx, int index, int d0, int d1) {
  const TensorView t = ctx.Input(index);
  if ((d1 < 0 && (t.rank != 1 || t.dims[0] != d0)) ||
      (d1 >= 0 && (t.rank != 2 || t.dims[0] != d0 || t.dims[1] != d1))) {
    if (d1 < 0) return ctx.Fail(Status::kShapeMismatch, "input %d must be [%d]", index, d0);
    return ctx.Fail(Status::kShapeMismatch, "input %d must be [%d, %d]", index, d0, d1);
  }
  return Status::kOk;
}

// int16 cell state scales TanhQ handles in range: 12 + power in [-31, 14] (a right shift
// below 32 bits; x * (3 << shift) inside int32 for |x| <= 32768).
constexpr int kMinCellScalePower = -43;
constexpr int kMaxCellScalePower = 2;

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != kNumInputs || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 24 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  for (int i = 0; i < kNumInputs; ++i) {
    const bool required = i <= 8 || (i >= 12 && i <= 15) || i == kHiddenState || i == kCellState;
    if (required && !ctx.HasInput(i)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "input %d is missing (CIFG LSTMs are not supported, as in TFLM)", i);
    }
    if (!required && ctx.HasInput(i)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "input %d is given: peephole, projection and layer-norm LSTMs are not "
                      "supported (as in TFLM)",
                      i);
    }
  }
  const TensorView in = ctx.Input(kInput);
  const TensorView hidden = ctx.Input(kHiddenState);
  const TensorView cell = ctx.Input(kCellState);
  const TensorView out = ctx.Output(0);
  if (!hidden.is_variable || !cell.is_variable) {
    return ctx.Fail(Status::kShapeMismatch, "hidden and cell state must be variable tensors");
  }
  if (in.rank != 3 || hidden.rank != 2) {
    return ctx.Fail(Status::kShapeMismatch, "input must be 3-D and the hidden state 2-D");
  }
  if (ctx.Options().GetInt8(kActivationSlot, 0) != static_cast<int8_t>(FusedActivation::kTanh)) {
    return ctx.Fail(Status::kUnsupportedType, "cell gate activation must be TANH");
  }
  const SizeInfo s = GetSizes(ctx);
  for (int g = 0; g < 4; ++g) {
    Status st = CheckDims(ctx, kInputWeightsFirst + g, s.state_dim, s.input_dim);
    if (st == Status::kOk)
      st = CheckDims(ctx, kRecurrentWeightsFirst + g, s.state_dim, s.state_dim);
    if (st == Status::kOk) st = CheckDims(ctx, kBiasFirst + g, s.state_dim, -1);
    if (st != Status::kOk) return st;
  }
  const int64_t state_elements = static_cast<int64_t>(s.batch) * s.state_dim;  // may pass 2^31
  if (hidden.FlatSize() != state_elements || cell.FlatSize() != state_elements) {
    return ctx.Fail(Status::kShapeMismatch, "hidden and cell state need %ld elements",
                    static_cast<long>(state_elements > INT32_MAX ? INT32_MAX : state_elements));
  }
  if (out.rank != 3 || out.dims[0] != in.dims[0] || out.dims[1] != in.dims[1] ||
      out.dims[2] != s.state_dim) {
    return ctx.Fail(Status::kShapeMismatch, "output must be [%d, %d, %d]",
                    static_cast<int>(in.dims[0]), static_cast<int>(in.dims[1]), s.state_dim);
  }

  if (cell.type == DataType::kInt16) {
    // TanhQ rescales the cell state by 3 << (12 + power) or shifts it right by -(12 + power):
    // both must stay inside int32 arithmetic and a 32-bit shift (a fuzzed scale gave 2^124).
    int cell_power = 0;
    elementwise::CheckedLog2(cell.scale, &cell_power);
    if (cell_power < kMinCellScalePower || cell_power > kMaxCellScalePower) {
      return ctx.Fail(Status::kUnsupportedType, "int16 cell state scale %g is outside 2^%d .. 2^%d",
                      static_cast<double>(cell.scale), kMinCellScalePower, kMaxCellScalePower);
    }
  }

  // Types: activations (input, hidden, output) alike, weights alike, biases alike.
  const DataType weight_type = ctx.Input(kInputWeightsFirst).type;
  const DataType bias_type = ctx.Input(kBiasFirst).type;
  for (int g = 0; g < 4; ++g) {
    if (ctx.Input(kInputWeightsFirst + g).type != weight_type ||
        ctx.Input(kRecurrentWeightsFirst + g).type != weight_type ||
        ctx.Input(kBiasFirst + g).type != bias_type) {
      return ctx.Fail(Status::kUnsupportedType, "gate weights/biases must share one type");
    }
  }
  if (hidden.type != in.type || out.type != in.type) {
    return ctx.Fail(Status::kUnsupportedType, "input, hidden state and output types differ");
  }
  size_t cell_bytes = 0;
  if (cell.type == DataType::kFloat32) {
    if (in.type != DataType::kFloat32 || weight_type != DataType::kFloat32 ||
        bias_type != DataType::kFloat32) {
      return ctx.Fail(Status::kUnsupportedType, "float LSTM needs every tensor float32");
    }
    cell_bytes = sizeof(float);
  } else if (cell.type == DataType::kInt16) {
    const DataType want_bias = in.type == DataType::kInt8 ? DataType::kInt32 : DataType::kInt64;
    if ((in.type != DataType::kInt8 && in.type != DataType::kInt16) ||
        weight_type != DataType::kInt8 || bias_type != want_bias) {
      return ctx.Fail(Status::kUnsupportedType,
                      "integer LSTM needs int8 (int32 bias) or int16 (int64 bias) activations "
                      "with int8 weights, got %s activations, %s weights, %s bias",
                      DataTypeName(in.type), DataTypeName(weight_type), DataTypeName(bias_type));
    }
    for (int i = kInputWeightsFirst; i < kRecurrentWeightsFirst + 4; ++i) {
      if (ctx.Input(i).num_channels > 1 || ctx.Input(i).scale <= 0.0f) {
        return ctx.Fail(Status::kUnsupportedType, "input %d: weights must be quantized per tensor",
                        i);
      }
    }
    if (in.scale <= 0.0f || hidden.scale <= 0.0f || cell.scale <= 0.0f) {
      return ctx.Fail(Status::kUnsupportedType, "input, hidden and cell state need scales");
    }
    cell_bytes = sizeof(int16_t);
  } else {
    return ctx.Fail(Status::kUnsupportedType, "cell state type %s not supported (int16 or float32)",
                    DataTypeName(cell.type));
  }
  int scratch = -1;
  const Status st = ctx.RequestScratch(4 * cell_bytes * s.batch * s.state_dim, &scratch);
  if (st != Status::kOk) return st;
  if (scratch != kBufferScratch) {
    return ctx.Fail(Status::kKernelError, "unexpected scratch index %d", scratch);
  }
  return Status::kOk;
}

// ---- Integer evaluation -----------------------------------------------------

struct FcParams {
  int32_t input_offset;
  int32_t weights_offset;
  int32_t multiplier;
  int shift;
};

struct MulParams {
  int32_t multiplier;
  int shift;
  int32_t output_offset;
  int32_t act_min;
  int32_t act_max;
};

struct IntegerParams {
  FcParams input_fc[4];
  FcParams recurrent_fc[4];
  MulParams forget_cell;    // forget gate x cell state -> cell state
  MulParams input_cell;     // input gate x cell gate -> cell state
  MulParams output_hidden;  // tanh(cell) x output gate -> hidden state
  int cell_scale_power;
  int16_t quantized_cell_clip;
  bool clip;
};

// CalculateOpDataFullyConnected for an FC into the Q3.12 gate input: the
// multiplier comes from the double product of the scales (as for
// FULLY_CONNECTED, see docs/kernels.md).
FcParams MakeFcParams(const TensorView& in, const TensorView& weights) {
  FcParams p;
  p.input_offset = -in.zero_point;
  p.weights_offset = -weights.zero_point;
  const double product = static_cast<double>(in.scale) * static_cast<double>(weights.scale);
  QuantizeMultiplier(product / static_cast<double>(kNonlinearInputScale), &p.multiplier, &p.shift);
  return p;
}

// CreateInterGateMulParams.
MulParams MakeMulParams(float scale1, float scale2, float out_scale, DataType out_type,
                        int32_t out_zp) {
  MulParams p;
  p.act_min = out_type == DataType::kInt8 ? -128 : -32768;
  p.act_max = out_type == DataType::kInt8 ? 127 : 32767;
  p.output_offset = out_zp;
  const double effective =
      static_cast<double>(scale1) * static_cast<double>(scale2) / static_cast<double>(out_scale);
  QuantizeMultiplier(effective, &p.multiplier, &p.shift);
  return p;
}

IntegerParams MakeIntegerParams(const OpContext& ctx) {
  IntegerParams p;
  const TensorView in = ctx.Input(kInput);
  const TensorView hidden = ctx.Input(kHiddenState);
  const TensorView cell = ctx.Input(kCellState);
  for (int g = 0; g < 4; ++g) {
    p.input_fc[g] = MakeFcParams(in, ctx.Input(kInputWeightsFirst + g));
    p.recurrent_fc[g] = MakeFcParams(hidden, ctx.Input(kRecurrentWeightsFirst + g));
  }
  p.forget_cell = MakeMulParams(kNonlinearOutputScale, cell.scale, cell.scale, DataType::kInt16, 0);
  p.input_cell =
      MakeMulParams(kNonlinearOutputScale, kNonlinearOutputScale, cell.scale, DataType::kInt16, 0);
  p.output_hidden = MakeMulParams(kNonlinearOutputScale, kNonlinearOutputScale, hidden.scale,
                                  hidden.type, hidden.zero_point);
  elementwise::CheckedLog2(cell.scale, &p.cell_scale_power);  // CreateLstmCellStateInfo
  const float cell_clip = ctx.Options().GetFloat(kCellClipSlot, 0.0f);
  p.clip = cell_clip > 0.0f;
  p.quantized_cell_clip = static_cast<int16_t>(
      std::min(std::max(static_cast<double>(cell_clip) / static_cast<double>(cell.scale), -32768.0),
               32767.0));
  return p;
}

inline int32_t Requantize(int32_t acc, int32_t multiplier, int shift) {
  return MultiplyByQuantizedMultiplier(acc, multiplier, shift);
}
inline int32_t Requantize(int64_t acc, int32_t multiplier, int shift) {
  return MultiplyByQuantizedMultiplier(acc, multiplier, shift);
}

// reference_integer_ops::FullyConnected into int16 (output offset 0, full
// int16 range): out[r][o] = sum_d (w[o][d] + w_off) * (x[r][d] + x_off) + bias.
template <typename ActT, typename BiasT>
void FcToInt16(const FcParams& p, int rows, int depth, int units, const ActT* x, const int8_t* w,
               const BiasT* bias, int16_t* out) {
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < units; ++o) {
      BiasT acc = 0;
      for (int d = 0; d < depth; ++d) {
        acc =
            WrappingAdd<BiasT>(acc, (static_cast<int32_t>(w[o * depth + d]) + p.weights_offset) *
                                        (static_cast<int32_t>(x[r * depth + d]) + p.input_offset));
      }
      if (bias != nullptr) acc = WrappingAdd<BiasT>(acc, bias[o]);
      const int32_t v = Requantize(acc, p.multiplier, p.shift);
      out[r * units + o] = static_cast<int16_t>(std::min(kInt16Max, std::max(kInt16Min, v)));
    }
  }
}

// lstm_internal::AddElementWise (int16, saturating).
void AddSat(const int16_t* a, const int16_t* b, int n, int16_t* out) {
  for (int i = 0; i < n; ++i) {
    const int32_t sum = a[i] + b[i];
    out[i] = static_cast<int16_t>(std::min(kInt16Max, std::max(kInt16Min, sum)));
  }
}

// reference_integer_ops::MulElementwise with symmetric inputs.
template <typename OutT>
void MulRescale(const MulParams& p, int n, const int16_t* a, const int16_t* b, OutT* out) {
  for (int i = 0; i < n; ++i) {
    const int32_t v =
        p.output_offset +
        MultiplyByQuantizedMultiplier(static_cast<int32_t>(a[i]) * b[i], p.multiplier, p.shift);
    out[i] = static_cast<OutT>(std::min(p.act_max, std::max(p.act_min, v)));
  }
}

// lstm_internal::Tanh for int16: input scale 2^cell_state_scale_power.
void TanhQ(int32_t cell_state_scale_power, int n, const int16_t* in, int16_t* out) {
  int32_t left_shift = (15 + cell_state_scale_power) - 3;
  int32_t multiplier = 0;
  if (left_shift < 0) {
    left_shift = -left_shift;
    multiplier = 3;
  }
  lut::TanhInt16(multiplier, left_shift, n, in, out);
}

// The op's tensor data, read from its views once per invoke: a time step would otherwise build
// over twenty views (each read from the model's tensor table, over a hundred Cortex-M4
// instructions).
struct LstmData {
  const void* input;
  const void* input_weights[4];      // per gate (kInputGate..kOutputGate)
  const void* recurrent_weights[4];  // per gate
  const void* bias[4];               // per gate
  void* hidden;
  void* cell;
  void* output;
};

LstmData GetData(const OpContext& ctx) {
  LstmData d;
  d.input = ctx.Input(kInput).data;
  for (int g = 0; g < 4; ++g) {
    d.input_weights[g] = ctx.Input(kInputWeightsFirst + g).data;
    d.recurrent_weights[g] = ctx.Input(kRecurrentWeightsFirst + g).data;
    d.bias[g] = ctx.Input(kBiasFirst + g).data;
  }
  d.hidden = ctx.Input(kHiddenState).data;
  d.cell = ctx.Input(kCellState).data;
  d.output = ctx.Output(0).data;
  return d;
}

template <typename ActT, typename BiasT>
struct IntegerLstm {
  const LstmData& d;
  const SizeInfo& s;
  const IntegerParams& p;
  int16_t* buffers[4];

  // CalculateLstmGate: gate = act(FC(x) + bias + FC(hidden)).
  void Gate(const StepCursor& c, int g, bool tanh_activation, int16_t* gate_out,
            int16_t* fc_buffer) const {
    const int n = c.rows * s.state_dim;
    FcToInt16<ActT, BiasT>(p.input_fc[g], c.rows, s.input_dim, s.state_dim,
                           static_cast<const ActT*>(d.input) + c.input_offset,
                           static_cast<const int8_t*>(d.input_weights[g]),
                           static_cast<const BiasT*>(d.bias[g]), gate_out);
    FcToInt16<ActT, BiasT>(p.recurrent_fc[g], c.rows, s.state_dim, s.state_dim,
                           static_cast<const ActT*>(d.hidden) + c.state_offset,
                           static_cast<const int8_t*>(d.recurrent_weights[g]), nullptr, fc_buffer);
    AddSat(gate_out, fc_buffer, n, gate_out);
    if (tanh_activation) {
      TanhQ(-12, n, gate_out, gate_out);  // Q3.12 input: no shift
    } else {
      lut::LogisticInt16(0, 0, n, gate_out, gate_out);
    }
  }

  // lstm_internal::LstmStep.
  void Step(const StepCursor& c) const {
    const int n = c.rows * s.state_dim;
    int16_t* scratch = buffers[3];
    int16_t* forget_gate = buffers[0];
    int16_t* input_gate = buffers[1];
    int16_t* cell_gate = buffers[2];
    Gate(c, kForgetGate, false, forget_gate, scratch);
    Gate(c, kInputGate, false, input_gate, scratch);
    Gate(c, kCellGate, true, cell_gate, scratch);

    int16_t* cell = static_cast<int16_t*>(d.cell) + c.state_offset;
    MulRescale(p.forget_cell, n, forget_gate, cell, cell);
    MulRescale(p.input_cell, n, input_gate, cell_gate, input_gate);
    AddSat(cell, input_gate, n, cell);
    if (p.clip) {
      for (int i = 0; i < n; ++i) {
        cell[i] = std::max(std::min(p.quantized_cell_clip, cell[i]),
                           static_cast<int16_t>(-p.quantized_cell_clip));
      }
    }

    int16_t* output_gate = buffers[1];
    Gate(c, kOutputGate, false, output_gate, scratch);
    int16_t* tanh_cell = buffers[0];
    TanhQ(p.cell_scale_power, n, cell, tanh_cell);
    ActT* hidden = static_cast<ActT*>(d.hidden) + c.state_offset;
    MulRescale(p.output_hidden, n, tanh_cell, output_gate, hidden);
    std::memcpy(static_cast<ActT*>(d.output) + c.output_offset, hidden, sizeof(ActT) * n);
  }
};

// ---- Float evaluation -------------------------------------------------------

void FcFloat(int rows, int depth, int units, const float* x, const float* w, const float* bias,
             float* out) {
  for (int r = 0; r < rows; ++r) {
    for (int o = 0; o < units; ++o) {
      float total = 0.0f;
      for (int d = 0; d < depth; ++d) total += x[r * depth + d] * w[o * depth + d];
      const float bias_value = bias != nullptr ? bias[o] : 0.0f;
      out[r * units + o] =
          elementwise::Clamp(total + bias_value, std::numeric_limits<float>::lowest(),
                             std::numeric_limits<float>::max());
    }
  }
}

float MulFloat(float a, float b) {
  return elementwise::Clamp(a * b, std::numeric_limits<float>::lowest(),
                            std::numeric_limits<float>::max());
}

struct FloatLstm {
  const LstmData& d;
  const SizeInfo& s;
  float cell_clip;
  float* buffers[4];

  void Gate(const StepCursor& c, int g, bool tanh_activation, float* gate_out,
            float* fc_buffer) const {
    const int n = c.rows * s.state_dim;
    FcFloat(c.rows, s.input_dim, s.state_dim, static_cast<const float*>(d.input) + c.input_offset,
            static_cast<const float*>(d.input_weights[g]), static_cast<const float*>(d.bias[g]),
            gate_out);
    FcFloat(c.rows, s.state_dim, s.state_dim, static_cast<const float*>(d.hidden) + c.state_offset,
            static_cast<const float*>(d.recurrent_weights[g]), nullptr, fc_buffer);
    for (int i = 0; i < n; ++i) gate_out[i] = gate_out[i] + fc_buffer[i];
    for (int i = 0; i < n; ++i) {
      gate_out[i] = tanh_activation ? TanhLikeTflm(gate_out[i]) : LogisticFloat(gate_out[i]);
    }
  }

  void Step(const StepCursor& c) const {
    const int n = c.rows * s.state_dim;
    float* scratch = buffers[3];
    float* forget_gate = buffers[0];
    float* input_gate = buffers[1];
    float* cell_gate = buffers[2];
    Gate(c, kForgetGate, false, forget_gate, scratch);
    Gate(c, kInputGate, false, input_gate, scratch);
    Gate(c, kCellGate, true, cell_gate, scratch);
    float* cell = static_cast<float*>(d.cell) + c.state_offset;
    for (int i = 0; i < n; ++i) cell[i] = MulFloat(forget_gate[i], cell[i]);
    for (int i = 0; i < n; ++i) input_gate[i] = MulFloat(input_gate[i], cell_gate[i]);
    for (int i = 0; i < n; ++i) cell[i] = cell[i] + input_gate[i];
    if (cell_clip > 0.0f) {
      for (int i = 0; i < n; ++i) cell[i] = std::max(std::min(cell_clip, cell[i]), -cell_clip);
    }
    float* output_gate = buffers[1];
    Gate(c, kOutputGate, false, output_gate, scratch);
    float* tanh_cell = buffers[0];
    for (int i = 0; i < n; ++i) tanh_cell[i] = TanhLikeTflm(cell[i]);
    float* hidden = static_cast<float*>(d.hidden) + c.state_offset;
    for (int i = 0; i < n; ++i) hidden[i] = MulFloat(tanh_cell[i], output_gate[i]);
    std::memcpy(static_cast<float*>(d.output) + c.output_offset, hidden, sizeof(float) * n);
  }
};

// EvalLstm: time-major runs every batch per step; batch-major runs each batch
// row through all its time steps, moving the state offset per batch.
template <typename Lstm>
void RunSequence(const SizeInfo& s, const Lstm& lstm) {
  StepCursor c;
  if (s.time_major) {
    c.rows = s.batch;
    for (int t = 0; t < s.time_steps; ++t) {
      lstm.Step(c);
      c.input_offset += s.input_dim * s.batch;
      c.output_offset += s.state_dim * s.batch;
    }
    return;
  }
  c.rows = 1;
  for (int b = 0; b < s.batch; ++b) {
    for (int t = 0; t < s.time_steps; ++t) {
      lstm.Step(c);
      c.input_offset += s.input_dim;
      c.output_offset += s.state_dim;
    }
    c.state_offset += s.state_dim;
  }
}

template <typename T>
void SplitBuffers(void* scratch, int size, T* buffers[4]) {
  T* base = static_cast<T*>(scratch);
  for (int i = 0; i < 4; ++i) buffers[i] = base + i * size;
}

Status Invoke(OpContext& ctx) {
  const SizeInfo s = GetSizes(ctx);
  void* scratch = ctx.Scratch(kBufferScratch);
  const int size = s.batch * s.state_dim;
  const DataType act_type = ctx.Input(kInput).type;
  const LstmData d = GetData(ctx);
  if (act_type == DataType::kFloat32) {
    FloatLstm lstm{d, s, ctx.Options().GetFloat(kCellClipSlot, 0.0f), {}};
    SplitBuffers(scratch, size, lstm.buffers);
    RunSequence(s, lstm);
    return Status::kOk;
  }
  const IntegerParams p = MakeIntegerParams(ctx);
  if (act_type == DataType::kInt8) {
    IntegerLstm<int8_t, int32_t> lstm{d, s, p, {}};
    SplitBuffers(scratch, size, lstm.buffers);
    RunSequence(s, lstm);
  } else {
    IntegerLstm<int16_t, int64_t> lstm{d, s, p, {}};
    SplitBuffers(scratch, size, lstm.buffers);
    RunSequence(s, lstm);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_UNIDIRECTIONAL_SEQUENCE_LSTM() {
  static const KernelRegistration reg = {kOpUnidirectionalSequenceLstm,
                                         "UNIDIRECTIONAL_SEQUENCE_LSTM", Prepare, Invoke};
  return reg;
}

}  // namespace md
