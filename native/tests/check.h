// A small test harness for the native core: TEST(name) registers a test,
// CHECK* report failures with file and line, and the runner prints
// "N passed, N failed" as its last line.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace check {

struct TestCase {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

inline int& failures_in_current() {
  static int n = 0;
  return n;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "  %s:%d: %s\n", file, line, what.c_str());
  failures_in_current()++;
}

// Runs the tests whose names contain `filter` (all when null).
inline int run_all(const char* filter) {
  int passed = 0, failed = 0;
  for (auto& t : registry()) {
    if (filter && !std::strstr(t.name, filter)) continue;
    failures_in_current() = 0;
    try {
      t.fn();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
    }
    if (failures_in_current() == 0) {
      passed++;
      std::printf("ok   %s\n", t.name);
    } else {
      failed++;
      std::printf("FAIL %s\n", t.name);
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace check

#define CHECK_CONCAT2(a, b) a##b
#define CHECK_CONCAT(a, b) CHECK_CONCAT2(a, b)
#define TEST(name)                                                              \
  static void CHECK_CONCAT(test_fn_, __LINE__)();                               \
  static check::Register CHECK_CONCAT(test_reg_, __LINE__)(name, CHECK_CONCAT(test_fn_, __LINE__)); \
  static void CHECK_CONCAT(test_fn_, __LINE__)()

#define CHECK(cond) \
  do { if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); } while (0)

#define CHECK_EQ(a, b)                                                                    \
  do {                                                                                    \
    auto&& va_ = (a); auto&& vb_ = (b);                                                   \
    if (!(va_ == vb_)) check::fail(__FILE__, __LINE__, "CHECK_EQ(" #a ", " #b ") failed: " \
                                   + std::to_string(va_) + " vs " + std::to_string(vb_)); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                    \
  do {                                                                                           \
    double va_ = (a), vb_ = (b);                                                                 \
    if (!(std::fabs(va_ - vb_) <= (tol))) check::fail(__FILE__, __LINE__, "CHECK_NEAR(" #a ", " #b ") failed: " \
                                   + std::to_string(va_) + " vs " + std::to_string(vb_));        \
  } while (0)

// Expects `expr` to throw ghostline::Error whose message contains `needle`.
#define CHECK_THROWS_WITH(expr, needle)                                                       \
  do {                                                                                        \
    bool threw_ = false;                                                                      \
    try { (void)(expr); } catch (const std::exception& e_) {                                  \
      threw_ = true;                                                                          \
      if (!std::strstr(e_.what(), needle))                                                    \
        check::fail(__FILE__, __LINE__, std::string("message \"") + e_.what() + "\" lacks \"" + needle + "\""); \
    }                                                                                         \
    if (!threw_) check::fail(__FILE__, __LINE__, "expected an error containing \"" + std::string(needle) + "\""); \
  } while (0)
