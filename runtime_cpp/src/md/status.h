// Status codes shared by every runtime layer. No exceptions: each fallible
// call returns a Status, and the interpreter keeps one formatted message
// (see Interpreter::error_message()) that names the table/op/offset at fault.
#ifndef MD_STATUS_H_
#define MD_STATUS_H_

#include <cstdint>

namespace md {

enum class Status : uint8_t {
  kOk = 0,
  kMalformedModel,   // flatbuffer structure is broken or out of bounds
  kUnsupportedOp,    // op code not registered with the resolver
  kUnsupportedType,  // tensor type / quantization a kernel cannot handle
  kShapeMismatch,    // shapes inconsistent with the op's contract
  kArenaTooSmall,    // "arena too small: need N bytes, have M"
  kInvalidArgument,  // caller misuse (bad index, wrong call order)
  kKernelError,      // a kernel failed at invoke time
};

const char* StatusName(Status s);

}  // namespace md

#endif  // MD_STATUS_H_
