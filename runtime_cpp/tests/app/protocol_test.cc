// Host test of the device-side protocol codec (md/app/protocol.h).
//   protocol_test          self-checks; prints "N passed, M failed", exit 1 on a failure
//   protocol_test encode   prints a fixed set of records for the Python codec to verify
//   protocol_test parse    parses each stdin line, prints what the device would understand
// The last two let tests/test_protocol_cpp.py check both codecs against each other.
#include "md/app/protocol.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace {

using md::app::ParsedRecord;
using md::app::ParseResult;
using md::app::RecordWriter;

int g_passed = 0;
int g_failed = 0;

void Check(bool ok, const char* what, int line) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAILED line %d: %s\n", line, what);
  }
}
#define CHECK(cond) Check((cond), #cond, __LINE__)

ParseResult ParseText(const std::string& line, ParsedRecord* rec) {
  return md::app::ParseRecord(line.data(), line.size(), rec);
}

std::string FieldText(const ParsedRecord& rec, const char* key) {
  const md::app::Field* f = rec.Find(key);
  return f ? std::string(f->value, f->value_len) : std::string("<none>");
}

void TestCrc() {
  const char* check = "123456789";
  CHECK(md::app::Crc32(reinterpret_cast<const uint8_t*>(check), 9) == 0xCBF43926u);
  // Running CRC over two halves equals the CRC of the whole.
  const uint32_t first = md::app::Crc32(reinterpret_cast<const uint8_t*>(check), 4);
  CHECK(md::app::Crc32(reinterpret_cast<const uint8_t*>(check) + 4, 5, first) == 0xCBF43926u);
}

void TestRoundTrip() {
  RecordWriter w;
  w.Begin(42, "err");
  w.Word("code", "ArenaTooSmall");
  w.Text("msg", "arena too small: need 55360 bytes, have 1000");
  w.Int("neg", -17);
  w.Hex32("crc", 0xDEADBEEFu);
  CHECK(w.Finish());
  std::string line(w.data(), w.size());
  CHECK(line.back() == '\n');
  line.pop_back();
  ParsedRecord rec;
  CHECK(ParseText(line, &rec) == ParseResult::kOk);
  CHECK(rec.framed);
  CHECK(rec.seq == 42);
  CHECK(rec.IsType("err"));
  CHECK(FieldText(rec, "code") == "ArenaTooSmall");
  CHECK(FieldText(rec, "msg") == "arena too small: need 55360 bytes, have 1000");
  int64_t v = 0;
  CHECK(rec.GetInt("neg", &v) && v == -17);
  uint32_t crc = 0;
  CHECK(rec.GetHex32("crc", &crc) && crc == 0xDEADBEEFu);
  CHECK(!rec.GetInt("missing", &v));

  // One flipped character anywhere before the CRC is caught.
  for (size_t i = 0; i + 11 < line.size(); ++i) {
    std::string bad = line;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    const ParseResult r = ParseText(bad, &rec);
    if (r == ParseResult::kOk && rec.framed) {
      Check(false, "flipped byte accepted", __LINE__);
      return;
    }
  }
  ++g_passed;
}

void TestSanitising() {
  RecordWriter w;
  w.Begin(1, "log");
  w.Text("msg", "a \"quoted\" *star* @at\tTab");
  w.Word("w", "two words");
  CHECK(w.Finish());
  ParsedRecord rec;
  std::string line(w.data(), w.size() - 1);
  CHECK(ParseText(line, &rec) == ParseResult::kOk);
  CHECK(FieldText(rec, "msg") == "a ?quoted? ?star? ?at?Tab");
  CHECK(FieldText(rec, "w") == "two_words");
}

void TestOverflowIsRefused() {
  RecordWriter w;
  w.Begin(7, "dat");
  uint8_t big[300] = {};
  w.Base64("b64", big, sizeof(big));
  CHECK(!w.Finish());
  // The largest chunk fits with the largest sequence number and offset.
  uint8_t chunk[md::app::kChunkBytes] = {};
  w.Begin(4294967295u, "dat");
  w.Int("off", 9999999);
  w.Base64("b64", chunk, sizeof(chunk));
  CHECK(w.Finish());
  CHECK(w.size() <= md::app::kMaxRecordBytes);
}

void TestBase64() {
  uint8_t data[256];
  for (int i = 0; i < 256; ++i) data[i] = static_cast<uint8_t>(i);
  for (size_t n = 1; n <= 10; ++n) {  // empty chunks are never sent
    RecordWriter w;
    w.Begin(0, "dat");
    w.Base64("b64", data + 100, n);
    CHECK(w.Finish());
    ParsedRecord rec;
    std::string line(w.data(), w.size() - 1);
    CHECK(ParseText(line, &rec) == ParseResult::kOk);
    const md::app::Field* f = rec.Find("b64");
    uint8_t out[16];
    CHECK(f != nullptr &&
          md::app::DecodeBase64(f->value, f->value_len, out, sizeof(out)) == static_cast<int>(n));
    CHECK(std::memcmp(out, data + 100, n) == 0);
  }
  uint8_t out[8];
  CHECK(md::app::DecodeBase64("AAA", 3, out, sizeof(out)) == -1);   // bad length
  CHECK(md::app::DecodeBase64("A=AA", 4, out, sizeof(out)) == -1);  // misplaced padding
  CHECK(md::app::DecodeBase64("AA!A", 4, out, sizeof(out)) == -1);  // bad character
  CHECK(md::app::DecodeBase64("AAAAAAAA", 8, out, 5) == -1);        // too small
  CHECK(md::app::DecodeBase64("AAAAAA==", 8, out, sizeof(out)) == 4);
}

void TestParseErrors() {
  ParsedRecord rec;
  CHECK(ParseText("", &rec) == ParseResult::kEmpty);
  CHECK(ParseText("   ", &rec) == ParseResult::kEmpty);
  CHECK(ParseText("@md2 0 ping *00000000", &rec) == ParseResult::kBadVersion);
  CHECK(ParseText("@md1 0 ping *0000", &rec) == ParseResult::kMalformed);
  CHECK(ParseText("@md1 0 ping", &rec) == ParseResult::kMalformed);
  CHECK(ParseText("@md1 0 ping *00000000", &rec) == ParseResult::kBadCrc);
  const std::string typed = "run n=3";  // fields point into it: keep it alive
  CHECK(ParseText(typed, &rec) == ParseResult::kOk);
  CHECK(!rec.framed && rec.IsType("run"));
  int64_t n = 0;
  CHECK(rec.GetInt("n", &n) && n == 3);
  CHECK(ParseText("run n=", &rec) == ParseResult::kMalformed);
  CHECK(ParseText("run =3", &rec) == ParseResult::kMalformed);
  CHECK(ParseText("run msg=\"open", &rec) == ParseResult::kMalformed);
  CHECK(ParseText("RUN", &rec) == ParseResult::kMalformed);
}

void TestLineReader() {
  md::app::LineReader reader;
  const char* input = "ping\r\nrun n=2\n";
  int lines = 0;
  std::string got[2];
  for (const char* p = input; *p; ++p) {
    if (reader.Push(static_cast<uint8_t>(*p))) {
      got[lines++] = std::string(reader.line(), reader.length());
      CHECK(!reader.overflowed());
    }
  }
  CHECK(lines == 2 && got[0] == "ping" && got[1] == "run n=2");
  // An over-long line is cut, flagged, and the next line is whole again.
  bool flagged = false;
  for (int i = 0; i < 1000; ++i) reader.Push('x');
  flagged = reader.Push('\n') && reader.overflowed();
  CHECK(flagged);
  for (const char* p = "info\n"; *p; ++p) {
    if (reader.Push(static_cast<uint8_t>(*p))) {
      CHECK(!reader.overflowed());
      CHECK(std::string(reader.line(), reader.length()) == "info");
    }
  }
}

int SelfTest() {
  TestCrc();
  TestRoundTrip();
  TestSanitising();
  TestOverflowIsRefused();
  TestBase64();
  TestParseErrors();
  TestLineReader();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}

void Emit(RecordWriter& w) {
  if (w.Finish()) std::fwrite(w.data(), 1, w.size(), stdout);
}

int Encode() {
  RecordWriter w;
  uint8_t bytes[md::app::kChunkBytes];
  for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  const int32_t dims[4] = {1, 96, 96, 1};
  w.Begin(0, "boot");
  w.Int("proto", md::app::kProtocolVersion);
  w.Word("board", "mps2-an386");
  w.Int("arena_used", 55360);
  Emit(w);
  w.Begin(1, "tensor");
  w.Word("io", "in");
  w.Shape("shape", dims, 4);
  Emit(w);
  w.Begin(2, "err");
  w.Word("code", "UnsupportedOp");
  w.Text("msg", "op 3 has unsupported code 99 (\"CUSTOM\")");
  Emit(w);
  w.Begin(3, "dat");
  w.Int("off", 288);
  w.Base64("b64", bytes, sizeof(bytes));
  Emit(w);
  w.Begin(4, "res");
  w.Int("i", -9223372036854775807LL - 1);
  w.Hex32("crc", md::app::Crc32(bytes, sizeof(bytes)));
  Emit(w);
  return 0;
}

int Parse() {
  char line[4096];
  while (std::fgets(line, sizeof(line), stdin)) {
    size_t n = std::strlen(line);
    if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
    ParsedRecord rec;
    const ParseResult r = md::app::ParseRecord(line, n, &rec);
    static const char* kNames[] = {"ok", "empty", "badcrc", "badversion", "malformed"};
    std::printf("%s", kNames[static_cast<int>(r)]);
    if (r == ParseResult::kOk) {
      std::printf(" %s %u %.*s", rec.framed ? "framed" : "plain", rec.seq,
                  static_cast<int>(rec.type_len), rec.type);
      for (int i = 0; i < rec.num_fields; ++i) {
        const md::app::Field& f = rec.fields[i];
        std::printf(" %.*s=%.*s", static_cast<int>(f.key_len), f.key, static_cast<int>(f.value_len),
                    f.value);
        if (std::string(f.key, f.key_len) == "b64") {
          uint8_t out[md::app::kChunkBytes];
          const int got = md::app::DecodeBase64(f.value, f.value_len, out, sizeof(out));
          std::printf(" decoded=%d:", got);
          for (int k = 0; k < got; ++k) std::printf("%02x", out[k]);
        }
      }
    }
    std::printf("\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "encode") == 0) return Encode();
  if (argc > 1 && std::strcmp(argv[1], "parse") == 0) return Parse();
  return SelfTest();
}
