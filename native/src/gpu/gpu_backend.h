// A Backend for any GPU: plans device buffers at load, plans each chunk's
// dispatches, and hands them to an Executor. The executor is the only part
// written per GPU API; everything here is shared and tested on the host with
// the reference executor standing in for a device.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gpu/device_plan.h"
#include "gpu/dispatch_planner.h"
#include "gpu/executor.h"

namespace ghostline::gpu {

class GpuBackend final : public Backend {
 public:
  explicit GpuBackend(std::unique_ptr<Executor> executor, PlannerOptions options = {});
  ~GpuBackend() override;

  std::string name() const override { return executor_->name(); }
  std::string device() const override { return executor_->device(); }
  void allocate(const LlamaModel& model, const BufferPlan& plan) override;
  void request_scope(const std::function<void()>& work) override;
  bool run(const ChunkProgram& program, const std::atomic<bool>* cancel) override;
  void read_logits(int64_t n_rows, float* dst) override;
  BackendCounters counters() const override;

  ExecutorStats executor_stats() const { return executor_->stats(); }
  const DevicePlan& device_plan() const { return plan_; }
  // The dispatches of the last chunk run (for tests and tracing).
  const DispatchList& last_dispatches() const { return list_; }

 private:
  std::unique_ptr<Executor> executor_;
  PlannerOptions options_;
  DevicePlan plan_;
  bool allocated_ = false;
  DispatchList list_;               // reused: its storage grows to the largest chunk and stays
  std::vector<int32_t> step_;       // the step record, sized at load
  uint64_t requests_begun_ = 0;
  uint64_t requests_ended_ = 0;
};

}  // namespace ghostline::gpu
