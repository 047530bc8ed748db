/* Large outputs kept mapped between calls: a NumPy memory handler.
 *
 * An allocating call on an array far beyond the caches spends more time in
 * the first-touch page faults of its new output (and the kernel zeroing each
 * fresh page) than in its loop (docs/performance.md, "Allocating calls").
 * Outputs of LR_ARENA_MIN bytes and more are allocated through this handler:
 * when such an array is freed its block is kept, up to lr_arena_limit bytes
 * in all, and the next output that fits reuses it without a fault, as
 * onnxruntime's arena does. The handler is installed only around the one
 * allocation of a call's output (`empty_like` in _kernels.pyx.tp); the array
 * keeps it for its free and any realloc. NumPy allocates and frees array data with the
 * GIL held, which serialises every function here.
 */
#ifndef LR_ARENA_H
#define LR_ARENA_H

#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#define LR_ARENA_MIN ((size_t)16 << 20)  /* smaller outputs come from malloc's heap */
#define LR_ARENA_SLOTS 8                  /* blocks kept at most */
#define LR_ARENA_HEADER 64                /* the block's size, before 64-byte aligned data */

static size_t lr_arena_limit = (size_t)256 << 20;   /* bytes of results kept at most */
static void *lr_arena_kept[LR_ARENA_SLOTS];        /* free blocks, oldest first */
static int lr_arena_count = 0;
static size_t lr_arena_kept_bytes = 0;             /* their results' bytes, not the headers */
static size_t lr_arena_reused = 0;                 /* allocations served from kept blocks */

static size_t lr_block_size(void *block) { return *(size_t *)block; }

/* The bytes a block holds for its result: the limit counts these, so that a
 * result of exactly the limit is kept. */
static size_t lr_block_room(void *block) { return lr_block_size(block) - LR_ARENA_HEADER; }

static void *lr_block_new(size_t size) {
    void *block;
#if defined(__linux__)
    block = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(block, size, MADV_HUGEPAGE);   /* as NumPy asks for its large arrays */
#endif
#else
    block = malloc(size);
    if (block == NULL)
        return NULL;
#endif
    *(size_t *)block = size;
    return block;
}

static void lr_block_release(void *block) {
#if defined(__linux__)
    munmap(block, lr_block_size(block));
#else
    free(block);
#endif
}

/* Take kept block i out of the arena. */
static void *lr_arena_take(int i) {
    void *block = lr_arena_kept[i];
    lr_arena_kept_bytes -= lr_block_room(block);
    memmove(lr_arena_kept + i, lr_arena_kept + i + 1,
            (size_t)(lr_arena_count - i - 1) * sizeof(void *));
    lr_arena_count--;
    return block;
}

static void lr_arena_drop_oldest(void) {
    lr_block_release(lr_arena_take(0));
}

/* Release kept blocks until at most `limit` bytes are kept. */
static void lr_arena_trim(size_t limit) {
    while (lr_arena_count > 0 && lr_arena_kept_bytes > limit)
        lr_arena_drop_oldest();
}

static void *lr_arena_malloc(void *ctx, size_t size) {
    size_t need = size + LR_ARENA_HEADER, have;
    int best = -1, i;
    (void)ctx;
    if (size > SIZE_MAX - LR_ARENA_HEADER)
        return NULL;
    /* The smallest kept block that holds it, wasting at most half of itself. */
    for (i = 0; i < lr_arena_count; i++) {
        have = lr_block_size(lr_arena_kept[i]);
        if (have >= need && have / 2 <= need
                && (best < 0 || have < lr_block_size(lr_arena_kept[best])))
            best = i;
    }
    if (best >= 0) {
        lr_arena_reused++;
        return (char *)lr_arena_take(best) + LR_ARENA_HEADER;
    }
    {
        void *block = lr_block_new(need);
        return block == NULL ? NULL : (char *)block + LR_ARENA_HEADER;
    }
}

static void lr_arena_free(void *ctx, void *ptr, size_t size) {
    void *block;
    size_t have;
    (void)ctx;
    (void)size;
    if (ptr == NULL)
        return;
    block = (char *)ptr - LR_ARENA_HEADER;
    have = lr_block_room(block);
    if (have < LR_ARENA_MIN || have > lr_arena_limit) {
        lr_block_release(block);
        return;
    }
    if (lr_arena_count == LR_ARENA_SLOTS)
        lr_arena_drop_oldest();
    lr_arena_kept[lr_arena_count++] = block;
    lr_arena_kept_bytes += have;
    lr_arena_trim(lr_arena_limit);
}

static void *lr_arena_calloc(void *ctx, size_t count, size_t itemsize) {
    void *ptr;
    if (itemsize != 0 && count > SIZE_MAX / itemsize)
        return NULL;
    ptr = lr_arena_malloc(ctx, count * itemsize);
    if (ptr != NULL)
        memset(ptr, 0, count * itemsize);
    return ptr;
}

static void *lr_arena_realloc(void *ctx, void *ptr, size_t size) {
    void *moved;
    size_t have;
    if (ptr == NULL)
        return lr_arena_malloc(ctx, size);
    have = lr_block_room((char *)ptr - LR_ARENA_HEADER);
    if (size <= have)
        return ptr;
    moved = lr_arena_malloc(ctx, size);
    if (moved == NULL)
        return NULL;
    memcpy(moved, ptr, have);
    lr_arena_free(ctx, ptr, have);
    return moved;
}

static PyDataMem_Handler lr_arena_handler = {
    "leakyrelu_output_arena",
    1,
    {NULL, lr_arena_malloc, lr_arena_calloc, lr_arena_realloc, lr_arena_free},
};

/* A capsule for PyDataMem_SetHandler (a new reference). */
static PyObject *lr_arena_capsule(void) {
    return PyCapsule_New(&lr_arena_handler, "mem_handler", NULL);
}

/* The limit from LEAKYRELU_ARENA_BYTES when it is a number of bytes (0: keep none). */
static void lr_arena_configure(void) {
    const char *value = getenv("LEAKYRELU_ARENA_BYTES");
    if (value != NULL && *value != '\0') {
        char *end;
        long long bytes = strtoll(value, &end, 10);
        if (*end == '\0' && bytes >= 0)
            lr_arena_limit = (size_t)bytes;
    }
}

static void lr_arena_set_limit(size_t limit) {
    lr_arena_limit = limit;
    lr_arena_trim(limit);
}

#endif
