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
  char digits[48];  // decimal digits of the rounded product, least significant first
  int count = 0;
  if (scaled < 9007199254740992.0) {  // 2^53: integers and halves below are exact doubles
    double units = std::floor(scaled);
    const double fraction = scaled - units;  // exact
    if (fraction > 0.5 || (fraction == 0.5 && std::fmod(units, 2.0) != 0.0)) units += 1.0;
    uint64_t integer = static_cast<uint64_t>(units);
    while (integer != 0) {
      digits[count++] = static_cast<char>('0' + integer % 10);
      integer /= 10;
    }
  } else {
    // An integer beyond a double's exact range: mantissa * 1000 * 2^shift in 32-bit limbs.
    int exponent = 0;
    const float mantissa = std::frexp(std::fabs(v), &exponent);  // |v| = mantissa * 2^exponent
    uint64_t product = static_cast<uint64_t>(std::ldexp(mantissa, 24)) * 1000u;  // < 2^34
    const int shift = exponent - 24;                                             // >= 20 here
    uint32_t limbs[6] = {};  // little-endian; 2^34 * 2^(128-24) < 2^192
    limbs[shift / 32] = static_cast<uint32_t>(product << (shift % 32));
    limbs[shift / 32 + 1] = static_cast<uint32_t>((product << (shift % 32)) >> 32);
    if (shift % 32 != 0) {
      limbs[shift / 32 + 2] = static_cast<uint32_t>(product >> (64 - shift % 32));
    }
    for (bool nonzero = true; nonzero && count < 45;) {
      uint64_t remainder = 0;
      nonzero = false;
      for (int i = 5; i >= 0; --i) {
        const uint64_t current = (remainder << 32) | limbs[i];
        limbs[i] = static_cast<uint32_t>(current / 10);
        remainder = current % 10;
        nonzero = nonzero || limbs[i] != 0;
      }
      digits[count++] = static_cast<char>('0' + remainder);
    }
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
