// GGUF reader over a memory-mapped file.
//
// File format (versions 2 and 3, little-endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x  { string key | u32 value_type | value }
//   n_tensors x { string name | u32 n_dims | n_dims x u64 ne | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32)
//   tensor data; each tensor at data_start + offset, offsets aligned to the alignment
// A string is u64 length + bytes (no terminator). An array value is
// u32 element_type | u64 count | count x element. ne[0] is the fastest-moving
// dimension (the row length); a matrix of `rows` rows of `cols` values has
// ne = {cols, rows}.
//
// Everything is checked before use: counts and lengths against the bytes left,
// key and value types, tensor dims, types, alignment, extents inside the file
// and overlaps between tensors. Any failure throws ghostline::Error naming the
// file and the key or tensor at fault.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/tensor_type.h"

namespace ghostline {

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

const char* gguf_value_type_name(GgufValueType type);

// One metadata value. Scalars are held decoded; arrays point into the mapping.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  // Scalars (type != STRING, ARRAY): integers widen into i64 / u64, floats into f64, bool into u64.
  int64_t i64 = 0;
  uint64_t u64 = 0;
  double f64 = 0;
  std::string_view str;  // STRING

  // ARRAY: element type and count. Numeric elements are `array_data` (raw
  // little-endian, array_count * element size bytes); string elements are in
  // `array_strings`. Arrays of arrays are accepted and skipped (count kept,
  // no data).
  GgufValueType array_type = GgufValueType::UINT8;
  uint64_t array_count = 0;
  const uint8_t* array_data = nullptr;
  std::vector<std::string_view> array_strings;
};

struct GgufKv {
  std::string key;
  GgufValue value;
};

struct GgufTensor {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  uint32_t type = 0;        // ggml type number, possibly one we do not run
  uint64_t offset = 0;      // from the start of the data section
  uint64_t n_bytes = 0;     // 0 for types we cannot size (unsupported)
  const uint8_t* data = nullptr;  // inside the mapping; null for unsupported types
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

struct GgufOpenOptions {
  // For callers that want the metadata alone (a vocabulary file). Files with
  // zero tensors and no data section are accepted in either mode; the model
  // loader is what requires tensors.
  bool metadata_only = false;
};

class GgufFile {
 public:
  // Maps `path` read-only and validates the whole header. Throws ghostline::Error.
  static std::unique_ptr<GgufFile> open(const std::string& path, const GgufOpenOptions& options = {});
  // Parses a buffer the caller keeps alive (fuzzing, tests). `name` stands for the file in messages.
  static std::unique_ptr<GgufFile> from_memory(const uint8_t* data, size_t size, const std::string& name,
                                               const GgufOpenOptions& options = {});
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::vector<GgufKv>& metadata() const { return kvs_; }
  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const uint8_t* data() const { return base_; }
  size_t size() const { return size_; }

  // Lets the operating system take back the resident pages of [p, p + n) inside
  // the file's mapping, once a backend holds its own copy of those bytes; they
  // stay readable (read again from the file on the next touch). Whole pages
  // inside the range only; nothing for a file given from memory or elsewhere
  // than Linux, where the advice may not keep the contents.
  void drop_resident(const void* p, size_t n) const;
  uint64_t data_offset() const { return data_offset_; }

  const GgufValue* find(std::string_view key) const;        // null when absent
  const GgufTensor* find_tensor(std::string_view name) const;  // null when absent

  // Typed getters: throw naming the file and key when the key is missing (the
  // overloads without a default) or has another type. Integer getters accept
  // any integer type whose value fits.
  uint64_t get_u64(std::string_view key) const;
  uint64_t get_u64(std::string_view key, uint64_t fallback) const;
  int64_t get_i64(std::string_view key, int64_t fallback) const;
  double get_f64(std::string_view key) const;  // FLOAT32 or FLOAT64
  double get_f64(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;
  std::string get_string(std::string_view key) const;
  std::string get_string(std::string_view key, const std::string& fallback) const;

 private:
  GgufFile() = default;
  void parse(const GgufOpenOptions& options);

  std::string path_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // owned mmap, null for from_memory
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKv> kvs_;
  std::vector<GgufTensor> tensors_;
  // Lookups by name; the views point into the keys and names of kvs_ and tensors_.
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace ghostline
