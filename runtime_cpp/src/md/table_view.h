// Bounds-checked read access to one flatbuffer table (e.g. an op's builtin
// options). Fields are addressed by their vtable slot, i.e. the field's
// declaration order in schema.fbs (first field = slot 0). Every accessor
// returns the schema default when the field is absent or the table is empty.
// The model view validates the table's vtable against the buffer bounds
// before a TableView is handed out, so reads here cannot leave the buffer.
#ifndef MD_TABLE_VIEW_H_
#define MD_TABLE_VIEW_H_

#include <cstddef>
#include <cstdint>

namespace md {

class TableView {
 public:
  TableView() = default;
  // `buf`/`size`: the whole flatbuffer; `table`: offset of the table start.
  TableView(const uint8_t* buf, size_t size, uint32_t table);

  bool empty() const { return buf_ == nullptr; }
  bool Has(int slot) const;
  int8_t GetInt8(int slot, int8_t def) const;
  int16_t GetInt16(int slot, int16_t def) const;
  int32_t GetInt32(int slot, int32_t def) const;
  float GetFloat(int slot, float def) const;
  bool GetBool(int slot, bool def) const;
  // Vector of int32 at `slot`; returns false if absent or out of bounds.
  bool GetInt32Vector(int slot, const int32_t** data, uint32_t* count) const;

 private:
  // Offset of the field's value in buf_, or 0 if absent / out of bounds.
  uint32_t FieldOffset(int slot, uint32_t field_size) const;

  const uint8_t* buf_ = nullptr;
  size_t size_ = 0;
  uint32_t table_ = 0;
  uint32_t vtable_ = 0;
  uint16_t vtable_size_ = 0;
};

}  // namespace md

#endif  // MD_TABLE_VIEW_H_
