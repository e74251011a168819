// TableView: field reads, schema defaults, and refusal to read outside the
// buffer for hostile vtables, offsets and vector lengths.
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "md/table_view.h"
#include "md_test.h"

namespace {

// A hand-made flatbuffer: vtable at 4 (3 fields), table at 16 with an int32
// (-7), a float (2.5) and an offset to an int32 vector [5, 6, 7] at 32.
struct Fixture {
  alignas(16) uint8_t buf[48] = {};
  Fixture() {
    Put16(4, 10);   // vtable size: 4 + 3 fields
    Put16(6, 16);   // table inline size
    Put16(8, 4);    // field 0 at +4
    Put16(10, 8);   // field 1 at +8
    Put16(12, 12);  // field 2 at +12
    Put32(16, 12);  // table -> vtable at 16 - 12 = 4
    Put32(20, static_cast<uint32_t>(-7));
    const float f = 2.5f;
    std::memcpy(buf + 24, &f, 4);
    Put32(28, 4);  // vector at 28 + 4 = 32
    Put32(32, 3);
    Put32(36, 5);
    Put32(40, 6);
    Put32(44, 7);
  }
  void Put16(int at, uint16_t v) { std::memcpy(buf + at, &v, 2); }
  void Put32(int at, uint32_t v) { std::memcpy(buf + at, &v, 4); }
};

// Calls every accessor for slots 0..5 (results ignored; ASan/UBSan watch).
uint64_t TouchAll(const md::TableView& t) {
  uint64_t sum = 0;
  for (int slot = -1; slot < 6; ++slot) {
    sum += static_cast<uint64_t>(t.Has(slot)) + static_cast<uint64_t>(t.GetInt8(slot, 1)) +
           static_cast<uint64_t>(t.GetInt16(slot, 1)) + static_cast<uint64_t>(t.GetInt32(slot, 1)) +
           (t.GetFloat(slot, 1.0f) > 0.0f) + t.GetBool(slot, false);
    const int32_t* data = nullptr;
    uint32_t count = 0;
    if (t.GetInt32Vector(slot, &data, &count)) {
      for (uint32_t i = 0; i < count; ++i) sum += static_cast<uint32_t>(data[i]);
    }
  }
  return sum;
}

}  // namespace

MD_TEST(TableViewReadsFieldsAndDefaults) {
  Fixture f;
  md::TableView t(f.buf, sizeof(f.buf), 16);
  CHECK(!t.empty());
  CHECK_EQ(t.GetInt32(0, 99), -7);
  CHECK(t.GetFloat(1, 0.0f) == 2.5f);
  const int32_t* v = nullptr;
  uint32_t n = 0;
  CHECK(t.GetInt32Vector(2, &v, &n));
  CHECK_EQ(n, 3);
  if (n == 3) {
    CHECK_EQ(v[0], 5);
    CHECK_EQ(v[2], 7);
  }
  // Slot 3 is past the vtable: absent, the default comes back.
  CHECK(!t.Has(3));
  CHECK_EQ(t.GetInt32(3, 42), 42);
  CHECK_EQ(t.GetInt8(3, -3), -3);
  CHECK(t.GetBool(3, true));
  CHECK(!t.GetInt32Vector(3, &v, &n));
  CHECK(md::TableView().empty());
  CHECK_EQ(md::TableView().GetInt32(0, 5), 5);
}

MD_TEST(TableViewRejectsHostileTables) {
  {  // table offset past the end
    Fixture f;
    CHECK(md::TableView(f.buf, sizeof(f.buf), 46).empty());
    CHECK(md::TableView(f.buf, sizeof(f.buf), 0xfffffff0u).empty());
    CHECK(md::TableView(nullptr, 0, 0).empty());
  }
  {  // vtable offset pointing before the buffer or past it
    Fixture f;
    f.Put32(16, 100);
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
    f.Put32(16, static_cast<uint32_t>(-40));
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
    f.Put32(16, 0x80000000u);
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
  }
  {  // vtable larger than the buffer, odd, or too small
    Fixture f;
    f.Put16(4, 200);
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
    f.Put16(4, 7);
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
    f.Put16(4, 2);
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
  }
  {  // table inline size past the end
    Fixture f;
    f.Put16(6, 40);
    CHECK(md::TableView(f.buf, sizeof(f.buf), 16).empty());
  }
  {  // field that overflows the table's inline size reads as absent
    Fixture f;
    f.Put16(8, 14);
    md::TableView t(f.buf, sizeof(f.buf), 16);
    CHECK(!t.empty());
    CHECK_EQ(t.GetInt32(0, 99), 99);
    CHECK_EQ(t.GetInt16(0, 5), 0);  // 2 bytes at +14 still fit
  }
  {  // vector length or offset out of bounds
    Fixture f;
    f.Put32(32, 4);
    md::TableView t(f.buf, sizeof(f.buf), 16);
    const int32_t* v = nullptr;
    uint32_t n = 7;
    CHECK(!t.GetInt32Vector(2, &v, &n));
    CHECK(v == nullptr);
    CHECK_EQ(n, 0);
    f.Put32(32, 0xffffffffu);
    CHECK(!md::TableView(f.buf, sizeof(f.buf), 16).GetInt32Vector(2, &v, &n));
    f.Put32(28, 0x7ffffff0u);
    CHECK(!md::TableView(f.buf, sizeof(f.buf), 16).GetInt32Vector(2, &v, &n));
    f.Put32(28, 2);  // misaligned vector start
    CHECK(!md::TableView(f.buf, sizeof(f.buf), 16).GetInt32Vector(2, &v, &n));
  }
}

MD_TEST(TableViewTruncatedBuffersStayInBounds) {
  Fixture f;
  // Every prefix, in an exactly sized heap block, so ASan sees any overrun.
  for (size_t size = 0; size <= sizeof(f.buf); ++size) {
    uint8_t* copy = static_cast<uint8_t*>(std::malloc(size ? size : 1));
    std::memcpy(copy, f.buf, size);
    for (uint32_t table = 0; table < 50; table += 2) {
      TouchAll(md::TableView(copy, size, table));
    }
    CHECK_EQ(md::TableView(copy, size, 16).empty(), size < 32);
    std::free(copy);
  }
  // Every single-byte corruption of the fixture.
  for (size_t at = 0; at < sizeof(f.buf); ++at) {
    for (int value : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
      Fixture g;
      g.buf[at] = static_cast<uint8_t>(value);
      TouchAll(md::TableView(g.buf, sizeof(g.buf), 16));
    }
  }
}
