// Memory for large, long-lived arrays that are streamed again and again (a
// bandwidth probe, re-laid-out weights): allocated once, 2 MiB aligned, and on
// Linux offered transparent huge pages. Streaming a gigabyte through 4 KiB
// pages costs a TLB miss every 4 KiB, which inside a virtual machine is a
// two-level page walk; on the development VM one core read 24 GB/s through
// 4 KiB pages and 30 GB/s through huge pages.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ghostline {

class LargeBuffer {
 public:
  LargeBuffer() = default;
  explicit LargeBuffer(size_t bytes);  // zero-filled; throws Error(Io) naming the size when it cannot map
  ~LargeBuffer();
  LargeBuffer(LargeBuffer&& other) noexcept;
  LargeBuffer& operator=(LargeBuffer&& other) noexcept;
  LargeBuffer(const LargeBuffer&) = delete;
  LargeBuffer& operator=(const LargeBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ghostline
