// The CUDA backend on a real GPU: logits against the CPU backend and against
// llama.cpp's reference on the shared stories260K files, against the CPU on
// synthetic models of many shapes, a soak of 1,000 requests with cancellations
// in which device memory and live allocations stay flat, and the CPU fallback.
//
//   ghostline_cuda_tests [filter]     (GHOSTLINE_CUDA_TESTDATA: folder holding models/)
#include <cstdio>

#include "backend/make_backend.h"
#include "check.h"
#include "cuda/cuda_backend.h"
#include "gpu/gpu_backend.h"
#include "gpu_backend_checks.h"

using namespace ghostline;
using namespace ghostline::test;

namespace {

// Line-buffered output, so that a run cut short by a timeout still shows how far it got.
const int kLineBuffered = (std::setvbuf(stdout, nullptr, _IOLBF, 0), 0);

std::unique_ptr<Backend> cuda_backend() { return make_cuda_backend(0); }

}  // namespace

TEST("cuda: the backend starts on this machine's GPU") {
  auto b = cuda_backend();
  std::printf("  device: %s\n", b->device().c_str());
  CHECK(b->name() == "cuda");
  const BackendChoice c = choose_backend("auto", 1);
  CHECK(c.backend->name() == "cuda");
  CHECK(c.fallback_reason.empty());
}

TEST("cuda: stories260K logits match llama.cpp's reference and the CPU backend within the shared tolerances") {
  StoriesOptions opt;
  opt.backend = [](const LlamaModel&) { return cuda_backend(); };  // decode runs through the CUDA graph
  opt.show_cpu_vs_reference = true;
  check_stories260k(testdata_dir("GHOSTLINE_CUDA_TESTDATA"), opt);
}

TEST("cuda: synthetic models of many shapes match the CPU backend") {
  check_synthetic_shapes(cuda_backend, standard_shape_cases());
}

TEST("cuda: 1,000 requests with cancellations leave device memory and live allocations flat") {
  auto owned = cuda_backend();
  auto* backend = dynamic_cast<gpu::GpuBackend*>(owned.get());
  CHECK(backend != nullptr);
  if (!backend) return;
  Soak soak(std::move(owned));
  Context& ctx = soak.ctx();
  // Warm-up: both slots decode once, so each has its recorded graph.
  for (int s = 0; s < 2; s++) {
    ctx.eval(s, ids(5, 1000, s), false, nullptr);
    ctx.eval(s, {7}, false, nullptr);
  }
  const auto c0 = ctx.backend().counters();
  const auto e0 = backend->executor_stats();
  const double secs = soak.run(1000);
  const auto c1 = ctx.backend().counters();
  const auto e1 = backend->executor_stats();
  std::printf("  %d completed, %d cancelled in %.1f s; live buffers %llu -> %llu, bytes %llu -> %llu, allocations %llu "
              "-> %llu; device memory in use %.1f -> %.1f MiB; launches %llu, graph replays %llu, graphs recorded %llu "
              "-> %llu\n",
              soak.completed(), soak.cancelled(), secs, (unsigned long long)c0.live_buffers,
              (unsigned long long)c1.live_buffers, (unsigned long long)c0.buffer_bytes,
              (unsigned long long)c1.buffer_bytes, (unsigned long long)c0.allocations,
              (unsigned long long)c1.allocations, e0.device_used_bytes / 1048576.0, e1.device_used_bytes / 1048576.0,
              (unsigned long long)(e1.launches - e0.launches), (unsigned long long)(e1.replays - e0.replays),
              (unsigned long long)e0.recordings, (unsigned long long)e1.recordings);
  CHECK_EQ(c1.live_buffers, c0.live_buffers);
  CHECK_EQ(c1.buffer_bytes, c0.buffer_bytes);
  CHECK_EQ(c1.allocations, c0.allocations);
  CHECK_EQ(c1.requests_begun, c1.requests_ended);
  CHECK_EQ(e1.device_used_bytes, e0.device_used_bytes);
  CHECK_EQ(e1.recordings, e0.recordings);  // every decode step replayed a graph recorded in the warm-up
  CHECK(soak.cancelled() > 0 && soak.completed() > 0);
  soak.check_slots_match_cpu();
}
