// The device application loop: sets the interpreter up, announces itself over the serial line
// and answers the host's commands (docs/protocol.md) until the line closes.
//
//   md::port::Init();
//   md::Interpreter interpreter(model, size, resolver, arena, sizeof(arena), &profiler);
//   md::app::AppConfig config;  ... fill in ...
//   md::port::Exit(md::app::Serve(interpreter, config));
//
// Serve() calls Init() and AllocateTensors() itself so that a set-up failure (arena too small,
// unsupported op) reaches the host as an `err` record instead of a silent board. Everything it
// uses lives in the Service object on Serve()'s stack (about 1 KB) and in the caller's buffers.
#ifndef MD_APP_SERVICE_H_
#define MD_APP_SERVICE_H_

#include <cstddef>
#include <cstdint>

#include "md/interpreter.h"
#include "md/profiler.h"
#include "md/tensor.h"

namespace md {
namespace app {

// What an input source tells about the input it produced (a camera: the frame and its times).
struct InputReport {
  const char* error = nullptr;  // one line when Fill() fails
  int width = 0;                // the frame's size and pixel format
  int height = 0;
  const char* format = "";
  uint64_t capture_ticks = 0;  // port clock ticks spent capturing and preprocessing
  uint64_t prepare_ticks = 0;
};

// A device-side producer of input 0 (md/camera/camera_input.h): used for every inference the
// host did not send inputs for (`auto` runs, `run` without a preceding transfer).
class InputSource {
 public:
  // Writes input 0; false (with report->error set) when there is no input to give.
  virtual bool Fill(const TensorView& input, InputReport* report) = 0;
  // Named in the boot record's `input` field ("ov767x", "native_frames", ...).
  virtual const char* Name() const = 0;

 protected:
  ~InputSource() = default;
};

struct AppConfig {
  const char* board = "unknown";
  const char* runtime_version = "";
  const char* model_hash = "";  // first 16 hex digits of the model's SHA-256
  size_t arena_size = 0;        // the arena given to the interpreter
  // Optional copy of all inputs, back to back (input 0 first). The planner may reuse an input
  // tensor's bytes once its last reader ran, so without this copy a second inference would see
  // clobbered inputs; with it, inputs are copied into the tensors before every inference.
  // Used only when it is at least as large as all inputs together. Without it, the inputs
  // count as consumed after each inference and the next one runs on the example input again
  // (so `run n=1` after sending inputs is exact, and idle runs stay on the example).
  uint8_t* input_staging = nullptr;
  size_t input_staging_size = 0;
  // Bytes of input 0 to start with (e.g. a sample compiled into flash); zeros otherwise.
  const uint8_t* example_input = nullptr;
  size_t example_input_size = 0;
  // Run one inference every `auto_run_ms` while idle and report it (0: only on command).
  uint32_t auto_run_ms = 0;
  // The profiler given to the interpreter (nullptr: `prof=1` is answered with an error).
  Profiler* profiler = nullptr;
  // A device-side input (a camera); nullptr: the host's inputs or the example input.
  // The host's inputs still win for the `run` that follows their transfer.
  InputSource* input_source = nullptr;
};

// Returns when the serial line closes (port::SerialRead() < 0: code 0) or on the host's `exit`
// command (its code), with the code to pass to port::Exit().
int Serve(Interpreter& interpreter, const AppConfig& config);

}  // namespace app
}  // namespace md

#endif  // MD_APP_SERVICE_H_
