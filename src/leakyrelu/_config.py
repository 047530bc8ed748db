"""What this installation runs: version, OpenMP, threads, instruction set."""
from leakyrelu import _dispatch, _threads


def config():
    """The facts :func:`show_config` prints, as a dict."""
    from leakyrelu import __version__

    kernels = _dispatch.kernels
    threads, why = _threads.effective_threads(kernels)
    return {
        "version": __version__,
        "openmp": kernels.OPENMP,
        "default_threads": kernels.default_threads(),
        "threads_source": why,
        "usable_cpus": _threads.thread_cap()[0],
        "serial_threshold_bytes": kernels.SERIAL_THRESHOLD_BYTES,
        "stream_threshold_bytes": kernels.STREAM_THRESHOLD_BYTES,
        "stream_cap_bytes": kernels.STREAM_CAP_BYTES,
        "arena_bytes": kernels.arena_limit(),
        "arena_min_bytes": kernels.ARENA_MIN_BYTES,
        "instruction_set": kernels.INSTRUCTION_SET,
        "memory_bound_loops": kernels.memory_bound_loops(),
        "memory_bound_kernels": list(kernels.MEMORY_BOUND_KERNELS),
        "bfloat16_rounding": ("avx512_bf16 instruction" if kernels.use_native_bfloat16()
                              else "integer operations"),
        "available_instruction_sets": _dispatch.supported_instruction_sets(),
    }


def show_config():
    """Print the version, OpenMP support, default thread count and kernel instruction set.

    Examples
    --------
    >>> import leakyrelu
    >>> leakyrelu.show_config()  # doctest: +SKIP
    leakyrelu 0.1.0
      OpenMP:             compiled in
      default threads:    2 (2 CPUs in the affinity mask)
      serial below:       384 KiB read and written (less for elu, celu, selu)
      streaming stores:   from 16 MiB of output per thread, up to 32 MiB, out of place
      output arena:       keeps up to 256 MiB of freed outputs of 16 MiB and more
      instruction set:    avx512 (available: baseline, avx2, avx512)
      memory-bound loops: avx2 (relu, leaky_relu, prelu, relu_grad, leaky_relu_grad)
      bfloat16 rounding:  avx512_bf16 instruction
    """
    c = config()
    print(f"leakyrelu {c['version']}")
    print(f"  OpenMP:             {'compiled in' if c['openmp'] else 'not compiled in (serial)'}")
    print(f"  default threads:    {c['default_threads']} ({c['threads_source']})")
    print(f"  serial below:       {c['serial_threshold_bytes'] // 1024} KiB read and written "
          "(less for elu, celu, selu)")
    print(f"  streaming stores:   from {c['stream_threshold_bytes'] >> 20} MiB of output per "
          f"thread, up to {c['stream_cap_bytes'] >> 20} MiB, out of place")
    print(f"  output arena:       keeps up to {c['arena_bytes'] >> 20} MiB of freed outputs of "
          f"{c['arena_min_bytes'] >> 20} MiB and more" if c['arena_bytes'] else
          "  output arena:       off (LEAKYRELU_ARENA_BYTES=0)")
    print(f"  instruction set:    {c['instruction_set']} "
          f"(available: {', '.join(c['available_instruction_sets'])})")
    print(f"  memory-bound loops: {c['memory_bound_loops']} "
          f"({', '.join(c['memory_bound_kernels'])})")
    print(f"  bfloat16 rounding:  {c['bfloat16_rounding']}")
