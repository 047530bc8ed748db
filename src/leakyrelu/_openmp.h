/* OpenMP when the build has it; a serial stand-in otherwise. */
#ifndef LEAKYRELU_OPENMP_H
#define LEAKYRELU_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define LEAKYRELU_OPENMP 1
#else
#define LEAKYRELU_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif
#endif
