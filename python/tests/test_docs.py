"""Every estimator's docstring example runs and prints what it shows."""

import doctest

import mtlkit.linear_model


def test_docstring_examples():
    result = doctest.testmod(mtlkit.linear_model, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 20
    assert result.failed == 0
