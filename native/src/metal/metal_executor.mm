// The Metal executor (metal_executor.h). Objective-C++ with manual
// retain/release: compiled with -fno-objc-arc, so that each object's single
// owner and single release are written out and can be audited:
//
//   device, command queue, library, pipelines   Runtime (one per process while any executor lives);
//                                               released in ~Runtime
//   MTLBuffers (planned buffers, weight views)  State; released in ~MetalExecutor
//   MTLCompileOptions, NSStrings we alloc,      released right after use, in the function that
//   MTLFunctions                                made them
//   command buffers, encoders, NSErrors         autoreleased by Metal: owned by the pool that
//                                               surrounds their use (in_pool below)
//
// Every entry point that touches Objective-C runs inside in_pool: the caller's
// thread (a libuv worker has no pool of its own) gets a pool that is drained
// however the work ends, exceptions included.
#if __has_feature(objc_arc)
#error "metal_executor.mm manages ownership by hand: compile it with -fno-objc-arc"
#endif

#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <vector>

#include "common/error.h"
#include "gpu/device_plan.h"
#include "metal/metal_executor.h"
#include "metal_kernels_source.h"  // generated from metal_kernels.metal: kMetalKernelsSource

static_assert(sizeof(gl_params) == 64, "gl_params must match the Metal layout");
static_assert(sizeof(gl_block_q8_0) == 34, "Q8_0 block must be 34 bytes, as in GGUF files");

namespace ghostline::metal {
namespace {

// Each kernel id's function and how many buffer indices it declares (every one
// is bound; indices a dispatch leaves unused get a harmless buffer).
struct KernelInfo {
  const char* function;
  uint32_t n_buffers;
};
constexpr KernelInfo kKernels[GL_K_COUNT] = {
    {"gl_embed", 3}, {"gl_rms_norm", 5}, {"gl_quantize", 3}, {"gl_matvec", 9},
    {"gl_matmul", 3}, {"gl_rope_store", 8}, {"gl_attention", 7}, {"gl_swiglu", 4},
};
static_assert(GL_K_EMBED == 0 && GL_K_RMS_NORM == 1 && GL_K_QUANTIZE == 2 && GL_K_MATVEC == 3 && GL_K_MATMUL == 4 &&
                  GL_K_ROPE_STORE == 5 && GL_K_ATTENTION == 6 && GL_K_SWIGLU == 7,
              "kKernels follows the gl_kernel order");
constexpr uint32_t kAttentionMaxHead = 256;      // GL_ATT_MAX_HEAD in the kernels
constexpr uint32_t kAttentionMaxThreads = 1024;  // GL_ATT_MAX_THREADS in the kernels

[[noreturn]] void fail(const std::string& what) { throw Error(ErrorCode::Backend, "Metal: " + what); }

std::string utf8(NSString* s) { return s ? std::string([s UTF8String]) : std::string("(none)"); }

std::string describe(NSError* e) {
  if (!e) return "no error was given";
  return utf8([e localizedDescription]) + " (" + utf8([e domain]) + " " + std::to_string(long([e code])) + ")";
}

// Runs f inside an autorelease pool, drained however f ends: an exception is
// caught inside the pool and rethrown after it (a pool left by an exception
// would not be drained), an Objective-C exception as Error(Backend).
template <typename F>
void in_pool(std::atomic<uint64_t>* pushed, std::atomic<uint64_t>* drained, F&& f) {
  std::exception_ptr error;
  if (pushed) pushed->fetch_add(1);
  @autoreleasepool {
    try {
      @try {
        f();
      } @catch (NSException* e) {
        error = std::make_exception_ptr(Error(ErrorCode::Backend, "Metal: " + utf8([e name]) + ": " + utf8([e reason])));
      }
    } catch (...) {
      error = std::current_exception();
    }
  }
  if (drained) drained->fetch_add(1);
  if (error) std::rethrow_exception(error);
}

// The per-process objects. Made by the first executor, released with the last.
struct Runtime {
  id<MTLDevice> device = nil;
  id<MTLCommandQueue> queue = nil;
  id<MTLLibrary> library = nil;
  id<MTLComputePipelineState> pipelines[GL_K_COUNT] = {};
  std::string name;

  Runtime() = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  ~Runtime() {
    @autoreleasepool {
      for (auto& p : pipelines) [p release];
      [library release];
      [queue release];
      [device release];
    }
  }
};

std::shared_ptr<Runtime> make_runtime() {
  auto rt = std::make_shared<Runtime>();  // on a throw below, ~Runtime releases what was made
  rt->device = MTLCreateSystemDefaultDevice();
  if (!rt->device) fail("no Metal device on this machine");
  rt->name = utf8([rt->device name]);
  if (![rt->device supportsFamily:MTLGPUFamilyApple7]) {
    fail(rt->name + " is not an Apple GPU of family 7 (M1) or newer; the kernels need SIMD-group matrices");
  }
  rt->queue = [rt->device newCommandQueue];
  if (!rt->queue) fail("newCommandQueue failed on " + rt->name);

  MTLCompileOptions* options = [[MTLCompileOptions alloc] init];
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
  options.fastMathEnabled = NO;  // IEEE infinities and exact division, as the CPU reference computes
#pragma clang diagnostic pop
  NSString* source = [[NSString alloc] initWithUTF8String:kMetalKernelsSource];
  NSError* error = nil;
  rt->library = [rt->device newLibraryWithSource:source options:options error:&error];
  [source release];
  [options release];
  if (!rt->library) fail("the kernels failed to compile: " + describe(error));

  for (uint32_t k = 0; k < GL_K_COUNT; k++) {
    NSString* fname = [[NSString alloc] initWithUTF8String:kKernels[k].function];
    id<MTLFunction> fn = [rt->library newFunctionWithName:fname];
    [fname release];
    if (!fn) fail(std::string("the library has no function ") + kKernels[k].function);
    NSError* perr = nil;
    rt->pipelines[k] = [rt->device newComputePipelineStateWithFunction:fn error:&perr];
    [fn release];
    if (!rt->pipelines[k]) fail(std::string("pipeline for ") + kKernels[k].function + " failed: " + describe(perr));
    if ([rt->pipelines[k] threadExecutionWidth] != 32) {
      fail(std::string("pipeline for ") + kKernels[k].function + " runs SIMD groups of " +
           std::to_string([rt->pipelines[k] threadExecutionWidth]) + " threads; the kernels need 32");
    }
  }
  return rt;
}

// One device, queue and library per process: every executor alive shares them.
std::shared_ptr<Runtime> shared_runtime() {
  static std::mutex mu;
  static std::weak_ptr<Runtime> current;
  std::lock_guard<std::mutex> lock(mu);
  if (auto rt = current.lock()) return rt;
  auto rt = make_runtime();
  current = rt;
  return rt;
}

}  // namespace

struct MetalExecutor::State {
  std::shared_ptr<Runtime> rt;
  uint64_t page = 0;
  uint64_t max_view_bytes = 0;
  bool allocated = false;

  id<MTLBuffer> buffers[GL_BUF_COUNT] = {};  // GL_BUF_WEIGHTS stays nil: the weights are views
  uint64_t sizes[GL_BUF_COUNT] = {};
  std::vector<id<MTLBuffer>> views;          // windows onto the weights, as planned
  gpu::MappedViews view_plan;
  bool no_copy = false;

  std::atomic<uint64_t> live_buffers{0}, command_buffers{0}, in_flight{0}, pools_pushed{0}, pools_drained{0};
  std::atomic<uint64_t> allocations{0}, buffer_bytes{0}, launches{0}, submits{0};

  template <typename F>
  void pool(F&& f) {
    in_pool(&pools_pushed, &pools_drained, std::forward<F>(f));
  }
  void keep(id<MTLBuffer> b, uint64_t copied_bytes) {
    live_buffers++;
    allocations++;
    buffer_bytes += copied_bytes;
    (void)b;
  }
  uint8_t* contents(uint32_t buffer) const { return static_cast<uint8_t*>([buffers[buffer] contents]); }
  void check_range(uint32_t buffer, uint64_t offset, uint64_t bytes, const char* what) const {
    if (buffer >= GL_BUF_COUNT || !buffers[buffer] || offset > sizes[buffer] || bytes > sizes[buffer] - offset) {
      fail(std::string(what) + " of " + std::to_string(bytes) + " bytes at " + std::to_string(offset) +
           " is outside buffer " + std::to_string(buffer));
    }
  }
};

MetalExecutor::MetalExecutor(uint64_t max_view_bytes) : s_(std::make_unique<State>()) {
  s_->pool([&] {
    s_->rt = shared_runtime();
    s_->page = static_cast<uint64_t>(getpagesize());
    const uint64_t device_cap = [s_->rt->device maxBufferLength];
    s_->max_view_bytes = max_view_bytes > 0 ? std::min(max_view_bytes, device_cap) : device_cap;
  });
}

MetalExecutor::~MetalExecutor() {
  // No throwing here: errors at teardown have nowhere to go. Nothing is in
  // flight (run() waits), so the buffers may go.
  try {
    s_->pool([&] {
      for (auto& b : s_->buffers) {
        if (b) s_->live_buffers--;
        [b release];
        b = nil;
      }
      for (auto& v : s_->views) {
        s_->live_buffers--;
        [v release];
      }
      s_->views.clear();
    });
  } catch (...) {
  }
}

std::string MetalExecutor::device() const {
  const uint64_t budget = [s_->rt->device recommendedMaxWorkingSetSize];
  return s_->rt->name + " (Metal, recommended working set " + std::to_string(budget >> 20) + " MiB)";
}

void MetalExecutor::allocate(const gpu::DeviceBufferSpec (&specs)[GL_BUF_COUNT]) {
  if (s_->allocated) fail("allocate() called twice");
  s_->allocated = true;
  s_->pool([&] {
    id<MTLDevice> device = s_->rt->device;
    const uint64_t cap = [device maxBufferLength];
    uint64_t total = 0;
    for (const auto& spec : specs) total += spec.bytes;
    const uint64_t budget = [device recommendedMaxWorkingSetSize];
    if (budget > 0 && total > budget) {
      fail("the model needs " + std::to_string(total >> 20) + " MiB, more than " + s_->rt->name +
           "'s recommended working set of " + std::to_string(budget >> 20) + " MiB");
    }
    for (uint32_t i = 0; i < GL_BUF_COUNT; i++) {
      const gpu::DeviceBufferSpec& spec = specs[i];
      if (i == GL_BUF_WEIGHTS) continue;
      if (spec.host_view) fail("buffer \"" + spec.name + "\" asks for a no-copy view; only the weights may");
      const uint64_t bytes = std::max<uint64_t>(spec.bytes, 256);
      if (bytes > cap) {
        fail("buffer \"" + spec.name + "\" of " + std::to_string(bytes) + " bytes exceeds maxBufferLength " +
             std::to_string(cap));
      }
      id<MTLBuffer> b = [device newBufferWithLength:bytes options:MTLResourceStorageModeShared];
      if (!b) fail("newBufferWithLength of " + std::to_string(bytes) + " bytes for \"" + spec.name + "\" failed");
      s_->buffers[i] = b;
      s_->sizes[i] = bytes;
      s_->keep(b, bytes);
      // Zeroed, so that nothing reads garbage that could be NaN.
      std::memset([b contents], 0, bytes);
    }

    // The weights: views onto the mapped file, each within the length cap.
    const gpu::DeviceBufferSpec& w = specs[GL_BUF_WEIGHTS];
    if (!w.host_view) fail("the weights buffer is not a view of the model file (the plan must map the file)");
    try {
      s_->view_plan = gpu::plan_mapped_views(w, s_->page, s_->max_view_bytes);
    } catch (const Error& e) {
      fail(e.what());
    }
    const auto* base = static_cast<const uint8_t*>(w.host_view);
    // newBufferWithBytesNoCopy needs page-aligned memory: a mapped file is; a
    // model read into ordinary memory gets its views copied instead.
    s_->no_copy = reinterpret_cast<uintptr_t>(base) % s_->page == 0;
    for (const auto& view : s_->view_plan.views) {
      id<MTLBuffer> b = nil;
      uint64_t copied = 0;
      if (s_->no_copy) {
        b = [device newBufferWithBytesNoCopy:const_cast<uint8_t*>(base + view.offset)
                                      length:view.bytes
                                     options:MTLResourceStorageModeShared
                                 deallocator:nil];
      } else {
        b = [device newBufferWithLength:view.bytes options:MTLResourceStorageModeShared];
        if (b) std::memcpy([b contents], base + view.offset, std::min<uint64_t>(view.bytes, w.bytes - view.offset));
        copied = view.bytes;
      }
      if (!b) {
        fail(std::string(s_->no_copy ? "newBufferWithBytesNoCopy" : "newBufferWithLength") + " failed for the " +
             std::to_string(view.bytes) + " bytes of the weights at offset " + std::to_string(view.offset));
      }
      s_->views.push_back(b);
      s_->keep(b, copied);
    }
  });
}

void MetalExecutor::upload(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  if (buffer == GL_BUF_WEIGHTS) fail("upload to the weights, which are views of the model file");
  s_->check_range(buffer, offset, bytes, "upload");
  std::memcpy(s_->contents(buffer) + offset, src, bytes);  // shared storage: the GPU sees it at the next commit
}

void MetalExecutor::write(uint32_t buffer, uint64_t offset, const void* src, uint64_t bytes) {
  // The previous run waited for its command buffer, so nothing reads the buffer now.
  if (buffer == GL_BUF_WEIGHTS) fail("write to the weights, which are views of the model file");
  s_->check_range(buffer, offset, bytes, "write");
  std::memcpy(s_->contents(buffer) + offset, src, bytes);
}

void MetalExecutor::read(uint32_t buffer, uint64_t offset, void* dst, uint64_t bytes) {
  if (buffer == GL_BUF_WEIGHTS) fail("read of the weights");
  s_->check_range(buffer, offset, bytes, "read");
  std::memcpy(dst, s_->contents(buffer) + offset, bytes);
}

void MetalExecutor::run(const gpu::Dispatch* dispatches, size_t n, bool /*replayable*/) {
  if (n == 0) return;
  State& s = *s_;
  // Checked before anything is encoded: an encoder must never be left open.
  for (size_t i = 0; i < n; i++) {
    const gpu::Dispatch& d = dispatches[i];
    const std::string what = "dispatch " + std::to_string(i) + " (" + gpu::kernel_name(d.kernel) + ")";
    if (d.kernel >= GL_K_COUNT) fail(what + ": unknown kernel id " + std::to_string(d.kernel));
    const uint64_t threads = uint64_t(d.block[0]) * d.block[1] * d.block[2];
    if (threads == 0 || d.block[0] % 32 != 0 || threads > [s.rt->pipelines[d.kernel] maxTotalThreadsPerThreadgroup]) {
      fail(what + ": " + std::to_string(threads) + " threads per threadgroup; the pipeline takes multiples of 32 up to " +
           std::to_string([s.rt->pipelines[d.kernel] maxTotalThreadsPerThreadgroup]));
    }
    if (d.kernel == GL_K_MATMUL && threads != GL_MM_THREADS) fail(what + ": the tile needs " + std::to_string(GL_MM_THREADS) + " threads");
    if (d.kernel == GL_K_ATTENTION && (uint32_t(d.params.i[2]) > kAttentionMaxHead || threads > kAttentionMaxThreads)) {
      fail(what + ": heads up to " + std::to_string(kAttentionMaxHead) + " wide and threadgroups up to " +
           std::to_string(kAttentionMaxThreads) + " threads");
    }
    if (d.n_bindings > kKernels[d.kernel].n_buffers) fail(what + ": " + std::to_string(d.n_bindings) + " bindings");
    for (uint32_t b = 0; b < d.n_bindings; b++) {
      const gpu::Binding& bind = d.bindings[b];
      if (bind.buffer == GL_BUF_WEIGHTS) {
        try {
          s.view_plan.locate(bind.offset);
        } catch (const Error& e) {
          fail(what + ": " + e.what());
        }
      } else {
        s.check_range(bind.buffer, bind.offset, 0, what.c_str());
      }
    }
  }
  s.pool([&] {
    if ([s.rt->device isRemoved]) fail(s.rt->name + " was removed");
    id<MTLCommandBuffer> cb = [s.rt->queue commandBuffer];  // autoreleased: this pool owns it
    if (!cb) fail("the command queue gave no command buffer");
    id<MTLComputeCommandEncoder> enc = [cb computeCommandEncoder];  // serial: each dispatch sees the last one's writes
    if (!enc) fail("the command buffer gave no compute encoder");
    for (size_t i = 0; i < n; i++) {
      const gpu::Dispatch& d = dispatches[i];
      if (d.grid[0] == 0 || d.grid[1] == 0 || d.grid[2] == 0) continue;
      [enc setComputePipelineState:s.rt->pipelines[d.kernel]];
      for (uint32_t b = 0; b < kKernels[d.kernel].n_buffers; b++) {
        if (b >= d.n_bindings) {
          [enc setBuffer:s.buffers[GL_BUF_STEP] offset:0 atIndex:b];
          continue;
        }
        const gpu::Binding& bind = d.bindings[b];
        if (bind.buffer == GL_BUF_WEIGHTS) {
          const auto [view, inner] = s.view_plan.locate(bind.offset);
          [enc setBuffer:s.views[view] offset:inner atIndex:b];
        } else {
          [enc setBuffer:s.buffers[bind.buffer] offset:bind.offset atIndex:b];
        }
      }
      [enc setBytes:&d.params length:sizeof(gl_params) atIndex:GL_MAX_BINDINGS];
      [enc dispatchThreadgroups:MTLSizeMake(d.grid[0], d.grid[1], d.grid[2])
          threadsPerThreadgroup:MTLSizeMake(d.block[0], d.block[1], d.block[2])];
    }
    [enc endEncoding];
    [cb commit];
    s.command_buffers++;
    s.in_flight++;
    [cb waitUntilCompleted];
    s.in_flight--;
    s.launches += n;
    s.submits++;
    if ([cb status] != MTLCommandBufferStatusCompleted) {
      fail("command buffer of " + std::to_string(n) + " dispatches ended with status " +
           std::to_string(long([cb status])) + ": " + describe([cb error]));
    }
  });
}

void MetalExecutor::scope(const std::function<void()>& work) { s_->pool(work); }

gpu::ExecutorStats MetalExecutor::stats() const {
  gpu::ExecutorStats st;
  st.live_buffers = s_->live_buffers;
  st.buffer_bytes = s_->buffer_bytes;
  st.allocations = s_->allocations;
  st.launches = s_->launches;
  st.submits = s_->submits;
  st.in_flight = s_->in_flight;
  st.device_used_bytes = [s_->rt->device currentAllocatedSize];
  st.device_budget_bytes = [s_->rt->device recommendedMaxWorkingSetSize];
  st.pools_pushed = s_->pools_pushed;
  st.pools_drained = s_->pools_drained;
  return st;
}

MetalStats MetalExecutor::metal_stats() const {
  MetalStats m;
  m.live_buffers = s_->live_buffers;
  m.weight_views = s_->views.size();
  m.weights_no_copy = s_->no_copy;
  m.command_buffers = s_->command_buffers;
  m.command_buffers_in_flight = s_->in_flight;
  m.pools_pushed = s_->pools_pushed;
  m.pools_drained = s_->pools_drained;
  m.current_allocated_bytes = [s_->rt->device currentAllocatedSize];
  m.recommended_working_set_bytes = [s_->rt->device recommendedMaxWorkingSetSize];
  m.max_view_bytes = s_->max_view_bytes;
  return m;
}

uint32_t MetalExecutor::max_threads(uint32_t kernel) const {
  if (kernel >= GL_K_COUNT) return 0;
  return static_cast<uint32_t>([s_->rt->pipelines[kernel] maxTotalThreadsPerThreadgroup]);
}

}  // namespace ghostline::metal
