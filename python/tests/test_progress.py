"""progress= arguments: True draws a bar on a TTY only; a callable is used as is."""

import io

import pytest

from vecperf import _progress


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_true_draws_a_plain_bar_on_a_tty(monkeypatch):
    tty = FakeTty()
    monkeypatch.setattr("sys.stderr", tty)
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # force the plain fallback
    report = _progress.resolve(True, "migrating")
    report(5, 10)
    report(10, 10)
    assert "migrating: 5/10 (50%)" in tty.getvalue() and tty.getvalue().endswith("10/10 (100%)\n")


def test_true_is_silent_without_a_tty(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert _progress.resolve(True, "x") is None


def test_callables_and_off_values():
    def fn(done, total):
        return None

    assert _progress.resolve(fn, "x") is fn
    assert _progress.resolve(None, "x") is None and _progress.resolve(False, "x") is None
    with pytest.raises(TypeError):
        _progress.resolve("yes", "x")
