// Text output of the MLPerf Tiny device: lines to the serial port without printf (newlib-nano's
// printf has no %f, and the runtime keeps vsnprintf's code out of the firmware).
#ifndef MD_APP_MLPERF_TEXT_H_
#define MD_APP_MLPERF_TEXT_H_

#include <cstddef>
#include <cstdint>

namespace md {
namespace mlperf {

// Writes `v` as C's printf("%0.3f", v) does with a correctly rounding libc (glibc): the exact
// binary value rounded to 3 decimals, ties to even, "-0.000" for negative values that round to
// zero, "inf"/"-inf", "nan"/"-nan". Returns the number of characters written to `out` (which
// needs room for 48 characters; no terminating NUL).
size_t FormatFixed3(float v, char* out);

// Collects one reply at a time and sends it to port::SerialWrite in chunks.
class Output {
 public:
  void Str(const char* s);
  void Char(char c);
  void Uint(uint64_t v);
  void Int(int64_t v);
  void Hex2(uint8_t byte);  // two lowercase digits, as printf("%02x")
  void Fixed3(float v);
  void Line(const char* s);  // s + "\r\n"
  void EndLine();            // "\r\n"
  void Flush();

 private:
  char buf_[128];
  size_t len_ = 0;
};

}  // namespace mlperf
}  // namespace md

#endif  // MD_APP_MLPERF_TEXT_H_
