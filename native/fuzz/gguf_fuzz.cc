// libFuzzer target for the GGUF reader: any input either parses or throws
// ghostline::Error, and everything a parsed file reports lies inside the input.
#include <cstdint>
#include <cstdlib>

#include "common/error.h"
#include "gguf/gguf_file.h"

namespace {

// Reads each byte of [p, p + n) so that ASan sees any range outside the input.
uint64_t touch(const void* p, size_t n, const uint8_t* base, size_t size) {
  if (n == 0) return 0;
  uintptr_t start = reinterpret_cast<uintptr_t>(p), lo = reinterpret_cast<uintptr_t>(base);
  if (start < lo || n > size || start - lo > size - n) std::abort();  // reported outside the input
  const uint8_t* b = static_cast<const uint8_t*>(p);
  uint64_t sum = 0;
  for (size_t i = 0; i < n; i++) sum += b[i];
  return sum;
}

size_t element_size(ghostline::GgufValueType type) {
  using T = ghostline::GgufValueType;
  switch (type) {
    case T::UINT8: case T::INT8: case T::BOOL: return 1;
    case T::UINT16: case T::INT16: return 2;
    case T::UINT32: case T::INT32: case T::FLOAT32: return 4;
    case T::UINT64: case T::INT64: case T::FLOAT64: return 8;
    default: return 0;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ghostline;
  const uint8_t* copy = data;  // libFuzzer passes exactly `size` bytes on the heap
  volatile uint64_t sink = 0;
  for (bool metadata_only : {false, true}) {
    try {
      auto f = GgufFile::from_memory(copy, size, "fuzz.gguf", {metadata_only});
      if (f->data_offset() % f->alignment() != 0) std::abort();
      for (const GgufKv& kv : f->metadata()) {
        const GgufValue& v = kv.value;
        if (f->find(kv.key) != &v) std::abort();  // keys are unique
        sink += touch(v.str.data(), v.str.size(), copy, size);
        if (v.type == GgufValueType::ARRAY) {
          size_t es = element_size(v.array_type);
          if (es) {
            if (v.array_count > size / es) std::abort();
            sink += touch(v.array_data, v.array_count * es, copy, size);
          }
          if (v.array_type == GgufValueType::STRING && v.array_strings.size() != v.array_count) std::abort();
          for (std::string_view s : v.array_strings) sink += touch(s.data(), s.size(), copy, size);
        }
        // The getters either answer or throw; they never read outside.
        try { sink += f->get_u64(kv.key, 0); } catch (const Error&) {}
        try { sink += static_cast<uint64_t>(f->get_i64(kv.key, 0)); } catch (const Error&) {}
        try { sink += static_cast<uint64_t>(f->get_f64(kv.key, 0.0) != 0); } catch (const Error&) {}
        try { sink += f->get_bool(kv.key, false); } catch (const Error&) {}
        try { sink += f->get_string(kv.key, "").size(); } catch (const Error&) {}
      }
      for (const GgufTensor& t : f->tensors()) {
        if (f->find_tensor(t.name) != &t) std::abort();  // names are unique
        if (t.n_dims < 1 || t.n_dims > 4 || t.n_elements() < 1) std::abort();
        if (t.offset % f->alignment() != 0) std::abort();
        if (tensor_type_supported(t.type) != (t.data != nullptr)) std::abort();
        if (t.data) {
          // The byte size agrees with the shape, computed without overflow.
          auto type = static_cast<TensorType>(t.type);
          unsigned __int128 expect = static_cast<unsigned __int128>(t.n_elements()) /
                                     tensor_type_block_elems(type) * tensor_type_block_bytes(type);
          if (t.n_elements() % tensor_type_block_elems(type) != 0 || expect != t.n_bytes) std::abort();
        }
        sink += touch(t.data, t.n_bytes, copy, size);
      }
    } catch (const Error&) {
    }
  }
  return 0;
}
