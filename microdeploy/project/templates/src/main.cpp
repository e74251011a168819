// Your application, created once by `microdeploy init` (re-running init never rewrites it; use
// --force to start over). It loads the model compiled into model_data.cpp, registers the model's
// ops (md_model_ops.cpp), and hands everything to the protocol service (md/app/service.h): the
// device announces itself with a boot record, runs inferences on the inputs the host sends
// (`microdeploy run`) or on the compiled-in example input (zeros without one) when asked to
// (`run`, or `auto ms=N` to repeat while idle), and reports results, timings, per-op profiles
// and errors as text records (docs/protocol.md). `microdeploy monitor` shows them; so does any
// serial terminal, where you can type `run`, `auto ms=1000` or `info`. The set-up every
// application shares (interpreter, arena, the service's configuration) is in md_app.h.
#include "md/app/service.h"
#include "md/port.h"
#include "md_app.h"

int main() {
  md::port::Init();
  md::Interpreter& interpreter = md_app::ModelInterpreter(&md_app::Profiler());
  md::port::Exit(md::app::Serve(interpreter, md_app::ServiceConfig()));
}
