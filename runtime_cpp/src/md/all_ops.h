// Registers every kernel linked into the program (host runner, tests, and
// applications that do not list their ops). See all_ops.cc for how kernels
// that are not linked are skipped.
#ifndef MD_ALL_OPS_H_
#define MD_ALL_OPS_H_

#include "md/op_resolver.h"

namespace md {

void AddAllOps(MicroOpResolver<32>& resolver);

}  // namespace md

#endif  // MD_ALL_OPS_H_
