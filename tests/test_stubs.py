"""The type stubs, checked by mypy against calls as users write them.

Skipped where mypy is not installed (``pip install .[test]`` installs it).
"""
import shutil
import textwrap
from pathlib import Path

import pytest

import leakyrelu

mypy_api = pytest.importorskip("mypy.api")

USES = '''
import numpy as np
import numpy.typing as npt
import leakyrelu as lr

x = np.zeros(3, np.float32)
reveal_type(lr.relu(x))
reveal_type(lr.prelu_grad(x, x, np.ones(1, np.float32))[1])
reveal_type(lr.leaky_relu([1.0, -2.0], 0.1))
reveal_type(lr.elu_grad(np.ones(3, np.int64), 3, out=np.empty(3)))
lr.rrelu((1.0, 2.0), training=True, seed=1, num_threads=2)
lr.relu(x, num_threads="2")
lr.celu(x, alpha="1")
'''


def test_stubs_type_float_arrays_precisely_and_take_array_likes(tmp_path):
    # The package's own stubs, whichever copy of it is under test.
    package = Path(leakyrelu.__file__).parent
    (tmp_path / "leakyrelu").mkdir()
    for name in ("__init__.pyi", "nn.pyi", "py.typed"):
        shutil.copy(package / name, tmp_path / "leakyrelu" / name)
    (tmp_path / "uses.py").write_text(textwrap.dedent(USES))
    out, err, status = mypy_api.run([str(tmp_path / "uses.py"), "--no-incremental",
                                     "--cache-dir", str(tmp_path / "cache"),
                                     "--config-file", "", "--python-version", "3.10"])
    lines = out.splitlines()
    reveals = [line.split("Revealed type is ")[1] for line in lines if "Revealed type" in line]
    errors = [line for line in lines if ": error:" in line]
    assert "float" in reveals[0] and "32Bit" in reveals[0], out   # a float32 array
    assert "32Bit" in reveals[1], out                              # its weight gradient
    assert reveals[2:] == ['"Any"', '"Any"'], out                  # array-likes: any result
    # Exactly the two wrong calls are errors: a str thread count and a str alpha.
    assert [e.split(":")[1] for e in errors] == ["12", "13"], out
    assert status == 1, (out, err)
