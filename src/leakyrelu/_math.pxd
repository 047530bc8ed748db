# cython: language_level=3
"""The math of every activation, one element at a time.

Each formula lives here once; the array loops in ``_kernels.pyx.tp`` apply
them. Branches are written as selects so that GCC turns them into vector
blends: the positive branch takes ``x > 0`` and the other branch takes the
rest (0, -0.0 and NaN), as PyTorch does.
"""
from libc.math cimport exp, expm1
from libc.stdint cimport uint32_t, uint64_t
from cython cimport floating


cdef inline floating nan_or(floating x, floating value) noexcept nogil:
    # A NaN input gives a NaN gradient, whatever branch the select took.
    return x if x != x else value


# relu: PyTorch computes max(x, 0) keeping x unless x < 0, so relu(-0.0)
# is -0.0 and relu(NaN) is NaN.
cdef inline floating relu_forward(floating x) noexcept nogil:
    return 0 if x < 0 else x

cdef inline floating relu_grad(floating g, floating x) noexcept nogil:
    return nan_or(x, g if x > 0 else 0)


cdef inline floating leaky_relu_forward(floating x, floating alpha) noexcept nogil:
    return x if x > 0 else x * alpha

cdef inline floating leaky_relu_grad(floating g, floating x, floating alpha) noexcept nogil:
    return nan_or(x, g if x > 0 else g * alpha)


# elu, celu and selu are one formula, as in PyTorch:
#   x < 0: negcoef * expm1(input_scale * x),  otherwise: poscoef * x
# elu: (alpha, 1, 1); celu: (alpha, 1, 1/alpha); selu: (alpha*scale, scale, 1).
# The forward splits at x < 0 like PyTorch's, so 0.0 keeps its sign for any
# alpha; the gradient splits at x > 0, which puts alpha's slope at 0.
cdef inline floating elu_forward(floating x, floating negcoef, floating poscoef,
                                 floating input_scale) noexcept nogil:
    return expm1(x * input_scale) * negcoef if x < 0 else x * poscoef

cdef inline floating elu_grad(floating g, floating x, floating negcoef, floating poscoef,
                              floating input_scale) noexcept nogil:
    return nan_or(x, g * poscoef if x > 0
                  else g * input_scale * negcoef * exp(x * input_scale))

cdef inline floating elu_grad_from_output(floating g, floating y, floating negcoef,
                                          floating poscoef, floating input_scale) noexcept nogil:
    # y + negcoef == negcoef * exp(input_scale * x) on the negative branch.
    return nan_or(y, g * poscoef if y > 0 else g * input_scale * (y + negcoef))


# rrelu in training draws each element's slope from U(lower, upper) with a
# counter-based hash of (key, element index): no state, no stored noise, the
# same slopes for any thread count, and the backward pass regenerates them.
cdef inline uint32_t mix32(uint32_t h) noexcept nogil:
    # A bijective 32-bit finaliser with full avalanche.
    h ^= h >> 16
    h *= 0x7feb352du
    h ^= h >> 15
    h *= 0x846ca68bu
    h ^= h >> 16
    return h

cdef inline floating rrelu_slope(uint64_t index, uint32_t key0, uint32_t key1,
                                 floating lower, floating width) noexcept nogil:
    cdef uint32_t h = mix32(mix32(<uint32_t>index ^ key0) ^ (<uint32_t>(index >> 32) + key1))
    # 24 random bits give a uniform in [0, 1) that float and double hold exactly.
    return lower + width * (<floating>(h >> 8) * <floating>5.9604644775390625e-08)
