// Run-time choice of a kernel table from what the CPU (and, on x86, the
// operating system's saved register state) supports.
#include <cstdlib>
#include <cstring>
#include <string>

#include "cpu/kernels.h"

#if defined(GHOSTLINE_X86)
#include <cpuid.h>
#elif defined(GHOSTLINE_NEON) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#elif defined(GHOSTLINE_NEON) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

namespace ghostline::cpu {

// Tables whose source files are not compiled on this platform.
#if !defined(GHOSTLINE_X86)
const KernelTable* avx2_kernels() { return nullptr; }
const KernelTable* avx512_kernels() { return nullptr; }
const KernelTable* avx512vnni_kernels() { return nullptr; }
#endif
#if !defined(GHOSTLINE_NEON)
const KernelTable* neon_kernels() { return nullptr; }
#endif

namespace {

struct CpuFeatures {
  bool avx2 = false;        // with FMA and F16C, and the OS saving ymm state
  bool avx512 = false;      // F, BW, VL, DQ, and the OS saving zmm and mask state
  bool avx512vnni = false;
  bool neon = false;
  bool dotprod = false;
};

#if defined(GHOSTLINE_X86)
uint64_t read_xcr0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if defined(GHOSTLINE_X86)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  const bool fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xe0) == 0xe0;   // opmask, upper zmm0-15, zmm16-31
  if (!os_ymm || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = (b & (1u << 5)) && fma && f16c;
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17);
  const bool avx512bw = b & (1u << 30), avx512vl = b & (1u << 31);
  f.avx512 = f.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512vnni = f.avx512 && (c & (1u << 11));
#elif defined(GHOSTLINE_NEON)
  f.neon = true;  // part of every AArch64 CPU
#if defined(__linux__)
  f.dotprod = getauxval(AT_HWCAP) & HWCAP_ASIMDDP;
#elif defined(__APPLE__)
  int value = 0;
  size_t size = sizeof value;
  f.dotprod = sysctlbyname("hw.optional.arm.FEAT_DotProd", &value, &size, nullptr, 0) == 0 && value;
#endif
#endif
  return f;
}

const CpuFeatures& features() {
  static const CpuFeatures f = detect();
  return f;
}

// The NEON table checks dotprod itself only at compile time; a build with
// __ARM_FEATURE_DOTPROD must not run on a CPU without it.
bool neon_runnable() {
#if defined(__ARM_FEATURE_DOTPROD)
  return features().neon && features().dotprod;
#else
  return features().neon;
#endif
}

struct Candidate {
  const KernelTable* table;
  bool runnable;
};

// Best first.
int candidates(Candidate* out) {
  const CpuFeatures& f = features();
  int n = 0;
  out[n++] = {avx512vnni_kernels(), f.avx512vnni};
  out[n++] = {avx512_kernels(), f.avx512};
  out[n++] = {avx2_kernels(), f.avx2};
  out[n++] = {neon_kernels(), neon_runnable()};
  out[n++] = {&generic_kernels(), true};
  return n;
}

}  // namespace

const KernelTable& choose_kernels(const char* requested, std::string* note) {
  Candidate c[8];
  const int n = candidates(c);
  if (requested && *requested) {
    for (int i = 0; i < n; i++) {
      if (!c[i].table || std::strcmp(c[i].table->name, requested) != 0) continue;
      if (c[i].runnable) return *c[i].table;
      if (note) *note = std::string("GHOSTLINE_CPU_KERNELS=") + requested + ": this CPU lacks it, using generic";
      return generic_kernels();
    }
    if (note) {
      *note = std::string("GHOSTLINE_CPU_KERNELS=") + requested +
              ": not compiled into this build (known: generic, avx2, avx512, avx512vnni, neon), using generic";
    }
    return generic_kernels();
  }
  for (int i = 0; i < n; i++)
    if (c[i].table && c[i].runnable) return *c[i].table;
  return generic_kernels();
}

namespace {
struct Selection {
  const KernelTable* table;
  std::string note;
};
const Selection& selection() {
  static const Selection s = [] {
    Selection sel;
    sel.table = &choose_kernels(std::getenv("GHOSTLINE_CPU_KERNELS"), &sel.note);
    return sel;
  }();
  return s;
}
}  // namespace

const KernelTable& select_kernels() { return *selection().table; }

const std::string& kernel_selection_note() { return selection().note; }

int runnable_kernel_tables(const KernelTable** out, int max) {
  Candidate c[8];
  const int n = candidates(c);
  int count = 0;
  // Generic first: it is the reference the others are compared with.
  if (count < max) out[count++] = &generic_kernels();
  for (int i = 0; i < n && count < max; i++) {
    if (c[i].table && c[i].runnable && c[i].table != &generic_kernels()) out[count++] = c[i].table;
  }
  return count;
}

}  // namespace ghostline::cpu
