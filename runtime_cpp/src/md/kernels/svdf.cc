// SVDF (singular value decomposition filter), bit-exact with TFLM
// (micro/kernels/svdf.cc, svdf_common.cc).
//
// Inputs: 0 input [batch, input_size], 1 weights_feature [filters, input_size],
// 2 weights_time [filters, memory], 3 bias [units] (optional),
// 4 activation state [batch, memory * filters] (variable tensor, kept across
// invokes). Output [batch, units], units = filters / rank.
//
// Per invoke: the state shifts left by one time step, the feature matmul
// writes the newest column, the time matmul reduces each filter's memory,
// rank filters are summed per unit with the bias, then rescaled.
//  - Integer: int8 input/weights_feature/output; weights_time and state both
//    int16 (full integer) or both int8. Rescales with TFLM's two effective
//    scales, computed in float like TFLM and recomputed on every invoke. As in
//    TFLM the fused activation is not applied (only the int8 clamp).
//  - float32: everything float, fused activation applied.
// Scratch: filter sums (scratch 0) and, for integer, unit sums (scratch 1).

// Float math must round like TFLM's x86 build, which never fuses a multiply
// and an add; GCC contracts them into FMAs on FPUs that have them (Cortex-M4F,
// and double FMAs on M7) even in ISO mode. Set before the includes so the
// header-inline float helpers (exp_common.h, sigmoid_tanh_common.h) are
// covered too.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <cmath>
#include <cstdint>
#include <limits>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"
#include "md/kernels/sigmoid_tanh_common.h"
#include "md/quant.h"

namespace md {
namespace {

constexpr int kRankSlot = 0;        // SVDFOptions.rank
constexpr int kActivationSlot = 1;  // SVDFOptions.fused_activation_function

constexpr int kInput = 0;
constexpr int kWeightsFeature = 1;
constexpr int kWeightsTime = 2;
constexpr int kBias = 3;
constexpr int kState = 4;

constexpr int kFilterScratch = 0;  // per-op scratch indices (md/interpreter.h)
constexpr int kUnitScratch = 1;

struct Dims {
  int batch;
  int input_size;
  int filters;
  int memory;
  int rank;
  int units;
};

Dims GetDims(const OpContext& ctx, const TensorView& in, const TensorView& wf,
             const TensorView& wt) {
  Dims d;
  d.batch = in.dims[0];
  d.input_size = in.dims[1];
  d.filters = wf.dims[0];
  d.memory = wt.dims[1];
  d.rank = ctx.Options().GetInt32(kRankSlot, 0);
  d.units = d.rank > 0 ? d.filters / d.rank : 0;
  return d;
}

bool HasBias(const OpContext& ctx) { return ctx.NumInputs() > kBias && ctx.HasInput(kBias); }

// The op's tensors, each view built once per invoke (a view is read from the model's tensor
// table: over a hundred Cortex-M4 instructions).
struct Tensors {
  TensorView in, wf, wt, state, out;
  const void* bias;  // nullptr when absent
};

Tensors GetTensors(const OpContext& ctx) {
  return Tensors{ctx.Input(kInput),       ctx.Input(kWeightsFeature),
                 ctx.Input(kWeightsTime), ctx.Input(kState),
                 ctx.Output(0),           HasBias(ctx) ? ctx.Input(kBias).data : nullptr};
}

Status CheckShape(OpContext& ctx, const TensorView& t, const char* name, int d0, int d1) {
  if (t.rank != 2 || t.dims[0] != d0 || t.dims[1] != d1) {
    return ctx.Fail(Status::kShapeMismatch, "%s must be [%d, %d]", name, d0, d1);
  }
  return Status::kOk;
}

Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() != 5 || ctx.NumOutputs() != 1) {
    return ctx.Fail(Status::kShapeMismatch, "expects 5 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  Status present = elementwise::RequireInputs(ctx, kInput, 3);
  if (present == Status::kOk) present = elementwise::RequireInputs(ctx, kState, 1);
  if (present != Status::kOk) return present;
  const TensorView in = ctx.Input(kInput);
  const TensorView wf = ctx.Input(kWeightsFeature);
  const TensorView wt = ctx.Input(kWeightsTime);
  const TensorView state = ctx.Input(kState);
  const TensorView out = ctx.Output(0);
  if (in.rank != 2 || wf.rank != 2 || wt.rank != 2) {
    return ctx.Fail(Status::kShapeMismatch, "input, weights_feature, weights_time must be 2-D");
  }
  const Dims d = GetDims(ctx, in, wf, wt);
  if (d.rank <= 0 || d.filters % d.rank != 0) {
    return ctx.Fail(Status::kShapeMismatch, "rank %d does not divide %d filters", d.rank,
                    d.filters);
  }
  Status s = CheckShape(ctx, wf, "weights_feature", d.filters, d.input_size);
  if (s == Status::kOk) s = CheckShape(ctx, wt, "weights_time", d.filters, d.memory);
  if (s == Status::kOk)
    s = CheckShape(ctx, state, "activation state", d.batch, d.memory * d.filters);
  if (s == Status::kOk) s = CheckShape(ctx, out, "output", d.batch, d.units);
  if (s != Status::kOk) return s;
  if (!state.is_variable) {
    return ctx.Fail(Status::kShapeMismatch, "activation state (input 4) must be a variable tensor");
  }
  const bool has_bias = HasBias(ctx);
  const TensorView bias = has_bias ? ctx.Input(kBias) : TensorView();
  if (has_bias && bias.FlatSize() != d.units) {
    return ctx.Fail(Status::kShapeMismatch, "bias has %d values, need %d units",
                    static_cast<int>(bias.FlatSize()), d.units);
  }

  if (in.type == DataType::kInt8) {
    if (wf.type != DataType::kInt8 || out.type != DataType::kInt8 ||
        (wt.type != DataType::kInt16 && wt.type != DataType::kInt8) || state.type != wt.type ||
        (has_bias && bias.type != DataType::kInt32)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "integer SVDF needs int8 input/weights_feature/output, weights_time and "
                      "state both int16 or both int8, int32 bias");
    }
    if (has_bias && std::abs(static_cast<double>(bias.scale) -
                             static_cast<double>(state.scale * wt.scale)) >= 1e-5) {
      return ctx.Fail(Status::kUnsupportedType,
                      "bias scale %g must equal state scale x weights_time scale",
                      static_cast<double>(bias.scale));
    }
    int scratch = -1;
    s = ctx.RequestScratch(sizeof(int32_t) * d.batch * d.filters, &scratch);
    if (s == Status::kOk && scratch == kFilterScratch) {
      s = ctx.RequestScratch(sizeof(int32_t) * d.batch * d.units, &scratch);
    }
    if (s == Status::kOk && scratch != kUnitScratch) {
      return ctx.Fail(Status::kKernelError, "unexpected scratch index %d", scratch);
    }
    return s;
  }
  if (in.type == DataType::kFloat32) {
    if (wf.type != DataType::kFloat32 || wt.type != DataType::kFloat32 ||
        state.type != DataType::kFloat32 || out.type != DataType::kFloat32 ||
        (has_bias && bias.type != DataType::kFloat32)) {
      return ctx.Fail(Status::kUnsupportedType, "float SVDF needs every tensor float32");
    }
    const int act = ctx.Options().GetInt8(kActivationSlot, 0);
    if (act < 0 || act > static_cast<int>(FusedActivation::kSignBit)) {
      return ctx.Fail(Status::kUnsupportedType, "fused activation %d not supported", act);
    }
    int scratch = -1;
    s = ctx.RequestScratch(sizeof(float) * d.batch * d.filters, &scratch);
    if (s == Status::kOk && scratch != kFilterScratch) {
      return ctx.Fail(Status::kKernelError, "unexpected scratch index %d", scratch);
    }
    return s;
  }
  return ctx.Fail(Status::kUnsupportedType, "input type %s not supported (int8, float32)",
                  DataTypeName(in.type));
}

// int32 accumulation that wraps like TFLM's (whose overflow is UB in C++ but
// wraps on every target we compare with); saturated full-range int16 states
// do overflow the time matmul.
inline int32_t WrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// Drops the oldest time step: state[i] = state[i + 1] over the whole buffer
// (the last column of each filter is overwritten by the feature matmul next).
template <typename T>
void ShiftState(T* state, int n) {
  for (int i = 0; i + 1 < n; ++i) state[i] = state[i + 1];
}

// svdf_common.cc EvalIntegerSvdfReference<T> (T = state and weights_time type).
template <typename T>
void EvalInteger(const OpContext& ctx, const Dims& d, const Tensors& t) {
  const TensorView& in = t.in;
  const TensorView& wf = t.wf;
  const TensorView& wt = t.wt;
  const TensorView& state_t = t.state;
  const TensorView& out = t.out;
  // Float products, as TFLM computes them, widened to double afterwards.
  const double effective_scale_1 = static_cast<double>(in.scale * wf.scale / state_t.scale);
  const double effective_scale_2 = static_cast<double>(state_t.scale * wt.scale / out.scale);
  int32_t scale_1_a;
  int scale_1_b;
  int32_t scale_2_a;
  int scale_2_b;
  QuantizeMultiplier(effective_scale_1, &scale_1_a, &scale_1_b);
  QuantizeMultiplier(effective_scale_2, &scale_2_a, &scale_2_b);
  const int32_t input_zp = in.zero_point;
  const int32_t state_zp = state_t.zero_point;
  auto* scratch = static_cast<int32_t*>(ctx.Scratch(kFilterScratch));
  auto* unit_sums = static_cast<int32_t*>(ctx.Scratch(kUnitScratch));
  T* state = state_t.Data<T>();

  ShiftState(state, d.batch * d.filters * d.memory);

  // Feature matmul into the newest column. The TFLM build we match clamps to
  // T's range first and adds the state zero point afterwards, so for int8
  // states the sum wraps when narrowed (newer TFLM sources add it before the
  // clamp; the tests pin down which one the reference interpreter runs).
  {
    const int8_t* input = in.Data<int8_t>();
    const int8_t* weights = wf.Data<int8_t>();
    const int32_t lo = std::numeric_limits<T>::min();
    const int32_t hi = std::numeric_limits<T>::max();
    T* result = state + (d.memory - 1);
    for (int b = 0; b < d.batch; ++b) {
      const int8_t* row = weights;
      for (int r = 0; r < d.filters; ++r) {
        const int8_t* x = input + b * d.input_size;
        int32_t dot = 0;
        for (int c = 0; c < d.input_size; ++c) dot = WrapAdd(dot, *row++ * (*x++ - input_zp));
        dot = MultiplyByQuantizedMultiplier(dot, scale_1_a, scale_1_b);
        dot = std::min(std::max(lo, dot), hi);
        *result = static_cast<T>(state_zp + dot);
        result += d.memory;
      }
    }
  }

  // Time matmul: each filter's memory against its time weights.
  for (int b = 0; b < d.batch; ++b) {
    int32_t* sums = scratch + b * d.filters;
    const T* w = wt.Data<T>();
    const T* s = state + b * d.memory * d.filters;
    for (int i = 0; i < d.filters; ++i) {
      int32_t acc = 0;
      for (int j = 0; j < d.memory; ++j) acc = WrapAdd(acc, *w++ * (*s++ - state_zp));
      sums[i] = acc;
    }
  }

  // Bias, rank reduction, rescale to int8.
  const int32_t* bias = static_cast<const int32_t*>(t.bias);
  for (int b = 0; b < d.batch; ++b) {
    int32_t* units = unit_sums + b * d.units;
    const int32_t* sums = scratch + b * d.filters;
    for (int i = 0; i < d.units; ++i) {
      units[i] = bias != nullptr ? bias[i] : 0;
      for (int j = 0; j < d.rank; ++j) units[i] = WrapAdd(units[i], *sums++);
    }
  }
  int8_t* y = out.Data<int8_t>();
  for (int i = 0; i < d.batch * d.units; ++i) {
    const int32_t v =
        MultiplyByQuantizedMultiplier(unit_sums[i], scale_2_a, scale_2_b) + out.zero_point;
    y[i] = static_cast<int8_t>(std::min(std::max(int32_t{-128}, v), int32_t{127}));
  }
}

// activation_utils.h ActivationValFloat.
float ActivationValFloat(FusedActivation act, float a) {
  switch (act) {
    case FusedActivation::kNone:
      return a;
    case FusedActivation::kRelu:
      return std::max(0.0f, a);
    case FusedActivation::kReluN1To1:
      return std::max(-1.0f, std::min(a, 1.0f));
    case FusedActivation::kRelu6:
      return std::max(0.0f, std::min(a, 6.0f));
    case FusedActivation::kTanh:
      return TanhLikeTflm(a);
    case FusedActivation::kSignBit:
      return std::signbit(a) ? 1.0f : 0.0f;
  }
  return 0.0f;
}

// svdf_common.cc EvalFloatSvdfReference.
void EvalFloat(const OpContext& ctx, const Dims& d, const Tensors& t) {
  const float* input = t.in.Data<float>();
  const float* weights_feature = t.wf.Data<float>();
  const float* weights_time = t.wt.Data<float>();
  const float* bias = static_cast<const float*>(t.bias);
  float* state = t.state.Data<float>();
  float* out = t.out.Data<float>();
  auto* scratch = static_cast<float*>(ctx.Scratch(kFilterScratch));
  const auto act = static_cast<FusedActivation>(ctx.Options().GetInt8(kActivationSlot, 0));

  ShiftState(state, d.batch * d.filters * d.memory);
  float* result = state + (d.memory - 1);
  for (int b = 0; b < d.batch; ++b) {
    const float* row = weights_feature;
    for (int r = 0; r < d.filters; ++r) {
      const float* x = input + b * d.input_size;
      float dot = 0.0f;
      for (int c = 0; c < d.input_size; ++c) dot += *row++ * *x++;
      *result = dot;
      result += d.memory;
    }
  }
  for (int b = 0; b < d.batch; ++b) {
    float* sums = scratch + b * d.filters;
    const float* w = weights_time;
    const float* s = state + b * d.memory * d.filters;
    for (int i = 0; i < d.filters; ++i) {
      float acc = 0.0f;
      for (int j = 0; j < d.memory; ++j) acc += *w++ * *s++;
      sums[i] = acc;
    }
  }
  for (int b = 0; b < d.batch; ++b) {
    float* units = out + b * d.units;
    for (int i = 0; i < d.units; ++i) units[i] = bias != nullptr ? bias[i] : 0.0f;
    const float* sums = scratch + b * d.filters;
    for (int i = 0; i < d.units; ++i) {
      for (int j = 0; j < d.rank; ++j) units[i] += *sums++;
    }
  }
  for (int i = 0; i < d.batch * d.units; ++i) out[i] = ActivationValFloat(act, out[i]);
}

Status Invoke(OpContext& ctx) {
  const Tensors t = GetTensors(ctx);
  const Dims d = GetDims(ctx, t.in, t.wf, t.wt);
  if (t.in.type == DataType::kFloat32) {
    EvalFloat(ctx, d, t);
  } else if (t.wt.type == DataType::kInt16) {
    EvalInteger<int16_t>(ctx, d, t);
  } else {
    EvalInteger<int8_t>(ctx, d, t);
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_SVDF() {
  static const KernelRegistration reg = {kOpSvdf, "SVDF", Prepare, Invoke};
  return reg;
}

}  // namespace md
