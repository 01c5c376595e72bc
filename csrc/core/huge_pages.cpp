#include "core/huge_pages.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace embedforge::core {

HugePageAdvice advise_huge_pages(void* p, size_t bytes) {
  HugePageAdvice r;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  if (p == nullptr || bytes < 2 * kHuge) return r;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (end <= begin) return r;
  void* start = reinterpret_cast<void*>(begin);
  const size_t len = end - begin;
  if (madvise(start, len, MADV_HUGEPAGE) != 0) return r;  // THP disabled, or not anonymous memory
  r.advised = len;
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1 (older headers lack it; older kernels answer EINVAL)
#endif
  // In pieces, so that one piece the kernel cannot collapse (no free huge page) leaves the rest.
  constexpr size_t kPiece = size_t{32} << 20;
  for (size_t off = 0; off < len; off += kPiece) {
    const size_t n = len - off < kPiece ? len - off : kPiece;
    if (madvise(static_cast<char*>(start) + off, n, MADV_COLLAPSE) == 0) r.collapsed += n;
  }
#else
  (void)p;
  (void)bytes;
#endif
  return r;
}

}  // namespace embedforge::core
