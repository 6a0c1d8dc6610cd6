// Every device buffer a GPU backend needs, with each tensor's place in it,
// fixed when the model loads. Weights are either copied once into one buffer
// (CUDA, with Q8_0 split into aligned planes) or left in the file's layout as
// no-copy views over the mapping (Metal on unified memory); norms and RoPE
// tables go to a constants buffer; the KV cache, activations, quantized
// activations and the step record get buffers of their own.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "graph/buffer_plan.h"
#include "gpu/kernel_abi.h"
#include "model/llama_model.h"

namespace ghostline::gpu {

enum class WeightPlacement {
  CopySplitQ8,  // one copied buffer; Q8_0 as GL_LAYOUT_Q8_SPLIT, other types as in the file
  MapFile,      // the file mapping itself is the buffer (host_view); every type as in the file
};

// Bytes of a buffer that kernels read as one piece (a weight tensor).
struct ByteRange {
  uint64_t offset = 0;
  uint64_t bytes = 0;
  std::string name;  // the tensor, for error messages
};

struct DeviceBufferSpec {
  std::string name;
  uint64_t bytes = 0;
  const void* host_view = nullptr;  // no-copy: the device buffer aliases this host memory
  std::vector<ByteRange> ranges;    // MapFile weights: each tensor's bytes, sorted by offset
};

// Windows onto a no-copy buffer for a device that caps one buffer's length
// (Metal's maxBufferLength): each starts at a page boundary, spans whole pages
// and at most max_bytes, and every range lies wholly inside at least one of
// them. Windows may overlap where a tensor boundary falls inside a page.
struct MappedViews {
  std::vector<ByteRange> views;  // offset and bytes in the buffer; name empty
  std::unordered_map<uint64_t, uint32_t> view_of;  // range offset -> a view holding the whole range

  // The view for a binding at `offset` (a range's start) and the offset inside it.
  // Throws Error(Backend) for an offset that starts no planned range.
  std::pair<uint32_t, uint64_t> locate(uint64_t offset) const;
};

// Plans the views for `spec` (its ranges). `page` is a power of two; the views
// never reach beyond the page holding the buffer's last byte. Throws
// Error(Backend) naming the tensor when one range cannot fit in max_bytes.
MappedViews plan_mapped_views(const DeviceBufferSpec& spec, uint64_t page, uint64_t max_bytes);

struct WeightPlace {
  uint64_t offset = 0;  // in GL_BUF_WEIGHTS
  uint32_t type = 0;    // gl_weight_type
  uint32_t layout = 0;  // gl_weight_layout
  int64_t rows = 0, cols = 0;
};

struct DevicePlan {
  WeightPlacement placement = WeightPlacement::CopySplitQ8;
  BufferPlan plan;
  LlamaHparams hp;
  DeviceBufferSpec buffers[GL_BUF_COUNT];

  uint64_t act_offset[static_cast<int>(Act::Count)] = {};
  uint64_t quant_offset = 0, scale_offset = 0;  // planes in GL_BUF_SCRATCH
  uint64_t rope_cos_offset = 0, rope_sin_offset = 0;  // in GL_BUF_CONST

  WeightPlace embedding;                                   // token_embd
  std::unordered_map<const void*, WeightPlace> weights;   // by Weight::data
  std::unordered_map<const float*, uint64_t> norms;       // by vector data, in GL_BUF_CONST

  const WeightPlace& weight(const Weight& w) const;
  uint64_t norm(const float* v) const;
  uint64_t act_row(Act a, int64_t row) const {
    return act_offset[static_cast<int>(a)] + static_cast<uint64_t>(row * plan.act_width(a)) * sizeof(float);
  }
  uint64_t kv_elem_bytes() const { return plan.kv_type == TensorType::F16 ? 2 : 4; }
  // Byte offset in GL_BUF_KV of the K (or V) rows of (slot, layer): the CPU's order.
  uint64_t kv_offset(int32_t slot, int32_t layer, bool v) const {
    return (static_cast<uint64_t>(slot * plan.n_layer + layer) * 2 + (v ? 1 : 0)) * plan.kv_layer_bytes();
  }
  uint64_t total_bytes() const;
};

DevicePlan plan_device(const LlamaModel& model, const BufferPlan& plan, WeightPlacement placement);

// The bytes the weights buffer holds for `w` under CopySplitQ8 (the file's bytes
// for types other than Q8_0).
std::vector<uint8_t> pack_weight(const Weight& w, uint32_t layout);

// The constants buffer's contents: norms and the RoPE tables, computed as the
// CPU backend computes them.
std::vector<uint8_t> build_constants(const LlamaModel& model, const DevicePlan& dp);

}  // namespace ghostline::gpu
