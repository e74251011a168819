#include "md/app/protocol.h"

namespace md {
namespace app {
namespace {

// Nibble-wise CRC-32: a 16-entry table keeps flash use tiny and is fast enough for a UART.
constexpr uint32_t kCrcNibble[16] = {
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
};

constexpr char kBase64Chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHexDigits[] = "0123456789abcdef";

bool IsTokenChar(char c) { return c > ' ' && c < 127 && c != '"' && c != '*' && c != '@'; }
bool IsTextChar(char c) { return c >= ' ' && c < 127 && c != '"' && c != '*' && c != '@'; }
bool IsKeyChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool SameText(const char* a, size_t a_len, const char* b) {
  size_t i = 0;
  for (; i < a_len; ++i) {
    if (b[i] == '\0' || b[i] != a[i]) return false;
  }
  return b[i] == '\0';
}

// Reads a decimal number; false on an empty or non-digit text or overflow past 2^63.
bool ParseDecimal(const char* s, size_t n, uint64_t* out) {
  if (n == 0 || n > 19) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  *out = v;
  return true;
}

// Splits `type key=value ...` (the part between the sequence number and the CRC).
ParseResult ParseBody(const char* s, size_t n, ParsedRecord* out) {
  size_t i = 0;
  while (i < n && s[i] == ' ') ++i;
  const size_t type_start = i;
  while (i < n && s[i] >= 'a' && s[i] <= 'z') ++i;
  if (i == type_start) return ParseResult::kMalformed;
  if (i < n && s[i] != ' ') return ParseResult::kMalformed;
  out->type = s + type_start;
  out->type_len = i - type_start;
  out->num_fields = 0;
  while (true) {
    while (i < n && s[i] == ' ') ++i;
    if (i >= n) break;
    const size_t key_start = i;
    while (i < n && IsKeyChar(s[i])) ++i;
    if (i == key_start || i >= n || s[i] != '=') return ParseResult::kMalformed;
    Field field{s + key_start, i - key_start, nullptr, 0};
    ++i;  // '='
    if (i < n && s[i] == '"') {
      const size_t value_start = ++i;
      while (i < n && s[i] != '"') {
        if (!IsTextChar(s[i])) return ParseResult::kMalformed;
        ++i;
      }
      if (i >= n) return ParseResult::kMalformed;
      field.value = s + value_start;
      field.value_len = i - value_start;
      ++i;  // closing quote
      if (i < n && s[i] != ' ') return ParseResult::kMalformed;
    } else {
      const size_t value_start = i;
      while (i < n && IsTokenChar(s[i])) ++i;
      if (i == value_start || (i < n && s[i] != ' ')) return ParseResult::kMalformed;
      field.value = s + value_start;
      field.value_len = i - value_start;
    }
    if (out->num_fields < kMaxFields) out->fields[out->num_fields++] = field;
  }
  return ParseResult::kOk;
}

}  // namespace

uint32_t Crc32(const uint8_t* data, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    crc = (crc >> 4) ^ kCrcNibble[crc & 0xF];
    crc = (crc >> 4) ^ kCrcNibble[crc & 0xF];
  }
  return ~crc;
}

void RecordWriter::Put(char c) {
  // Room is kept for " *xxxxxxxx\n" (11 bytes) so Finish() always fits.
  if (len_ + 11 >= kMaxRecordBytes) {
    overflow_ = true;
    return;
  }
  buf_[len_++] = c;
}

void RecordWriter::PutStr(const char* s) {
  while (*s) Put(*s++);
}

void RecordWriter::PutUint(uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) Put(digits[--n]);
}

void RecordWriter::Key(const char* key) {
  Put(' ');
  PutStr(key);
  Put('=');
}

void RecordWriter::Begin(uint32_t seq, const char* type) {
  len_ = 0;
  overflow_ = false;
  PutStr("@md1 ");
  PutUint(seq);
  Put(' ');
  PutStr(type);
}

void RecordWriter::Int(const char* key, int64_t value) {
  Key(key);
  if (value < 0) {
    Put('-');
    PutUint(static_cast<uint64_t>(-(value + 1)) + 1);  // safe for INT64_MIN
  } else {
    PutUint(static_cast<uint64_t>(value));
  }
}

void RecordWriter::Hex32(const char* key, uint32_t value) {
  Key(key);
  for (int shift = 28; shift >= 0; shift -= 4) Put(kHexDigits[(value >> shift) & 0xF]);
}

void RecordWriter::Word(const char* key, const char* value) {
  Key(key);
  if (*value == '\0') Put('_');
  for (; *value; ++value) Put(IsTokenChar(*value) ? *value : '_');
}

void RecordWriter::Text(const char* key, const char* value) {
  Key(key);
  Put('"');
  for (; *value; ++value) Put(IsTextChar(*value) ? *value : '?');
  Put('"');
}

void RecordWriter::Base64(const char* key, const uint8_t* data, size_t n) {
  Key(key);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t b0 = data[i];
    const uint32_t b1 = i + 1 < n ? data[i + 1] : 0;
    const uint32_t b2 = i + 2 < n ? data[i + 2] : 0;
    const uint32_t triple = (b0 << 16) | (b1 << 8) | b2;
    Put(kBase64Chars[(triple >> 18) & 63]);
    Put(kBase64Chars[(triple >> 12) & 63]);
    Put(i + 1 < n ? kBase64Chars[(triple >> 6) & 63] : '=');
    Put(i + 2 < n ? kBase64Chars[triple & 63] : '=');
  }
}

void RecordWriter::Shape(const char* key, const int32_t* dims, int32_t rank) {
  Key(key);
  if (rank == 0) Put('1');  // a scalar is reported as one element
  for (int32_t i = 0; i < rank; ++i) {
    if (i > 0) Put('x');
    PutUint(static_cast<uint64_t>(dims[i] < 0 ? 0 : dims[i]));
  }
}

bool RecordWriter::Finish() {
  if (overflow_) return false;
  const uint32_t crc = Crc32(reinterpret_cast<const uint8_t*>(buf_), len_);
  buf_[len_++] = ' ';
  buf_[len_++] = '*';
  for (int shift = 28; shift >= 0; shift -= 4) buf_[len_++] = kHexDigits[(crc >> shift) & 0xF];
  buf_[len_++] = '\n';
  buf_[len_] = '\0';
  return true;
}

bool LineReader::Push(uint8_t byte) {
  if (complete_) {  // the previous line was consumed by the caller
    complete_ = false;
    len_ = 0;
    overflowed_ = false;
  }
  if (byte == '\n') {
    if (len_ > 0 && buf_[len_ - 1] == '\r') --len_;
    buf_[len_] = '\0';
    complete_ = true;
    overflowed_ = overflowing_;
    overflowing_ = false;
    return true;
  }
  if (len_ + 1 >= sizeof(buf_)) {
    overflowing_ = true;  // keep the head, drop the rest up to the newline
    return false;
  }
  buf_[len_++] = static_cast<char>(byte);
  return false;
}

bool ParsedRecord::IsType(const char* name) const {
  return type != nullptr && SameText(type, type_len, name);
}

const Field* ParsedRecord::Find(const char* key) const {
  for (int i = 0; i < num_fields; ++i) {
    if (SameText(fields[i].key, fields[i].key_len, key)) return &fields[i];
  }
  return nullptr;
}

bool ParsedRecord::GetInt(const char* key, int64_t* out) const {
  const Field* f = Find(key);
  if (f == nullptr || f->value_len == 0) return false;
  const bool negative = f->value[0] == '-';
  uint64_t magnitude = 0;
  if (!ParseDecimal(f->value + (negative ? 1 : 0), f->value_len - (negative ? 1 : 0), &magnitude))
    return false;
  if (magnitude > (negative ? 0x8000000000000000ull : 0x7FFFFFFFFFFFFFFFull)) return false;
  // Negate in unsigned arithmetic: well defined for INT64_MIN too.
  *out = static_cast<int64_t>(negative ? 0 - magnitude : magnitude);
  return true;
}

bool ParsedRecord::GetHex32(const char* key, uint32_t* out) const {
  const Field* f = Find(key);
  if (f == nullptr || f->value_len == 0 || f->value_len > 8) return false;
  uint32_t v = 0;
  for (size_t i = 0; i < f->value_len; ++i) {
    const int d = HexValue(f->value[i]);
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint32_t>(d);
  }
  *out = v;
  return true;
}

ParseResult ParseRecord(const char* line, size_t n, ParsedRecord* out) {
  out->framed = false;
  out->seq = 0;
  out->type = nullptr;
  out->type_len = 0;
  out->num_fields = 0;
  while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\r')) --n;
  size_t start = 0;
  while (start < n && line[start] == ' ') ++start;
  if (start == n) return ParseResult::kEmpty;
  line += start;
  n -= start;
  if (n < 3 || line[0] != '@' || line[1] != 'm' || line[2] != 'd') {
    return ParseBody(line, n, out);  // typed by hand
  }
  // "@md1 <seq> <body> *xxxxxxxx"
  if (n < 4 || line[3] != '0' + kProtocolVersion || (n > 4 && line[4] != ' ')) {
    return (n > 3 && line[3] >= '0' && line[3] <= '9') ? ParseResult::kBadVersion
                                                       : ParseResult::kMalformed;
  }
  if (n < 5 + 2 + 10 || line[n - 9] != '*' || line[n - 10] != ' ') return ParseResult::kMalformed;
  uint32_t crc = 0;
  for (size_t i = n - 8; i < n; ++i) {
    const int d = HexValue(line[i]);
    if (d < 0) return ParseResult::kMalformed;
    crc = (crc << 4) | static_cast<uint32_t>(d);
  }
  const size_t body_end = n - 10;  // the space before '*'
  if (Crc32(reinterpret_cast<const uint8_t*>(line), body_end) != crc) return ParseResult::kBadCrc;
  size_t i = 5;
  const size_t seq_start = i;
  while (i < body_end && line[i] >= '0' && line[i] <= '9') ++i;
  uint64_t seq = 0;
  if (!ParseDecimal(line + seq_start, i - seq_start, &seq) || seq > 0xFFFFFFFFu || i >= body_end ||
      line[i] != ' ') {
    return ParseResult::kMalformed;
  }
  const ParseResult body = ParseBody(line + i, body_end - i, out);
  if (body != ParseResult::kOk) return body;
  out->framed = true;
  out->seq = static_cast<uint32_t>(seq);
  return ParseResult::kOk;
}

int DecodeBase64(const char* text, size_t n, uint8_t* out, size_t capacity) {
  if (n % 4 != 0) return -1;
  size_t written = 0;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == n && k >= 2) {
        v[k] = 0;
        ++pad;
      } else {
        if (pad > 0) return -1;  // data after padding
        v[k] = Base64Value(c);
        if (v[k] < 0) return -1;
      }
    }
    const uint32_t triple = (static_cast<uint32_t>(v[0]) << 18) |
                            (static_cast<uint32_t>(v[1]) << 12) |
                            (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    const int bytes = 3 - pad;
    if (written + static_cast<size_t>(bytes) > capacity) return -1;
    out[written++] = static_cast<uint8_t>(triple >> 16);
    if (bytes > 1) out[written++] = static_cast<uint8_t>(triple >> 8);
    if (bytes > 2) out[written++] = static_cast<uint8_t>(triple);
  }
  return static_cast<int>(written);
}

}  // namespace app
}  // namespace md
