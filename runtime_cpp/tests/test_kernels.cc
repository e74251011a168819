#include "test_kernels.h"

#include <cstring>

#include "md/types.h"

namespace md_test {
namespace {

struct AddState {
  int32_t op;
  int scratch[2];
};

md::Status TestAddPrepare(md::OpContext& ctx) {
  if (ctx.NumInputs() != 2 || ctx.NumOutputs() != 1) {
    return ctx.Fail(md::Status::kShapeMismatch, "needs 2 inputs and 1 output");
  }
  const md::TensorView a = ctx.Input(0);
  const md::TensorView b = ctx.Input(1);
  const md::TensorView out = ctx.Output(0);
  if (a.type != md::DataType::kInt8 || b.type != md::DataType::kInt8 ||
      out.type != md::DataType::kInt8) {
    return ctx.Fail(md::Status::kUnsupportedType, "int8 only");
  }
  if (a.FlatSize() != out.FlatSize() || b.FlatSize() != out.FlatSize()) {
    return ctx.Fail(md::Status::kShapeMismatch, "sizes differ");
  }
  // Activations are not placed yet while preparing.
  if (!a.is_constant && a.data != nullptr) return ctx.Fail(md::Status::kKernelError, "early data");
  AddState* state = static_cast<AddState*>(ctx.AllocatePersistent(sizeof(AddState)));
  if (state == nullptr) return md::Status::kArenaTooSmall;
  state->op = ctx.op_index();
  for (int i = 0; i < 2; ++i) {
    const md::Status s =
        ctx.RequestScratch(static_cast<size_t>(out.FlatSize()), &state->scratch[i]);
    if (s != md::Status::kOk) return s;
  }
  if (state->scratch[0] != 0 || state->scratch[1] != 1) {
    return ctx.Fail(md::Status::kKernelError, "scratch indices are not per op");
  }
  ctx.set_user_data(state);
  if (ctx.user_data() != state) return ctx.Fail(md::Status::kKernelError, "user data lost");
  return md::Status::kOk;
}

md::Status TestAddInvoke(md::OpContext& ctx) {
  const AddState* state = static_cast<const AddState*>(ctx.user_data());
  if (state == nullptr || state->op != ctx.op_index()) {
    return ctx.Fail(md::Status::kKernelError, "wrong user data");
  }
  int8_t* s0 = static_cast<int8_t*>(ctx.Scratch(state->scratch[0]));
  int8_t* s1 = static_cast<int8_t*>(ctx.Scratch(state->scratch[1]));
  if (s0 == nullptr || s1 == nullptr || s0 == s1 || ctx.Scratch(2) != nullptr) {
    return ctx.Fail(md::Status::kKernelError, "bad scratch");
  }
  const md::TensorView a = ctx.Input(0);
  const md::TensorView b = ctx.Input(1);
  const md::TensorView out = ctx.Output(0);
  const int32_t n = out.FlatSize();
  // Go through both scratch buffers so overlap with live tensors would show.
  for (int32_t i = 0; i < n; ++i) s0[i] = a.Data<int8_t>()[i];
  for (int32_t i = 0; i < n; ++i) s1[i] = b.Data<int8_t>()[i];
  for (int32_t i = 0; i < n; ++i) {
    int32_t v = static_cast<int32_t>(s0[i]) + s1[i];
    v = v > 127 ? 127 : (v < -128 ? -128 : v);
    out.Data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  return md::Status::kOk;
}

struct SpareState {
  int spare[SpareAddConfig::kRequests];
  int regular;
};
SpareState g_spare_state[SpareAddConfig::kOps];

md::Status SparePrepare(md::OpContext& ctx) {
  const int op = ctx.op_index();
  if (op >= SpareAddConfig::kOps) return ctx.Fail(md::Status::kKernelError, "too many ops");
  const SpareAddConfig& config = SpareConfig();
  SpareState& state = g_spare_state[op];
  for (int k = 0; k < config.num_spare[op]; ++k) {
    const md::Status s =
        ctx.RequestSpareScratch(config.min_bytes[op][k], config.max_bytes[op][k], &state.spare[k]);
    if (s != md::Status::kOk) return s;
    if (state.spare[k] != k) return ctx.Fail(md::Status::kKernelError, "spare index %d", k);
  }
  state.regular = -1;
  if (config.regular[op] > 0) {
    const md::Status s = ctx.RequestScratch(config.regular[op], &state.regular);
    if (s != md::Status::kOk) return s;
    if (state.regular != config.num_spare[op]) {
      return ctx.Fail(md::Status::kKernelError, "regular index %d", state.regular);
    }
  }
  return md::Status::kOk;
}

void SpoilSpare(md::OpContext& ctx) {
  SpareAddConfig& config = SpareConfig();
  const int op = ctx.op_index();
  for (int k = 0; k < config.num_spare[op]; ++k) {
    size_t bytes = 1;
    void* p = ctx.SpareScratch(g_spare_state[op].spare[k], &bytes);
    config.granted[op][k] = p;
    config.bytes[op][k] = bytes;
    if (p != nullptr) std::memset(p, 0x5a, bytes);
  }
}

md::Status SpareInvoke(md::OpContext& ctx) {
  const int op = ctx.op_index();
  const SpareState& state = g_spare_state[op];
  SpoilSpare(ctx);
  for (int k = 0; k < SpareConfig().num_spare[op]; ++k) {
    if (ctx.Scratch(state.spare[k]) != nullptr) {
      return ctx.Fail(md::Status::kKernelError, "a spare index answered as regular scratch");
    }
  }
  if (state.regular >= 0) {
    size_t bytes = 1;
    if (ctx.Scratch(state.regular) == nullptr) {
      return ctx.Fail(md::Status::kKernelError, "no regular scratch");
    }
    if (ctx.SpareScratch(state.regular, &bytes) != nullptr || bytes != 0) {
      return ctx.Fail(md::Status::kKernelError, "a regular index answered as spare");
    }
    std::memset(ctx.Scratch(state.regular), 0x33, SpareConfig().regular[op]);
  }
  const md::TensorView a = ctx.Input(0);
  const md::TensorView b = ctx.Input(1);
  const md::TensorView out = ctx.Output(0);
  for (int32_t i = 0; i < out.FlatSize(); ++i) {
    int32_t v = static_cast<int32_t>(a.Data<int8_t>()[i]) + b.Data<int8_t>()[i];
    v = v > 127 ? 127 : (v < -128 ? -128 : v);
    out.Data<int8_t>()[i] = static_cast<int8_t>(v);
  }
  SpoilSpare(ctx);
  return md::Status::kOk;
}

md::Status FailingPrepare(md::OpContext& ctx) {
  return ctx.Fail(md::Status::kShapeMismatch, "bad shape %d", 3);
}

md::Status GreedyPrepare(md::OpContext& ctx) {
  if (ctx.AllocatePersistent(~size_t{0}) != nullptr) {
    return ctx.Fail(md::Status::kKernelError, "got SIZE_MAX bytes");
  }
  if (ctx.AllocatePersistent(16) != nullptr) {
    return ctx.Fail(md::Status::kKernelError, "tail did not stay exhausted");
  }
  return md::Status::kArenaTooSmall;
}

md::Status AnyPrepare(md::OpContext& ctx) {
  int64_t sum = 0;
  for (int i = 0; i < ctx.NumInputs(); ++i) {
    if (!ctx.HasInput(i)) continue;
    const md::TensorView t = ctx.Input(i);
    sum += static_cast<int64_t>(t.FlatSize()) + t.rank + t.num_channels;
    for (int c = 0; c < t.num_channels; ++c) sum += static_cast<int64_t>(t.ChannelScale(c));
  }
  for (int i = 0; i < ctx.NumOutputs(); ++i) sum += ctx.Output(i).FlatSize();
  for (int i = 0; i < ctx.NumIntermediates(); ++i) sum += ctx.Intermediate(i).FlatSize();
  const md::TableView options = ctx.Options();
  for (int slot = 0; slot < 8; ++slot) sum += options.GetInt32(slot, 0);
  return sum == -1 ? md::Status::kKernelError : md::Status::kOk;  // keep `sum` used
}

md::Status AnyInvoke(md::OpContext& ctx) {
  for (int i = 0; i < ctx.NumOutputs(); ++i) {
    const md::TensorView t = ctx.Output(i);
    if (t.is_constant || t.data == nullptr) continue;
    std::memset(t.data, 0,
                static_cast<size_t>(t.FlatSize()) * static_cast<size_t>(md::DataTypeSize(t.type)));
  }
  for (int i = 0; i < ctx.NumInputs(); ++i) {
    if (!ctx.HasInput(i)) continue;
    const md::TensorView t = ctx.Input(i);
    const size_t bytes =
        static_cast<size_t>(t.FlatSize()) * static_cast<size_t>(md::DataTypeSize(t.type));
    volatile uint8_t x = 0;
    if (t.data != nullptr && bytes > 0) x = static_cast<const uint8_t*>(t.data)[bytes - 1];
    (void)x;
  }
  return md::Status::kOk;
}

}  // namespace

const md::KernelRegistration& TestAdd() {
  static const md::KernelRegistration r{md::kOpAdd, "ADD", TestAddPrepare, TestAddInvoke};
  return r;
}

SpareAddConfig& SpareConfig() {
  static SpareAddConfig config;
  return config;
}

const md::KernelRegistration& SpareAdd() {
  static const md::KernelRegistration r{md::kOpAdd, "ADD", SparePrepare, SpareInvoke};
  return r;
}

const md::KernelRegistration& FailingAdd() {
  static const md::KernelRegistration r{md::kOpAdd, "ADD", FailingPrepare, TestAddInvoke};
  return r;
}

const md::KernelRegistration& GreedyAdd() {
  static const md::KernelRegistration r{md::kOpAdd, "ADD", GreedyPrepare, TestAddInvoke};
  return r;
}

const md::KernelRegistration* AnyOpResolver::Find(int32_t op) const {
  static md::KernelRegistration r{0, "ANY", AnyPrepare, AnyInvoke};
  r.op = op;
  return &r;
}

}  // namespace md_test
