#include "common/tensor_type.h"

#include "common/block_q8_0.h"

namespace ghostline {

std::string tensor_type_name(uint32_t type) {
  // ggml's numbering; the names are those llama.cpp prints.
  static const char* const names[] = {
      "f32",  "f16",  "q4_0", "q4_1", "type 4", "type 5", "q5_0", "q5_1", "q8_0", "q8_1",
      "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",   "q8_K",   "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s",
      "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32", "i64", "f64", "iq1_m",
      "bf16", "type 31", "type 32", "type 33", "tq1_0", "tq2_0", "type 36", "type 37", "type 38", "mxfp4"};
  if (type < sizeof(names) / sizeof(names[0])) return names[type];
  return "type " + std::to_string(type);
}

bool tensor_type_supported(uint32_t type) {
  switch (static_cast<TensorType>(type)) {
    case TensorType::F32:
    case TensorType::F16:
    case TensorType::Q8_0:
    case TensorType::BF16:
      return true;
  }
  return false;
}

int64_t tensor_type_block_elems(TensorType type) {
  return type == TensorType::Q8_0 ? GL_QK8_0 : 1;
}

int64_t tensor_type_block_bytes(TensorType type) {
  switch (type) {
    case TensorType::F32: return 4;
    case TensorType::F16: return 2;
    case TensorType::BF16: return 2;
    case TensorType::Q8_0: return sizeof(gl_block_q8_0);
  }
  return 0;
}

}  // namespace ghostline
