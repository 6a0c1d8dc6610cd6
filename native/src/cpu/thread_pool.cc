// The thread pool. A job is published by bumping generation_; workers that
// finished the previous job are still spinning on it and start within
// nanoseconds. Only workers idle for longer than kSpin sleep on wake_, and
// run() takes the mutex to wake them only when sleepers_ says some are.
#include "cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif
#if defined(__linux__)
#include <sched.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace ghostline::cpu {
namespace {

// Long enough to bridge the gaps between the loops of one decode step, short
// enough not to burn a core when the engine goes idle. After kPureSpin the
// waiting thread also yields, so that when threads outnumber free cores the
// one with work to do gets the core.
constexpr auto kPureSpin = std::chrono::microseconds(20);
constexpr auto kSpin = std::chrono::microseconds(300);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

// Waits until done() or, when `limit` is given, until it has passed. Returns done().
template <class Done>
bool spin_until(Done done, std::chrono::nanoseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  bool yielding = false;
  for (int i = 1;; i++) {
    if (done()) return true;
    if (yielding) {
      std::this_thread::yield();
    } else {
      cpu_relax();
    }
    if ((i & 63) == 0) {
      const auto waited = std::chrono::steady_clock::now() - start;
      if (waited > limit) return done();
      yielding = waited > kPureSpin;
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; i++) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin, then sleep, until the generation moves past the last job we ran.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    if (gen == seen) {
      spin_until([&] { return (gen = generation_.load(std::memory_order_acquire)) != seen; }, kSpin);
      if (gen == seen) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleepers_.fetch_add(1);  // seq_cst: pairs with run()'s generation bump then sleepers_ read
        wake_.wait(lock, [&] { return (gen = generation_.load()) != seen; });
        sleepers_.fetch_sub(1);
      }
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    try {
      (*job_)(index, n_threads_);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst, publishes job_ and pending_
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }  // a worker between its check and wait() holds it
    wake_.notify_all();
  }
  std::exception_ptr mine;
  try {
    fn(0, n_threads_);
  } catch (...) {
    mine = std::current_exception();
  }
  spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, std::chrono::nanoseconds::max());
  job_ = nullptr;
  std::exception_ptr theirs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    theirs = std::exchange(error_, nullptr);
  }
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

void ThreadPool::split(int64_t n, int64_t grain, int n_threads, int i, int64_t* begin, int64_t* end) {
  if (grain < 1) grain = 1;
  const int64_t units = (n + grain - 1) / grain;
  const int64_t per_thread = (units + n_threads - 1) / n_threads * grain;
  *begin = std::min(n, i * per_thread);
  *end = std::min(n, *begin + per_thread);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int64_t begin0 = 0, end0 = 0;
  split(n, grain, n_threads_, 0, &begin0, &end0);
  if (end0 >= n || n_threads_ == 1) {  // one range: no need to wake anyone
    fn(0, n);
    return;
  }
  run([&](int i, int n_threads) {
    int64_t begin = 0, end = 0;
    split(n, grain, n_threads, i, &begin, &end);
    if (begin < end) fn(begin, end);
  });
}

int physical_core_count() {
  int logical = int(std::thread::hardware_concurrency());
  if (logical < 1) logical = 1;
#if defined(__linux__)
  // CPUs this process may run on (a container or taskset may allow fewer).
  cpu_set_t allowed;
  const bool have_affinity = sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  if (have_affinity) {
    const int n = CPU_COUNT(&allowed);
    if (n > 0 && n < logical) logical = n;
  }
  std::set<std::pair<std::string, std::string>> cores;  // (package, core) of allowed CPUs
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (have_affinity && !CPU_ISSET(cpu, &allowed)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::ifstream pkg(dir + "physical_package_id"), core(dir + "core_id");
    std::string p, c;
    if (pkg >> p && core >> c) cores.insert({p, c});
  }
  if (cores.empty()) {  // no sysfs topology: /proc/cpuinfo's "physical id" and "core id"
    std::ifstream info("/proc/cpuinfo");
    std::string line, p = "0";
    while (std::getline(info, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
      const std::string value = line.substr(colon + 1);
      if (key == "physical id") p = value;
      if (key == "core id") cores.insert({p, value});
    }
  }
  if (!cores.empty() && int(cores.size()) < logical) return int(cores.size());
  return logical;
#elif defined(__APPLE__)
  int n = 0;
  size_t size = sizeof n;
  if (sysctlbyname("hw.physicalcpu", &n, &size, nullptr, 0) == 0 && n > 0 && n < logical) return n;
  return logical;
#else
  return logical;
#endif
}

}  // namespace ghostline::cpu
