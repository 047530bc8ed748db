"""How many threads a kernel may use: the CPUs this process may run on.

Every parallel region is capped by :func:`thread_cap`, whatever
``num_threads``, ``OMP_NUM_THREADS`` or ``omp_set_num_threads`` ask for: the
CPUs in this process's affinity mask, and no more than its cgroup CPU quota
(a container's ``--cpus``), rounded up. More threads than that only queue
for the same CPUs, and asking the OpenMP runtime for tens of thousands makes
thread creation fail inside it, which kills the process.

The state the kernel builds share (``STATE``) lives here: the cap, whether a
thread team has run, whether this is a child forked after that, and the size
of the last team. Each kernel module binds to it at import.
"""
import math
import os

import numpy as np

# Indices into STATE; the same enum is in _parallel.h.
FORKED, TEAM_USED, CAP, LAST_TEAM = range(4)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _quota_v2(text):
    """CPUs from a cgroup v2 ``cpu.max`` ("max 100000" or "150000 100000"), or None."""
    fields = (text or "").split()
    if len(fields) != 2 or fields[0] == "max":
        return None
    quota, period = int(fields[0]), int(fields[1])
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(quota_text, period_text):
    """CPUs from cgroup v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` (-1: none), or None."""
    try:
        quota, period = int(quota_text), int(period_text)
    except (TypeError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_quota(root="/sys/fs/cgroup", proc="/proc/self/cgroup"):
    """The CPU quota of this process's cgroup and its ancestors, in CPUs, or None.

    cgroup v2 (``cpu.max``) and v1 (``cpu.cfs_quota_us / cpu.cfs_period_us``);
    the tightest quota on the path to the root applies.
    """
    quotas = []
    for line in (_read(proc) or "").splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        path = path.strip("/")
        if controllers == "":   # v2: one unified hierarchy
            dirs = [root]
        elif "cpu" in controllers.split(","):   # v1: the cpu controller's mount
            dirs = [os.path.join(root, name) for name in (controllers, "cpu", "cpu,cpuacct")]
        else:
            continue
        for base in dirs:
            if not os.path.isdir(base):
                continue
            pieces = path.split("/") if path else []
            # From the process's own cgroup up to the root of the mount. In a
            # container the path is often one the mount does not show: skip it.
            for depth in range(len(pieces), -1, -1):
                d = os.path.join(base, *pieces[:depth])
                if controllers == "":
                    q = _quota_v2(_read(os.path.join(d, "cpu.max")))
                else:
                    q = _quota_v1(_read(os.path.join(d, "cpu.cfs_quota_us")),
                                  _read(os.path.join(d, "cpu.cfs_period_us")))
                if q is not None:
                    quotas.append(q)
            break
    return min(quotas) if quotas else None


def affinity_cpus():
    """CPUs this process may run on: its affinity mask where the OS has one; the source."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0))), "affinity mask"
    return max(1, os.cpu_count() or 1), "os.cpu_count()"


def usable_cpus():
    """The most threads a kernel runs, and why: ``(count, explanation)``.

    The affinity mask (or ``os.cpu_count()``), capped by the cgroup CPU quota
    rounded up; at least 1.

    Examples
    --------
    >>> from leakyrelu import _threads
    >>> _threads.usable_cpus()  # doctest: +SKIP
    (2, '2 CPUs in the affinity mask')
    """
    count, source = affinity_cpus()
    why = f"{count} CPUs in the {source}" if source == "affinity mask" else f"{source} = {count}"
    quota = cgroup_cpu_quota()
    if quota is not None and math.ceil(quota) < count:
        count = max(1, math.ceil(quota))
        why = f"cgroup CPU quota of {quota:g} CPUs, rounded up to {count}"
    return count, why


STATE = np.zeros(4, np.intc)
STATE[CAP] = usable_cpus()[0]   # at import; the kernels lower it if the mask narrows later


def thread_cap():
    """The most threads a kernel runs now, and why: ``(count, explanation)``.

    :func:`usable_cpus` as of import, or the affinity mask now where that
    has narrowed since (the kernels apply the same rule).
    """
    count, why = usable_cpus()
    at_import = int(STATE[CAP])
    if at_import < count:
        return at_import, f"{at_import} CPUs usable at import"
    return count, why


def effective_threads(kernels):
    """Threads a large call with ``num_threads=None`` runs now, and why: ``(count, explanation)``."""
    if not kernels.OPENMP:
        return 1, "built without OpenMP"
    if STATE[FORKED]:
        return 1, "a child forked after a parallel call: serial (the OpenMP team cannot be rebuilt)"
    cap, cap_why = thread_cap()
    wanted = kernels.openmp_max_threads()
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    from_env = env.isdigit() and int(env) == wanted
    if wanted > cap:
        asked = f"OMP_NUM_THREADS={env}" if from_env else f"OpenMP's default of {wanted}"
        return cap, f"{cap_why} (caps {asked})"
    if from_env:
        return wanted, f"OMP_NUM_THREADS={env}"
    if wanted < cap:
        return wanted, "omp_set_num_threads (threadpoolctl, for example)"
    return wanted, cap_why
