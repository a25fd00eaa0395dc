#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
#include <cblas.h>

/// OpenBLAS's thread-count controls, re-exported as plain functions.
static inline int COpenBLAS_threads(void) { return openblas_get_num_threads(); }
static inline void COpenBLAS_setThreads(int n) { openblas_set_num_threads(n); }
/// The kernel family OpenBLAS picked for this CPU at load time (DYNAMIC_ARCH builds).
static inline const char *COpenBLAS_coreName(void) { return openblas_get_corename(); }
#endif
