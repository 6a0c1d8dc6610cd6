#include "cuda/cuda_executor.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "cuda/cuda_kernels.h"

namespace ghostline::cuda {
namespace {

constexpr size_t kMaxRecordings = 8;  // one per slot is typical; more slots share

void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) {
    throw Error(ErrorCode::Backend, std::string("CUDA: ") + call + " failed: " + cudaGetErrorName(e) + " (" +
                                        cudaGetErrorString(e) + ")");
  }
}

}  // namespace

CudaExecutor::CudaExecutor(int device) : device_(device) {
  int count = 0;
  check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  if (device < 0 || device >= count) {
    throw Error(ErrorCode::Backend, "CUDA: device " + std::to_string(device) + " does not exist (" +
                                        std::to_string(count) + " found)");
  }
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  if (prop.major < 9) {
    throw Error(ErrorCode::Backend, std::string("CUDA: ") + prop.name + " has compute capability " +
                                        std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                                        "; the kernels are built for 9.0 and newer");
  }
  check(cudaSetDevice(device), "cudaSetDevice");
  const char* profile = std::getenv("GHOSTLINE_CUDA_PROFILE");
  profile_ = profile && *profile && *profile != '0';
  const char* pdl = std::getenv("GHOSTLINE_CUDA_PDL");
  pdl_ = !profile_ && !(pdl && *pdl == '0');
  const char* prefetch = std::getenv("GHOSTLINE_CUDA_PREFETCH");
  prefetch_weights_ = !(prefetch && *prefetch == '0');
  if (const char* kv = std::getenv("GHOSTLINE_CUDA_KV_AHEAD")) kv_ahead_ = *kv != '0';
  auto setting = [](const char* name, int lo, int hi, int& value) {
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n >= lo && n <= hi) value = n;
    }
  };
  setting("GHOSTLINE_CUDA_BULK", 0, 16, bulk_stages_);
  setting("GHOSTLINE_CUDA_BULK_MIN_STEPS", 1, 64, bulk_min_steps_);
  setting("GHOSTLINE_CUDA_BULK_L2", 0, 64, bulk_l2_steps_);
  if (const char* v = std::getenv("GHOSTLINE_CUDA_BULK_WIDE")) bulk_wide_registers_ = *v != '0';
  if (const char* v = std::getenv("GHOSTLINE_CUDA_CARVEOUT")) shared_carveout_ = *v != '0';
  check(prepare_kernels(device), "cudaFuncSetAttribute (decode kernels)");
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  device_name_ = std::string(prop.name) + " (compute " + std::to_string(prop.major) + "." +
                 std::to_string(prop.minor) + ", " + std::to_string(prop.multiProcessorCount) + " SMs, " +
                 std::to_string(prop.totalGlobalMem >> 20) + " MiB)";
}

CudaExecutor::~CudaExecutor() {
  // No throwing here: errors at teardown have nowhere to go.
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  if (profile_ && !profile_times_.empty()) {
    double total = 0;
    for (const auto& [name, t] : profile_times_) total += t.ms;
    std::fprintf(stderr, "cuda profile (%s): kernel, launches, total ms, us per launch, share\n", device_name_.c_str());
    for (const auto& [name, t] : profile_times_) {
      std::fprintf(stderr, "  %-28s %8llu %10.2f %9.2f %5.1f%%\n", name.c_str(), (unsigned long long)t.count, t.ms,
                   1000.0 * t.ms / double(t.count), 100.0 * t.ms / total);
    }
  }
  for (auto* e : events_) cudaEventDestroy(e);
  for (auto& r : recordings_) cudaGraphExecDestroy(r.exec);
  for (auto* b : base_) {
    if (b) cudaFree(b);
  }
  if (staging_) cudaFreeHost(staging_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaExecutor::allocate(const gpu::DeviceBufferSpec (&buffers)[GL_BUF_COUNT]) {
  if (stats_.allocations > 0) throw Error(ErrorCode::Backend, "CUDA: allocate() called twice");
  check(cudaSetDevice(device_), "cudaSetDevice");
  for (int i = 0; i < GL_BUF_COUNT; i++) {
    if (buffers[i].host_view) {
      throw Error(ErrorCode::Backend, "CUDA: buffer \"" + buffers[i].name + "\" asks for a no-copy host view");
    }
    const uint64_t bytes = buffers[i].bytes > 0 ? buffers[i].bytes : 256;
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      throw Error(ErrorCode::Backend, "CUDA: cudaMalloc of " + std::to_string(bytes) + " bytes for \"" +
                                          buffers[i].name + "\" failed: " + cudaGetErrorString(e));
    }
    base_[i] = static_cast<uint8_t*>(p);
    size_[i] = bytes;
    stats_.allocations++;
    stats_.live_buffers++;
    stats_.buffer_bytes += bytes;
  }
  // Zeroed, so that nothing reads garbage that could be NaN (the KV cache beyond a slot's length is never read).
  for (int i = 0; i < GL_BUF_COUNT; i++) check(cudaMemsetAsync(base_[i], 0, size_[i], stream_), "cudaMemsetAsync");
  staging_bytes_ = size_[GL_BUF_STEP];
  void* h = nullptr;
  check(cudaMallocHost(&h, staging_bytes_), "cudaMallocHost");
  staging_ = static_cast<uint8_t*>(h);
  if (profile_) {
    events_.resize(1024);
    for (auto& e : events_) check(cudaEventCreate(&e), "cudaEventCreate");
  }
  stats_.allocations++;
  stats_.live_buffers++;
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

void CudaExecutor::check_range(uint32_t buffer, uint64_t offset, uint64_t bytes, const char* what) const {
  if (buffer >= GL_BUF_COUNT || !base_[buffer] || offset + bytes > size_[buffer]) {
    throw Error(ErrorCode::Backend, std::string("CUDA: ") + what + " of " + std::to_string(bytes) + " bytes at " +
                                        std::to_string(offset) + " is outside buffer " + std::to_string(buffer));
  }
}

void CudaExecutor::upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  check_range(buffer, offset, bytes, "upload");
  check(cudaMemcpyAsync(base_[buffer] + offset, src, bytes, cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync (upload)");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (upload)");
}

void CudaExecutor::write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  check_range(buffer, offset, bytes, "write");
  if (bytes > staging_bytes_) throw Error(ErrorCode::Backend, "CUDA: write larger than the staging area");
  // The previous run waited for its stream, so the staging area is free.
  std::memcpy(staging_, src, bytes);
  check(cudaMemcpyAsync(base_[buffer] + offset, staging_, bytes, cudaMemcpyHostToDevice, stream_),
        "cudaMemcpyAsync (step)");
}

void CudaExecutor::enqueue(const gpu::Dispatch* dispatches, size_t n, bool pdl) {
  for (size_t i = 0; i < n; i++) {
    const bool timed = profile_ && 2 * i + 1 < events_.size();
    if (timed) check(cudaEventRecord(events_[2 * i], stream_), "cudaEventRecord");
    LaunchOptions options;
    options.pdl = pdl && pdl_;
    options.prefetch_weights = prefetch_weights_;
    options.bulk_stages = bulk_stages_;
    options.bulk_min_steps = bulk_min_steps_;
    options.bulk_l2_steps = bulk_l2_steps_;
    options.bulk_wide_registers = bulk_wide_registers_;
    options.shared_carveout = shared_carveout_;
    options.kv_ahead = kv_ahead_;
    cudaError_t e = launch(dispatches[i], base_, stream_, options);
    cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
    if (e != cudaSuccess && pdl && pdl_ && cudaStreamIsCapturing(stream_, &capturing) == cudaSuccess &&
        capturing == cudaStreamCaptureStatusNone) {
      // Refused with the attribute: once more without it (record() handles captures).
      std::fprintf(stderr, "ghostline cuda: programmatic dependent launch refused (%s); without it from now on\n",
                   cudaGetErrorString(e));
      cudaGetLastError();
      pdl_ = false;
      options.pdl = false;
      e = launch(dispatches[i], base_, stream_, options);
    }
    if (timed) check(cudaEventRecord(events_[2 * i + 1], stream_), "cudaEventRecord");
    if (e != cudaSuccess) {
      throw Error(ErrorCode::Backend, std::string("CUDA: launch of ") + gpu::kernel_name(dispatches[i].kernel) +
                                          " (dispatch " + std::to_string(i) + ") failed: " + cudaGetErrorString(e));
    }
  }
}

CudaExecutor::Recording& CudaExecutor::record(const gpu::Dispatch* dispatches, size_t n) {
  for (auto& r : recordings_) {
    if (gpu::same_dispatches(r.dispatches, dispatches, n)) return r;
  }
  cudaGraphExec_t exec = nullptr;
  try {
    exec = capture(dispatches, n);
  } catch (const Error& e) {
    if (!pdl_) throw;
    // A driver that cannot record programmatic launches: record plain ones from now on.
    std::fprintf(stderr, "ghostline cuda: recording with programmatic dependent launch failed (%s); without it from now on\n",
                 e.what());
    cudaGetLastError();
    pdl_ = false;
    exec = capture(dispatches, n);
  }
  stats_.recordings++;
  if (recordings_.size() >= kMaxRecordings) {
    size_t oldest = 0;
    for (size_t i = 1; i < recordings_.size(); i++) {
      if (recordings_[i].last_used < recordings_[oldest].last_used) oldest = i;
    }
    cudaGraphExecDestroy(recordings_[oldest].exec);
    recordings_.erase(recordings_.begin() + static_cast<std::ptrdiff_t>(oldest));
  }
  recordings_.push_back({std::vector<gpu::Dispatch>(dispatches, dispatches + n), exec, 0});
  return recordings_.back();
}

cudaGraphExec_t CudaExecutor::capture(const gpu::Dispatch* dispatches, size_t n) {
  cudaGraph_t graph = nullptr;
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
  try {
    enqueue(dispatches, n, true);
  } catch (...) {
    cudaStreamEndCapture(stream_, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(e, "cudaGraphInstantiate");
  return exec;
}

void CudaExecutor::run(const gpu::Dispatch* dispatches, size_t n, bool replayable) {
  stats_.in_flight = 1;
  if (replayable && !profile_) {
    Recording& r = record(dispatches, n);
    r.last_used = ++clock_;
    check(cudaGraphLaunch(r.exec, stream_), "cudaGraphLaunch");
    stats_.replays++;
  } else {
    // Prefill's large grids lose more to early-resident waiting blocks than they
    // gain (measured: 18.3k -> 15.3k tok/s with it): plain launches there.
    enqueue(dispatches, n, false);
  }
  stats_.launches += n;
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (run)");
  stats_.in_flight = 0;
  if (profile_) {
    for (size_t i = 0; i < n && 2 * i + 1 < events_.size(); i++) {
      float ms = 0;
      check(cudaEventElapsedTime(&ms, events_[2 * i], events_[2 * i + 1]), "cudaEventElapsedTime");
      const gpu::Dispatch& d = dispatches[i];
      std::string key = gpu::kernel_name(d.kernel);
      if (d.kernel == GL_K_MATVEC) key += " rows " + std::to_string(int64_t(d.grid[0]) * d.params.rows_per_block);
      if (d.kernel == GL_K_MATMUL) key += " rows " + std::to_string(d.params.i[1]) + " x" + std::to_string(d.params.i[2]);
      if (d.kernel == GL_K_ATTENTION) key += d.grid[1] == 1 ? " (one row)" : " (rows)";
      if (d.kernel == GL_K_MATVEC_DECODE) {
        static const char* const kEpilogue[] = {"", " + rope/kv", " + swiglu"};
        key += std::string(d.params.i[5] == GL_PROLOGUE_RMS_NORM ? " norm + " : " ") + "rows " +
               std::to_string(int64_t(d.params.i[1]) + (d.params.i[4] > 1 ? d.params.i[2] : 0) +
                              (d.params.i[4] > 2 ? d.params.i[3] : 0)) +
               (d.params.i[8] >= 0 && d.params.i[8] <= 2 ? kEpilogue[d.params.i[8]] : "");
      }
      KernelTime& t = profile_times_[key];
      t.count++;
      t.ms += ms;
    }
  }
  stats_.submits++;
}

void CudaExecutor::read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) {
  check_range(buffer, offset, bytes, "read");
  check(cudaMemcpyAsync(dst, base_[buffer] + offset, bytes, cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync (read)");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (read)");
}

gpu::ExecutorStats CudaExecutor::stats() const {
  gpu::ExecutorStats s = stats_;
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) s.device_used_bytes = total_b - free_b;
  return s;
}

}  // namespace ghostline::cuda
