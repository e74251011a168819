// One registration function per builtin op; each is defined in
// kernels/<op_name_lowercase>.cc (e.g. Register_CONV_2D in conv_2d.cc), so
// the project generator can vendor exactly the files a model needs.
#ifndef MD_KERNELS_REGISTER_H_
#define MD_KERNELS_REGISTER_H_

#include "md/kernel.h"

namespace md {

const KernelRegistration& Register_ADD();
const KernelRegistration& Register_AVERAGE_POOL_2D();
const KernelRegistration& Register_CONCATENATION();
const KernelRegistration& Register_CONV_2D();
const KernelRegistration& Register_DEPTHWISE_CONV_2D();
const KernelRegistration& Register_DEQUANTIZE();
const KernelRegistration& Register_FULLY_CONNECTED();
const KernelRegistration& Register_LOGISTIC();
const KernelRegistration& Register_MAX_POOL_2D();
const KernelRegistration& Register_MEAN();
const KernelRegistration& Register_MUL();
const KernelRegistration& Register_PAD();
const KernelRegistration& Register_QUANTIZE();
const KernelRegistration& Register_RESHAPE();
const KernelRegistration& Register_SOFTMAX();
const KernelRegistration& Register_STRIDED_SLICE();
const KernelRegistration& Register_SVDF();
const KernelRegistration& Register_TANH();
const KernelRegistration& Register_UNIDIRECTIONAL_SEQUENCE_LSTM();

}  // namespace md

#endif  // MD_KERNELS_REGISTER_H_
