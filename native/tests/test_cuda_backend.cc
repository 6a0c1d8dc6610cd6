// The CUDA backend on a real GPU: logits against the CPU backend and against
// llama.cpp's reference on the shared stories260K files, against the CPU on
// synthetic models of many shapes, decode steps of five dispatches a layer
// against the plan that keeps RoPE and SwiGLU apart, a soak of 1,000 requests with cancellations
// in which device memory and live allocations stay flat, and the CPU fallback.
//
//   ghostline_cuda_tests [filter]     (GHOSTLINE_CUDA_TESTDATA: folder holding models/)
#include <cstdio>

#include "backend/make_backend.h"
#include "check.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_executor.h"
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

TEST("cuda: decode steps of five dispatches a layer give the logits of the six-dispatch plan") {
  // GL_K_MATVEC_DECODE folds RoPE and the KV store into the q/k/v product and the
  // SwiGLU into the gate/up product; the plan without it keeps them apart. Both run
  // the same attention, so their logits differ only where a rounding of the same
  // sums differs (a flipped activation quant at worst).
  struct Case {
    const char* what;
    int64_t dim, n_head, n_head_kv;
    TensorType kv;
  };
  const Case cases[] = {
      {"head 32 gqa 4, f16 kv", 256, 8, 2, TensorType::F16},
      {"head 64 gqa 8, f32 kv", 512, 8, 1, TensorType::F32},
      {"head 128 gqa 2, f16 kv", 1024, 8, 4, TensorType::F16},
  };
  for (const Case& c : cases) {
    LlamaShape shape;
    shape.dim = c.dim;
    shape.n_head = c.n_head;
    shape.n_head_kv = c.n_head_kv;
    shape.n_ff = 2 * c.dim + 64;
    shape.n_vocab = 1000;
    shape.n_layer = 3;
    shape.n_ctx = 256;
    const auto bytes = build_llama(shape, 5);
    auto model = LlamaModel::from_gguf(GgufFile::from_memory(bytes.data(), bytes.size(), "decode.gguf"));
    ContextParams params;
    params.n_ctx = 256;
    params.n_batch = 48;
    params.kv_type = c.kv;
    gpu::PlannerOptions six;
    six.decode_kernels = false;
    auto five_backend = std::make_unique<gpu::GpuBackend>(std::make_unique<cuda::CudaExecutor>(0), gpu::PlannerOptions{});
    const gpu::GpuBackend* five_gpu = five_backend.get();
    Context five(*model, std::move(five_backend), params);
    Context plain(*model, std::make_unique<gpu::GpuBackend>(std::make_unique<cuda::CudaExecutor>(0), six), params);
    const int64_t v = shape.n_vocab;
    const auto prompt = ids(150, v);  // long enough that each block of the split attention has keys
    five.eval(0, prompt, false, nullptr);
    plain.eval(0, prompt, false, nullptr);
    std::vector<float> a, b;
    size_t dispatches = 0;
    for (int i = 0; i < 20; i++) {
      const auto x = five.eval(0, {prompt[static_cast<size_t>(i)]}, false, nullptr).logits;
      const auto y = plain.eval(0, {prompt[static_cast<size_t>(i)]}, false, nullptr).logits;
      a.insert(a.end(), x.begin(), x.end());
      b.insert(b.end(), y.begin(), y.end());
      dispatches = five_gpu->last_dispatches().dispatches.size();
    }
    const RowStats r = row_stats(a, b, v);
    std::printf("  %-24s decode vs six-dispatch plan: median %.2e worst %.2e argmax %.0f%%; %zu dispatches a step\n",
                c.what, r.median, r.worst, 100 * r.argmax_agree, dispatches);
    CHECK_EQ(dispatches, size_t(1 + 5 * shape.n_layer + 1));
    CHECK(r.median <= 1e-3);
    CHECK(r.worst <= 3e-2);
  }
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
