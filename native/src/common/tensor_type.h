// Tensor element types as GGUF numbers them (ggml_type), and the ones we run.
#pragma once

#include <cstdint>
#include <string>

namespace ghostline {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q8_0 = 8,
  BF16 = 30,
};

// Name of any ggml type number, known to us or not ("q4_K", "type 99").
std::string tensor_type_name(uint32_t type);

// True for the types this engine can compute with.
bool tensor_type_supported(uint32_t type);

// Elements per block and bytes per block of a supported type.
int64_t tensor_type_block_elems(TensorType type);
int64_t tensor_type_block_bytes(TensorType type);

// Bytes of a row of n elements; n must be a multiple of the block size.
inline int64_t tensor_row_bytes(TensorType type, int64_t n) {
  return n / tensor_type_block_elems(type) * tensor_type_block_bytes(type);
}

}  // namespace ghostline
