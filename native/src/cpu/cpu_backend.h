// The CPU backend: runs a chunk program with the selected SIMD kernels on a
// thread pool, over buffers allocated once in allocate().
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "common/block_q8_0.h"
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
  std::vector<float> kv_f32_;                  // (n_slots, n_layer, {K, V}, n_ctx, kv_dim) when kv_type is F32
  std::vector<uint16_t> kv_f16_;               // the same, when kv_type is F16

  uint64_t allocations_ = 0;
  uint64_t submits_ = 0;
  uint64_t requests_begun_ = 0;
  uint64_t requests_ended_ = 0;
};

}  // namespace ghostline
