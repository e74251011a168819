// MicroOpResolver: fixed capacity, no duplicates, lookups; AddAllOps links
// and registers only kernels present in the program (this test binary links
// none of kernels/*.cc).
#include <cstring>

#include "md/all_ops.h"
#include "md/op_resolver.h"
#include "md/types.h"
#include "md_test.h"
#include "test_kernels.h"

namespace {

md::Status Nop(md::OpContext&) { return md::Status::kOk; }

bool OpNameIs(int32_t code, const char* want) {
  return std::strcmp(md::BuiltinOpName(code).text, want) == 0;
}
const md::KernelRegistration kA{md::kOpConv2D, "CONV_2D", nullptr, Nop};
const md::KernelRegistration kB{md::kOpSoftmax, "SOFTMAX", nullptr, Nop};
const md::KernelRegistration kNoInvoke{md::kOpTanh, "TANH", nullptr, nullptr};

}  // namespace

MD_TEST(ResolverAddAndFind) {
  md::MicroOpResolver<2> r;
  CHECK(r.Find(md::kOpConv2D) == nullptr);
  CHECK(r.Add(kA) == md::Status::kOk);
  CHECK(r.Add(kA) == md::Status::kInvalidArgument);  // duplicate
  CHECK(r.Add(kNoInvoke) == md::Status::kInvalidArgument);
  CHECK(r.Add(kB) == md::Status::kOk);
  CHECK(r.Add(md_test::TestAdd()) == md::Status::kInvalidArgument);  // full
  CHECK(r.Find(md::kOpConv2D) == &kA);
  CHECK(r.Find(md::kOpSoftmax) == &kB);
  CHECK(r.Find(md::kOpAdd) == nullptr);
  CHECK_EQ(r.size(), 2);
}

MD_TEST(AddAllOpsSkipsKernelsNotLinked) {
  md::MicroOpResolver<32> r;
  md::AddAllOps(r);
  CHECK_EQ(r.size(), 0);
}

MD_TEST(OpAndTypeNames) {
  // The names are stored packed (types.cc checks at compile time that all 210 unpack to the
  // text): these exercise the decoder's cases, a digit, "STABLEHLO_", the first and last codes.
  CHECK(OpNameIs(md::kOpConv2D, "CONV_2D"));
  CHECK(OpNameIs(md::kOpUnidirectionalSequenceLstm, "UNIDIRECTIONAL_SEQUENCE_LSTM"));
  CHECK(OpNameIs(md::kOpQuantize, "QUANTIZE"));
  CHECK(OpNameIs(0, "ADD"));
  CHECK(OpNameIs(12, "L2_POOL_2D"));
  CHECK(OpNameIs(20, "RELU_N1_TO_1"));
  CHECK(OpNameIs(127, "PLACEHOLDER_FOR_GREATER_OP_CODES"));
  CHECK(OpNameIs(190, "STABLEHLO_SCATTER"));
  CHECK(OpNameIs(209, "STABLEHLO_CASE"));
  CHECK(OpNameIs(-1, "UNKNOWN"));
  CHECK(OpNameIs(210, "UNKNOWN"));
  CHECK(OpNameIs(100000, "UNKNOWN"));
  CHECK_EQ(md::DataTypeSize(md::DataType::kInt16), 2);
  CHECK_EQ(md::DataTypeSize(md::DataType::kString), 0);
  CHECK_STR_CONTAINS(md::DataTypeName(md::DataType::kInt8), "int8");
  CHECK_STR_CONTAINS(md::StatusName(md::Status::kArenaTooSmall), "ArenaTooSmall");
}
