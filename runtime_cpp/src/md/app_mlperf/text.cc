#include "md/app_mlperf/text.h"

#include <cmath>

#include "md/port.h"

namespace md {
namespace mlperf {

size_t FormatFixed3(float v, char* out) {
  size_t n = 0;
  const bool negative = std::signbit(v);
  if (negative) out[n++] = '-';
  if (std::isnan(v) || std::isinf(v)) {
    const char* word = std::isnan(v) ? "nan" : "inf";
    for (int i = 0; i < 3; ++i) out[n++] = word[i];
    return n;
  }
  // A float has 24 significant bits and 1000 < 2^10, so the product is exact in a double:
  // rounding it to an integer is the one rounding printf does.
  const double scaled = std::fabs(static_cast<double>(v)) * 1000.0;
  double units = std::floor(scaled);
  const double fraction = scaled - units;  // exact
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(units, 2.0) != 0.0)) units += 1.0;
  // Decimal digits of `units` (an integer-valued double; fmod and the division are exact).
  char digits[48];
  int count = 0;
  while (units >= 1.0 && count < 45) {
    const double digit = std::fmod(units, 10.0);
    digits[count++] = static_cast<char>('0' + static_cast<int>(digit));
    units = (units - digit) / 10.0;
  }
  while (count < 4) digits[count++] = '0';  // at least "0.000"
  for (int i = count - 1; i >= 0; --i) {
    out[n++] = digits[i];
    if (i == 3) out[n++] = '.';
  }
  return n;
}

void Output::Char(char c) {
  if (len_ == sizeof(buf_)) Flush();
  buf_[len_++] = c;
}

void Output::Str(const char* s) {
  while (*s != '\0') Char(*s++);
}

void Output::Uint(uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) Char(digits[--n]);
}

void Output::Int(int64_t v) {
  if (v < 0) {
    Char('-');
    Uint(0 - static_cast<uint64_t>(v));
  } else {
    Uint(static_cast<uint64_t>(v));
  }
}

void Output::Hex2(uint8_t byte) {
  static const char kDigits[] = "0123456789abcdef";
  Char(kDigits[byte >> 4]);
  Char(kDigits[byte & 0xF]);
}

void Output::Fixed3(float v) {
  char text[48];
  const size_t n = FormatFixed3(v, text);
  for (size_t i = 0; i < n; ++i) Char(text[i]);
}

void Output::EndLine() {
  Char('\r');
  Char('\n');
  Flush();
}

void Output::Line(const char* s) {
  Str(s);
  EndLine();
}

void Output::Flush() {
  if (len_ > 0) port::SerialWrite(reinterpret_cast<const uint8_t*>(buf_), len_);
  len_ = 0;
}

}  // namespace mlperf
}  // namespace md
