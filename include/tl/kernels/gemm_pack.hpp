#pragma once
// Packing into the layouts the micro-kernels read (gemm_ukernel.hpp):
//   A block (mc x kc): row panels of MR rows, each stored as kc groups of MR values  -> [mc/MR][kc][MR]
//   B block (kc x nc): column panels of NR columns, each stored as kc groups of NR   -> [nc/NR][kc][NR]
// Rows/columns past the matrix edge are zero, so the micro-kernel always runs a full tile.
#include <algorithm>
#include <cstdint>

#include "tl/kernels/gemm_config.hpp"

TL_KERNELS_BEGIN

/// Packs A[i0:i0+mc, d0:d0+kc] of a strided matrix (element (i,d) at a[i*rs + d*cs]) into dst.
template <int MR, class T>
void pack_a_strided(const T* a, int64_t rs, int64_t cs, int64_t i0, int64_t mc, int64_t d0, int64_t kc, T* dst) {
  for (int64_t ip = 0; ip < mc; ip += MR) {
    const int64_t mr = std::min<int64_t>(MR, mc - ip);
    T* panel = dst + ip * kc;
    const T* src = a + (i0 + ip) * rs + d0 * cs;
    if (cs == 1) {  // rows contiguous in depth: read each row once, scatter into the panel
      for (int64_t i = 0; i < mr; ++i)
        for (int64_t k = 0; k < kc; ++k) panel[k * MR + i] = src[i * rs + k];
    } else {  // columns contiguous (A transposed): one contiguous read per depth step
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t i = 0; i < mr; ++i) panel[k * MR + i] = src[i * rs + k * cs];
    }
    for (int64_t i = mr; i < MR; ++i)
      for (int64_t k = 0; k < kc; ++k) panel[k * MR + i] = T(0);
  }
}

/// Packs B[d0:d0+kc, j0:j0+nc] of a strided matrix (element (d,j) at b[d*rs + j*cs]) into dst.
template <int NR, class T>
void pack_b_strided(const T* b, int64_t rs, int64_t cs, int64_t j0, int64_t nc, int64_t d0, int64_t kc, T* dst) {
  for (int64_t jp = 0; jp < nc; jp += NR) {
    const int64_t nr = std::min<int64_t>(NR, nc - jp);
    T* panel = dst + jp * kc;
    const T* src = b + d0 * rs + (j0 + jp) * cs;
    for (int64_t k = 0; k < kc; ++k) {
      T* d = panel + k * NR;
      const T* s = src + k * rs;
      if (cs == 1) {
        for (int64_t j = 0; j < nr; ++j) d[j] = s[j];
      } else {
        for (int64_t j = 0; j < nr; ++j) d[j] = s[j * cs];
      }
      for (int64_t j = nr; j < NR; ++j) d[j] = T(0);
    }
  }
}

TL_KERNELS_END
