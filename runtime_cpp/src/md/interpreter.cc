// Interpreter and OpContext. See interpreter.h for the arena layout.
#include "md/interpreter.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "md/port.h"
#include "md/profiler.h"
#include "md/types.h"

namespace md {

namespace {

// Auto tiling (docs/patch_execution.md, microdeploy/patching.py AUTO_MIN_SAVING_PERCENT): a
// stage is streamed when it lowers the head by at least this share of the layer-by-layer head,
// or when the layer-by-layer plan does not fit the arena.
constexpr uint64_t kAutoMinSavingPercent = 10;

bool StagePays(uint32_t stage_head, uint32_t layer_head, uint32_t head_budget) {
  if (layer_head > head_budget) return stage_head < layer_head;
  return static_cast<uint64_t>(stage_head) * 100 <=
         static_cast<uint64_t>(layer_head) * (100 - kAutoMinSavingPercent);
}

constexpr size_t kTailAlignment = 8;  // pointers and int64 in persistent blocks

uintptr_t AlignUp(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }
uintptr_t AlignDown(uintptr_t x, uintptr_t a) { return x & ~(a - 1); }

bool IsGraphInput(const ModelView& model, int32_t t) {
  for (int i = 0; i < model.NumInputs(); ++i) {
    if (model.InputTensor(i) == t) return true;
  }
  return false;
}

bool IsGraphOutput(const ModelView& model, int32_t t) {
  for (int i = 0; i < model.NumOutputs(); ++i) {
    if (model.OutputTensor(i) == t) return true;
  }
  return false;
}

bool SameDims(const TensorInfo& a, const TensorInfo& b) {
  if (a.rank != b.rank) return false;
  for (int32_t i = 0; i < a.rank; ++i) {
    if (a.dims[i] != b.dims[i]) return false;
  }
  return true;
}

// In-place aliasing, the rule of docs/architecture.md (arena planning, step 2): in op order, an
// op with an InPlaceRule writes its only output over the first allowed input that dies at this
// op, when both are planned, not variable, of the same type and byte size (and dims, for
// element-wise ops), the input is no subgraph output and the output no subgraph input. The
// output then shares the bytes of that input's alias group, whose lifetime grows to cover it.
// `buffer_of[t]` is tensor t's buffer index (kNoOffset when t is not planned).
void AliasInPlace(const ModelView& model, const uint32_t* buffer_of, uint32_t no_buffer,
                  PlanBuffer* buffers) {
  for (int op = 0; op < model.NumOperators(); ++op) {
    const OpInfo info = model.Operator(op);
    const InPlaceRule rule = InPlaceRuleFor(info.builtin_code);
    if (rule.inputs == 0 || info.num_outputs != 1) continue;
    const int32_t out = info.outputs[0];
    if (out < 0 || buffer_of[out] == no_buffer || IsGraphInput(model, out)) continue;
    PlanBuffer& ob = buffers[buffer_of[out]];
    const TensorInfo ot = model.Tensor(out);
    if (ot.is_variable || ob.first != op || ob.alias >= 0) continue;
    for (int k = 0; k < info.num_inputs && k < 8; ++k) {
      const int32_t in = info.inputs[k];
      if ((rule.inputs & (1u << k)) == 0 || in < 0 || in == out) continue;
      if (buffer_of[in] == no_buffer) continue;
      const PlanBuffer& ib = buffers[buffer_of[in]];
      const TensorInfo it = model.Tensor(in);
      if (it.is_variable || ib.last != op || IsGraphOutput(model, in)) continue;
      if (it.type != ot.type || ModelView::TensorBytes(it) != ModelView::TensorBytes(ot)) continue;
      if (rule.same_dims && !SameDims(it, ot)) continue;
      const int32_t root = ib.alias >= 0 ? ib.alias : static_cast<int32_t>(buffer_of[in]);
      ob.alias = root;
      if (buffers[root].last < ob.last) buffers[root].last = ob.last;
      break;
    }
  }
}

// Row geometry of an op that can compute a band of output rows (patch-based
// execution, docs/patch_execution.md; microdeploy/patching.py has the same rules).
struct StageGeometry {
  int32_t kh, dh, sh, pad_h, in_h, out_h;
  uint32_t in_row, out_row;  // bytes per row of input 0 / output 0
  int32_t out_depth;         // output channels (the op's Band::constants area)
};

// CONV_2D (one group) or DEPTHWISE_CONV_2D, int8 rank-4 input and output of batch 1.
bool ReadStageOp(const ModelView& model, int op, StageGeometry* g) {
  const OpInfo info = model.Operator(op);
  const bool conv = info.builtin_code == kOpConv2D;
  if (!conv && info.builtin_code != kOpDepthwiseConv2D) return false;
  if (info.num_outputs != 1 || info.num_inputs < 2) return false;
  if (info.inputs[0] < 0 || info.inputs[1] < 0 || info.outputs[0] < 0) return false;
  const TensorInfo in = model.Tensor(info.inputs[0]);
  const TensorInfo filter = model.Tensor(info.inputs[1]);
  const TensorInfo out = model.Tensor(info.outputs[0]);
  if (in.type != DataType::kInt8 || out.type != DataType::kInt8) return false;
  if (in.rank != 4 || out.rank != 4 || filter.rank != 4) return false;
  if (in.dims[0] != 1 || out.dims[0] != 1) return false;
  if (conv && filter.dims[3] != in.dims[3]) return false;
  const TableView opts = model.Options(info);
  g->sh = opts.GetInt32(2, 0);             // stride_h: slot 2 in both options tables
  g->dh = opts.GetInt32(conv ? 5 : 6, 1);  // dilation_h_factor
  g->kh = filter.dims[1];
  g->in_h = in.dims[1];
  g->out_h = out.dims[1];
  if (g->sh < 1 || g->dh < 1 || g->kh < 1 || g->in_h < 1 || g->out_h < 1) return false;
  const int32_t total = (g->out_h - 1) * g->sh + (g->kh - 1) * g->dh + 1 - g->in_h;
  g->pad_h = total > 0 ? total / 2 : 0;
  g->in_row = static_cast<uint32_t>(in.dims[2]) * static_cast<uint32_t>(in.dims[3]);
  g->out_row = static_cast<uint32_t>(out.dims[2]) * static_cast<uint32_t>(out.dims[3]);
  g->out_depth = out.dims[3];
  return true;
}

// Rows of the consumer's input kept while it is streamed one output row at a time.
int32_t WindowRows(const StageGeometry& consumer) {
  const int32_t span = (consumer.kh - 1) * consumer.dh + 1;
  const int32_t rows = span > consumer.sh ? span : consumer.sh;
  return rows < consumer.in_h ? rows : consumer.in_h;
}

int CountUses(const ModelView& model, int32_t t) {
  int uses = 0;
  for (int op = 0; op < model.NumOperators(); ++op) {
    const OpInfo info = model.Operator(op);
    for (int k = 0; k < info.num_inputs; ++k) uses += info.inputs[k] == t;
    for (int k = 0; k < info.num_outputs; ++k) uses += info.outputs[k] == t;
    for (int k = 0; k < info.num_intermediates; ++k) uses += info.intermediates[k] == t;
  }
  return uses;
}

// A pointer `back` bytes before `p`: the base of a virtual full-size tensor
// of which only the rows from `p` on are backed by memory.
uint8_t* VirtualBase(uint8_t* p, uint32_t back) {
  return reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) - back);
}

}  // namespace

Interpreter::Interpreter(const uint8_t* model, size_t model_size, const OpResolver& resolver,
                         uint8_t* arena, size_t arena_size, Profiler* profiler)
    : model_data_(model),
      model_size_(model_size),
      resolver_(resolver),
      arena_(arena),
      arena_size_(arena_size),
      profiler_(profiler) {
  const uintptr_t start = reinterpret_cast<uintptr_t>(arena);
  head_ = reinterpret_cast<uint8_t*>(AlignUp(start, kPlanAlignment));
  tail_end_ = reinterpret_cast<uint8_t*>(AlignDown(start + arena_size, kPlanAlignment));
  if (arena == nullptr || tail_end_ < head_) tail_end_ = head_;
}

Status Interpreter::SetError(Status status, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(error_, kErrorSize, fmt, args);
  va_end(args);
  return status;
}

Status Interpreter::ArenaTooSmall(size_t need, bool lower_bound) {
  required_bytes_ = need;
  required_is_lower_bound_ = lower_bound;
  return SetError(Status::kArenaTooSmall, "arena too small: need %s%lu bytes, have %lu",
                  lower_bound ? "at least " : "", static_cast<unsigned long>(need),
                  static_cast<unsigned long>(arena_size_));
}

Status Interpreter::Init() {
  initialized_ = false;
  allocated_ = false;
  error_[0] = '\0';
  Status s = model_.Init(model_data_, model_size_, error_, kErrorSize);
  if (s != Status::kOk) return s;
  if (model_.NumOperators() > kMaxOps) {
    return SetError(Status::kUnsupportedOp,
                    "model has %ld operators; this runtime runs at most %ld",
                    static_cast<long>(model_.NumOperators()), static_cast<long>(kMaxOps));
  }
  for (int code = 0; code < kCachedOpcodes; ++code) {
    opcode_regs_[code] =
        code < model_.NumOperatorCodes() ? resolver_.Find(model_.OperatorCode(code)) : nullptr;
  }
  for (int i = 0; i < model_.NumOperators(); ++i) {
    const OpInfo op = model_.Operator(i);
    if (resolver_.Find(op.builtin_code) == nullptr) {
      const char* name = BuiltinOpName(op.builtin_code);
      char file[48];
      size_t k = 0;
      for (; name[k] != '\0' && k + 1 < sizeof(file); ++k) {
        file[k] =
            (name[k] >= 'A' && name[k] <= 'Z') ? static_cast<char>(name[k] - 'A' + 'a') : name[k];
      }
      file[k] = '\0';
      return SetError(Status::kUnsupportedOp,
                      "op %ld (%s) is not supported by this build; link kernels/%s.cc and "
                      "register it with the op resolver",
                      static_cast<long>(i), name, file);
    }
  }
  initialized_ = true;
  return Status::kOk;
}

void* Interpreter::AllocTail(size_t bytes) {
  // Sizes are capped so the running total cannot wrap; an oversized request
  // still counts, so "arena too small" can say how much was asked for.
  constexpr size_t kMaxTail = 0x7fffffff;
  const size_t rounded =
      bytes > kMaxTail ? kMaxTail : ((bytes + kTailAlignment - 1) & ~(kTailAlignment - 1));
  tail_used_ = rounded > kMaxTail - tail_used_ ? kMaxTail : tail_used_ + rounded;
  const size_t available = static_cast<size_t>(tail_end_ - head_);
  // While preparing, the head holds the scratch request list.
  const size_t reserved = phase_ == Phase::kPrepare ? num_scratch_ * sizeof(ScratchEntry) : 0;
  if (tail_used_ >= kMaxTail || tail_used_ + reserved > available) return nullptr;
  return tail_end_ - tail_used_;
}

const OpInfo& Interpreter::CurrentOp(int op_index) const {
  if (cached_op_index_ != op_index) {
    cached_op_ = model_.Operator(op_index);
    cached_op_index_ = op_index;
  }
  return cached_op_;
}

const KernelRegistration* Interpreter::LoadOp(int op) {
  model_.ReadOperator(op, &cached_op_);
  const uint32_t code = cached_op_.opcode_index;
  const KernelRegistration* reg =
      code < static_cast<uint32_t>(kCachedOpcodes) ? opcode_regs_[code] : nullptr;
  if (reg == nullptr) reg = resolver_.Find(model_.OperatorCode(static_cast<int>(code)));
  cached_op_.builtin_code = reg->op;  // Init() checked that every op has a registration
  cached_op_index_ = op;
  return reg;
}

TensorView Interpreter::Tensor(int index) const {
  TensorView v;
  if (!model_.valid() || index < 0 || index >= model_.NumTensors()) return v;
  const TensorInfo t = model_.Tensor(index);
  v.type = t.type;
  v.rank = t.rank;
  v.dims = t.dims;
  if (t.num_scales > 0) {
    v.scale = t.scales[0];
    v.zero_point = t.zero_points ? static_cast<int32_t>(t.zero_points[0]) : 0;
    if (t.num_scales > 1) {
      v.scales = t.scales;
      v.zero_points = t.zero_points;
      v.num_channels = t.num_scales;
      v.quantized_dimension = t.quantized_dimension;
    }
  }
  v.is_variable = t.is_variable;
  v.index = index;
  if (t.data != nullptr && !t.is_variable) {
    v.is_constant = true;
    v.data = const_cast<uint8_t*>(t.data);
  } else if (allocated_ && tensor_offsets_[index] != kNoOffset) {
    v.data = head_ + tensor_offsets_[index];
  }
  return v;
}

int Interpreter::NumInputs() const { return model_.valid() ? model_.NumInputs() : 0; }
int Interpreter::NumOutputs() const { return model_.valid() ? model_.NumOutputs() : 0; }

TensorView Interpreter::Input(int i) const {
  if (i < 0 || i >= NumInputs()) return TensorView();
  return Tensor(model_.InputTensor(i));
}

TensorView Interpreter::Output(int i) const {
  if (i < 0 || i >= NumOutputs()) return TensorView();
  return Tensor(model_.OutputTensor(i));
}

Status Interpreter::AllocateTensors() {
  if (!initialized_) {
    return SetError(Status::kInvalidArgument,
                    "AllocateTensors() called before a successful Init()");
  }
  allocated_ = false;
  error_[0] = '\0';
  tail_used_ = 0;
  num_scratch_ = 0;
  scratch_ = reinterpret_cast<ScratchEntry*>(head_);
  user_first_ = user_last_ = user_cursor_ = nullptr;
  head_bytes_ = tail_bytes_ = used_bytes_ = required_bytes_ = 0;
  required_is_lower_bound_ = false;
  cached_op_index_ = -1;
  const size_t pad = static_cast<size_t>(head_ - arena_);

  tensor_offsets_ = static_cast<uint32_t*>(
      AllocTail(sizeof(uint32_t) * static_cast<size_t>(model_.NumTensors())));
  bool exhausted = tensor_offsets_ == nullptr && model_.NumTensors() > 0;

  phase_ = Phase::kPrepare;
  for (int i = 0; i < model_.NumOperators() && !exhausted; ++i) {
    const KernelRegistration* reg = resolver_.Find(CurrentOp(i).builtin_code);
    op_scratch_count_ = 0;
    if (reg->prepare == nullptr) continue;
    OpContext ctx(this, i);
    const Status s = reg->prepare(ctx);
    const size_t need = num_scratch_ * sizeof(ScratchEntry) + tail_used_;
    if (need > static_cast<size_t>(tail_end_ - head_)) {
      exhausted = true;
    } else if (s != Status::kOk) {
      phase_ = Phase::kNone;
      if (error_[0] == '\0') {
        SetError(s, "op %ld (%s): prepare failed (%s)", static_cast<long>(i), reg->name,
                 StatusName(s));
      }
      return s;
    }
  }
  if (exhausted) {
    phase_ = Phase::kNone;
    return ArenaTooSmall(pad + num_scratch_ * sizeof(ScratchEntry) + PlanAlign(tail_used_), true);
  }
  phase_ = Phase::kNone;
  return PlanAndLayout();
}

Status Interpreter::PlanAndLayout() {
  const size_t pad = static_cast<size_t>(head_ - arena_);
  const int num_tensors = model_.NumTensors();
  const int num_ops = model_.NumOperators();
  const int last_op = num_ops > 0 ? num_ops - 1 : 0;

  // The final scratch table goes to the tail; the request list stays in the
  // head until the plan is copied.
  const ScratchEntry* requests = reinterpret_cast<const ScratchEntry*>(head_);
  ScratchEntry* table = static_cast<ScratchEntry*>(
      AllocTail(sizeof(ScratchEntry) * static_cast<size_t>(num_scratch_)));
  const size_t requests_bytes =
      PlanAlign(static_cast<uint32_t>(num_scratch_ * sizeof(ScratchEntry)));

  // Lifetimes first, packed as (first << 16 | last) into the tail's offset
  // array (overwritten by the offsets below), so the head needs work arrays
  // for the planned buffers only. Init() caps the op count at 65535.
  for (int t = 0; t < num_tensors; ++t) tensor_offsets_[t] = kNoOffset;
  auto touch = [this](int32_t t, uint32_t op) {
    if (t < 0) return;
    const uint32_t v = tensor_offsets_[t];
    const uint32_t first = v == kNoOffset ? op : ((v >> 16) < op ? (v >> 16) : op);
    const uint32_t last = v == kNoOffset ? op : ((v & 0xffffu) > op ? (v & 0xffffu) : op);
    tensor_offsets_[t] = (first << 16) | last;
  };
  for (int i = 0; i < model_.NumInputs(); ++i) touch(model_.InputTensor(i), 0);
  for (int op = 0; op < num_ops; ++op) {
    const OpInfo info = model_.Operator(op);
    const uint32_t u = static_cast<uint32_t>(op);
    for (int k = 0; k < info.num_inputs; ++k) touch(info.inputs[k], u);
    for (int k = 0; k < info.num_outputs; ++k) touch(info.outputs[k], u);
    for (int k = 0; k < info.num_intermediates; ++k) touch(info.intermediates[k], u);
  }
  for (int i = 0; i < model_.NumOutputs(); ++i) {
    touch(model_.OutputTensor(i), static_cast<uint32_t>(last_op));
  }
  // Planned tensors: non-constant ones that something uses.
  int planned_tensors = 0;
  for (int t = 0; t < num_tensors; ++t) {
    if (tensor_offsets_[t] == kNoOffset) continue;
    const TensorInfo info = model_.Tensor(t);
    if (info.data != nullptr && !info.is_variable) {
      tensor_offsets_[t] = kNoOffset;
      continue;
    }
    ++planned_tensors;
  }

  // Work area in the head after the request list: one PlanBuffer per planned
  // buffer, their tensor ids, and the planner's index arrays.
  const int max_buffers = planned_tensors + num_scratch_;
  const size_t work_bytes =
      (sizeof(PlanBuffer) + sizeof(int32_t)) * static_cast<size_t>(max_buffers) +
      PlannerWorkBytes(max_buffers);
  // The planning arrays live in the head region while AllocateTensors()
  // runs, so an arena must hold them too (this only matters for tiny models).
  const size_t planning = PlanAlign(static_cast<uint32_t>(requests_bytes + work_bytes));
  const size_t free_bytes = static_cast<size_t>(tail_end_ - head_);
  if ((table == nullptr && num_scratch_ > 0) ||
      planning + PlanAlign(static_cast<uint32_t>(tail_used_)) > free_bytes) {
    return ArenaTooSmall(pad + planning + PlanAlign(static_cast<uint32_t>(tail_used_)), true);
  }
  PlanBuffer* buffers = reinterpret_cast<PlanBuffer*>(head_ + requests_bytes);
  int32_t* ids = reinterpret_cast<int32_t*>(buffers + max_buffers);
  void* planner_work = ids + max_buffers;

  int n = 0;
  for (int t = 0; t < num_tensors; ++t) {
    const uint32_t v = tensor_offsets_[t];
    if (v == kNoOffset) continue;
    const TensorInfo info = model_.Tensor(t);
    PlanBuffer b{PlanAlign(ModelView::TensorBytes(info)), static_cast<uint16_t>(v >> 16),
                 static_cast<uint16_t>(v & 0xffffu), 0};
    if (info.is_variable) {
      b.first = 0;
      b.last = static_cast<uint16_t>(last_op);
    }
    buffers[n] = b;
    ids[n] = t;
    ++n;
  }
  for (int s = 0; s < num_scratch_; ++s) {
    const uint16_t op = static_cast<uint16_t>(requests[s].op);
    buffers[n] = PlanBuffer{requests[s].value, op, op, 0};
    ids[n] = -1 - s;
    ++n;
  }
  // Tensor -> buffer index, for the in-place pass (the offsets are written below).
  for (int k = 0; k < n && ids[k] >= 0; ++k) tensor_offsets_[ids[k]] = static_cast<uint32_t>(k);
  AliasInPlace(model_, tensor_offsets_, kNoOffset, buffers);

  uint32_t head = 0;
  // Head bytes the arena leaves once the tail is taken (the tiling policy's budget).
  const size_t tail_bytes = PlanAlign(static_cast<uint32_t>(tail_used_));
  const size_t budget = free_bytes > tail_bytes ? free_bytes - tail_bytes : 0;
  const uint32_t head_budget = budget > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(budget);
  if (ChooseStage(buffers, n, tensor_offsets_, planner_work, PlannerWorkBytes(n), head_budget,
                  &head) != Status::kOk) {
    return ArenaTooSmall(0xffffffffu, true);  // the plan does not even fit in 32 bits
  }
  const size_t tail = PlanAlign(static_cast<uint32_t>(tail_used_));
  const size_t required = pad + (head > planning ? head : planning) + tail;
  if (plan_count_ != nullptr) {
    *plan_count_ = n;
    for (int k = 0; k < n && k < plan_capacity_; ++k) {
      const bool is_tensor = ids[k] >= 0;
      plan_records_[k] = PlanRecord{k,
                                    is_tensor ? ids[k] : -1,
                                    is_tensor ? -1 : requests[-1 - ids[k]].op,
                                    buffers[k].size,
                                    buffers[k].first,
                                    buffers[k].last,
                                    buffers[k].offset,
                                    buffers[k].alias};
    }
  }
  if (head + tail > free_bytes) return ArenaTooSmall(required, false);

  // Copy the plan out of the head before the head is used for tensors.
  for (int t = 0; t < num_tensors; ++t) tensor_offsets_[t] = kNoOffset;
  for (int k = 0; k < n; ++k) {
    if (ids[k] >= 0) {
      tensor_offsets_[ids[k]] = buffers[k].offset;
    } else {
      const int s = -1 - ids[k];
      table[s] = ScratchEntry{requests[s].op, buffers[k].offset};
    }
  }
  scratch_ = table;
  head_bytes_ = head;
  tail_bytes_ = tail;
  used_bytes_ = required;
  allocated_ = true;
  return ResetVariableTensors();
}

// Patch-based execution (docs/patch_execution.md, microdeploy/patching.py):
// every candidate stage s..e is tried on the planner's buffers (edited, then
// restored); the one with the smallest head is kept if it beats the plan
// without a stage. `buffer_of[t]` is tensor t's buffer index or kNoOffset.
Status Interpreter::ChooseStage(PlanBuffer* buffers, int n, const uint32_t* buffer_of, void* work,
                                size_t work_bytes, uint32_t head_budget, uint32_t* head) {
  stage_first_ = stage_last_ = -1;
  if (PlanBuffers(buffers, n, work, work_bytes, head) != Status::kOk) {
    return Status::kInvalidArgument;
  }
  const ScratchEntry* requests = reinterpret_cast<const ScratchEntry*>(head_);
  auto has_scratch = [&](int op) {
    for (int k = 0; k < num_scratch_; ++k) {
      if (requests[k].op == op) return true;
    }
    return false;
  };
  struct Edit {
    uint32_t buffer;
    PlanBuffer saved;
  };
  Edit edits[kMaxStageOps + 2];
  int num_edits = 0;
  StageGeometry chain[kMaxStageOps];
  // Applies stage [s, e] (chain[0..e-s] filled) to the buffers, saving what it changes.
  auto apply = [&](int s, int e) {
    num_edits = 0;
    for (int k = s; k < e; ++k) {
      const uint32_t b = buffer_of[model_.Operator(k).outputs[0]];
      edits[num_edits++] = Edit{b, buffers[b]};
      buffers[b].size =
          PlanAlign(static_cast<uint32_t>(WindowRows(chain[k + 1 - s])) * chain[k - s].out_row);
      buffers[b].first = static_cast<uint16_t>(s);
      buffers[b].last = static_cast<uint16_t>(e);
    }
    // The ops' per-channel constants (Band::constants) follow the first window.
    const uint32_t first_window = buffer_of[model_.Operator(s).outputs[0]];
    for (int k = s; k <= e; ++k) {
      buffers[first_window].size += BandConstantsBytes(chain[k - s].out_depth);
    }
    const int32_t x = model_.Operator(s).inputs[0];
    if (buffer_of[x] != kNoOffset) {
      const uint32_t b = buffers[buffer_of[x]].alias >= 0
                             ? static_cast<uint32_t>(buffers[buffer_of[x]].alias)
                             : buffer_of[x];
      edits[num_edits++] = Edit{b, buffers[b]};
      if (buffers[b].last < e) buffers[b].last = static_cast<uint16_t>(e);
    }
    const uint32_t y = buffer_of[model_.Operator(e).outputs[0]];
    edits[num_edits++] = Edit{y, buffers[y]};
    if (buffers[y].first > s) buffers[y].first = static_cast<uint16_t>(s);
  };
  auto restore = [&]() {
    while (num_edits > 0) {
      --num_edits;
      buffers[edits[num_edits].buffer] = edits[num_edits].saved;
    }
  };
  // kOn takes the best candidate even when it does not lower the head.
  const uint32_t layer_by_layer = *head;
  uint32_t best_head = tiling_ == Tiling::kOn ? 0xffffffffu : layer_by_layer;
  int best_s = -1;
  int best_e = -1;
  if (tiling_ == Tiling::kOff) return Status::kOk;
  // Only kernels that declare band support are streamed (a resolver may hold others).
  auto streamable = [&](int op, StageGeometry* g) {
    const KernelRegistration* reg = resolver_.Find(model_.Operator(op).builtin_code);
    return reg != nullptr && reg->runs_on_bands && ReadStageOp(model_, op, g) && !has_scratch(op);
  };
  const int num_ops = model_.NumOperators();
  for (int s = 0; s < num_ops; ++s) {
    if (!streamable(s, &chain[0])) continue;
    for (int e = s + 1; e < num_ops && e < s + kMaxStageOps; ++e) {
      const int32_t mid = model_.Operator(e - 1).outputs[0];
      if (!streamable(e, &chain[e - s])) break;
      if (model_.Operator(e).inputs[0] != mid || CountUses(model_, mid) != 2) break;
      if (buffer_of[mid] == kNoOffset || IsGraphOutput(model_, mid)) break;
      if (model_.Tensor(mid).is_variable) break;
      apply(s, e);
      uint32_t trial = 0;
      const Status st = PlanBuffers(buffers, n, work, work_bytes, &trial);
      restore();
      if (st != Status::kOk) return st;
      if (trial < best_head) {
        best_head = trial;
        best_s = s;
        best_e = e;
      }
    }
  }
  if (best_s >= 0 && tiling_ == Tiling::kAuto &&
      !StagePays(best_head, layer_by_layer, head_budget)) {
    best_s = -1;
  }
  if (best_s < 0) return PlanBuffers(buffers, n, work, work_bytes, head);
  for (int k = best_s; k <= best_e; ++k) ReadStageOp(model_, k, &chain[k - best_s]);
  apply(best_s, best_e);
  stage_first_ = best_s;
  stage_last_ = best_e;
  return PlanBuffers(buffers, n, work, work_bytes, head);
}

Status Interpreter::InvokeOp(int op, Band band, uint8_t* input, uint8_t* output) {
  const KernelRegistration* reg = LoadOp(op);
  band_op_ = op;
  band_ = band;
  band_input_ = input;
  band_output_ = output;
  OpContext ctx(this, op);
  const Status s = reg->invoke(ctx);
  band_op_ = -1;
  if (s != Status::kOk && error_[0] == '\0') {
    SetError(s, "op %ld (%s): invoke failed (%s)", static_cast<long>(op), reg->name, StatusName(s));
  }
  return s;
}

// Streams the stage: one output row of its last op at a time. Each op j
// first makes the rows of op j-1's output it reads present in that op's
// window (run.rows[j-1] rows: rows no longer read are dropped, the others
// moved to the front, and every missing row computed by one call of op j-1),
// then computes its rows. Each op's per-channel constants are computed on its
// first band and reused by the others (Band::constants).
Status Interpreter::RunStage() {
  StageRun run{};
  const int n = stage_last_ - stage_first_ + 1;
  uint8_t* constants = nullptr;  // after the first window (ChooseStage reserved them there)
  for (int j = 0; j < n; ++j) {
    StageGeometry g{};
    ReadStageOp(model_, stage_first_ + j, &g);  // checked when the stage was chosen
    run.kh[j] = g.kh;
    run.dh[j] = g.dh;
    run.sh[j] = g.sh;
    run.pad_h[j] = g.pad_h;
    run.in_h[j] = g.in_h;
    run.out_h[j] = g.out_h;
    run.in_row[j] = g.in_row;
    run.out_row[j] = g.out_row;
    run.produced[j] = run.lo[j] = run.count[j] = 0;
    run.window[j] = nullptr;
    run.rows[j] = 0;
    run.ticks[j] = 0;
    run.filled[j] = false;
    if (j > 0) {
      run.rows[j - 1] = WindowRows(g);
      run.window[j - 1] = head_ + tensor_offsets_[model_.Operator(stage_first_ + j - 1).outputs[0]];
    }
    if (j == 1) {
      constants = run.window[0] + PlanAlign(static_cast<uint32_t>(run.rows[0]) * run.out_row[0]);
    }
    run.out_depth[j] = g.out_depth;
  }
  for (int j = 0; j < n; ++j) {
    run.constants[j] = constants;
    constants += BandConstantsBytes(run.out_depth[j]);
  }
  Status s = Status::kOk;
  for (int32_t row = 0; row < run.out_h[n - 1] && s == Status::kOk; ++row) {
    s = ComputeStageRows(run, n - 1, row, row + 1);
  }
  if (profiler_ != nullptr && s == Status::kOk) {
    for (int j = 0; j < n; ++j) {
      const KernelRegistration* reg = resolver_.Find(CurrentOp(stage_first_ + j).builtin_code);
      profiler_->AddRecord(stage_first_ + j, reg->name, run.ticks[j]);
    }
  }
  return s;
}

// Makes rows [first, last] of op j's output present in its window (j is not
// the stage's last op). The caller reads no row below `first` again.
Status Interpreter::EnsureStageRows(StageRun& run, int j, int32_t first, int32_t last) {
  if (run.lo[j] < first) {
    const int32_t drop = first - run.lo[j] < run.count[j] ? first - run.lo[j] : run.count[j];
    const int32_t keep = run.count[j] - drop;
    if (keep > 0) {
      std::memmove(run.window[j], run.window[j] + static_cast<uint32_t>(drop) * run.out_row[j],
                   static_cast<size_t>(keep) * run.out_row[j]);
    }
    run.lo[j] += drop;
    run.count[j] = keep;
  }
  // The window holds [lo, produced) and gets [produced, last]: at most
  // max(span, stride) rows of the consumer, which is its size (WindowRows).
  // The stage's first op reads its full-size input, so it computes them in
  // one call; any other op reads a window that holds the input of one output
  // row (several would need more rows than max(span, stride)), so one call
  // per row.
  if (j == 0 && run.produced[j] <= last) return ComputeStageRows(run, j, run.produced[j], last + 1);
  while (run.produced[j] <= last) {
    const Status s = ComputeStageRows(run, j, run.produced[j], run.produced[j] + 1);
    if (s != Status::kOk) return s;
  }
  return Status::kOk;
}

// Op j computes its output rows [begin, end) in one call.
Status Interpreter::ComputeStageRows(StageRun& run, int j, int32_t begin, int32_t end) {
  const int n = stage_last_ - stage_first_ + 1;
  uint8_t* input = nullptr;  // op 0 of the stage reads its full-size input
  if (j > 0) {
    int32_t first = begin * run.sh[j] - run.pad_h[j];
    int32_t last = (end - 1) * run.sh[j] - run.pad_h[j] + (run.kh[j] - 1) * run.dh[j];
    if (first < 0) first = 0;
    if (last > run.in_h[j] - 1) last = run.in_h[j] - 1;
    const Status s = EnsureStageRows(run, j - 1, first, last);
    if (s != Status::kOk) return s;
    input = VirtualBase(run.window[j - 1], static_cast<uint32_t>(run.lo[j - 1]) * run.in_row[j]);
  }
  const uint64_t start = profiler_ != nullptr ? port::Ticks() : 0;
  uint8_t* output = nullptr;  // the stage's last op writes its full-size output
  if (j + 1 < n) {
    // Rows [lo, produced) are held; the new ones follow them.
    if (run.count[j] == 0) run.lo[j] = begin;
    uint8_t* slot = run.window[j] + static_cast<uint32_t>(run.count[j]) * run.out_row[j];
    output = VirtualBase(slot, static_cast<uint32_t>(begin) * run.out_row[j]);
  }
  Band band;
  band.row_begin = begin;
  band.row_end = end;
  band.constants = run.constants[j];
  band.fill_constants = !run.filled[j];
  const Status s = InvokeOp(stage_first_ + j, band, input, output);
  run.filled[j] = true;
  if (j + 1 < n) {
    run.count[j] += end - begin;
    run.produced[j] = end;
  }
  if (profiler_ != nullptr) run.ticks[j] += port::Ticks() - start;
  return s;
}

Status Interpreter::ResetVariableTensors() {
  if (!allocated_) {
    return SetError(Status::kInvalidArgument,
                    "ResetVariableTensors() called before a successful AllocateTensors()");
  }
  for (int t = 0; t < model_.NumTensors(); ++t) {
    const TensorInfo info = model_.Tensor(t);
    if (!info.is_variable || tensor_offsets_[t] == kNoOffset) continue;
    int value = 0;
    if (info.type == DataType::kInt8 && info.zero_points != nullptr) {
      value = static_cast<int>(info.zero_points[0]);
    }
    std::memset(head_ + tensor_offsets_[t], value, ModelView::TensorBytes(info));
  }
  return Status::kOk;
}

// One pass over the ops. Per op: parse its operator table once (the OpInfo every OpContext call
// of the kernel reads), take its registration from the per-code cache, move the scratch and
// user-data cursors, call the kernel. Clock reads only with a profiler attached.
Status Interpreter::Invoke() {
  if (!allocated_) {
    return SetError(Status::kInvalidArgument,
                    "Invoke() called before a successful AllocateTensors()");
  }
  phase_ = Phase::kInvoke;
  scratch_cursor_ = 0;
  user_cursor_ = user_first_;
  error_[0] = '\0';  // a failing kernel's OpContext::Fail() message, if it leaves one
  const int num_ops = model_.NumOperators();
  Status s = Status::kOk;
  for (int i = 0; i < num_ops; ++i) {
    if (i == stage_first_) {
      s = RunStage();
      if (s != Status::kOk) break;
      i = stage_last_;
      continue;
    }
    const KernelRegistration* reg = LoadOp(i);
    while (scratch_cursor_ < num_scratch_ && scratch_[scratch_cursor_].op < i) ++scratch_cursor_;
    while (user_cursor_ != nullptr && user_cursor_->op < i) user_cursor_ = user_cursor_->next;
    OpContext ctx(this, i);
    if (profiler_ == nullptr) {
      s = reg->invoke(ctx);
    } else {
      profiler_->BeginOp(i, reg->name);
      s = reg->invoke(ctx);
      profiler_->EndOp();
    }
    if (s != Status::kOk) {
      if (error_[0] == '\0') {
        SetError(s, "op %ld (%s): invoke failed (%s)", static_cast<long>(i), reg->name,
                 StatusName(s));
      }
      break;
    }
  }
  phase_ = Phase::kNone;
  return s;
}

// ---- OpContext support ----

void* Interpreter::AllocatePersistent(int op_index, size_t bytes) {
  if (phase_ != Phase::kPrepare) {
    SetError(Status::kInvalidArgument, "op %ld: AllocatePersistent() outside prepare",
             static_cast<long>(op_index));
    return nullptr;
  }
  void* p = AllocTail(bytes);
  if (p == nullptr) {
    SetError(Status::kArenaTooSmall, "op %ld: arena too small for %lu persistent bytes",
             static_cast<long>(op_index), static_cast<unsigned long>(bytes));
  }
  return p;
}

Status Interpreter::RequestScratch(int op_index, size_t bytes, int* scratch_index) {
  *scratch_index = -1;
  if (phase_ != Phase::kPrepare) {
    return SetError(Status::kInvalidArgument, "op %ld: RequestScratch() outside prepare",
                    static_cast<long>(op_index));
  }
  if (bytes > 0x7fffffffu) {
    return SetError(Status::kInvalidArgument, "op %ld: scratch request of %lu bytes is too large",
                    static_cast<long>(op_index), static_cast<unsigned long>(bytes));
  }
  const size_t available = static_cast<size_t>(tail_end_ - head_);
  const size_t after = (static_cast<size_t>(num_scratch_) + 1) * sizeof(ScratchEntry);
  ++num_scratch_;  // counted even when it does not fit, so the need is known
  if (after + tail_used_ > available) {
    return SetError(Status::kArenaTooSmall, "op %ld: arena too small for scratch requests",
                    static_cast<long>(op_index));
  }
  scratch_[num_scratch_ - 1] = ScratchEntry{op_index, PlanAlign(static_cast<uint32_t>(bytes))};
  *scratch_index = op_scratch_count_++;
  return Status::kOk;
}

void* Interpreter::Scratch(int op_index, int scratch_index) const {
  if (phase_ != Phase::kInvoke || scratch_index < 0) return nullptr;
  const int k = scratch_cursor_ + scratch_index;
  if (k >= num_scratch_ || scratch_[k].op != op_index) return nullptr;
  return head_ + scratch_[k].value;
}

void* Interpreter::UserData(int op_index) const {
  if (phase_ == Phase::kPrepare) {
    return (user_last_ != nullptr && user_last_->op == op_index) ? user_last_->data : nullptr;
  }
  return (user_cursor_ != nullptr && user_cursor_->op == op_index) ? user_cursor_->data : nullptr;
}

void Interpreter::SetUserData(int op_index, void* data) {
  if (phase_ != Phase::kPrepare) return;
  if (user_last_ != nullptr && user_last_->op == op_index) {
    user_last_->data = data;
    return;
  }
  UserNode* node = static_cast<UserNode*>(AllocTail(sizeof(UserNode)));
  if (node == nullptr) {
    SetError(Status::kArenaTooSmall, "op %ld: arena too small for user data",
             static_cast<long>(op_index));
    return;
  }
  *node = UserNode{data, nullptr, op_index};
  if (user_last_ != nullptr) {
    user_last_->next = node;
  } else {
    user_first_ = node;
  }
  user_last_ = node;
}

Status Interpreter::PlanArena(const uint8_t* model, size_t model_size, const OpResolver& resolver,
                              uint8_t* work, size_t work_size, ArenaFigures* figures, char* error,
                              size_t error_size) {
  Interpreter interp(model, model_size, resolver, work, work_size);
  Status s = interp.Init();
  if (s == Status::kOk) s = interp.AllocateTensors();
  if (s == Status::kOk) {
    figures->total = interp.ArenaUsedBytes();
    figures->head = interp.ArenaHeadBytes();
    figures->tail = interp.ArenaTailBytes();
  }
  if (error != nullptr && error_size > 0)
    std::snprintf(error, error_size, "%s", interp.error_message());
  return s;
}

// ---- OpContext ----

int OpContext::NumInputs() const { return interp_->CurrentOp(op_index_).num_inputs; }
int OpContext::NumOutputs() const { return interp_->CurrentOp(op_index_).num_outputs; }
int OpContext::NumIntermediates() const { return interp_->CurrentOp(op_index_).num_intermediates; }

bool OpContext::HasInput(int i) const {
  const OpInfo& op = interp_->CurrentOp(op_index_);
  return i >= 0 && i < op.num_inputs && op.inputs[i] >= 0;
}

TensorView OpContext::Input(int i) const {
  if (!HasInput(i)) return TensorView();
  TensorView v = interp_->Tensor(interp_->CurrentOp(op_index_).inputs[i]);
  if (i == 0 && interp_->band_op_ == op_index_ && interp_->band_input_ != nullptr) {
    v.data = interp_->band_input_;  // a window of rows inside a patch-based stage
  }
  return v;
}

TensorView OpContext::Output(int i) const {
  const OpInfo& op = interp_->CurrentOp(op_index_);
  if (i < 0 || i >= op.num_outputs) return TensorView();
  TensorView v = interp_->Tensor(op.outputs[i]);
  if (i == 0 && interp_->band_op_ == op_index_ && interp_->band_output_ != nullptr) {
    v.data = interp_->band_output_;
  }
  return v;
}

Band OpContext::band() const { return interp_->band_op_ == op_index_ ? interp_->band_ : Band(); }

TensorView OpContext::Intermediate(int i) const {
  const OpInfo& op = interp_->CurrentOp(op_index_);
  if (i < 0 || i >= op.num_intermediates) return TensorView();
  return interp_->Tensor(op.intermediates[i]);
}

TableView OpContext::Options() const {
  return interp_->model_.Options(interp_->CurrentOp(op_index_));
}

void* OpContext::AllocatePersistent(size_t bytes) {
  return interp_->AllocatePersistent(op_index_, bytes);
}

Status OpContext::RequestScratch(size_t bytes, int* scratch_index) {
  return interp_->RequestScratch(op_index_, bytes, scratch_index);
}

void* OpContext::Scratch(int scratch_index) const {
  return interp_->Scratch(op_index_, scratch_index);
}

void* OpContext::user_data() const { return interp_->UserData(op_index_); }
void OpContext::set_user_data(void* data) { interp_->SetUserData(op_index_, data); }

Status OpContext::Fail(Status status, const char* fmt, ...) const {
  char* out = interp_->error_;
  const size_t size = Interpreter::kErrorSize;
  const int32_t code = interp_->CurrentOp(op_index_).builtin_code;
  int n =
      std::snprintf(out, size, "op %ld %s: ", static_cast<long>(op_index_), BuiltinOpName(code));
  if (n < 0) n = 0;
  if (static_cast<size_t>(n) < size) {
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(out + n, size - static_cast<size_t>(n), fmt, args);
    va_end(args);
  }
  return status;
}

}  // namespace md
