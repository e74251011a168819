// Bounds-checked flatbuffer table reads. Every read goes through FieldOffset,
// which checks the vtable entry and the field against both the table's inline
// size and the buffer, so a TableView cannot read outside the buffer even if
// it is handed a table the model view did not validate.
#include "md/table_view.h"

#include <cstring>

namespace md {

namespace {

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

}  // namespace

TableView::TableView(const uint8_t* buf, size_t size, uint32_t table) {
  // A table starts with a signed offset back to its vtable; the vtable holds
  // its own size, the table's inline size, then one uint16 per field.
  if (buf == nullptr || size < 4 || table > size - 4) return;
  const int64_t vtable = static_cast<int64_t>(table) - Load<int32_t>(buf + table);
  if (vtable < 0 || static_cast<uint64_t>(vtable) + 4 > size) return;
  const uint16_t vtable_size = Load<uint16_t>(buf + vtable);
  if (vtable_size < 4 || (vtable_size & 1) != 0 ||
      static_cast<uint64_t>(vtable) + vtable_size > size) {
    return;
  }
  const uint16_t table_size = Load<uint16_t>(buf + vtable + 2);
  if (table_size < 4 || static_cast<uint64_t>(table) + table_size > size) return;
  buf_ = buf;
  size_ = size;
  table_ = table;
  vtable_ = static_cast<uint32_t>(vtable);
  vtable_size_ = vtable_size;
}

uint32_t TableView::FieldOffset(int slot, uint32_t field_size) const {
  if (buf_ == nullptr || slot < 0) return 0;
  const uint32_t entry = 4u + 2u * static_cast<uint32_t>(slot);
  if (entry + 2 > vtable_size_) return 0;  // field newer than the writer's schema
  const uint16_t field = Load<uint16_t>(buf_ + vtable_ + entry);
  if (field == 0) return 0;  // absent: schema default
  const uint16_t table_size = Load<uint16_t>(buf_ + vtable_ + 2);
  if (static_cast<uint32_t>(field) + field_size > table_size) return 0;
  return table_ + field;  // table_ + table_size <= size_ was checked at construction
}

bool TableView::Has(int slot) const { return FieldOffset(slot, 1) != 0; }

int8_t TableView::GetInt8(int slot, int8_t def) const {
  const uint32_t at = FieldOffset(slot, 1);
  return at ? Load<int8_t>(buf_ + at) : def;
}

int16_t TableView::GetInt16(int slot, int16_t def) const {
  const uint32_t at = FieldOffset(slot, 2);
  return at ? Load<int16_t>(buf_ + at) : def;
}

int32_t TableView::GetInt32(int slot, int32_t def) const {
  const uint32_t at = FieldOffset(slot, 4);
  return at ? Load<int32_t>(buf_ + at) : def;
}

float TableView::GetFloat(int slot, float def) const {
  const uint32_t at = FieldOffset(slot, 4);
  return at ? Load<float>(buf_ + at) : def;
}

bool TableView::GetBool(int slot, bool def) const {
  const uint32_t at = FieldOffset(slot, 1);
  return at ? Load<uint8_t>(buf_ + at) != 0 : def;
}

bool TableView::GetInt32Vector(int slot, const int32_t** data, uint32_t* count) const {
  *data = nullptr;
  *count = 0;
  const uint32_t at = FieldOffset(slot, 4);
  if (at == 0) return false;
  const uint64_t vec = static_cast<uint64_t>(at) + Load<uint32_t>(buf_ + at);
  if (vec + 4 > size_) return false;
  const uint32_t n = Load<uint32_t>(buf_ + vec);
  if ((size_ - vec - 4) / 4 < n) return false;
  const uint8_t* first = buf_ + vec + 4;
  // Handing out an int32 pointer needs natural alignment (see model_view.h).
  if ((reinterpret_cast<uintptr_t>(first) & 3u) != 0) return false;
  *data = reinterpret_cast<const int32_t*>(first);
  *count = n;
  return true;
}

}  // namespace md
