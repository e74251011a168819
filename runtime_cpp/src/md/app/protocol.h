// The device side of the serial protocol (docs/protocol.md): building records with their CRC,
// splitting the incoming byte stream into lines, parsing and checking a command record, base64.
// No heap: every object owns a fixed buffer; parsed fields point into the caller's line buffer,
// which must outlive the ParsedRecord.
#ifndef MD_APP_PROTOCOL_H_
#define MD_APP_PROTOCOL_H_

#include <cstddef>
#include <cstdint>

namespace md {
namespace app {

constexpr int kProtocolVersion = 1;
// Longest record including its '\n' (fits a 256-byte UART line buffer).
constexpr size_t kMaxRecordBytes = 250;
// Tensor bytes per `dat` record (192 base64 characters).
constexpr size_t kChunkBytes = 144;
// Most fields one command may carry; the rest are ignored.
constexpr int kMaxFields = 8;

// CRC-32 (IEEE 802.3, as zlib.crc32). Pass the previous result to continue a running CRC.
uint32_t Crc32(const uint8_t* data, size_t n, uint32_t crc = 0);

// Builds one record: Begin(), fields, Finish(). A record that would exceed kMaxRecordBytes is
// flagged and Finish() returns false, so a caller never sends a cut record.
class RecordWriter {
 public:
  void Begin(uint32_t seq, const char* type);
  void Int(const char* key, int64_t value);
  void Hex32(const char* key, uint32_t value);
  // A bare token; characters a token may not hold become '_'.
  void Word(const char* key, const char* value);
  // A quoted text; '"', '*', '@' and control characters become '?'.
  void Text(const char* key, const char* value);
  void Base64(const char* key, const uint8_t* data, size_t n);
  // `1x96x96x1`.
  void Shape(const char* key, const int32_t* dims, int32_t rank);
  // Appends " *<crc>\n". False if the record overflowed (nothing valid to send).
  bool Finish();

  const char* data() const { return buf_; }
  size_t size() const { return len_; }

 private:
  void Put(char c);
  void PutStr(const char* s);
  void PutUint(uint64_t v);
  void Key(const char* key);

  char buf_[kMaxRecordBytes + 1];
  size_t len_ = 0;
  bool overflow_ = false;
};

// Collects bytes into lines. Push() returns true when a line is complete (without its "\r\n");
// a line longer than the buffer is cut and reported through overflowed().
class LineReader {
 public:
  bool Push(uint8_t byte);
  const char* line() const { return buf_; }
  size_t length() const { return len_; }
  bool overflowed() const { return overflowed_; }

 private:
  char buf_[kMaxRecordBytes + 6];
  size_t len_ = 0;
  bool complete_ = false;
  bool overflowed_ = false;
  bool overflowing_ = false;
};

struct Field {
  const char* key;
  size_t key_len;
  const char* value;  // without quotes
  size_t value_len;
};

struct ParsedRecord {
  bool framed = false;  // had the `@md1 <seq>` prefix and a valid CRC (else: typed by hand)
  uint32_t seq = 0;
  const char* type = nullptr;
  size_t type_len = 0;
  Field fields[kMaxFields];
  int num_fields = 0;

  bool IsType(const char* name) const;
  const Field* Find(const char* key) const;
  // False when the key is absent or not a decimal number (leaves *out unchanged then).
  bool GetInt(const char* key, int64_t* out) const;
  bool GetHex32(const char* key, uint32_t* out) const;
};

enum class ParseResult : uint8_t {
  kOk,
  kEmpty,       // blank line
  kBadCrc,      // framed record whose CRC does not match
  kBadVersion,  // `@md<other>`
  kMalformed,   // syntax error
};

// Parses one line (without "\r\n"). A line starting with "@md" must be a complete framed record;
// any other line is read as an unframed command typed by hand (framed == false).
ParseResult ParseRecord(const char* line, size_t n, ParsedRecord* out);

// Base64 (RFC 4648, padded). Returns the number of bytes written, or -1 on a bad character,
// bad length or when `capacity` is too small.
int DecodeBase64(const char* text, size_t n, uint8_t* out, size_t capacity);

}  // namespace app
}  // namespace md

#endif  // MD_APP_PROTOCOL_H_
