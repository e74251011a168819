// Maps builtin op codes to kernel registrations. MicroOpResolver<N> is a
// fixed-capacity table (no heap) that an application fills with exactly the
// kernels it links: resolver.Add(Register_CONV_2D()).
#ifndef MD_OP_RESOLVER_H_
#define MD_OP_RESOLVER_H_

#include <cstddef>
#include <cstdint>

#include "md/kernel.h"
#include "md/status.h"

namespace md {

class OpResolver {
 public:
  // The registration for builtin `op`, nullptr if none.
  virtual const KernelRegistration* Find(int32_t op) const = 0;

 protected:
  ~OpResolver() = default;
};

template <size_t N>
class MicroOpResolver : public OpResolver {
 public:
  // kInvalidArgument when full or when `op` is already registered.
  Status Add(const KernelRegistration& registration) {
    if (count_ >= N || Find(registration.op) != nullptr || registration.invoke == nullptr) {
      return Status::kInvalidArgument;
    }
    registrations_[count_++] = &registration;
    return Status::kOk;
  }

  const KernelRegistration* Find(int32_t op) const override {
    for (size_t i = 0; i < count_; ++i) {
      if (registrations_[i]->op == op) return registrations_[i];
    }
    return nullptr;
  }

  size_t size() const { return count_; }
  static constexpr size_t capacity() { return N; }

 private:
  const KernelRegistration* registrations_[N] = {};
  size_t count_ = 0;
};

}  // namespace md

#endif  // MD_OP_RESOLVER_H_
