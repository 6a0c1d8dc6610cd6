// One row of any supported weight type as floats (embedding look-ups).
#pragma once

#include <cstdint>

#include "common/tensor_type.h"

namespace ghostline::cpu {

void dequantize_row(TensorType type, const void* row, float* out, int64_t n);

}  // namespace ghostline::cpu
