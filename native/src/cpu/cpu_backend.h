// The CPU backend: runs a chunk program with the selected SIMD kernels on a
// thread pool, over buffers allocated once in allocate().
#pragma once

#include <atomic>
#include <memory>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "common/block_q8_0.h"
#include "common/large_buffer.h"
#include "cpu/kernels.h"
#include "cpu/thread_pool.h"

namespace ghostline {

class CpuBackend final : public Backend {
 public:
  // n_threads <= 0 means one per physical core.
  explicit CpuBackend(int n_threads);
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  std::string device() const override;
  void allocate(const LlamaModel& model, const BufferPlan& plan) override;
  void request_scope(const std::function<void()>& work) override;
  bool run(const ChunkProgram& program, const std::atomic<bool>* cancel) override;
  void read_logits(int64_t n_rows, float* dst) override;
  BackendCounters counters() const override;

  int n_threads() const { return pool_.size(); }
  const cpu::KernelTable& kernels() const { return kernels_; }

 private:
  float* act(Act a, int64_t row = 0);
  // Element offset of the K (or V) rows of (slot, layer) in the KV buffer.
  size_t kv_offset(int32_t slot, int32_t layer, bool v) const;

  // Re-lays out every Q8_0 matrix product's weights for the table's pair
  // products, when it has them (q8_0_pair_layout.h), into one buffer.
  void pack_weights(const LlamaModel& model);

  void embed(const ChunkProgram& p, const Op& op);
  void rms_norm(const Op& op);
  void matmul(const Op& op);
  void rope(const Op& op);
  void store_kv(const Op& op);
  void attention(const Op& op);
  void swiglu(const Op& op);

  const cpu::KernelTable& kernels_;
  cpu::ThreadPool pool_;
  const LlamaModel* model_ = nullptr;
  BufferPlan plan_;

  // Every buffer, allocated in allocate() and never resized afterwards.
  std::vector<float> activations_;             // all Act buffers, back to back
  size_t act_offset_[static_cast<int>(Act::Count)] = {};
  std::vector<gl_block_q8_0> quantized_;       // (n_batch, max cols / 32) activation blocks
  std::vector<float> half_input_;              // (n_batch, max cols) activations rounded to half, for F16 weights
  std::vector<float> accumulator_;             // (n_batch, widest residual output) before it is added
  std::vector<float> scores_;                  // (n_threads, n_ctx) attention scratch
  std::vector<float> rope_cos_, rope_sin_;     // (n_ctx, head_dim / 2)
  std::vector<float> q16_;                     // (n_threads, head_dim) query rounded to half
  std::vector<float> kv_f32_;                  // (n_slots, n_layer, {K, V}, n_head_kv, n_ctx, head_dim) when kv_type is F32
  std::vector<uint16_t> kv_f16_;               // the same, when kv_type is F16
  // Q8_0 matrices in the pair layout, when the kernels have products for it:
  // each thread's rows of every product back to back (pack_weights says why).
  struct PackedRows {
    int64_t r0, r1;       // rows of the matrix
    const uint8_t* data;  // row r0's record
  };
  LargeBuffer packed_weights_;
  LargeBuffer prepared_pairs_;  // a product's activations in the pair layout (n_batch rows of the widest input)
  // Per thread, a decode product's one activation row, quantized and (with pair products) laid out by the thread
  // itself at the start of its share: no thread waits while another prepares it, and none reads another core's copy.
  struct ThreadInput {
    std::vector<gl_block_q8_0> quantized;  // max cols / 32 blocks
    LargeBuffer prepared;                  // pair_activation_bytes(1, max cols), when the weights are packed
  };
  std::vector<ThreadInput> thread_inputs_;
  // Per thread: the next row of its share of a decode product, and the share's end.
  struct alignas(64) RowCursor {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::vector<RowCursor> cursors_;
  std::unordered_map<const void*, std::vector<PackedRows>> packed_;  // by the matrix's bytes in the file

  uint64_t allocations_ = 0;
  uint64_t submits_ = 0;
  uint64_t requests_begun_ = 0;
  uint64_t requests_ended_ = 0;
};

}  // namespace ghostline
