// GL_VECTOR_CLONES marks a plain loop function for which the compiler emits
// AVX-512, AVX2 and baseline versions, picked when the library loads, so the
// portable core still runs the widest vectors the CPU has. Elsewhere (arm64,
// where NEON is the baseline, or compilers without ifunc) it is empty.
#pragma once

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(GHOSTLINE_NO_CLONES)
#define GL_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GL_VECTOR_CLONES
#endif
