// A small GGUF writer for tests: builds files of any shape in memory, valid or
// deliberately broken.
//
//   GgufBuilder b;
//   b.add_u32("llama.block_count", 2);
//   b.add_array_string("tokenizer.ggml.tokens", {"<unk>", "<s>"});
//   b.add_tensor("output.weight", {cols, rows}, 0 /* f32 */, f32_bytes(values));
//   std::vector<uint8_t> bytes = b.build(3, 32);
//
// build() writes the header, the metadata in insertion order, the tensor infos,
// pads to the alignment and places each tensor's data at the next aligned
// offset (or at the offset given). It writes general.alignment itself when the
// alignment is not the default 32 and the caller did not add that key.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"

namespace gguf_test {

using ghostline::GgufValueType;

// Little-endian field writer; also handy for hand-made hostile files.
struct ByteWriter {
  std::vector<uint8_t> bytes;

  void raw(const void* p, size_t n) {
    const uint8_t* b = static_cast<const uint8_t*>(p);
    bytes.insert(bytes.end(), b, b + n);
  }
  template <typename T>
  void put(T v) {
    raw(&v, sizeof(T));
  }
  void u8(uint8_t v) { put(v); }
  void u32(uint32_t v) { put(v); }
  void u64(uint64_t v) { put(v); }
  void str(const std::string& s) {
    u64(s.size());
    raw(s.data(), s.size());
  }
  void header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    raw("GGUF", 4);
    u32(version);
    u64(n_tensors);
    u64(n_kv);
  }
  size_t size() const { return bytes.size(); }
};

template <typename T>
std::vector<uint8_t> to_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), values.data(), out.size());
  return out;
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& values) { return to_bytes(values); }

class GgufBuilder {
 public:
  static constexpr uint64_t kAutoOffset = ~uint64_t(0);

  void add_u8(const std::string& key, uint8_t v) { scalar(key, GgufValueType::UINT8, v); }
  void add_i8(const std::string& key, int8_t v) { scalar(key, GgufValueType::INT8, v); }
  void add_u16(const std::string& key, uint16_t v) { scalar(key, GgufValueType::UINT16, v); }
  void add_i16(const std::string& key, int16_t v) { scalar(key, GgufValueType::INT16, v); }
  void add_u32(const std::string& key, uint32_t v) { scalar(key, GgufValueType::UINT32, v); }
  void add_i32(const std::string& key, int32_t v) { scalar(key, GgufValueType::INT32, v); }
  void add_u64(const std::string& key, uint64_t v) { scalar(key, GgufValueType::UINT64, v); }
  void add_i64(const std::string& key, int64_t v) { scalar(key, GgufValueType::INT64, v); }
  void add_f32(const std::string& key, float v) { scalar(key, GgufValueType::FLOAT32, v); }
  void add_f64(const std::string& key, double v) { scalar(key, GgufValueType::FLOAT64, v); }
  void add_bool(const std::string& key, bool v) { scalar(key, GgufValueType::BOOL, uint8_t(v ? 1 : 0)); }
  void add_string(const std::string& key, const std::string& v) {
    ByteWriter w;
    w.str(v);
    add_raw(key, GgufValueType::STRING, w.bytes);
  }

  // A numeric array of `element` type; `values` are written as they are in memory.
  template <typename T>
  void add_array(const std::string& key, GgufValueType element, const std::vector<T>& values) {
    ByteWriter w;
    w.u32(static_cast<uint32_t>(element));
    w.u64(values.size());
    for (const T& v : values) w.put(v);
    add_raw(key, GgufValueType::ARRAY, w.bytes);
  }
  void add_array_u8(const std::string& key, const std::vector<uint8_t>& v) { add_array(key, GgufValueType::UINT8, v); }
  void add_array_i32(const std::string& key, const std::vector<int32_t>& v) { add_array(key, GgufValueType::INT32, v); }
  void add_array_u32(const std::string& key, const std::vector<uint32_t>& v) {
    add_array(key, GgufValueType::UINT32, v);
  }
  void add_array_f32(const std::string& key, const std::vector<float>& v) { add_array(key, GgufValueType::FLOAT32, v); }
  void add_array_string(const std::string& key, const std::vector<std::string>& values) {
    ByteWriter w;
    w.u32(static_cast<uint32_t>(GgufValueType::STRING));
    w.u64(values.size());
    for (const std::string& s : values) w.str(s);
    add_raw(key, GgufValueType::ARRAY, w.bytes);
  }
  // An array of arrays of u32, which readers skip.
  void add_array_of_arrays(const std::string& key, const std::vector<std::vector<uint32_t>>& values) {
    ByteWriter w;
    w.u32(static_cast<uint32_t>(GgufValueType::ARRAY));
    w.u64(values.size());
    for (const auto& inner : values) {
      w.u32(static_cast<uint32_t>(GgufValueType::UINT32));
      w.u64(inner.size());
      for (uint32_t v : inner) w.u32(v);
    }
    add_raw(key, GgufValueType::ARRAY, w.bytes);
  }

  // Any value: `type` as written, then `value_bytes` exactly (for malformed values).
  void add_raw(const std::string& key, GgufValueType type, const std::vector<uint8_t>& value_bytes) {
    add_raw(key, static_cast<uint32_t>(type), value_bytes);
  }
  void add_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value_bytes) {
    kvs_.push_back({key, type, value_bytes});
  }

  // A tensor with its data. ne[0] is the row length; `type` is the ggml type number.
  // The data goes at `offset` in the data section, or at the next aligned offset.
  void add_tensor(const std::string& name, const std::vector<int64_t>& ne, uint32_t type,
                  const std::vector<uint8_t>& data, uint64_t offset = kAutoOffset) {
    tensors_.push_back({name, ne, type, offset, data, true});
  }
  // Only the tensor info, no data: for offsets that point anywhere.
  void add_tensor_info(const std::string& name, const std::vector<int64_t>& ne, uint32_t type, uint64_t offset) {
    tensors_.push_back({name, ne, type, offset, {}, false});
  }

  std::vector<uint8_t> build(uint32_t version = 3, uint32_t alignment = 32) const {
    return build_with_layout(version, alignment).bytes;
  }

  // Where things landed, for tests that patch a valid file.
  struct Layout {
    std::vector<uint8_t> bytes;
    size_t tensor_infos_start = 0;       // offset of the first tensor info
    size_t data_start = 0;               // offset of the data section
    std::vector<size_t> tensor_info_at;  // offset of each tensor info
    std::vector<uint64_t> tensor_offset;  // each tensor's offset in the data section
  };

  Layout build_with_layout(uint32_t version = 3, uint32_t alignment = 32) const {
    std::vector<Kv> kvs = kvs_;
    bool has_alignment_key = false;
    for (const Kv& kv : kvs) has_alignment_key |= kv.key == "general.alignment";
    if (alignment != 32 && !has_alignment_key) {
      ByteWriter w;
      w.u32(alignment);
      kvs.push_back({"general.alignment", static_cast<uint32_t>(GgufValueType::UINT32), w.bytes});
    }

    Layout layout;
    ByteWriter w;
    w.header(version, tensors_.size(), kvs.size());
    for (const Kv& kv : kvs) {
      w.str(kv.key);
      w.u32(kv.type);
      w.raw(kv.value.data(), kv.value.size());
    }

    // Offsets first: automatic ones follow the previous tensor, aligned.
    uint64_t next = 0;
    for (const Tensor& t : tensors_) {
      uint64_t offset = t.offset;
      if (offset == kAutoOffset) offset = align(next, alignment);
      layout.tensor_offset.push_back(offset);
      if (t.has_data) next = offset + t.data.size();
    }

    layout.tensor_infos_start = w.size();
    for (size_t i = 0; i < tensors_.size(); i++) {
      const Tensor& t = tensors_[i];
      layout.tensor_info_at.push_back(w.size());
      w.str(t.name);
      w.u32(static_cast<uint32_t>(t.ne.size()));
      for (int64_t n : t.ne) w.u64(static_cast<uint64_t>(n));
      w.u32(t.type);
      w.u64(layout.tensor_offset[i]);
    }

    layout.data_start = align(w.size(), alignment);
    w.bytes.resize(layout.data_start, 0);
    for (size_t i = 0; i < tensors_.size(); i++) {
      const Tensor& t = tensors_[i];
      if (!t.has_data) continue;
      size_t at = layout.data_start + layout.tensor_offset[i];
      if (w.bytes.size() < at + t.data.size()) w.bytes.resize(at + t.data.size(), 0);
      if (!t.data.empty()) std::memcpy(w.bytes.data() + at, t.data.data(), t.data.size());
    }
    layout.bytes = std::move(w.bytes);
    return layout;
  }

 private:
  struct Kv {
    std::string key;
    uint32_t type;
    std::vector<uint8_t> value;
  };
  struct Tensor {
    std::string name;
    std::vector<int64_t> ne;
    uint32_t type;
    uint64_t offset;
    std::vector<uint8_t> data;
    bool has_data;
  };

  template <typename T>
  void scalar(const std::string& key, GgufValueType type, T v) {
    ByteWriter w;
    w.put(v);
    add_raw(key, type, w.bytes);
  }
  static uint64_t align(uint64_t n, uint64_t alignment) { return (n + alignment - 1) / alignment * alignment; }

  std::vector<Kv> kvs_;
  std::vector<Tensor> tensors_;
};

}  // namespace gguf_test
