// A fixed pool of worker threads for data-parallel loops.
//
// The calling thread takes part as worker 0, so a pool of n threads starts
// n - 1 of its own. Workers spin briefly between jobs, then sleep, so that the
// hundreds of small loops of one decode step do not pay for a wake-up each.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ghostline::cpu {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);  // n_threads >= 1
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on every thread and returns when
  // all are done; an exception thrown by fn on any thread is rethrown here. Not reentrant: one job at a time, from one caller.
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into n_threads contiguous ranges (multiples of `grain`
  // except the last) and calls fn(begin, end) for each non-empty range.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // The range [begin, end) that parallel_for gives thread i of n_threads (empty when begin >= end).
  static void split(int64_t n, int64_t grain, int n_threads, int i, int64_t* begin, int64_t* end);

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};  // workers waiting on wake_ (run() notifies only when some are)
  std::exception_ptr error_;      // the first exception a worker's fn threw, rethrown by run()
};

// Physical cores of this machine (logical CPUs when it cannot tell).
int physical_core_count();

}  // namespace ghostline::cpu
