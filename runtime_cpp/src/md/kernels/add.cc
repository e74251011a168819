// ADD: elementwise sum with numpy-style broadcasting (up to 6-D), bit-exact
// with TFLM (micro/kernels/add.cc, reference/integer_ops/add.h).
// int8/int16: both inputs are brought to a common scale (2 x the larger input
// scale) after a left shift of 20 (int8) or 15 (int16) for headroom, summed,
// then rescaled to the output scale; int16 always takes this general path in
// TFLM (never the power-of-two one). float32: plain sum + fused activation.
// int32: plain (wrapping) sum, activation ignored as in TFLM.
// Quantization parameters are recomputed on every invoke (a few frexp calls)
// so the op keeps no persistent data.
#include <cstdint>

#include "md/kernel.h"
#include "md/kernels/elementwise_common.h"
#include "md/kernels/register.h"
#include "md/quant.h"

namespace md {
namespace {

constexpr int kActivationSlot = 0;  // AddOptions.fused_activation_function

struct AddQuantParams {
  int left_shift;
  int32_t input1_offset;
  int32_t input2_offset;
  int32_t output_offset;
  int32_t input1_multiplier;
  int input1_shift;
  int32_t input2_multiplier;
  int input2_shift;
  int32_t output_multiplier;
  int output_shift;
  int32_t act_min;
  int32_t act_max;
};

// tflite::QuantizeMultiplierSmallerThanOneExp; false where TFLM would abort.
bool QuantizeSmallerThanOne(double m, int32_t* multiplier, int* shift) {
  if (!(m > 0.0 && m < 1.0)) return false;
  QuantizeMultiplier(m, multiplier, shift);
  return *shift <= 0;
}

// Mirrors tflite::micro::CalculateOpDataAdd.
bool ComputeQuantParams(const TensorView& in1, const TensorView& in2, const TensorView& out,
                        FusedActivation act, AddQuantParams* p) {
  p->input1_offset = -in1.zero_point;
  p->input2_offset = -in2.zero_point;
  p->output_offset = out.zero_point;
  p->left_shift = out.type == DataType::kInt16 ? 15 : 20;
  const double twice_max_input_scale = 2 * static_cast<double>(std::max(in1.scale, in2.scale));
  const double real_input1_multiplier = static_cast<double>(in1.scale) / twice_max_input_scale;
  const double real_input2_multiplier = static_cast<double>(in2.scale) / twice_max_input_scale;
  const double real_output_multiplier =
      twice_max_input_scale / ((1 << p->left_shift) * static_cast<double>(out.scale));
  if (!QuantizeSmallerThanOne(real_input1_multiplier, &p->input1_multiplier, &p->input1_shift) ||
      !QuantizeSmallerThanOne(real_input2_multiplier, &p->input2_multiplier, &p->input2_shift) ||
      !QuantizeSmallerThanOne(real_output_multiplier, &p->output_multiplier, &p->output_shift)) {
    return false;
  }
  elementwise::QuantizedActivationRange(act, out, &p->act_min, &p->act_max);
  return true;
}

FusedActivation Activation(const OpContext& ctx) {
  return elementwise::ActivationFromOption(ctx.Options().GetInt8(kActivationSlot, 0));
}

Status Prepare(OpContext& ctx) {
  const FusedActivation act = Activation(ctx);
  const Status checked = elementwise::CheckBinaryArithmetic(ctx, act, "ADD");
  if (checked != Status::kOk) return checked;
  const TensorView in1 = ctx.Input(0);
  const TensorView in2 = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  if (out.type == DataType::kInt8 || out.type == DataType::kInt16) {
    AddQuantParams p;
    if (!ComputeQuantParams(in1, in2, out, act, &p)) {
      return ctx.Fail(Status::kUnsupportedType,
                      "output scale %g too small for input scales %g/%g (rescale factor >= 1)",
                      static_cast<double>(out.scale), static_cast<double>(in1.scale),
                      static_cast<double>(in2.scale));
    }
  }
  return Status::kOk;
}

template <typename T>
void AddQuantized(const TensorView& in1, const TensorView& in2, const TensorView& out,
                  const AddQuantParams& p) {
  elementwise::BinaryApply<T, T>(in1, in2, out, [&p](T x, T y) {
    const int32_t shifted1 = (p.input1_offset + x) * (1 << p.left_shift);
    const int32_t shifted2 = (p.input2_offset + y) * (1 << p.left_shift);
    const int32_t scaled1 = MultiplyByQuantizedMultiplierSmallerThanOneExp(
        shifted1, p.input1_multiplier, p.input1_shift);
    const int32_t scaled2 = MultiplyByQuantizedMultiplierSmallerThanOneExp(
        shifted2, p.input2_multiplier, p.input2_shift);
    const int32_t raw = MultiplyByQuantizedMultiplierSmallerThanOneExp(
                            scaled1 + scaled2, p.output_multiplier, p.output_shift) +
                        p.output_offset;
    return static_cast<T>(std::min(p.act_max, std::max(p.act_min, raw)));
  });
}

Status Invoke(OpContext& ctx) {
  const TensorView in1 = ctx.Input(0);
  const TensorView in2 = ctx.Input(1);
  const TensorView out = ctx.Output(0);
  const FusedActivation act = Activation(ctx);
  switch (out.type) {
    case DataType::kInt8:
    case DataType::kInt16: {
      AddQuantParams p;
      ComputeQuantParams(in1, in2, out, act, &p);
      if (out.type == DataType::kInt8) {
        AddQuantized<int8_t>(in1, in2, out, p);
      } else {
        AddQuantized<int16_t>(in1, in2, out, p);
      }
      break;
    }
    case DataType::kFloat32: {
      float lo;
      float hi;
      elementwise::ActivationRange(act, &lo, &hi);
      elementwise::BinaryApply<float, float>(
          in1, in2, out, [lo, hi](float x, float y) { return elementwise::Clamp(x + y, lo, hi); });
      break;
    }
    default:  // int32, validated in prepare
      elementwise::BinaryApply<int32_t, int32_t>(in1, in2, out, [](int32_t x, int32_t y) {
        return static_cast<int32_t>(static_cast<uint32_t>(x) + static_cast<uint32_t>(y));
      });
      break;
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_ADD() {
  static const KernelRegistration reg = {kOpAdd, "ADD", Prepare, Invoke};
  return reg;
}

}  // namespace md
