/* What every parallel region of the kernels needs beyond OpenMP itself.
 *
 * - Shared state: every kernel build (one module per instruction set) points
 *   at the same few ints, owned by leakyrelu._threads, because the OpenMP
 *   runtime they share is one per process.
 * - Fork: libgomp cannot rebuild its thread team in a child forked after the
 *   team started (the child's first region waits forever for threads that
 *   were not copied). A pthread_atfork child handler notes such a fork, and
 *   from then on every kernel in the child runs serially.
 * - FP mode: worker threads adopt the caller's flush-to-zero and
 *   denormals-are-zero bits for the region and restore their own after it,
 *   so every element is computed in the caller's mode for any thread count.
 */
#ifndef LEAKYRELU_PARALLEL_H
#define LEAKYRELU_PARALLEL_H
#include "_openmp.h"

#if !defined(_WIN32)
#include <pthread.h>
#if defined(__linux__)
#include <sched.h>   /* sched_getaffinity; Python.h defines _GNU_SOURCE */
#endif
#endif

enum { LR_FORKED, LR_TEAM_USED, LR_CAP, LR_LAST_TEAM, LR_STATE_SIZE };

/* Until lr_bind_state: a local copy, serial (cap 1) and safe. */
static int lr_local_state[LR_STATE_SIZE] = {0, 0, 1, 0};
static volatile int *lr_state = lr_local_state;

static void lr_atfork_child(void) {
    if (lr_state[LR_TEAM_USED])
        lr_state[LR_FORKED] = 1;
}

/* Point this build at the process-wide state; register the fork handler once. */
static int lr_bind_state(int *state) {
    static int registered = 0;
    lr_state = state;
    if (!registered) {
        registered = 1;
#if !defined(_WIN32)
        return pthread_atfork(NULL, NULL, lr_atfork_child);
#endif
    }
    return 0;
}

static inline int lr_forked(void) { return lr_state[LR_FORKED]; }
/* The CPUs in the affinity mask now: a mask narrowed after import (the cap
 * was computed then, with the cgroup quota) lowers the cap. */
static inline int lr_affinity_now(void) {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    return lr_state[LR_CAP];   /* no mask, or more CPUs than cpu_set_t holds */
}
static inline int lr_cap(void) {
    int now = lr_affinity_now();
    return now < lr_state[LR_CAP] ? now : lr_state[LR_CAP];
}
static inline int lr_last_team(void) { return lr_state[LR_LAST_TEAM]; }
static inline void lr_note_serial(void) { lr_state[LR_LAST_TEAM] = 1; }

/* ---- floating-point mode: FTZ and DAZ (x86 MXCSR), FZ (aarch64 FPCR) ---- */
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#include <xmmintrin.h>
#define LR_FTZ 0x8000u   /* MXCSR bit 15: results that would be subnormal are 0 */
#define LR_DAZ 0x0040u   /* MXCSR bit 6: subnormal inputs are read as 0 */
static inline unsigned lr_fp_get(void) { return _mm_getcsr(); }
static inline void lr_fp_put(unsigned csr) { _mm_setcsr(csr); }
#elif defined(__aarch64__)
#define LR_FTZ (1u << 24)   /* FPCR.FZ flushes inputs and results alike */
#define LR_DAZ (1u << 24)
static inline unsigned lr_fp_get(void) {
    unsigned long long r;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(r));
    return (unsigned)r;
}
static inline void lr_fp_put(unsigned csr) {
    unsigned long long r = csr;
    __asm__ __volatile__("msr fpcr, %0" : : "r"(r));
}
#else
#define LR_FTZ 0u
#define LR_DAZ 0u
static inline unsigned lr_fp_get(void) { return 0; }
static inline void lr_fp_put(unsigned csr) { (void)csr; }
#endif
#define LR_FP_MASK (LR_FTZ | LR_DAZ)

/* The calling thread's flush bits: read before a region, passed to lr_enter. */
static inline unsigned lr_fp_mode(void) { return lr_fp_get() & LR_FP_MASK; }

/* In every thread of a region, first: adopt the caller's mode, remember our
 * own; thread 0 records the team that really ran. */
static inline unsigned lr_enter(unsigned mode) {
    unsigned old = lr_fp_get();
    if ((old & LR_FP_MASK) != mode)
        lr_fp_put((old & ~LR_FP_MASK) | mode);
    if (omp_get_thread_num() == 0) {
        int team = omp_get_num_threads();
        lr_state[LR_LAST_TEAM] = team;
        if (team > 1)
            lr_state[LR_TEAM_USED] = 1;
    }
    return old;
}

/* In every thread of a region, last: its own mode back. */
static inline void lr_exit(unsigned old) {
    if (lr_fp_get() != old)
        lr_fp_put(old);
}

/* For tests and callers: set the calling thread's FTZ and DAZ; the old bits. */
static inline unsigned lr_set_flush(int ftz, int daz) {
    unsigned old = lr_fp_get();
    unsigned mode = (ftz ? LR_FTZ : 0u) | (daz ? LR_DAZ : 0u);
    lr_fp_put((old & ~LR_FP_MASK) | mode);
    return old & LR_FP_MASK;
}
static inline int lr_ftz_bit(unsigned mode) { return (mode & LR_FTZ) != 0; }
static inline int lr_daz_bit(unsigned mode) { return (mode & LR_DAZ) != 0; }
#endif
