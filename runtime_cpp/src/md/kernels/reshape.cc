// RESHAPE: the output keeps the input's bytes under the output tensor's
// (static) shape. Prepare checks the element counts and that the requested
// shape (constant shape tensor, else the new_shape option; one -1 allowed)
// agrees with the output's shape. Invoke copies only when the planner did
// not place input and output at the same address.
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "md/kernel.h"
#include "md/kernels/register.h"

namespace md {
namespace {

// ReshapeOptions slot (schema.fbs).
constexpr int kNewShape = 0;

// The shape the model asks for, if it is known in prepare.
MD_INIT_CODE bool RequestedShape(const OpContext& ctx, const int32_t** shape, uint32_t* count) {
  if (ctx.NumInputs() >= 2 && ctx.HasInput(1)) {
    const TensorView t = ctx.Input(1);
    if (t.is_constant && t.data != nullptr && t.type == DataType::kInt32 && t.rank <= 1) {
      *shape = t.Data<const int32_t>();
      *count = static_cast<uint32_t>(t.FlatSize());
      return true;
    }
    return false;  // computed at run time: only the element count can be checked
  }
  return ctx.Options().GetInt32Vector(kNewShape, shape, count);
}

// "[1,2,-1]" into buf (truncated to fit).
MD_INIT_CODE void FormatDims(const int32_t* dims, int count, char* buf, size_t size) {
  size_t used = static_cast<size_t>(std::snprintf(buf, size, "["));
  for (int i = 0; i < count && used < size; ++i) {
    used += static_cast<size_t>(
        std::snprintf(buf + used, size - used, i ? ",%d" : "%d", static_cast<int>(dims[i])));
  }
  if (used < size) std::snprintf(buf + used, size - used, "]");
}

MD_INIT_CODE Status CheckRequestedShape(const OpContext& ctx, const int32_t* shape, uint32_t count,
                                        int32_t elements, const TensorView& output) {
  // Legacy converters wrote [0] for a scalar.
  if (count == 1 && shape[0] == 0 && output.rank == 0) return Status::kOk;
  int64_t known = 1;
  int stretch = -1;
  for (uint32_t i = 0; i < count; ++i) {
    if (shape[i] == -1 && stretch < 0) {
      stretch = static_cast<int>(i);
    } else if (shape[i] < 0) {
      return ctx.Fail(Status::kShapeMismatch, "requested shape has invalid dimension %d at %u",
                      static_cast<int>(shape[i]), static_cast<unsigned>(i));
    } else {
      known *= shape[i];
    }
  }
  bool same = static_cast<int32_t>(count) == output.rank;
  for (uint32_t i = 0; same && i < count; ++i) {
    const int64_t want =
        static_cast<int>(i) == stretch ? (known > 0 ? elements / known : -1) : shape[i];
    same = want == output.Dim(static_cast<int>(i));
  }
  if (!same) {
    char requested[64];
    char actual[64];
    FormatDims(shape, static_cast<int>(count), requested, sizeof(requested));
    FormatDims(output.dims, output.rank, actual, sizeof(actual));
    return ctx.Fail(Status::kShapeMismatch, "requested shape %s disagrees with the output shape %s",
                    requested, actual);
  }
  return Status::kOk;
}

MD_INIT_CODE Status Prepare(OpContext& ctx) {
  if (ctx.NumInputs() < 1 || ctx.NumInputs() > 2 || ctx.NumOutputs() != 1 || !ctx.HasInput(0)) {
    return ctx.Fail(Status::kInvalidArgument, "expects 1 or 2 inputs and 1 output, got %d and %d",
                    ctx.NumInputs(), ctx.NumOutputs());
  }
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if (input.type != output.type || DataTypeSize(input.type) == 0) {
    return ctx.Fail(Status::kUnsupportedType, "input %s and output %s must be the same type",
                    DataTypeName(input.type), DataTypeName(output.type));
  }
  for (int i = 0; i < output.rank; ++i) {
    if (output.Dim(i) < 0) {
      return ctx.Fail(Status::kShapeMismatch,
                      "output dimension %d is %d (dynamic shapes are "
                      "not supported)",
                      i, static_cast<int>(output.Dim(i)));
    }
  }
  if (input.FlatSize() != output.FlatSize()) {
    return ctx.Fail(Status::kShapeMismatch, "input has %d elements, output %d",
                    static_cast<int>(input.FlatSize()), static_cast<int>(output.FlatSize()));
  }
  const int32_t* shape = nullptr;
  uint32_t count = 0;
  if (RequestedShape(ctx, &shape, &count)) {
    return CheckRequestedShape(ctx, shape, count, input.FlatSize(), output);
  }
  return Status::kOk;
}

Status Invoke(OpContext& ctx) {
  const TensorView input = ctx.Input(0);
  const TensorView output = ctx.Output(0);
  if (output.data != input.data) {
    std::memcpy(output.data, input.data,
                static_cast<size_t>(input.FlatSize()) * DataTypeSize(input.type));
  }
  return Status::kOk;
}

}  // namespace

const KernelRegistration& Register_RESHAPE() {
  static const KernelRegistration registration = {kOpReshape, "RESHAPE", Prepare, Invoke};
  return registration;
}

}  // namespace md
