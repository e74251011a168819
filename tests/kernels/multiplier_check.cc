// Checks the arithmetic shortcuts of the optimized kernels
// (runtime_cpp/src/md/kernels/int8_opt.h) against the reference functions:
// - md::opt::ChannelOutputMultiplierInt, the float-free per-channel multiplier, against
//   ChannelOutputMultiplier (double arithmetic, as TFLM) on random scale triples: any positive
//   float, subnormals, powers of two and their neighbours, and realistic scales; so does
//   md::opt::OptChannelMultiplier, the form the kernels use on this target;
// - md::opt::RoundQuotientToMultiplier (ChannelMultiplierMaker's rounding of its quotient)
//   against QuantizeMultiplier of the same value formed in long double and rounded to a double,
//   where long double holds 64 bits: quotients whose low bits sit at or next to the rounding
//   boundaries of both steps, with and without a remainder, exponents down to the zero result;
// - md::opt::QuantizeMultiplierBits against QuantizeMultiplier on random double bit patterns;
// - on x86 hosts, md::opt::RequantizeRowSse2 (four channels per SSE2 vector) against
//   RequantizeToInt8;
// - md::opt::ApplyRequant (and ApplyRequantSimple where it applies) against
//   MultiplyByQuantizedMultiplier (quant.h) on random accumulators of every magnitude,
//   extremes included, for the multipliers and shifts QuantizeMultiplier gives;
// - md::opt::RequantizeDoubledPortable (the 1x1 DSP path's three-instruction requantization of
//   a doubled accumulator, output offset included) against MultiplyByQuantizedMultiplier plus
//   the offset, wherever MakeDoubledRequant accepts the channel, edge cases included.
// Prints the first mismatches and "checked N mismatches M". Built and run by
// test_int8_fast_paths.py.
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "md/kernels/conv_common.h"
#include "md/kernels/int8_opt.h"
#include "md/kernels/int8_sse2.h"

namespace {

uint64_t state = 0x9E3779B97F4A7C15ull;

uint64_t Next() {  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

// A positive finite float of one of several kinds.
float RandomScale() {
  const uint32_t r = static_cast<uint32_t>(Next());
  const uint32_t mantissa = static_cast<uint32_t>(Next()) & 0x7FFFFF;
  switch (r % 5) {
    case 0:  // any positive finite float
      return FromBits(((1 + r % 254) << 23) | mantissa);
    case 1:  // subnormal
      return FromBits(mantissa == 0 ? 1 : mantissa);
    case 2:  // a power of two or a neighbour
      return FromBits(((1 + r % 254) << 23) | ((r >> 8) % 3 == 0   ? 0
                                               : (r >> 8) % 3 == 1 ? 1
                                                                   : 0x7FFFFF));
    default:  // scales of real models: 2^-20 .. 2^2
      return FromBits(((107 + r % 22) << 23) | mantissa);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::atol(argv[1]) : 1000000;
  long mismatches = 0;
  for (long i = 0; i < count; ++i) {
    const float a = RandomScale(), b = RandomScale(), c = RandomScale();
    int32_t m_ref, m_int;
    int s_ref, s_int;
    md::ChannelOutputMultiplier(a, b, c, &m_ref, &s_ref);
    md::opt::ChannelOutputMultiplierInt(a, b, c, &m_int, &s_int);
    if (m_ref != m_int || s_ref != s_int) {
      if (++mismatches <= 10) {
        std::printf("mismatch %.9g %.9g %.9g: double %ld/%d integer %ld/%d\n", a, b, c,
                    static_cast<long>(m_ref), s_ref, static_cast<long>(m_int), s_int);
      }
    }
    // The kernels' own choice for this target (bit-reading QuantizeMultiplier on hosts).
    int32_t m_opt;
    int s_opt;
    md::opt::OptChannelMultiplier(a, b, c, &m_opt, &s_opt);
    if ((m_ref != m_opt || s_ref != s_opt) && ++mismatches <= 10) {
      std::printf("OptChannelMultiplier mismatch %.9g %.9g %.9g: %ld/%d, expected %ld/%d\n", a, b,
                  c, static_cast<long>(m_opt), s_opt, static_cast<long>(m_ref), s_ref);
    }
  }
  // RoundQuotientToMultiplier: value (q + f) 2^x, f = 1/2 for a remainder (any f in (0, 1)
  // rounds alike: q has at least 55 bits). 57-bit patterns q' = top 2^26 + low, shifted down
  // by k = 0..2 when that drops no bit; low at and around 2^25 (the 31-bit tie), around the
  // 53-bit ties (low 4 bits 8), just below a carry out of 22 bits, or random; top random or
  // all ones (the rounding up to 2^31).
  long rounding_checked = 0;
  for (long i = 0; LDBL_MANT_DIG >= 64 && i < count; ++i) {
    const uint64_t r = Next();
    uint32_t top = (1u << 30) | (static_cast<uint32_t>(r) >> 2);
    if (r % 7 == 0) top = 0x7FFFFFFF;
    const int32_t near = static_cast<int32_t>((r >> 32) % 41) - 20;
    uint32_t low = static_cast<uint32_t>(Next());
    switch ((r >> 40) % 6) {
      case 0:
        low = (1u << 25) + near;
        break;
      case 1:
        low = (low & ~0xFu) | (8u + near % 9);
        break;
      case 2:
        low = 0x3FFFFFFu - static_cast<uint32_t>(near + 20);
        break;
      case 3:
        low = (low & ~0x3FFFFFu) | (0x3FFFF8u + (near + 20) % 16);
        break;
      default:
        break;
    }
    low &= 0x3FFFFFFu;
    const uint64_t q57 = (static_cast<uint64_t>(top) << 26) | low;
    const int k = static_cast<int>((r >> 48) % 3);
    if ((q57 & ((1u << k) - 1)) != 0) continue;
    const uint64_t quotient = q57 >> k;
    const bool sticky = (r >> 52) & 1;
    const int32_t exponent = -40 - static_cast<int32_t>((r >> 53) % 60);
    const long double exact =
        std::ldexp(static_cast<long double>(2 * quotient + (sticky ? 1 : 0)), exponent - 1);
    int32_t m_ref, m_got;
    int s_ref, s_got;
    md::QuantizeMultiplier(static_cast<double>(exact), &m_ref, &s_ref);
    md::opt::RoundQuotientToMultiplier(quotient, exponent, &m_got, &s_got);
    ++rounding_checked;
    if ((m_ref != m_got || s_ref != s_got) && ++mismatches <= 10) {
      std::printf("rounding mismatch q %llx sticky %d x %ld: %ld/%d, expected %ld/%d\n",
                  static_cast<unsigned long long>(quotient), sticky ? 1 : 0,
                  static_cast<long>(exponent), static_cast<long>(m_got), s_got,
                  static_cast<long>(m_ref), s_ref);
    }
  }
  // QuantizeMultiplierBits on any double bit pattern (negative, subnormal, huge, NaN included).
  for (long i = 0; i < count; ++i) {
    uint64_t bits = Next();
    if (i % 4 == 0) bits &= ~(static_cast<uint64_t>(1) << 63);                 // positive
    if (i % 8 == 1) bits = (bits & 0x800FFFFFFFFFFFFFull) | (0x3FEull << 52);  // [0.5, 1)
    if (i % 16 == 2) bits |= 0x3FFFFFull;  // mantissas that round up to 2^31
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    int32_t m_ref = 0, m_bits = 0;
    int s_ref = 0, s_bits = 0;
    md::QuantizeMultiplier(d, &m_ref, &s_ref);
    md::opt::QuantizeMultiplierBits(d, &m_bits, &s_bits);
    if ((m_ref != m_bits || s_ref != s_bits) && ++mismatches <= 10) {
      std::printf("QuantizeMultiplierBits mismatch %a: %ld/%d, expected %ld/%d\n", d,
                  static_cast<long>(m_bits), s_bits, static_cast<long>(m_ref), s_ref);
    }
  }
  for (long i = 0; i < count; ++i) {
    const uint64_t r = Next();
    int32_t multiplier = static_cast<int32_t>((1u << 30) | (static_cast<uint32_t>(r) >> 2));
    if (r % 97 == 0) multiplier = 0;
    if (r % 89 == 0) multiplier = 0x7FFFFFFF;
    const int shift = static_cast<int>((r >> 32) % 62) - 31;  // -31..30
    int32_t acc = static_cast<int32_t>(Next());
    acc >>= static_cast<int>((r >> 40) % 32);  // every magnitude
    if (r % 101 == 0) acc = (r & 1) ? INT32_MIN : INT32_MAX;
    const int32_t expected = md::MultiplyByQuantizedMultiplier(acc, multiplier, shift);
    const md::opt::Requant q = md::opt::MakeRequant(multiplier, shift);
    int32_t got = md::opt::ApplyRequant(q, acc);
    // The shortcut for channels without a left shift must agree too.
    if (md::opt::RequantIsSimple(q) && md::opt::ApplyRequantSimple(q, acc) != got) got = ~got;
    if (expected != got && ++mismatches <= 10) {
      std::printf(
          "requant mismatch acc %ld multiplier %ld shift %d: %ld, "
          "expected %ld\n",
          static_cast<long>(acc), static_cast<long>(multiplier), shift, static_cast<long>(got),
          static_cast<long>(expected));
    }
  }
  for (long i = 0; i < count; ++i) {
    const uint64_t r = Next();
    int32_t multiplier = static_cast<int32_t>((1u << 30) | (static_cast<uint32_t>(r) >> 2));
    if (r % 13 == 0) multiplier = 1 << 30;
    if (r % 17 == 0) multiplier = 0x7FFFFFFF;
    int shift = -1 - static_cast<int>((r >> 32) % 31);  // right shifts 1..31
    if (r % 29 == 0) multiplier = 0, shift = 0;         // QuantizeMultiplier of a tiny scale
    const int32_t offset = static_cast<int32_t>((r >> 40) % 256) - 128;
    int32_t acc = static_cast<int32_t>(static_cast<uint32_t>(Next()) >> 2);  // |acc| < 2^30
    if ((r >> 50) & 1) acc = -acc;
    acc >>= static_cast<int>((r >> 52) % 31);                        // every magnitude
    if (r % 19 == 0) acc = static_cast<int32_t>((r >> 20) % 5) - 2;  // around 0 (-1 and M = 2^30)
    if (r % 23 == 0) acc = (r & 1) ? (1 << 30) - 1 : 1 - (1 << 30);
    const bool fuse = md::opt::DoubledRequantShift(multiplier, shift) <= 22;
    md::opt::DoubledRequant d;
    if (!md::opt::MakeDoubledRequant(multiplier, shift, offset, fuse, &d)) {
      if (++mismatches <= 10) std::printf("doubled requant refused shift %d\n", shift);
      continue;
    }
    const int32_t expected = md::MultiplyByQuantizedMultiplier(acc, multiplier, shift) + offset;
    const int32_t got = md::opt::RequantizeDoubledPortable(d, 2 * acc) + (fuse ? 0 : offset);
    if (expected != got && ++mismatches <= 10) {
      std::printf(
          "doubled requant mismatch acc %ld multiplier %ld shift %d offset %ld: %ld, "
          "expected %ld\n",
          static_cast<long>(acc), static_cast<long>(multiplier), shift, static_cast<long>(offset),
          static_cast<long>(got), static_cast<long>(expected));
    }
  }
#if MD_KERNELS_SSE2
  // RequantizeRowSse2 (x86 hosts) against RequantizeToInt8 per channel: rows of 1..32
  // channels with random multipliers and shifts (including ones the vector form leaves to the
  // scalar one), accumulators of every magnitude, output offsets and activation ranges.
  for (long i = 0; i < count / 32; ++i) {
    const int32_t n = 1 + static_cast<int32_t>(Next() % md::kChannelChunk);
    md::opt::Requant q[md::kChannelChunk];
    uint32_t acc[md::kChannelChunk];
    for (int32_t c = 0; c < n; ++c) {
      const uint64_t r = Next();
      const int32_t multiplier = static_cast<int32_t>((1u << 30) | (static_cast<uint32_t>(r) >> 2));
      int shift = -static_cast<int>((r >> 32) % 32);             // 0..-31: e = 1..31 mostly
      if (r % 53 == 0) shift = static_cast<int>((r >> 40) % 4);  // left shifts: not simple
      q[c] = md::opt::MakeRequant(r % 97 == 0 ? 0 : multiplier, shift);
      int32_t a = static_cast<int32_t>(Next());
      a >>= static_cast<int>((r >> 48) % 32);
      if (r % 101 == 0) a = (r & 1) ? INT32_MIN : INT32_MAX;
      acc[c] = static_cast<uint32_t>(a);
    }
    const uint64_t r = Next();
    const int32_t offset = static_cast<int32_t>(r % 256) - 128;
    int32_t act_min = -128 + static_cast<int32_t>((r >> 8) % 64);
    int32_t act_max = 127 - static_cast<int32_t>((r >> 16) % 64);
    md::opt::RequantSse2 prepared;
    md::opt::PrepareRequantSse2(q, n, offset, &prepared);
    int8_t got[md::kChannelChunk];
    md::opt::RequantizeRowSse2(prepared, q, acc, n, offset, act_min, act_max, got);
    for (int32_t c = 0; c < n; ++c) {
      const int8_t expected = md::opt::RequantizeToInt8(q[c], acc[c], offset, act_min, act_max);
      if (got[c] != expected && ++mismatches <= 10) {
        std::printf("RequantizeRowSse2 mismatch acc %ld multiplier %ld shift %d: %d, expected %d\n",
                    static_cast<long>(static_cast<int32_t>(acc[c])),
                    static_cast<long>(q[c].multiplier), q[c].right_shift, got[c], expected);
      }
    }
  }
  std::printf("checked %ld mismatches %ld\n", 4 * count + count / 32 + rounding_checked,
              mismatches);
#else
  std::printf("checked %ld mismatches %ld\n", 4 * count + rounding_checked, mismatches);
#endif
  return mismatches == 0 ? 0 : 1;
}
