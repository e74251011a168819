#include "md/app_mlperf/dut.h"

#include <cmath>
#include <cstring>

#include "md/app/clock_align.h"
#include "md/app_mlperf/text.h"
#include "md/kernels/float_exact_common.h"
#include "md/port.h"
#include "md/status.h"
#include "md/types.h"

namespace md {
namespace mlperf {
namespace {

// mlcommons/tiny benchmark/api: EE_CMD_SIZE, EE_CMD_TERMINATOR, EE_FW_VERSION.
constexpr size_t kCommandSize = 80;
constexpr char kTerminator = '%';
constexpr const char* kFirmwareVersion = "ULPMark for tinyML Firmware V0.0.1";

// The reference's `help` text, typos included (the harness shows it as it comes).
constexpr const char* kHelpLines[] = {
    "",
    "help         : Print this information",
    "name         : Print the name of the device",
    "timestsamp   : Generate a timetsamp",
    "db SUBCMD    : Manipulate a generic byte buffer",
    "  load N     : Allocate N bytes and set load counter",
    "  db HH[HH]* : Load 8-bit hex byte(s) until N bytes",
    "  print [N=16] [offset=0]",
    "             : Print N bytes at offset as hex",
    "infer N [W=0]: Load input, execute N inferences after W warmup loops",
    "results      : Return the result fp32 vector",
};

bool Equals(const char* a, const char* b) { return std::strcmp(a, b) == 0; }

// strtok(…, " ") without its hidden state: the next space-separated token, or nullptr.
char* NextToken(char** cursor) {
  char* p = *cursor;
  while (*p == ' ') ++p;
  if (*p == '\0') {
    *cursor = p;
    return nullptr;
  }
  char* start = p;
  while (*p != '\0' && *p != ' ') ++p;
  if (*p == ' ') *p++ = '\0';
  *cursor = p;
  return start;
}

// C's atoi (leading blanks, a sign, digits up to the first other character), saturated to the
// int range instead of atoi's undefined overflow.
int32_t AtoI(const char* s) {
  while (*s == ' ' || (*s >= '\t' && *s <= '\r')) ++s;
  bool negative = false;
  if (*s == '+' || *s == '-') negative = (*s++ == '-');
  int64_t v = 0;
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s++ - '0');
    if (v > 2147483648LL) v = 2147483648LL;
  }
  if (negative) v = -v;
  if (v > 2147483647LL) v = 2147483647LL;
  return static_cast<int32_t>(v);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The reference submissions' util/quantization_helpers.h.
float DequantizeInt8ToFloat(int8_t value, float scale, int32_t zero_point) {
  return static_cast<float>(value - zero_point) * scale;
}

int8_t QuantizeFloatToInt8(float value, float scale, int32_t zero_point) {
  int32_t result =
      static_cast<int32_t>(std::round(static_cast<double>(value / scale))) + zero_point;
  if (result < -128) result = -128;
  if (result > 127) result = 127;
  return static_cast<int8_t>(result);
}

// The anomaly-detection score: mean of (dequantized output - float input)^2, accumulated in
// float in index order as the reference does; unfused so every target rounds the same way.
MD_NO_FP_CONTRACT float MeanSquaredError(const int8_t* output, const uint8_t* input_bytes,
                                         int32_t count, float scale, int32_t zero_point) {
  float sum = 0.0f;
  for (int32_t i = 0; i < count; ++i) {
    float x;
    std::memcpy(&x, input_bytes + 4 * static_cast<size_t>(i), sizeof(x));
    const float diff = DequantizeInt8ToFloat(output[i], scale, zero_point) - x;
    const float square = diff * diff;
    sum += square;
  }
  return sum / static_cast<float>(count);
}

class Dut {
 public:
  Dut(Interpreter& interpreter, const DutConfig& config) : interp_(interpreter), config_(config) {}

  void Boot();
  // Feeds one received character; runs the command at each terminator.
  void Receive(char c);

 private:
  void Dispatch(char* command);
  void Timestamp() { TimestampMicros(Micros()); }
  void TimestampMicros(uint64_t us);
  void Profile();
  void Help();
  void Buffer(char** cursor);
  void BufferLoad(char* count);
  void BufferPrint();
  void BufferData(const char* hex);
  void Infer(char** cursor);
  void Results();
  bool ModelFits();
  bool CheckInput();
  void LoadTensor();
  bool InvokeOnce();
  uint64_t Micros() const { return TicksToMicros(port::Ticks()); }
  static uint64_t TicksToMicros(uint64_t ticks);
  size_t InputElementBytes() const { return config_.benchmark == Benchmark::kAd ? 4 : 1; }

  Interpreter& interp_;
  const DutConfig& config_;
  Output out_;
  char command_[kCommandSize + 1] = {};
  size_t command_len_ = 0;
  size_t db_size_ = 0;  // bytes announced by `db load` (0: none pending)
  size_t db_pos_ = 0;   // bytes received since
  bool ready_ = false;  // the interpreter is set up
  bool input_ok_ = false;
  uint64_t last_infer_ticks_ = 0;  // the previous timed region (guards the SysTick wrap)
  Status invoke_status_ = Status::kOk;
};

uint64_t Dut::TicksToMicros(uint64_t ticks) {
  const uint64_t rate = port::TicksPerSecond();
  return ticks / rate * 1000000u + ticks % rate * 1000000u / rate;
}

void Dut::TimestampMicros(uint64_t us) {
  out_.Str("m-lap-us-");
  out_.Uint(us);
  out_.EndLine();
}

void Dut::Boot() {
  out_.Line("m-timestamp-mode-performance");
  Timestamp();
  Status status = interp_.Init();
  if (status == Status::kOk) status = interp_.AllocateTensors();
  ready_ = status == Status::kOk;
  if (!ready_) {
    out_.Str("e-[Model set-up failed: ");
    out_.Str(interp_.error_message());
    out_.Line("]");
  } else if (!ModelFits()) {
    ready_ = false;
    out_.Line("e-[The model needs one int8 input and an int8 output 0 that fit the db buffer]");
  }
  out_.Line("m-init-done");
  out_.Line("m-ready");
}

void Dut::Receive(char c) {
  // Line ends are not part of the protocol; dropping them lets a terminal user press Enter.
  if (c == '\r' || c == '\n') return;
  if (c != kTerminator) {
    if (command_len_ < kCommandSize) command_[command_len_++] = c;  // the rest is cut off
    return;
  }
  command_[command_len_] = '\0';
  command_len_ = 0;
  Dispatch(command_);
}

void Dut::Dispatch(char* command) {
  char* cursor = command;
  const char* token = NextToken(&cursor);
  if (token == nullptr) token = "";
  if (Equals(token, "name")) {
    out_.Str("m-name-dut-[");
    out_.Str(config_.vendor);
    out_.Line("]");
  } else if (Equals(token, "timestamp")) {
    Timestamp();
  } else if (Equals(token, "profile")) {
    Profile();
  } else if (Equals(token, "help")) {
    Help();
  } else if (Equals(token, "db")) {
    Buffer(&cursor);
  } else if (Equals(token, "infer")) {
    Infer(&cursor);
  } else if (Equals(token, "results")) {
    Results();
  } else {
    out_.Str("e-[Unknown command: ");
    out_.Str(token);
    out_.Line("]");
  }
  out_.Line("m-ready");
}

void Dut::Profile() {
  out_.Str("m-profile-[");
  out_.Str(kFirmwareVersion);
  out_.Line("]");
  out_.Str("m-model-[");
  out_.Str(config_.model_version);
  out_.Line("]");
}

void Dut::Help() {
  out_.Line(kFirmwareVersion);
  for (const char* line : kHelpLines) out_.Line(line);
}

void Dut::Buffer(char** cursor) {
  char* sub = NextToken(cursor);
  if (sub == nullptr) {
    out_.Line("e-[Command 'db' requires a subcommand]");
  } else if (Equals(sub, "load")) {
    BufferLoad(NextToken(cursor));
  } else if (Equals(sub, "print")) {
    BufferPrint();
  } else {
    BufferData(sub);
  }
}

void Dut::BufferLoad(char* count) {
  if (count == nullptr) {
    out_.Line("e-[Command 'db load' requires the # of bytes]");
    return;
  }
  const int32_t n = AtoI(count);
  if (n == 0) {
    out_.Line("e-[Command 'db load' must be >0 bytes]");
    return;
  }
  db_pos_ = 0;
  // The reference takes the count as a size_t, so a negative one is "too large" too.
  if (n < 0 || static_cast<size_t>(n) > config_.db_capacity) {
    db_size_ = 0;  // unlike the reference, later `db` data cannot run past the buffer
    out_.Str("Supplied buffer size ");
    out_.Int(n);
    out_.Str(" exceeds maximum of ");
    out_.Uint(config_.db_capacity);
    out_.EndLine();
    return;
  }
  db_size_ = static_cast<size_t>(n);
  out_.Str("m-[Expecting ");
  out_.Int(n);
  out_.Line(" bytes]");
}

// The reference prints the whole announced buffer (it ignores N and offset), 8 bytes a line,
// and one more line end when the count is not a multiple of 8.
void Dut::BufferPrint() {
  constexpr size_t kPerLine = 8;
  size_t i = 0;
  for (; i < db_size_; ++i) {
    if (i % kPerLine == 0) out_.Str("m-buffer-");
    out_.Hex2(config_.db_buffer[i]);
    if ((i + 1) % kPerLine == 0 || i + 1 == db_size_) {
      out_.EndLine();
    } else {
      out_.Char('-');
    }
  }
  if (i % kPerLine != 0) out_.EndLine();
}

void Dut::BufferData(const char* hex) {
  const size_t digits = std::strlen(hex);
  if (digits % 2 != 0) {
    out_.Line("e-[Insufficent number of hex digits]");
    return;
  }
  for (size_t i = 0; i < digits; i += 2) {
    const int high = HexDigit(hex[i]);
    const int low = HexDigit(hex[i + 1]);
    if (high < 0 || low < 0) {
      out_.Str("e-[Invalid hex digit '");
      out_.Char(hex[i]);
      out_.Char(hex[i + 1]);
      out_.Line("']");
      return;
    }
    // Bytes beyond the announced count are dropped (the reference would write past its buffer).
    if (db_pos_ >= db_size_) continue;
    config_.db_buffer[db_pos_++] = static_cast<uint8_t>(high * 16 + low);
    if (db_pos_ == db_size_) {
      out_.Line("m-load-done");
      return;  // the remaining digits are disregarded, as in the reference
    }
  }
}

// What the conversions and results rely on (the generator checks it too).
bool Dut::ModelFits() {
  if (interp_.NumInputs() != 1 || interp_.NumOutputs() < 1) return false;
  const TensorView input = interp_.Input(0);
  const TensorView output = interp_.Output(0);
  if (input.type != DataType::kInt8 || output.type != DataType::kInt8) return false;
  const size_t need = static_cast<size_t>(input.FlatSize()) * InputElementBytes();
  if (config_.db_buffer == nullptr || config_.db_capacity < need) return false;
  // The anomaly score compares the output with the float input element by element.
  return config_.benchmark != Benchmark::kAd || output.FlatSize() == input.FlatSize();
}

// th_load_tensor's check: the loaded bytes must fill the input exactly.
bool Dut::CheckInput() {
  const TensorView input = interp_.Input(0);
  const size_t expected = static_cast<size_t>(input.FlatSize());
  const size_t loaded =
      db_pos_ < expected * InputElementBytes() ? db_pos_ : expected * InputElementBytes();
  if (loaded / InputElementBytes() != expected) {
    out_.Str("Input db has ");
    out_.Uint(loaded / InputElementBytes());
    out_.Str(" elemented, expected ");
    out_.Uint(expected);
    out_.EndLine();
    return false;
  }
  return true;
}

// The reference submissions' th_load_tensor conversions.
void Dut::LoadTensor() {
  const TensorView input = interp_.Input(0);
  int8_t* tensor = input.Data<int8_t>();
  const uint8_t* bytes = config_.db_buffer;
  const int32_t count = input.FlatSize();
  switch (config_.benchmark) {
    case Benchmark::kVww:
    case Benchmark::kIc:
      for (int32_t i = 0; i < count; ++i) {
        tensor[i] = static_cast<int8_t>(static_cast<int32_t>(bytes[i]) - 128);
      }
      break;
    case Benchmark::kKws:
      std::memcpy(tensor, bytes, static_cast<size_t>(count));
      break;
    case Benchmark::kAd:
      for (int32_t i = 0; i < count; ++i) {
        float x;
        std::memcpy(&x, bytes + 4 * static_cast<size_t>(i), sizeof(x));
        tensor[i] = QuantizeFloatToInt8(x, input.scale, input.zero_point);
      }
      break;
  }
}

// One inference. Our planner (like TFLM's) may reuse the input tensor's bytes once its last
// reader ran, so the input is converted in again before every inference (see docs/mlperf.md).
bool Dut::InvokeOnce() {
  if (input_ok_) LoadTensor();
  const Status status = interp_.Invoke();
  if (status != Status::kOk) invoke_status_ = status;
  return status == Status::kOk;
}

void Dut::Infer(char** cursor) {
  int32_t n = 1;
  int32_t warmups = 10;  // the reference's defaults
  if (char* arg = NextToken(cursor)) {
    n = AtoI(arg);
    if (n <= 0) {
      out_.Line("e-[Inference iterations must be >0]");
      return;
    }
    if (char* warm = NextToken(cursor)) {
      warmups = AtoI(warm);
      if (warmups < 0) {
        out_.Line("e-[Inference warmup must be >=0]");
        return;
      }
    }
  }
  if (!ready_) {
    out_.Str("e-[Model set-up failed: ");
    out_.Str(interp_.error_message());
    out_.Line("]");
    return;
  }
  input_ok_ = CheckInput();
  invoke_status_ = Status::kOk;
  out_.Str("m-warmup-start-");
  out_.Int(warmups);
  out_.EndLine();
  for (int32_t i = 0; i < warmups; ++i) InvokeOnce();
  out_.Line("m-warmup-done");
  out_.Str("m-infer-start-");
  out_.Int(n);
  out_.EndLine();
  // The timed region starts at a fixed point of a clock tick (instruction-exact on SysTick) and
  // holds nothing but the inferences: the two lap lines are formatted afterwards, since their
  // divisions and UART waits take data-dependent time. Under QEMU's -icount the elapsed ticks,
  // and so the reported microseconds, then repeat exactly. The host sees the same lines in the
  // same order; the second lap is the first plus the elapsed time (at most 1 us below the
  // clock's reading then, and never ahead of a later `timestamp`).
  app::AlignToClockEdge(last_infer_ticks_);
  const uint64_t start = port::Ticks();
  for (int32_t i = 0; i < n; ++i) InvokeOnce();
  const uint64_t elapsed = port::Ticks() - start;
  last_infer_ticks_ = elapsed;
  const uint64_t start_us = TicksToMicros(start);
  TimestampMicros(start_us);
  TimestampMicros(start_us + TicksToMicros(elapsed));
  out_.Line("m-infer-done");
  if (invoke_status_ != Status::kOk) {
    out_.Str("e-[Inference failed: ");
    out_.Str(interp_.error_message());
    out_.Line("]");
  }
  Results();
}

void Dut::Results() {
  if (!ready_) {
    out_.Str("e-[Model set-up failed: ");
    out_.Str(interp_.error_message());
    out_.Line("]");
    return;
  }
  const TensorView output = interp_.Output(0);
  const int8_t* values = output.Data<int8_t>();
  out_.Str("m-results-[");
  if (config_.benchmark == Benchmark::kAd) {
    out_.Fixed3(MeanSquaredError(values, config_.db_buffer, output.FlatSize(), output.scale,
                                 output.zero_point));
  } else {
    for (int32_t i = 0; i < output.FlatSize(); ++i) {
      if (i > 0) out_.Char(',');
      out_.Fixed3(DequantizeInt8ToFloat(values[i], output.scale, output.zero_point));
    }
  }
  out_.Line("]");
}

}  // namespace

int Serve(Interpreter& interpreter, const DutConfig& config) {
  static Dut dut(interpreter, config);  // static: its buffers stay off the stack
  dut.Boot();
  uint8_t chunk[64];
  for (;;) {
    const int got = port::SerialRead(chunk, sizeof(chunk), 1000);
    if (got < 0) return 0;
    for (int i = 0; i < got; ++i) dut.Receive(static_cast<char>(chunk[i]));
  }
}

}  // namespace mlperf
}  // namespace md
