// The core's one error type. Core code throws ghostline::Error with a message
// that names the file, key, tensor or request at fault; the N-API binding and
// the C++ tests catch it. Nothing in the core exits or aborts the process.
#pragma once

#include <stdexcept>
#include <string>

namespace ghostline {

enum class ErrorCode {
  Invalid,      // malformed input: a file, a tensor, an argument
  Unsupported,  // well-formed but not something we run (architecture, tensor type)
  Io,           // the operating system refused (open, mmap)
  Cancelled,    // the caller asked to stop
  Backend,      // a device or backend failure; the caller may fall back to the CPU
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace ghostline
