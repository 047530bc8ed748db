# cython: language_level=3
"""The math of every activation, one element at a time.

Each formula lives here once; the array loops in ``_kernels.pyx.tp`` apply
them. Branches are written as selects so that GCC turns them into vector
blends: the positive branch takes ``x > 0`` and the other branch takes the
rest (0, -0.0 and NaN), as PyTorch does.
"""
from libc.stdint cimport uint32_t, uint64_t
from cython cimport floating
from libc.math cimport nextafter, nextafterf

cdef extern from "_prelu_grad.h":
    bint lr_prelu_grad_runs_f(const float* x, const float* g, float* grad_x, Py_ssize_t n,
                              Py_ssize_t count, const float* weight, double* sums) noexcept nogil
    bint lr_prelu_grad_runs_d(const double* x, const double* g, double* grad_x, Py_ssize_t n,
                              Py_ssize_t count, const double* weight, double* sums) noexcept nogil

cdef extern from "_rrelu_grad.h":
    const uint32_t LR_MIX_MUL1, LR_MIX_MUL2
    enum: RRELU_HALF "LR_RRELU_HALF"

cdef extern from *:
    """
    #include <string.h>
    /* x's sign bit as a signed-integer test: GCC vectorises the select it
       feeds into one AVX2 blend with x itself as the mask. */
    static inline int lr_sign_bit_f(float x) { int32_t b; memcpy(&b, &x, sizeof b); return b < 0; }
    static inline int lr_sign_bit_d(double x) { int64_t b; memcpy(&b, &x, sizeof b); return b < 0; }
    """
    bint lr_sign_bit_f(float x) noexcept nogil
    bint lr_sign_bit_d(double x) noexcept nogil

cdef extern from "_vexp.h":
    float lr_expm1_f(float x) noexcept nogil
    float lr_scaled_exp_f(float x, float m) noexcept nogil
    double lr_expm1_d(double x) noexcept nogil
    double lr_scaled_exp_d(double x, double m) noexcept nogil


# Vectorisable m * exp (see _vexp.h); expm1 is called from elu_forward.
cdef inline floating scaled_exp(floating x, floating m) noexcept nogil:
    if floating is float:
        return lr_scaled_exp_f(x, m)
    else:
        return lr_scaled_exp_d(x, m)


cdef inline floating nan_or(floating x, floating value) noexcept nogil:
    # A NaN input gives a NaN gradient, whatever branch the select took.
    return x if x != x else value


# relu: PyTorch computes max(x, 0) keeping x unless x < 0, so relu(-0.0)
# is -0.0 and relu(NaN) is NaN.
cdef inline floating relu_forward(floating x) noexcept nogil:
    return 0 if x < 0 else x

cdef inline floating relu_by_max(floating x, floating zero) noexcept nogil:
    # relu_forward, given +0.0 as `zero`: x86's max gives its first operand if
    # that is greater, else the second, which is relu's rule for -0.0 and NaN
    # too. GCC emits that one instruction only for a zero it cannot see (for
    # a constant it emits a compare and a mask).
    return zero if zero > x else x

cdef inline floating relu_grad(floating g, floating x) noexcept nogil:
    return nan_or(x, g if x > 0 else 0)


cdef inline floating leaky_relu_forward(floating x, floating alpha) noexcept nogil:
    return x if x > 0 else x * alpha

cdef inline bint sign_bit(floating x) noexcept nogil:
    if floating is float:
        return lr_sign_bit_f(x)
    else:
        return lr_sign_bit_d(x)

cdef inline floating leaky_relu_by_sign(floating x, floating alpha) noexcept nogil:
    # leaky_relu_forward for +0.0 <= alpha < inf, where x's sign bit can pick
    # the branch: +0.0 * alpha is +0.0, and a NaN stays a NaN either way. In
    # AVX2 that is a multiply and one blend, without the compare (64K float64
    # in place on Zen 1: 1.19 -> 1.00 x NumPy's in-place multiply).
    return x * alpha if sign_bit(x) else x

cdef inline floating leaky_relu_grad(floating g, floating x, floating alpha) noexcept nogil:
    return nan_or(x, g if x > 0 else g * alpha)


# elu, celu and selu are one formula, as in PyTorch:
#   x < 0: negcoef * expm1(input_scale * x),  otherwise: poscoef * x
# elu: (alpha, 1, 1); celu: (alpha, 1, 1/alpha); selu: (alpha*scale, scale, 1).
# The forward splits at x < 0 like PyTorch's, so 0.0 keeps its sign for any
# alpha; the gradient splits at x > 0, which puts alpha's slope at 0.
cdef inline floating elu_forward(floating x, floating negcoef, floating poscoef,
                                 floating input_scale) noexcept nogil:
    # _vexp.h's expm1 (faithfully rounded), called here: behind an inline
    # Cython wrapper of its own GCC left the float one out of line.
    cdef floating expm1_x
    if floating is float:
        expm1_x = lr_expm1_f(x * input_scale)
    else:
        expm1_x = lr_expm1_d(x * input_scale)
    return expm1_x * negcoef if x < 0 else x * poscoef

cdef inline floating elu_grad(floating g, floating x, floating negcoef, floating poscoef,
                              floating input_scale) noexcept nogil:
    # Every vector lane computes the exp; giving it min(x, 0), outside the
    # select, keeps GCC from a masked form that goes subnormal (and slow) on
    # positive lanes with a small grad_output.
    cdef floating e = scaled_exp((0 if x > 0 else x) * input_scale, g * input_scale * negcoef)
    return nan_or(x, g * poscoef if x > 0 else e)

cdef inline floating elu_grad_from_output(floating g, floating y, floating negcoef,
                                          floating poscoef, floating input_scale) noexcept nogil:
    # y + negcoef == negcoef * exp(input_scale * x) on the negative branch.
    return nan_or(y, g * poscoef if y > 0 else g * input_scale * (y + negcoef))


# prelu's weight gradient sums x * g over the non-positive branch in float64;
# a NaN x contributes NaN. The product is rounded to the dtype, as PyTorch's
# is: in float32 that halves the conversions to double (docs/performance.md).
cdef inline double prelu_weight_term(floating x, floating g) noexcept nogil:
    return 0.0 if x > 0 else <double>(x * g)

cdef inline double prelu_grad_run(const floating* x, const floating* g, floating* grad_x,
                                  Py_ssize_t n, floating w) noexcept nogil:
    # One pass: grad_x = leaky_relu_grad(g, x, w), and the weight sum over the
    # run. 32 partial sums added in a fixed order: it vectorises without
    # reassociating (several vectors deep, to hide the adds' latency), so the
    # sum has the same bits on every machine and thread count. Each element is
    # read before it is written, so grad_x may be g or x itself (GCC's overlap
    # check lets equal pointers through); a partial overlap must be copied.
    # The terms are added as a block: added one by one, GCC turns
    # `lanes += select` into two adds and a select (lanes + 0 is not lanes
    # when lanes is -0.0; never here, as the sums start at +0.0).
    # The tail (under 32 elements) is summed on its own into four partial sums,
    # added last: added into the lanes, its scalar stores stalled the vector
    # loads of the pairwise sum (a failed store forward, most of a short run's
    # time), and one sum would make a chain of dependent adds.
    # The AVX-512 build runs the blocks in _prelu_grad.h: the same terms and
    # order, from grad_x's first cache line (so its lanes come out rotated,
    # which the pairwise sum does not see), without the reloads GCC adds
    # after each store for the aliasing, and the pairwise sum in registers;
    # the AVX2 build runs them too, unrotated (GCC's loop here kept some of
    # the 32 sums in memory and widened each compare's mask to doubles).
    cdef double lanes[32]
    cdef double terms[32]
    cdef double blocks
    cdef double t0 = 0, t1 = 0, t2 = 0, t3 = 0, tail
    cdef Py_ssize_t j, k, body = n - n % 32
    for j in range(body, n - 3, 4):
        t0 += prelu_weight_term(x[j], g[j])
        t1 += prelu_weight_term(x[j + 1], g[j + 1])
        t2 += prelu_weight_term(x[j + 2], g[j + 2])
        t3 += prelu_weight_term(x[j + 3], g[j + 3])
    for j in range(n - (n - body) % 4, n):
        t0 += prelu_weight_term(x[j], g[j])
    for j in range(body, n):
        grad_x[j] = leaky_relu_grad(g[j], x[j], w)
    tail = (t0 + t1) + (t2 + t3)
    if body == 0:
        return tail
    blocks = 0
    if floating is float:
        if lr_prelu_grad_runs_f(x, g, grad_x, body, 1, &w, &blocks):
            return blocks + tail
    else:
        if lr_prelu_grad_runs_d(x, g, grad_x, body, 1, &w, &blocks):
            return blocks + tail
    for k in range(32):
        lanes[k] = 0
    for j in range(0, body, 32):
        for k in range(32):
            terms[k] = prelu_weight_term(x[j + k], g[j + k])
        for k in range(32):
            lanes[k] += terms[k]
        for k in range(32):
            grad_x[j + k] = leaky_relu_grad(g[j + k], x[j + k], w)
    # Pairwise, in a fixed order; constant trip counts let GCC keep it in registers.
    for k in range(16):
        lanes[k] = lanes[k] + lanes[k + 16]
    for k in range(8):
        lanes[k] = lanes[k] + lanes[k + 8]
    for k in range(4):
        lanes[k] = lanes[k] + lanes[k + 4]
    for k in range(2):
        lanes[k] = lanes[k] + lanes[k + 2]
    return (lanes[0] + lanes[1]) + tail

cdef inline void prelu_grad_runs(const floating* x, const floating* g, floating* grad_x,
                                 Py_ssize_t n, Py_ssize_t count, const floating* weight,
                                 double* sums) noexcept nogil:
    # count runs of n elements one after another, run k with weight[k]:
    # sums[k] += prelu_grad_run's sum of run k. With n a multiple of 32 the
    # AVX-512 and AVX2 builds take them in one pass, the same sums (_prelu_grad.h);
    # the runs' tails are then empty, and adding +0.0 changes no sum.
    cdef Py_ssize_t k
    if n % 32 == 0:
        if floating is float:
            if lr_prelu_grad_runs_f(x, g, grad_x, n, count, weight, sums):
                return
        else:
            if lr_prelu_grad_runs_d(x, g, grad_x, n, count, weight, sums):
                return
    for k in range(count):
        sums[k] = sums[k] + prelu_grad_run(x + k * n, g + k * n, grad_x + k * n, n, weight[k])


# rrelu in training draws each element's slope from U(lower, upper) with a
# counter-based hash of (key, element number): no state, no stored noise, the
# same slopes for any thread count, and the backward pass regenerates them.
# One hash gives two elements 16 random bits each: in each block of
# 2 * RRELU_HALF elements (numbered from a multiple of it), hash k of the
# block serves elements k and RRELU_HALF + k, with its low and its high half.
# (RRELU_HALF, 64, is defined in _rrelu_grad.h, whose blocks share it.)
cdef inline uint32_t mix32(uint32_t h) noexcept nogil:
    # A bijective 32-bit finaliser with full avalanche.
    h ^= h >> 16
    h *= LR_MIX_MUL1
    h ^= h >> 15
    h *= LR_MIX_MUL2
    h ^= h >> 16
    return h

cdef inline uint32_t rrelu_hash(uint32_t h, uint32_t key1_high) noexcept nogil:
    # mix32 after its first xor-shift and before its last, with key1 ^ the
    # element number's high word (key1_high, one value per run) entering
    # halfway, so that two seeds' streams are not re-orderings of each other.
    h *= LR_MIX_MUL1
    h ^= key1_high
    h ^= h >> 15
    h *= LR_MIX_MUL2
    return h

# The last xor-shift, h ^ (h >> 16), leaves the high half as it is.
cdef inline uint32_t rrelu_low_bits(uint32_t h) noexcept nogil:
    return (h ^ (h >> 16)) & 0xFFFFu

cdef inline uint32_t rrelu_high_bits(uint32_t h) noexcept nogil:
    return h >> 16

cdef inline uint32_t rrelu_block_constant(uint32_t first, uint32_t key0) noexcept nogil:
    # Hash numbers (first >> 1) + k, k < RRELU_HALF, of the block from
    # `first` share their high 16 bits, so the first xor-shift of
    # (number ^ key0) is number ^ this constant.
    return key0 ^ (((first >> 1) ^ key0) >> 16)

cdef inline floating rrelu_grid_slope(uint32_t bits16, floating lower, floating step) noexcept nogil:
    # lower + step * u for u in 0 .. 65535: step (rrelu_step) keeps it <= upper.
    return lower + step * <floating>bits16

cdef inline floating rrelu_slope(uint32_t count, uint32_t key0, uint32_t key1_high,
                                 floating lower, floating step) noexcept nogil:
    # The slope of element `count` (its number's low word): hash number
    # count // (2 * RRELU_HALF) * RRELU_HALF + count % RRELU_HALF, its high
    # half where count % (2 * RRELU_HALF) >= RRELU_HALF.
    cdef uint32_t h = (((count >> 1) & ~(RRELU_HALF - 1u)) | (count & (RRELU_HALF - 1u))) ^ key0
    h = rrelu_hash(h ^ (h >> 16), key1_high)
    if count & <uint32_t>RRELU_HALF:
        return rrelu_grid_slope(rrelu_high_bits(h), lower, step)
    return rrelu_grid_slope(rrelu_low_bits(h), lower, step)

cdef inline void rrelu_block_slopes(uint32_t first, uint32_t key0, uint32_t key1_high,
                                    floating lower, floating step,
                                    floating* slopes) noexcept nogil:
    # The slopes of the block of 2 * RRELU_HALF elements from `first` (a
    # multiple of it), as rrelu_slope gives them, one hash per two, in a loop
    # that vectorises.
    cdef uint32_t number = first >> 1, constant = rrelu_block_constant(first, key0)
    cdef uint32_t k, h
    for k in range(RRELU_HALF):
        h = rrelu_hash((number + k) ^ constant, key1_high)
        slopes[k] = rrelu_grid_slope(rrelu_low_bits(h), lower, step)
        slopes[k + RRELU_HALF] = rrelu_grid_slope(rrelu_high_bits(h), lower, step)

cdef inline floating rrelu_step(floating lower, floating upper) noexcept nogil:
    # The grid's step, (upper - lower) / 2**16, from the halves (no overflow),
    # lowered an ulp at a time until the top of the grid, lower + step * 65535,
    # does not round past upper: then no slope does (the sum grows with u).
    # That takes an ulp or two; the callers refuse an upper - lower the
    # dtype cannot hold (its grid's top overflows), and then this gives 0.
    cdef floating step = <floating>(<double>upper * 1.52587890625e-05
                                    - <double>lower * 1.52587890625e-05)
    cdef int tries
    for tries in range(8):
        if lower + step * <floating>65535 <= upper:
            return step
        if floating is float:
            step = nextafterf(step, 0)
        else:
            step = nextafter(step, 0)
    return 0
