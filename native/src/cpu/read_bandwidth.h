// The memory read bandwidth of this machine, measured: the physical limit of
// decode, which must read every weight once per token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/large_buffer.h"
#include "cpu/thread_pool.h"

namespace ghostline::cpu {

// A buffer well beyond the last-level cache, allocated and written once, that
// the pool's threads read together, each streaming its own contiguous part.
// Made once and measured many times, so that measurements can sit between the
// windows of a decode run: on a shared virtual machine the bandwidth moves
// from second to second, and only a measurement taken beside a decode window
// says what that window could have had.
class ReadBandwidthProbe {
 public:
  ReadBandwidthProbe(ThreadPool& pool, size_t bytes);

  // Bytes per second of the fastest of `passes` reads of the whole buffer.
  double measure(int passes);

 private:
  ThreadPool& pool_;
  LargeBuffer buffer_;
  size_t words_;
  std::vector<uint64_t> sinks_;  // per thread: keeps the reads observable
};

// One probe made and measured five times.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes);

}  // namespace ghostline::cpu
