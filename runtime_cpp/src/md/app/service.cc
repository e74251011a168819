#include "md/app/service.h"

#include <cstring>

#include "md/app/clock_align.h"
#include "md/app/protocol.h"
#include "md/port.h"
#include "md/status.h"
#include "md/types.h"

namespace md {
namespace app {
namespace {

constexpr int kTopClasses = 5;
constexpr int64_t kMaxRunCount = 1000000;

size_t TensorBytes(const TensorView& t) {
  const int size = DataTypeSize(t.type);
  if (size <= 0 || t.dims == nullptr) return 0;
  return static_cast<size_t>(t.FlatSize()) * static_cast<size_t>(size);
}

// Copies a field's value into `out` as a C string (cut to fit).
void CopyValue(const Field* field, char* out, size_t capacity) {
  size_t n = field ? field->value_len : 0;
  if (n >= capacity) n = capacity - 1;
  if (n > 0) std::memcpy(out, field->value, n);
  out[n] = '\0';
}

// Appends `v` in decimal to `out` at *pos (bounded by capacity).
void AppendInt(char* out, size_t capacity, size_t* pos, int64_t v) {
  char digits[24];
  int n = 0;
  uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  do {
    digits[n++] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (v < 0) digits[n++] = '-';
  while (n > 0 && *pos + 1 < capacity) out[(*pos)++] = digits[--n];
  out[*pos] = '\0';
}

void AppendChar(char* out, size_t capacity, size_t* pos, char c) {
  if (*pos + 1 < capacity) out[(*pos)++] = c;
  out[*pos] = '\0';
}

// A float as "[-]int.micro" without printf (newlib-nano has no %f by default).
void AppendFloat(char* out, size_t capacity, size_t* pos, float v) {
  if (!(v == v)) {  // NaN
    AppendChar(out, capacity, pos, 'n');
    return;
  }
  if (v < 0) {
    AppendChar(out, capacity, pos, '-');
    v = -v;
  }
  if (v > 9.0e15f) v = 9.0e15f;
  const double scaled = static_cast<double>(v) * 1e6 + 0.5;
  const int64_t micro = static_cast<int64_t>(scaled);
  AppendInt(out, capacity, pos, micro / 1000000);
  AppendChar(out, capacity, pos, '.');
  int64_t frac = micro % 1000000;
  for (int64_t div = 100000; div > 0; div /= 10) {
    AppendChar(out, capacity, pos, static_cast<char>('0' + (frac / div) % 10));
  }
}

class Service {
 public:
  Service(Interpreter& interpreter, const AppConfig& config)
      : interp_(interpreter), config_(config), auto_ms_(config.auto_run_ms) {}

  int Run();

 private:
  // Output.
  void Emit();
  void SendError(const char* code, const char* message);
  void SendInfo(const char* type);
  void SendTensor(const char* io, int index, const TensorView& t);
  void SendOutput(int index);
  void SendProfile();

  // Commands.
  void HandleLine(const char* line, size_t n, bool overflowed);
  void HandleInputStart(const ParsedRecord& rec);
  void HandleInputData(const ParsedRecord& rec);
  void HandleRun(const ParsedRecord& rec);
  void HandleAuto(const ParsedRecord& rec);

  // Inference.
  void SetUpInputs();
  void RestoreExampleInputs();
  uint8_t* InputDestination(int index);
  bool InferOnce(bool profile);
  bool FillFromSource();
  void SendTop(const TensorView& out);

  Interpreter& interp_;
  const AppConfig& config_;
  RecordWriter writer_;
  LineReader reader_;
  uint32_t seq_ = 0;
  bool ready_ = false;
  Status setup_status_ = Status::kOk;
  bool use_staging_ = false;
  // Direct mode (no staging): an inference may overwrite its inputs, so they count as consumed
  // afterwards and the next inference restores the example input (zeros without one).
  bool inputs_fresh_ = false;
  // The host sent inputs since the last `run`: that run uses them instead of the input source.
  bool host_inputs_ = false;
  bool run_on_host_inputs_ = false;
  int64_t inferences_ = 0;
  uint64_t last_ticks_ = 0;  // the previous inference's duration (guards the SysTick wrap)
  uint32_t auto_ms_ = 0;
  bool auto_profile_ = false;
  uint64_t next_auto_tick_ = 0;
  bool exit_requested_ = false;
  int exit_code_ = 0;

  // The input transfer in progress.
  bool transfer_active_ = false;
  int transfer_index_ = 0;
  size_t transfer_bytes_ = 0;
  size_t transfer_received_ = 0;
  uint32_t transfer_crc_expected_ = 0;
  uint32_t transfer_crc_ = 0;
};

void Service::Emit() {
  if (!writer_.Finish()) {
    // A record that does not fit is a bug in this file; say so rather than send it cut.
    writer_.Begin(seq_, "err");
    writer_.Word("code", "BadRecord");
    writer_.Text("msg", "device record too long");
    if (!writer_.Finish()) return;
  }
  port::SerialWrite(reinterpret_cast<const uint8_t*>(writer_.data()), writer_.size());
  ++seq_;
}

void Service::SendError(const char* code, const char* message) {
  writer_.Begin(seq_, "err");
  writer_.Word("code", code);
  writer_.Text("msg", message);
  Emit();
}

void Service::SendTensor(const char* io, int index, const TensorView& t) {
  writer_.Begin(seq_, "tensor");
  writer_.Word("io", io);
  writer_.Int("idx", index);
  writer_.Word("type", DataTypeName(t.type));
  if (t.dims != nullptr) {
    writer_.Shape("shape", t.dims, t.rank);
  } else {
    writer_.Word("shape", "0");
  }
  writer_.Int("bytes", static_cast<int64_t>(TensorBytes(t)));
  Emit();
}

void Service::SendInfo(const char* type) {
  writer_.Begin(seq_, type);
  writer_.Int("proto", kProtocolVersion);
  writer_.Word("runtime", config_.runtime_version);
  writer_.Word("board", config_.board);
  writer_.Word("model", config_.model_hash);
  writer_.Word("status", ready_ ? "ok" : StatusName(setup_status_));
  writer_.Int("arena_used", static_cast<int64_t>(interp_.ArenaUsedBytes()));
  writer_.Int("arena_size", static_cast<int64_t>(config_.arena_size));
  if (setup_status_ == Status::kArenaTooSmall) {
    writer_.Int("arena_need", static_cast<int64_t>(interp_.ArenaRequiredBytes()));
  }
  writer_.Word("clock", port::ClockName());
  writer_.Int("hz", port::TicksPerSecond());
  const bool have_model = setup_status_ != Status::kMalformedModel;
  writer_.Int("inputs", have_model ? interp_.NumInputs() : 0);
  writer_.Int("outputs", have_model ? interp_.NumOutputs() : 0);
  writer_.Int("auto", auto_ms_);
  if (config_.input_source != nullptr) writer_.Word("input", config_.input_source->Name());
  Emit();
  if (!ready_) SendError(StatusName(setup_status_), interp_.error_message());
  if (ready_) {
    for (int i = 0; i < interp_.NumInputs(); ++i) SendTensor("in", i, interp_.Input(i));
    for (int i = 0; i < interp_.NumOutputs(); ++i) SendTensor("out", i, interp_.Output(i));
  }
  writer_.Begin(seq_, "ready");
  Emit();
}

void Service::SendOutput(int index) {
  const TensorView t = interp_.Output(index);
  const size_t bytes = TensorBytes(t);
  const uint8_t* data = static_cast<const uint8_t*>(t.data);
  writer_.Begin(seq_, "out");
  writer_.Int("idx", index);
  writer_.Word("type", DataTypeName(t.type));
  writer_.Shape("shape", t.dims, t.rank);
  writer_.Int("bytes", static_cast<int64_t>(bytes));
  writer_.Hex32("crc", Crc32(data, bytes));
  Emit();
  for (size_t off = 0; off < bytes; off += kChunkBytes) {
    const size_t n = bytes - off < kChunkBytes ? bytes - off : kChunkBytes;
    writer_.Begin(seq_, "dat");
    writer_.Int("off", static_cast<int64_t>(off));
    writer_.Base64("b64", data + off, n);
    Emit();
  }
}

void Service::SendProfile() {
  Profiler* profiler = config_.profiler;
  for (int i = 0; i < profiler->count(); ++i) {
    const ProfileRecord& r = profiler->record(i);
    writer_.Begin(seq_, "prof");
    writer_.Int("op", r.op);
    writer_.Word("name", r.name ? r.name : "UNKNOWN");
    writer_.Int("ticks", static_cast<int64_t>(r.ticks));
    Emit();
  }
  writer_.Begin(seq_, "profend");
  writer_.Int("ops", profiler->count());
  writer_.Int("ticks", static_cast<int64_t>(profiler->TotalTicks()));
  writer_.Int("dropped", profiler->dropped());
  Emit();
}

uint8_t* Service::InputDestination(int index) {
  if (!use_staging_) return static_cast<uint8_t*>(interp_.Input(index).data);
  size_t offset = 0;
  for (int i = 0; i < index; ++i) offset += TensorBytes(interp_.Input(i));
  return config_.input_staging + offset;
}

void Service::SetUpInputs() {
  size_t total = 0;
  for (int i = 0; i < interp_.NumInputs(); ++i) total += TensorBytes(interp_.Input(i));
  use_staging_ = config_.input_staging != nullptr && config_.input_staging_size >= total;
  RestoreExampleInputs();
}

void Service::RestoreExampleInputs() {
  inputs_fresh_ = true;
  for (int i = 0; i < interp_.NumInputs(); ++i) {
    std::memset(InputDestination(i), 0, TensorBytes(interp_.Input(i)));
  }
  if (interp_.NumInputs() > 0 && config_.example_input != nullptr &&
      config_.example_input_size == TensorBytes(interp_.Input(0))) {
    std::memcpy(InputDestination(0), config_.example_input, config_.example_input_size);
  }
}

void Service::SendTop(const TensorView& out) {
  // Indices of the largest values, highest first, ties to the lower index.
  const int32_t count = out.FlatSize();
  int best[kTopClasses];
  int found = 0;
  auto value = [&out](int i) -> double {
    switch (out.type) {
      case DataType::kInt8:
        return out.Data<int8_t>()[i];
      case DataType::kUInt8:
        return out.Data<uint8_t>()[i];
      case DataType::kInt16:
        return out.Data<int16_t>()[i];
      case DataType::kInt32:
        return out.Data<int32_t>()[i];
      case DataType::kFloat32:
        return out.Data<float>()[i];
      default:
        return 0;
    }
  };
  for (int i = 0; i < count; ++i) {
    const double v = value(i);
    int pos = found;
    while (pos > 0 && value(best[pos - 1]) < v) --pos;
    if (pos >= kTopClasses) continue;
    const int last = found < kTopClasses ? found : kTopClasses - 1;
    for (int k = last; k > pos; --k) best[k] = best[k - 1];
    best[pos] = i;
    if (found < kTopClasses) ++found;
  }
  char top[160];
  size_t len = 0;
  top[0] = '\0';
  for (int k = 0; k < found; ++k) {
    if (k > 0) AppendChar(top, sizeof(top), &len, ',');
    AppendInt(top, sizeof(top), &len, best[k]);
    AppendChar(top, sizeof(top), &len, ':');
    if (out.type == DataType::kFloat32) {
      AppendFloat(top, sizeof(top), &len, out.Data<float>()[best[k]]);
    } else {
      AppendInt(top, sizeof(top), &len, static_cast<int64_t>(value(best[k])));
    }
  }
  writer_.Begin(seq_, "res");
  writer_.Int("i", inferences_);
  writer_.Word("top", found > 0 ? top : "none");
  Emit();
}

bool Service::InferOnce(bool profile) {
  if (!use_staging_ && !inputs_fresh_) RestoreExampleInputs();
  inputs_fresh_ = false;
  if (use_staging_) {
    size_t offset = 0;
    for (int i = 0; i < interp_.NumInputs(); ++i) {
      const TensorView in = interp_.Input(i);
      const size_t bytes = TensorBytes(in);
      std::memcpy(in.data, config_.input_staging + offset, bytes);
      offset += bytes;
    }
  }
  if (config_.input_source != nullptr && !run_on_host_inputs_ && !FillFromSource()) return false;
  // Only a run that reports its profile is profiled: an attached profiler reads the clock
  // around every op, which an unprofiled inference should not pay for.
  Profiler* profiler = profile ? config_.profiler : nullptr;
  if (profiler != nullptr) profiler->Reset();
  interp_.set_profiler(profiler);
  AlignToClockEdge(last_ticks_);
  const uint64_t start = port::Ticks();
  const Status status = interp_.Invoke();
  const uint64_t ticks = port::Ticks() - start;
  last_ticks_ = ticks;
  if (status != Status::kOk) {
    SendError(StatusName(status), interp_.error_message());
    return false;
  }
  if (interp_.NumOutputs() > 0) SendTop(interp_.Output(0));
  const uint32_t hz = port::TicksPerSecond();
  writer_.Begin(seq_, "time");
  writer_.Int("i", inferences_);
  writer_.Int("ticks", static_cast<int64_t>(ticks));
  writer_.Int("us", hz ? static_cast<int64_t>(ticks * 1000000u / hz) : 0);
  writer_.Word("clock", port::ClockName());
  writer_.Int("hz", hz);
  Emit();
  ++inferences_;
  if (profile && config_.profiler != nullptr) SendProfile();
  return true;
}

bool Service::FillFromSource() {
  InputReport report;
  if (!config_.input_source->Fill(interp_.Input(0), &report)) {
    SendError("InputError", report.error ? report.error : "the input source gave no input");
    return false;
  }
  const uint32_t hz = port::TicksPerSecond();
  writer_.Begin(seq_, "frame");
  writer_.Int("i", inferences_);
  writer_.Word("src", config_.input_source->Name());
  writer_.Int("w", report.width);
  writer_.Int("h", report.height);
  writer_.Word("fmt", report.format[0] ? report.format : "none");
  writer_.Int("cap_us", hz ? static_cast<int64_t>(report.capture_ticks * 1000000u / hz) : 0);
  writer_.Int("prep_us", hz ? static_cast<int64_t>(report.prepare_ticks * 1000000u / hz) : 0);
  Emit();
  return true;
}

void Service::HandleInputStart(const ParsedRecord& rec) {
  int64_t index = 0;
  int64_t bytes = -1;
  uint32_t crc = 0;
  if (!rec.GetInt("idx", &index) || !rec.GetInt("bytes", &bytes) || !rec.GetHex32("crc", &crc)) {
    SendError("BadCommand", "in needs idx=, bytes= and crc=");
    return;
  }
  if (index < 0 || index >= interp_.NumInputs()) {
    SendError("BadInput", "no such input index");
    return;
  }
  const size_t expected = TensorBytes(interp_.Input(static_cast<int>(index)));
  if (bytes < 0 || static_cast<size_t>(bytes) != expected) {
    char message[96];
    size_t len = 0;
    message[0] = '\0';
    const char* prefix = "input size mismatch: device expects ";
    for (const char* p = prefix; *p; ++p) AppendChar(message, sizeof(message), &len, *p);
    AppendInt(message, sizeof(message), &len, static_cast<int64_t>(expected));
    for (const char* p = " bytes, host sent "; *p; ++p) {
      AppendChar(message, sizeof(message), &len, *p);
    }
    AppendInt(message, sizeof(message), &len, bytes);
    SendError("BadInput", message);
    transfer_active_ = false;
    return;
  }
  transfer_active_ = true;
  transfer_index_ = static_cast<int>(index);
  transfer_bytes_ = expected;
  transfer_received_ = 0;
  transfer_crc_expected_ = crc;
  transfer_crc_ = 0;
  writer_.Begin(seq_, "ack");
  writer_.Int("idx", index);
  writer_.Int("off", 0);
  Emit();
}

void Service::HandleInputData(const ParsedRecord& rec) {
  int64_t offset = -1;
  const Field* data = rec.Find("b64");
  if (!transfer_active_) {
    SendError("BadInput", "dat without a preceding in");
    return;
  }
  if (!rec.GetInt("off", &offset) || data == nullptr) {
    SendError("BadCommand", "dat needs off= and b64=");
    return;
  }
  if (offset != static_cast<int64_t>(transfer_received_)) {
    // A chunk sent again after a lost ack: acknowledge where we are so the host can continue.
    if (offset >= 0 && static_cast<size_t>(offset) < transfer_received_) {
      writer_.Begin(seq_, "ack");
      writer_.Int("idx", transfer_index_);
      writer_.Int("off", static_cast<int64_t>(transfer_received_));
      Emit();
      return;
    }
    SendError("BadInput", "dat offset out of order");
    return;
  }
  uint8_t* dest = InputDestination(transfer_index_) + transfer_received_;
  const int got =
      DecodeBase64(data->value, data->value_len, dest, transfer_bytes_ - transfer_received_);
  if (got <= 0) {
    SendError("BadInput", "bad base64 or chunk past the end of the input");
    return;
  }
  transfer_crc_ = Crc32(dest, static_cast<size_t>(got), transfer_crc_);
  transfer_received_ += static_cast<size_t>(got);
  const bool done = transfer_received_ == transfer_bytes_;
  if (done) {
    transfer_active_ = false;
    if (transfer_crc_ != transfer_crc_expected_) {
      SendError("BadInput", "input CRC mismatch; send it again");
      return;
    }
    inputs_fresh_ = true;
    host_inputs_ = true;
  }
  writer_.Begin(seq_, "ack");
  writer_.Int("idx", transfer_index_);
  writer_.Int("off", static_cast<int64_t>(transfer_received_));
  if (done) writer_.Int("done", 1);
  Emit();
}

void Service::HandleRun(const ParsedRecord& rec) {
  int64_t n = 1;
  int64_t outputs = 0;
  int64_t profile = 0;
  rec.GetInt("n", &n);
  rec.GetInt("out", &outputs);
  rec.GetInt("prof", &profile);
  if (n < 1 || n > kMaxRunCount) {
    SendError("BadCommand", "run n= must be 1..1000000");
    return;
  }
  if (profile != 0 && config_.profiler == nullptr) {
    SendError("BadCommand", "this firmware has no profiler");
    return;
  }
  int64_t done = 0;
  run_on_host_inputs_ = host_inputs_;
  host_inputs_ = false;
  for (; done < n; ++done) {
    if (!InferOnce(profile != 0 && done == n - 1)) break;
  }
  run_on_host_inputs_ = false;
  if (done == n && outputs != 0) {
    for (int i = 0; i < interp_.NumOutputs(); ++i) SendOutput(i);
  }
  writer_.Begin(seq_, "done");
  writer_.Word("cmd", "run");
  writer_.Int("n", done);
  Emit();
}

void Service::HandleAuto(const ParsedRecord& rec) {
  int64_t ms = 0;
  int64_t profile = 0;
  rec.GetInt("prof", &profile);
  if (!rec.GetInt("ms", &ms) || ms < 0 || ms > 86400000) {
    SendError("BadCommand", "auto needs ms= (0 = off)");
    return;
  }
  if (profile != 0 && config_.profiler == nullptr) {
    SendError("BadCommand", "this firmware has no profiler");
    return;
  }
  auto_ms_ = static_cast<uint32_t>(ms);
  auto_profile_ = profile != 0;
  next_auto_tick_ = port::Ticks();
  writer_.Begin(seq_, "ok");
  writer_.Word("cmd", "auto");
  writer_.Int("ms", auto_ms_);
  Emit();
}

void Service::HandleLine(const char* line, size_t n, bool overflowed) {
  if (overflowed) {
    SendError("BadRecord", "line too long");
    return;
  }
  ParsedRecord rec;
  switch (ParseRecord(line, n, &rec)) {
    case ParseResult::kOk:
      break;
    case ParseResult::kEmpty:
      return;
    case ParseResult::kBadCrc:
      SendError("BadRecord", "CRC mismatch");
      return;
    case ParseResult::kBadVersion:
      SendError("BadRecord", "unsupported protocol version");
      return;
    case ParseResult::kMalformed:
      SendError("BadRecord", "malformed record");
      return;
  }
  if (rec.IsType("ping")) {
    char id[24];
    CopyValue(rec.Find("id"), id, sizeof(id));
    writer_.Begin(seq_, "pong");
    writer_.Word("id", id[0] ? id : "0");
    Emit();
  } else if (rec.IsType("info")) {
    SendInfo("info");
  } else if (rec.IsType("in") || rec.IsType("dat")) {
    if (!rec.framed) {
      SendError("BadCommand", "in/dat need the framed form (@md1 ... *crc)");
    } else if (!ready_) {
      SendError("NotReady", interp_.error_message());
    } else if (rec.IsType("in")) {
      HandleInputStart(rec);
    } else {
      HandleInputData(rec);
    }
  } else if (rec.IsType("run")) {
    if (ready_) {
      HandleRun(rec);
    } else {
      SendError("NotReady", interp_.error_message());
    }
  } else if (rec.IsType("auto")) {
    HandleAuto(rec);
  } else if (rec.IsType("exit")) {
    int64_t code = 0;
    rec.GetInt("code", &code);
    writer_.Begin(seq_, "ok");
    writer_.Word("cmd", "exit");
    writer_.Int("code", code);
    Emit();
    exit_requested_ = true;
    exit_code_ = static_cast<int>(code);
  } else {
    SendError("BadCommand", "unknown command");
  }
}

int Service::Run() {
  setup_status_ = interp_.Init();
  if (setup_status_ == Status::kOk) setup_status_ = interp_.AllocateTensors();
  ready_ = setup_status_ == Status::kOk;
  if (ready_) SetUpInputs();
  seq_ = 0;
  SendInfo("boot");
  next_auto_tick_ = port::Ticks();
  const uint64_t ticks_per_ms = port::TicksPerSecond() / 1000u ? port::TicksPerSecond() / 1000u : 1;
  uint8_t bytes[64];
  while (true) {
    uint32_t wait_ms = 200;
    // With a camera, auto runs wait while the host sends inputs and until its `run`: an
    // inference in between would put a frame into the input tensor the host is filling.
    const bool host_turn = config_.input_source != nullptr && (transfer_active_ || host_inputs_);
    if (auto_ms_ != 0 && ready_ && !host_turn) {
      const uint64_t now = port::Ticks();
      if (now >= next_auto_tick_) {
        InferOnce(auto_profile_);
        next_auto_tick_ = port::Ticks() + auto_ms_ * ticks_per_ms;
        continue;
      }
      const uint64_t left = (next_auto_tick_ - now) / ticks_per_ms + 1;
      wait_ms = left < wait_ms ? static_cast<uint32_t>(left) : wait_ms;
    }
    const int got = port::SerialRead(bytes, sizeof(bytes), wait_ms);
    if (got < 0) return 0;  // the host closed the line
    for (int i = 0; i < got; ++i) {
      if (!reader_.Push(bytes[i])) continue;
      HandleLine(reader_.line(), reader_.length(), reader_.overflowed());
      if (exit_requested_) return exit_code_;
    }
  }
}

}  // namespace

int Serve(Interpreter& interpreter, const AppConfig& config) {
  Service service(interpreter, config);
  return service.Run();
}

}  // namespace app
}  // namespace md
