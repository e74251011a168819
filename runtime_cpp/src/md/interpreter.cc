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
// `buffer_of[t]` is tensor t's buffer index (`no_buffer` when t is not planned).
void AliasInPlace(const ModelView& model, const uint16_t* buffer_of, uint16_t no_buffer,
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

// Kernel invoke functions in 32 bits (OpNode::invoke), so a node is 16 bytes on 64-bit hosts
// too: on 32-bit targets the pointer itself; on 64-bit ones its distance from a function of this
// file (one executable's code lies within +-2 GiB; BuildNodes() checks it).
Status AnchorKernel(OpContext&) { return Status::kOk; }

bool ToKernelHandle(KernelFn fn, uint32_t* handle) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(fn);
  if (sizeof(uintptr_t) == sizeof(uint32_t)) {
    *handle = static_cast<uint32_t>(address);
    return true;
  }
  const int64_t distance =
      static_cast<int64_t>(address - reinterpret_cast<uintptr_t>(&AnchorKernel));
  if (distance < INT32_MIN || distance > INT32_MAX) return false;
  *handle = static_cast<uint32_t>(static_cast<int32_t>(distance));
  return true;
}

inline KernelFn FromKernelHandle(uint32_t handle) {
  if (sizeof(uintptr_t) == sizeof(uint32_t)) return reinterpret_cast<KernelFn>(uintptr_t{handle});
  return reinterpret_cast<KernelFn>(
      reinterpret_cast<uintptr_t>(&AnchorKernel) +
      static_cast<uintptr_t>(static_cast<intptr_t>(static_cast<int32_t>(handle))));
}

// A pointer `back` bytes before `p`: the base of a virtual full-size tensor
// of which only the rows from `p` on are backed by memory.
uint8_t* VirtualBase(uint8_t* p, uint32_t back) {
  return reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) - back);
}

}  // namespace

MD_INIT_CODE Interpreter::Interpreter(const uint8_t* model, size_t model_size,
                                      const OpResolver& resolver, uint8_t* arena, size_t arena_size,
                                      Profiler* profiler)
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

MD_INIT_CODE Status Interpreter::SetError(Status status, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(error_, kErrorSize, fmt, args);
  va_end(args);
  return status;
}

MD_INIT_CODE Status Interpreter::ArenaTooSmall(size_t need, bool lower_bound) {
  required_bytes_ = need;
  required_is_lower_bound_ = lower_bound;
  return SetError(Status::kArenaTooSmall, "arena too small: need %s%lu bytes, have %lu",
                  lower_bound ? "at least " : "", static_cast<unsigned long>(need),
                  static_cast<unsigned long>(arena_size_));
}

MD_INIT_CODE Status Interpreter::Init() {
  initialized_ = false;
  allocated_ = false;
  fast_invoke_ = false;
  phase_ = Phase::kNone;
  error_[0] = '\0';
  Status s = model_.Init(model_data_, model_size_, error_, kErrorSize);
  if (s != Status::kOk) return s;
  if (model_.NumOperators() > kMaxOps) {
    return SetError(Status::kUnsupportedOp,
                    "model has %ld operators; this runtime runs at most %ld",
                    static_cast<long>(model_.NumOperators()), static_cast<long>(kMaxOps));
  }
  if (model_.NumTensors() > kMaxTensors) {
    return SetError(Status::kUnsupportedOp, "model has %ld tensors; this runtime runs at most %ld",
                    static_cast<long>(model_.NumTensors()), static_cast<long>(kMaxTensors));
  }
  for (int i = 0; i < model_.NumOperators(); ++i) {
    const OpInfo op = model_.Operator(i);
    if (resolver_.Find(op.builtin_code) == nullptr) {
      const OpName op_name = BuiltinOpName(op.builtin_code);
      const char* name = op_name.text;
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

MD_INIT_CODE void* Interpreter::AllocTail(size_t bytes) {
  // Sizes are capped so the running total cannot wrap; an oversized request
  // still counts, so "arena too small" can say how much was asked for.
  constexpr size_t kMaxTail = 0x7fffffff;
  const size_t rounded =
      bytes > kMaxTail ? kMaxTail : ((bytes + kTailAlignment - 1) & ~(kTailAlignment - 1));
  tail_used_ = rounded > kMaxTail - tail_used_ ? kMaxTail : tail_used_ + rounded;
  const size_t available = static_cast<size_t>(tail_end_ - head_);
  // While preparing, the head holds the scratch request list.
  const size_t reserved = phase_ == Phase::kPrepare ? RequestListBytes() : 0;
  if (tail_used_ >= kMaxTail || tail_used_ + reserved > available) return nullptr;
  return tail_end_ - tail_used_;
}

TensorView Interpreter::Tensor(int index) const {
  if (!model_.valid() || index < 0 || index >= model_.NumTensors()) return TensorView();
  return View(index);
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

MD_INIT_CODE Status Interpreter::AllocateTensors() {
  if (!initialized_) {
    return SetError(Status::kInvalidArgument,
                    "AllocateTensors() called before a successful Init()");
  }
  allocated_ = false;
  fast_invoke_ = false;
  phase_ = Phase::kNone;
  error_[0] = '\0';
  tail_used_ = 0;
  num_scratch_ = 0;
  num_spare_ = 0;
  grant_spare_ = nullptr;
  scratch_ = reinterpret_cast<ScratchEntry*>(head_);
  user_first_ = user_last_ = user_cursor_ = nullptr;
  head_bytes_ = tail_bytes_ = used_bytes_ = required_bytes_ = 0;
  required_is_lower_bound_ = false;
  scratch_cursor_ = 0;
  wide_offsets_ = nullptr;
  const size_t pad = static_cast<size_t>(head_ - arena_);

  tensor_slots_ = static_cast<uint16_t*>(
      AllocTail(sizeof(uint16_t) * static_cast<size_t>(model_.NumTensors())));
  nodes_ =
      static_cast<OpNode*>(AllocTail(sizeof(OpNode) * static_cast<size_t>(model_.NumOperators())));
  bool exhausted = (tensor_slots_ == nullptr && model_.NumTensors() > 0) ||
                   (nodes_ == nullptr && model_.NumOperators() > 0);
  if (!exhausted) {
    const Status s = BuildNodes();
    if (s != Status::kOk) return s;
  }

  phase_ = Phase::kPrepare;
  for (int i = 0; i < model_.NumOperators() && !exhausted; ++i) {
    const KernelRegistration* reg = RegistrationOf(i);
    op_scratch_count_ = 0;
    if (reg->prepare == nullptr) continue;
    OpContext ctx(this, i);
    const Status s = reg->prepare(ctx);
    const size_t need = RequestListBytes() + tail_used_;
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
    return ArenaTooSmall(pad + RequestListBytes() + PlanAlign(tail_used_), true);
  }
  phase_ = Phase::kNone;
  return PlanAndLayout();
}

const KernelRegistration* Interpreter::RegistrationOf(int op) const {
  return resolver_.Find(model_.Operator(op).builtin_code);  // Init() checked it is there
}

// The per-op nodes: each op's operator table is read here, once, instead of on every invoke.
MD_INIT_CODE Status Interpreter::BuildNodes() {
  const uint8_t* base = model_.buffer();
  // A flatbuffer vector's length is the uint32 just before its first element.
  auto vector_offset = [base](const int32_t* first) -> uint32_t {
    return first ? static_cast<uint32_t>(reinterpret_cast<const uint8_t*>(first) - base) - 4u : 0u;
  };
  for (int i = 0; i < model_.NumOperators(); ++i) {
    const OpInfo op = model_.Operator(i);
    OpNode& node = nodes_[i];
    if (!ToKernelHandle(resolver_.Find(op.builtin_code)->invoke, &node.invoke)) {
      return SetError(Status::kUnsupportedOp,
                      "op %ld (%s): its kernel's code lies over 2 GiB from the interpreter's",
                      static_cast<long>(i), BuiltinOpName(op.builtin_code).text);
    }
    node.inputs = vector_offset(op.inputs);
    node.outputs = vector_offset(op.outputs);
    node.options = op.options_table;
  }
  return Status::kOk;
}

MD_INIT_CODE Status Interpreter::PlanAndLayout() {
  const size_t pad = static_cast<size_t>(head_ - arena_);
  const int num_tensors = model_.NumTensors();
  const int num_ops = model_.NumOperators();
  const int last_op = num_ops > 0 ? num_ops - 1 : 0;

  // The final scratch table goes to the tail; the request list stays in the
  // head until the plan is copied.
  const ScratchEntry* requests = reinterpret_cast<const ScratchEntry*>(head_);
  ScratchEntry* table = static_cast<ScratchEntry*>(
      AllocTail(sizeof(ScratchEntry) * static_cast<size_t>(num_scratch_)));
  const size_t requests_bytes = PlanAlign(static_cast<uint32_t>(RequestListBytes()));

  // Planned tensors: non-constant ones that something uses. tensor_slots_ marks them here,
  // holds each one's planner buffer index while planning (Init() caps the tensor count so an
  // index never reaches kUsed), and its head offset / 16 at the end.
  constexpr uint16_t kUsed = 0xfffeu;
  uint16_t* slot = tensor_slots_;
  for (int t = 0; t < num_tensors; ++t) slot[t] = kNoSlot;
  auto mark = [slot](int32_t t) {
    if (t >= 0) slot[t] = kUsed;
  };
  for (int i = 0; i < model_.NumInputs(); ++i) mark(model_.InputTensor(i));
  for (int op = 0; op < num_ops; ++op) {
    const OpInfo info = model_.Operator(op);
    for (int k = 0; k < info.num_inputs; ++k) mark(info.inputs[k]);
    for (int k = 0; k < info.num_outputs; ++k) mark(info.outputs[k]);
    for (int k = 0; k < info.num_intermediates; ++k) mark(info.intermediates[k]);
  }
  for (int i = 0; i < model_.NumOutputs(); ++i) mark(model_.OutputTensor(i));
  int planned_tensors = 0;
  for (int t = 0; t < num_tensors; ++t) {
    if (slot[t] == kNoSlot) continue;
    const TensorInfo info = model_.Tensor(t);
    if (info.data != nullptr && !info.is_variable) {
      slot[t] = kNoSlot;
      continue;
    }
    ++planned_tensors;
  }

  // Work area in the head after the request list: one PlanBuffer per planned
  // buffer, their tensor ids, and the planner's index arrays; a spare request's slot takes
  // its grant (GrantSpareScratch).
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

  // Lifetimes: [first, last] op that touches the tensor; subgraph inputs from op 0, outputs to
  // the last op, variable tensors the whole run.
  int n = 0;
  for (int t = 0; t < num_tensors; ++t) {
    if (slot[t] == kNoSlot) continue;
    const TensorInfo info = model_.Tensor(t);
    PlanBuffer b{PlanAlign(ModelView::TensorBytes(info)), 0xffffu, 0, 0};
    if (info.is_variable) {
      b.first = 0;
      b.last = static_cast<uint16_t>(last_op);
    }
    buffers[n] = b;
    ids[n] = t;
    slot[t] = static_cast<uint16_t>(n);
    ++n;
  }
  auto touch = [slot, buffers](int32_t t, int op) {
    if (t < 0 || slot[t] == kNoSlot) return;
    PlanBuffer& b = buffers[slot[t]];
    if (op < b.first) b.first = static_cast<uint16_t>(op);
    if (op > b.last) b.last = static_cast<uint16_t>(op);
  };
  for (int i = 0; i < model_.NumInputs(); ++i) touch(model_.InputTensor(i), 0);
  for (int op = 0; op < num_ops; ++op) {
    const OpInfo info = model_.Operator(op);
    for (int k = 0; k < info.num_inputs; ++k) touch(info.inputs[k], op);
    for (int k = 0; k < info.num_outputs; ++k) touch(info.outputs[k], op);
    for (int k = 0; k < info.num_intermediates; ++k) touch(info.intermediates[k], op);
  }
  for (int i = 0; i < model_.NumOutputs(); ++i) touch(model_.OutputTensor(i), last_op);
  // Regular scratch requests in request order (ids[] keeps -1 - request index); spare ones
  // are not planned.
  for (int s = 0, e = 0; s < num_scratch_; ++s) {
    const ScratchEntry& r = requests[e];
    e += r.kind == kRegular ? 1 : 2;
    if (r.kind != kRegular) continue;
    buffers[n] = PlanBuffer{r.value, r.op, r.op, 0};
    ids[n] = -1 - s;
    ++n;
  }
  AliasInPlace(model_, slot, kNoSlot, buffers);

  uint32_t head = 0;
  // Head bytes the arena leaves once the tail is taken (the tiling policy's budget).
  const size_t tail_bytes = PlanAlign(static_cast<uint32_t>(tail_used_));
  const size_t budget = free_bytes > tail_bytes ? free_bytes - tail_bytes : 0;
  const uint32_t head_budget = budget > 0xffffffffu ? 0xffffffffu : static_cast<uint32_t>(budget);
  if (ChooseStage(buffers, n, slot, planner_work, PlannerWorkBytes(n), head_budget, &head) !=
      Status::kOk) {
    return ArenaTooSmall(0xffffffffu, true);  // the plan does not even fit in 32 bits
  }
  // Offsets are multiples of 16 and at most the head, so offset / 16 fits a uint16 below
  // kNoSlot while the head is under 0xffff * 16 bytes; a larger head keeps a uint32 byte offset
  // per tensor as well.
  const bool wide = head >= 0xffffu * kPlanAlignment;
  if (wide) {
    wide_offsets_ =
        static_cast<uint32_t*>(AllocTail(sizeof(uint32_t) * static_cast<size_t>(num_tensors)));
  }
  const size_t tail = PlanAlign(static_cast<uint32_t>(tail_used_));
  const size_t required = pad + (head > planning ? head : planning) + tail;
  if (plan_count_ != nullptr) {
    *plan_count_ = n;
    for (int k = 0; k < n && k < plan_capacity_; ++k) {
      const bool is_tensor = ids[k] >= 0;
      plan_records_[k] = PlanRecord{k,
                                    is_tensor ? ids[k] : -1,
                                    is_tensor ? -1 : static_cast<int32_t>(buffers[k].first),
                                    buffers[k].size,
                                    buffers[k].first,
                                    buffers[k].last,
                                    buffers[k].offset,
                                    buffers[k].alias};
    }
  }
  // The wide table was taken after the planning arrays were checked against the tail: they
  // must still not overlap it (the copy below reads them after writing the table).
  if (head + tail > free_bytes || planning + tail > free_bytes ||
      (wide && wide_offsets_ == nullptr)) {
    wide_offsets_ = nullptr;
    return ArenaTooSmall(required, false);
  }

  // Copy the plan out of the head before the head is used for tensors.
  if (grant_spare_ != nullptr) {
    grant_spare_(this, requests, buffers, n, planner_work, PlannerWorkBytes(max_buffers), head,
                 table);
  } else if (spare_count_ != nullptr) {
    *spare_count_ = 0;
  }
  for (int t = 0; t < num_tensors; ++t) slot[t] = kNoSlot;
  if (wide) {
    for (int t = 0; t < num_tensors; ++t) wide_offsets_[t] = kNoOffset;
  }
  for (int k = 0; k < n; ++k) {
    if (ids[k] >= 0) {
      if (wide) {
        wide_offsets_[ids[k]] = buffers[k].offset;
      } else {
        slot[ids[k]] = static_cast<uint16_t>(buffers[k].offset / kPlanAlignment);
      }
    } else {
      table[-1 - ids[k]] = ScratchEntry{buffers[k].first, kRegular, buffers[k].offset};
    }
  }
  scratch_ = table;
  head_bytes_ = head;
  tail_bytes_ = tail;
  used_bytes_ = required;
  allocated_ = true;
  phase_ = Phase::kInvoke;
  UpdateFastInvoke();
  return ResetVariableTensors();
}

// Spare scratch (kernel.h RequestSpareScratch): with the plan made (`buffers[0, n)` placed, the
// stage chosen), each spare request in request order gets the largest run of head bytes that no
// buffer live at its op covers, capped at its max, when the run holds its min; the grant is then
// appended to `buffers` as a buffer [op, op], so the op's next spare request sees it as live.
// Nothing for ops of the stage (they run in bands) nor when the head is wide (the table keeps
// offset / 16 in 16 bits). `buffers` has a slot per spare request after the n planned ones.
// Writes each spare request's table entry; microdeploy/planner.py (grant_spare) mirrors this.
MD_INIT_CODE void Interpreter::GrantSpareScratch(const ScratchEntry* requests, PlanBuffer* buffers,
                                                 int n, void* work, size_t work_bytes,
                                                 uint32_t head, ScratchEntry* table) {
  const bool wide = head >= 0xffffu * kPlanAlignment;
  int granted = n;
  int recorded = 0;
  for (int s = 0, e = 0; s < num_scratch_; ++s) {
    const ScratchEntry& r = requests[e];
    e += r.kind == kRegular ? 1 : 2;
    if (r.kind == kRegular) continue;
    const uint32_t min_bytes = r.value;
    const uint32_t max_bytes = requests[e - 1].value;
    const bool in_stage = stage_first_ >= 0 && r.op >= stage_first_ && r.op <= stage_last_;
    FreeRun run;
    if (!wide && !in_stage) {
      run = LargestFreeRun(buffers, granted, r.op, head, work, work_bytes);
      if (run.bytes < min_bytes || run.bytes == 0) run = FreeRun{};
      if (run.bytes > max_bytes) run.bytes = max_bytes;
    }
    if (run.bytes > 0) {
      buffers[granted++] = PlanBuffer{PlanAlign(run.bytes), r.op, r.op, run.offset};
      table[s] =
          ScratchEntry{r.op, static_cast<uint16_t>(run.offset / kPlanAlignment + 1), run.bytes};
    } else {
      table[s] = ScratchEntry{r.op, kSpareNotGranted, 0};
    }
    if (spare_count_ != nullptr && recorded < spare_capacity_) {
      spare_records_[recorded] = SpareRecord{r.op, min_bytes, max_bytes,
                                             run.bytes > 0 ? run.offset : kNoOffset, run.bytes};
    }
    ++recorded;
  }
  if (spare_count_ != nullptr) *spare_count_ = recorded;
}

// Reached only through grant_spare_ (set by RequestSpareScratch()).
MD_INIT_CODE void Interpreter::CallGrantSpareScratch(Interpreter* self,
                                                     const ScratchEntry* requests,
                                                     PlanBuffer* buffers, int n, void* work,
                                                     size_t work_bytes, uint32_t head,
                                                     ScratchEntry* table) {
  self->GrantSpareScratch(requests, buffers, n, work, work_bytes, head, table);
}

// Patch-based execution (docs/patch_execution.md, microdeploy/patching.py):
// every candidate stage s..e is tried on the planner's buffers (edited, then
// restored); the one with the smallest head is kept if it beats the plan
// without a stage. `buffer_of[t]` is tensor t's buffer index or kNoSlot.
MD_INIT_CODE Status Interpreter::ChooseStage(PlanBuffer* buffers, int n, const uint16_t* buffer_of,
                                             void* work, size_t work_bytes, uint32_t head_budget,
                                             uint32_t* head) {
  stage_first_ = stage_last_ = -1;
  if (PlanBuffers(buffers, n, work, work_bytes, head) != Status::kOk) {
    return Status::kInvalidArgument;
  }
  const ScratchEntry* requests = reinterpret_cast<const ScratchEntry*>(head_);
  // Spare requests do not count: they change no placement, so they choose no stage.
  auto has_scratch = [&](int op) {
    for (int k = 0; k < num_scratch_ + num_spare_; ++k) {
      if (requests[k].op == op && requests[k].kind == kRegular) return true;
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
    if (buffer_of[x] != kNoSlot) {
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
      if (buffer_of[mid] == kNoSlot || IsGraphOutput(model_, mid)) break;
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
  band_op_ = op;
  band_ = band;
  band_input_ = input;
  band_output_ = output;
  OpContext ctx(this, op);
  const Status s = FromKernelHandle(nodes_[op].invoke)(ctx);
  band_op_ = -1;
  if (s != Status::kOk && error_[0] == '\0') {
    SetError(s, "op %ld (%s): invoke failed (%s)", static_cast<long>(op), RegistrationOf(op)->name,
             StatusName(s));
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
      run.window[j - 1] = PlannedData(NodeVector(nodes_[stage_first_ + j - 1].outputs)[1]);
    }
    if (j == 1) {
      constants = run.window[0] + PlanAlign(static_cast<uint32_t>(run.rows[0]) * run.out_row[0]);
    }
    run.out_depth[j] = g.out_depth;
  }
  for (int j = 0; j < n; ++j) {
    run.call[j] = constants;  // Band::call, then Band::constants (BandConstantsBytes)
    run.constants[j] = constants + kBandCallBytes;
    constants += BandConstantsBytes(run.out_depth[j]);
  }
  // The data the first op reads and the last one writes, for the kept calls (Band::input).
  run.stage_input = PlannedData(NodeVector(nodes_[stage_first_].inputs)[1]);
  run.stage_output = PlannedData(NodeVector(nodes_[stage_last_].outputs)[1]);
  Status s = Status::kOk;
  for (int32_t row = 0; row < run.out_h[n - 1] && s == Status::kOk; ++row) {
    s = ComputeStageRows(run, n - 1, row, row + 1);
  }
  if (profiler_ != nullptr && s == Status::kOk) {
    for (int j = 0; j < n; ++j) {
      const KernelRegistration* reg = RegistrationOf(stage_first_ + j);
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
  band.call = run.call[j];
  band.input = j > 0 ? input : run.stage_input;
  band.output = j + 1 < n ? output : run.stage_output;
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
    uint8_t* data = PlannedData(t);
    if (!info.is_variable || data == nullptr) continue;
    int value = 0;
    if (info.type == DataType::kInt8 && info.zero_points != nullptr) {
      value = static_cast<int>(info.zero_points[0]);
    }
    std::memset(data, value, ModelView::TensorBytes(info));
  }
  return Status::kOk;
}

// One pass over the ops: per op, point the context at it and call its kernel. Everything an op
// needs was resolved into its OpNode by AllocateTensors(), so this loop reads no flatbuffer,
// searches no resolver and moves no cursor. A patch-based stage or an attached profiler take
// InvokeWithStageOrProfiler().
Status Interpreter::Invoke() {
  if (!fast_invoke_) return InvokeWithStageOrProfiler();
  error_[0] = '\0';  // a failing kernel's OpContext::Fail() message, if it leaves one
  OpContext ctx(this, 0);
  const OpNode* node = nodes_;
  const OpNode* const end = node + model_.NumOperators();
  for (int i = 0; node != end; ++node, ++i) {
    ctx.op_index_ = i;
    const Status s = FromKernelHandle(node->invoke)(ctx);
    if (s != Status::kOk) return InvokeFailed(i, s);
  }
  return Status::kOk;
}

#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
Status Interpreter::InvokeFailed(int op, Status s) {
  if (error_[0] == '\0') {
    SetError(s, "op %ld (%s): invoke failed (%s)", static_cast<long>(op), RegistrationOf(op)->name,
             StatusName(s));
  }
  return s;
}

Status Interpreter::InvokeWithStageOrProfiler() {
  if (!allocated_) {
    return SetError(Status::kInvalidArgument,
                    "Invoke() called before a successful AllocateTensors()");
  }
  error_[0] = '\0';
  const int num_ops = model_.NumOperators();
  for (int i = 0; i < num_ops; ++i) {
    if (i == stage_first_) {
      const Status s = RunStage();
      if (s != Status::kOk) return InvokeFailed(i, s);
      i = stage_last_;
      continue;
    }
    OpContext ctx(this, i);
    const KernelFn invoke = FromKernelHandle(nodes_[i].invoke);
    Status s;
    if (profiler_ == nullptr) {
      s = invoke(ctx);
    } else {
      profiler_->BeginOp(i, RegistrationOf(i)->name);
      s = invoke(ctx);
      profiler_->EndOp();
    }
    if (s != Status::kOk) return InvokeFailed(i, s);
  }
  return Status::kOk;
}

// ---- OpContext support ----

MD_INIT_CODE void* Interpreter::AllocatePersistent(int op_index, size_t bytes) {
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

MD_INIT_CODE Status Interpreter::AddScratchRequest(int op_index, const char* what, size_t bytes,
                                                   size_t max_bytes, int entries, size_t* entry) {
  if (phase_ != Phase::kPrepare) {
    return SetError(Status::kInvalidArgument, "op %ld: %s() outside prepare",
                    static_cast<long>(op_index), what);
  }
  if (bytes > max_bytes) {
    return SetError(Status::kInvalidArgument, "op %ld: %s(%lu bytes) exceeds its limit of %lu",
                    static_cast<long>(op_index), what, static_cast<unsigned long>(bytes),
                    static_cast<unsigned long>(max_bytes));
  }
  const size_t available = static_cast<size_t>(tail_end_ - head_);
  *entry = RequestListBytes() / sizeof(ScratchEntry);
  ++num_scratch_;  // counted even when it does not fit, so the need is known
  num_spare_ += entries - 1;
  if (RequestListBytes() + tail_used_ > available) {
    return SetError(Status::kArenaTooSmall, "op %ld: arena too small for scratch requests",
                    static_cast<long>(op_index));
  }
  return Status::kOk;
}

MD_INIT_CODE Status Interpreter::RequestScratch(int op_index, size_t bytes, int* scratch_index) {
  *scratch_index = -1;
  size_t entry = 0;
  const Status s = AddScratchRequest(op_index, "RequestScratch", bytes, 0x7fffffffu, 1, &entry);
  if (s != Status::kOk) return s;
  scratch_[entry] = ScratchEntry{static_cast<uint16_t>(op_index), kRegular,
                                 PlanAlign(static_cast<uint32_t>(bytes))};
  *scratch_index = op_scratch_count_++;
  return Status::kOk;
}

MD_INIT_CODE Status Interpreter::RequestSpareScratch(int op_index, size_t min_bytes,
                                                     size_t max_bytes, int* scratch_index) {
  *scratch_index = -1;
  size_t entry = 0;
  const Status s =
      AddScratchRequest(op_index, "RequestSpareScratch", min_bytes, max_bytes, 2, &entry);
  if (s != Status::kOk) return s;
  // No run reaches 4 GiB (the head is 32 bits), so larger bounds mean the same as this one.
  constexpr size_t kMaxBound = 0xffffffffu;
  const uint32_t min_value = static_cast<uint32_t>(min_bytes > kMaxBound ? kMaxBound : min_bytes);
  const uint32_t max_value = static_cast<uint32_t>(max_bytes > kMaxBound ? kMaxBound : max_bytes);
  grant_spare_ = &CallGrantSpareScratch;
  const uint16_t op = static_cast<uint16_t>(op_index);
  scratch_[entry] = ScratchEntry{op, kSpareMin, min_value};
  scratch_[entry + 1] = ScratchEntry{op, kSpareMax, max_value};
  *scratch_index = op_scratch_count_++;
  return Status::kOk;
}

// The table entry of the op's scratch request `scratch_index`, or nullptr. The table is in op
// order and ops run in order: go on from the last lookup, from the start when it ended past this
// op (a new Invoke()).
const Interpreter::ScratchEntry* Interpreter::FindScratchEntry(int op_index,
                                                               int scratch_index) const {
  if (phase_ != Phase::kInvoke || scratch_index < 0) return nullptr;  // allocated, not preparing
  int c = scratch_cursor_;
  if (c >= num_scratch_ || scratch_[c].op > op_index) c = 0;
  while (c < num_scratch_ && scratch_[c].op < op_index) ++c;
  scratch_cursor_ = c;
  const int k = c + scratch_index;
  if (k >= num_scratch_ || scratch_[k].op != op_index) return nullptr;
  return &scratch_[k];
}

void* Interpreter::Scratch(int op_index, int scratch_index) const {
  const ScratchEntry* entry = FindScratchEntry(op_index, scratch_index);
  // (A spare request's index gives nothing here: its entry holds no head offset.)
  if (entry == nullptr || entry->kind != kRegular) return nullptr;
  return head_ + entry->value;
}

void* Interpreter::SpareScratch(int op_index, int scratch_index, size_t* bytes) const {
  if (bytes != nullptr) *bytes = 0;
  const ScratchEntry* found = FindScratchEntry(op_index, scratch_index);
  if (found == nullptr) return nullptr;
  const ScratchEntry& entry = *found;
  if (entry.kind == kRegular || entry.value == 0) return nullptr;  // not a grant
  if (bytes != nullptr) *bytes = entry.value;
  return head_ + (static_cast<uint32_t>(entry.kind) - 1u) * kPlanAlignment;
}

void* Interpreter::UserData(int op_index) const {
  if (phase_ == Phase::kPrepare) {
    return (user_last_ != nullptr && user_last_->op == op_index) ? user_last_->data : nullptr;
  }
  // The list is in op order: as Scratch(), go on from the last lookup.
  const UserNode* u = user_cursor_;
  if (u == nullptr || u->op > op_index) u = user_first_;
  while (u != nullptr && u->op < op_index) u = u->next;
  user_cursor_ = const_cast<UserNode*>(u);
  return (u != nullptr && u->op == op_index) ? u->data : nullptr;
}

MD_INIT_CODE void Interpreter::SetUserData(int op_index, void* data) {
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

MD_INIT_CODE Status Interpreter::PlanArena(const uint8_t* model, size_t model_size,
                                           const OpResolver& resolver, uint8_t* work,
                                           size_t work_size, ArenaFigures* figures, char* error,
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

// The accessors read the op's node (AllocateTensors()); only intermediates (LSTM) are read
// from the operator table.
namespace {
int32_t VectorCount(const int32_t* vec, uint32_t offset) { return offset ? vec[0] : 0; }
}  // namespace

int OpContext::NumInputs() const {
  const uint32_t offset = interp_->nodes_[op_index_].inputs;
  return VectorCount(interp_->NodeVector(offset), offset);
}

int OpContext::NumOutputs() const {
  const uint32_t offset = interp_->nodes_[op_index_].outputs;
  return VectorCount(interp_->NodeVector(offset), offset);
}

int OpContext::NumIntermediates() const {
  return interp_->model_.Operator(op_index_).num_intermediates;
}

bool OpContext::HasInput(int i) const {
  const uint32_t offset = interp_->nodes_[op_index_].inputs;
  const int32_t* inputs = interp_->NodeVector(offset);
  return i >= 0 && i < VectorCount(inputs, offset) && inputs[1 + i] >= 0;
}

TensorView OpContext::Input(int i) const {
  const uint32_t offset = interp_->nodes_[op_index_].inputs;
  const int32_t* inputs = interp_->NodeVector(offset);
  // One return path, so the view is built in place in the caller's.
  const int32_t index = (i >= 0 && i < VectorCount(inputs, offset)) ? inputs[1 + i] : -1;
  TensorView v = index >= 0 ? interp_->View(index) : TensorView();
  if (i == 0 && interp_->band_op_ == op_index_ && interp_->band_input_ != nullptr) {
    v.data = interp_->band_input_;  // a window of rows inside a patch-based stage
  }
  return v;
}

TensorView OpContext::Output(int i) const {
  const uint32_t offset = interp_->nodes_[op_index_].outputs;
  const int32_t* outputs = interp_->NodeVector(offset);
  const int32_t index = (i >= 0 && i < VectorCount(outputs, offset)) ? outputs[1 + i] : -1;
  TensorView v = index >= 0 ? interp_->View(index) : TensorView();
  if (i == 0 && interp_->band_op_ == op_index_ && interp_->band_output_ != nullptr) {
    v.data = interp_->band_output_;
  }
  return v;
}

Band OpContext::band() const { return interp_->band_op_ == op_index_ ? interp_->band_ : Band(); }

TensorView OpContext::Intermediate(int i) const {
  const OpInfo op = interp_->model_.Operator(op_index_);
  if (i < 0 || i >= op.num_intermediates) return TensorView();
  return interp_->Tensor(op.intermediates[i]);
}

TableView OpContext::Options() const {
  const uint32_t options = interp_->nodes_[op_index_].options;
  if (options == 0) return TableView();
  return TableView(interp_->model_.buffer(), interp_->model_.size(), options);
}

MD_INIT_CODE void* OpContext::AllocatePersistent(size_t bytes) {
  return interp_->AllocatePersistent(op_index_, bytes);
}

MD_INIT_CODE Status OpContext::RequestScratch(size_t bytes, int* scratch_index) {
  return interp_->RequestScratch(op_index_, bytes, scratch_index);
}

void* OpContext::Scratch(int scratch_index) const {
  return interp_->Scratch(op_index_, scratch_index);
}

MD_INIT_CODE Status OpContext::RequestSpareScratch(size_t min_bytes, size_t max_bytes,
                                                   int* scratch_index) {
  return interp_->RequestSpareScratch(op_index_, min_bytes, max_bytes, scratch_index);
}

void* OpContext::SpareScratch(int scratch_index, size_t* bytes) const {
  return interp_->SpareScratch(op_index_, scratch_index, bytes);
}

void* OpContext::user_data() const { return interp_->UserData(op_index_); }
MD_INIT_CODE void OpContext::set_user_data(void* data) { interp_->SetUserData(op_index_, data); }

MD_INIT_CODE Status OpContext::Fail(Status status, const char* fmt, ...) const {
  char* out = interp_->error_;
  const size_t size = Interpreter::kErrorSize;
  const int32_t code = interp_->RegistrationOf(op_index_)->op;
  int n = std::snprintf(out, size, "op %ld %s: ", static_cast<long>(op_index_),
                        BuiltinOpName(code).text);
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
