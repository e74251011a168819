// Printable names of Status codes (the "error" field of the host runner's JSON).
#include "md/status.h"

namespace md {

const char* StatusName(Status s) {
  switch (s) {
    case Status::kOk:
      return "Ok";
    case Status::kMalformedModel:
      return "MalformedModel";
    case Status::kUnsupportedOp:
      return "UnsupportedOp";
    case Status::kUnsupportedType:
      return "UnsupportedType";
    case Status::kShapeMismatch:
      return "ShapeMismatch";
    case Status::kArenaTooSmall:
      return "ArenaTooSmall";
    case Status::kInvalidArgument:
      return "InvalidArgument";
    case Status::kKernelError:
      return "KernelError";
  }
  return "Unknown";
}

}  // namespace md
