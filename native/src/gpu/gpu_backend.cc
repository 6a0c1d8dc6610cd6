#include "gpu/gpu_backend.h"

#include "common/error.h"

namespace ghostline::gpu {

GpuBackend::GpuBackend(std::unique_ptr<Executor> executor, PlannerOptions options)
    : executor_(std::move(executor)), options_(options) {
  options_.fuse_matvec_prologue = options_.fuse_matvec_prologue && executor_->supports(GL_K_MATVEC_FUSED);
  options_.decode_kernels = options_.decode_kernels && executor_->supports(GL_K_MATVEC_DECODE);
}

GpuBackend::~GpuBackend() = default;

void GpuBackend::allocate(const LlamaModel& model, const BufferPlan& plan) {
  if (allocated_) throw Error(ErrorCode::Backend, name() + " backend: allocate() called twice");
  plan_ = plan_device(model, plan, executor_->placement());
  executor_->scope([&] {
    executor_->allocate(plan_.buffers);
    if (plan_.placement == WeightPlacement::CopySplitQ8) {
      for (const auto& [data, place] : plan_.weights) {
        // Any Weight with this data describes the same bytes; rebuild one.
        Weight w;
        w.type = static_cast<TensorType>(place.type);
        w.rows = place.rows;
        w.cols = place.cols;
        w.data = data;
        w.n_bytes = static_cast<uint64_t>(tensor_row_bytes(w.type, w.cols) * w.rows);
        const std::vector<uint8_t> bytes = pack_weight(w, place.layout);
        executor_->upload(GL_BUF_WEIGHTS, place.offset, bytes.data(), bytes.size());
      }
    }
    const std::vector<uint8_t> constants = build_constants(model, plan_);
    executor_->upload(GL_BUF_CONST, 0, constants.data(), constants.size());
  });
  step_.assign(static_cast<size_t>(GL_STEP_TOKENS + plan.n_batch), 0);
  list_.dispatches.reserve(static_cast<size_t>(plan.n_layer) * 16 + 8);
  allocated_ = true;
}

void GpuBackend::request_scope(const std::function<void()>& work) {
  requests_begun_++;
  struct End {
    uint64_t& n;
    ~End() { n++; }
  } end{requests_ended_};
  executor_->scope(work);
}

bool GpuBackend::run(const ChunkProgram& program, const std::atomic<bool>* cancel) {
  if (!allocated_) throw Error(ErrorCode::Backend, name() + " backend: run() before allocate()");
  const size_t n = program.tokens.size();
  if (n == 0 || static_cast<int64_t>(n) > plan_.plan.n_batch) {
    throw Error(ErrorCode::Backend, name() + " backend: chunk of " + std::to_string(n) + " tokens exceeds the batch of " +
                                        std::to_string(plan_.plan.n_batch));
  }
  plan_dispatches(plan_, program, options_, list_);
  step_[GL_STEP_POS0] = program.pos0;
  for (size_t i = 0; i < n; i++) step_[GL_STEP_TOKENS + i] = program.tokens[i];
  executor_->write(GL_BUF_STEP, 0, step_.data(), (GL_STEP_TOKENS + n) * sizeof(int32_t));

  auto cancelled = [&] { return cancel && cancel->load(std::memory_order_relaxed); };
  const Dispatch* d = list_.dispatches.data();
  if (list_.replayable) {
    // A decode step is short: one submission, cancellation checked before it.
    if (cancelled()) return false;
    executor_->run(d, list_.dispatches.size(), true);
    return true;
  }
  // Prefill: one submission per layer, so that a cancel stops at a layer end.
  size_t begin = 0;
  for (size_t end : list_.layer_ends) {
    if (begin > 0 && cancelled()) return false;
    if (end > begin) executor_->run(d + begin, end - begin, false);
    begin = end;
  }
  if (begin > 0 && begin < list_.dispatches.size() && cancelled()) return false;
  if (begin < list_.dispatches.size()) executor_->run(d + begin, list_.dispatches.size() - begin, false);
  return true;
}

void GpuBackend::read_logits(int64_t n_rows, float* dst) {
  executor_->read(GL_BUF_ACT, plan_.act_row(Act::Logits, 0), dst,
                  static_cast<uint64_t>(n_rows * plan_.plan.act_width(Act::Logits)) * sizeof(float));
}

BackendCounters GpuBackend::counters() const {
  const ExecutorStats s = executor_->stats();
  BackendCounters c;
  c.live_buffers = s.live_buffers;
  c.buffer_bytes = s.buffer_bytes;
  c.allocations = s.allocations;
  c.submits = s.submits;
  c.in_flight = s.in_flight;
  c.requests_begun = requests_begun_;
  c.requests_ended = requests_ended_;
  c.launches = s.launches;
  c.device_used_bytes = s.device_used_bytes;
  c.device_budget_bytes = s.device_budget_bytes;
  c.pools_pushed = s.pools_pushed;
  c.pools_drained = s.pools_drained;
  return c;
}

}  // namespace ghostline::gpu
