// The memory read bandwidth of this machine, measured: the physical limit of
// decode, which must read every weight once per token.
#pragma once

#include <cstddef>

#include "cpu/thread_pool.h"

namespace ghostline::cpu {

// Bytes per second that all of the pool's threads together read from a buffer
// of `bytes` (make it well beyond the last-level cache), each streaming its own
// contiguous part; the best of a few runs.
double measure_read_bandwidth(ThreadPool& pool, size_t bytes);

}  // namespace ghostline::cpu
