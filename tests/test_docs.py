"""The examples in every public docstring run and print what they say."""
import doctest

import numpy as np
import pytest

import leakyrelu

PUBLIC = [getattr(leakyrelu, name) for name in leakyrelu.__all__ if callable(getattr(leakyrelu, name))]


@pytest.mark.parametrize("function", PUBLIC, ids=lambda f: f.__name__)
def test_docstring_example(function):
    assert "Examples" in function.__doc__, f"{function.__name__} has no example"
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(function, globs={"np": np, "leakyrelu": leakyrelu}):
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
