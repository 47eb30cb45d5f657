"""Progbar: Keras's look, TTY vs non-TTY output, rate limiting by write counts."""
import io
import re
import sys

import pytest

from trine.training import progbar as progbar_mod
from trine.training.progbar import Progbar

BAR = "\u2501"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeStream(io.StringIO):
    """A stdout stand-in that counts writes and can pretend to be a terminal."""

    def __init__(self, tty):
        super().__init__()
        self.tty = tty
        self.writes = 0

    def isatty(self):
        return self.tty

    def write(self, s):
        self.writes += 1
        return super().write(s)


class FakeClock:
    def __init__(self, step=0.0):
        self.t = 1000.0
        self.step = step

    def __call__(self):
        self.t += self.step
        return self.t


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(progbar_mod, "_clock", c)
    return c


def test_final_line_format_non_tty(capsys, clock):
    bar = Progbar(1688, stateful_metrics=["accuracy", "loss"])
    for i in range(1688):
        clock.t += 0.002
        bar.update(i + 1, [("accuracy", 0.759), ("loss", 0.752)])
    out = capsys.readouterr().out
    assert out == f"1688/1688 {BAR * 20} 3s 2ms/step - accuracy: 0.7590 - loss: 0.7520\n"


def test_non_tty_prints_only_the_final_line(monkeypatch, clock):
    stream = FakeStream(tty=False)
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(10_000)
    for i in range(10_000):
        clock.t += 1.0  # even with lots of time passing, nothing until the end
        bar.update(i + 1, [("loss", 1.0)])
    assert stream.getvalue().count("\n") == 1
    assert stream.writes == 1


def test_tty_rate_limited_write_count(monkeypatch):
    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stdout", stream)
    clock = FakeClock(step=1e-5)  # 10,000 updates = 0.1 s of fake time
    monkeypatch.setattr(progbar_mod, "_clock", clock)
    bar = Progbar(10_000, interval=0.05)
    for i in range(10_000):
        bar.update(i + 1, [("loss", 0.5)])
    # first draw, at most two redraws (0.1 s / 0.05 s), and the final line
    assert 2 <= stream.writes <= 4
    out = stream.getvalue()
    assert out.startswith("\r") and out.endswith("\n")
    assert out.count("\n") == 1


def test_tty_rate_limit_with_real_clock(monkeypatch):
    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(10_000, interval=0.05)
    start = progbar_mod._clock()
    for i in range(10_000):
        bar.update(i + 1, [("loss", 0.5)])
    elapsed = progbar_mod._clock() - start
    assert stream.writes <= 2 + elapsed / 0.05 + 1


def test_tty_shows_eta_while_running_and_colours(monkeypatch, clock):
    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(100)
    bar.update(1)
    clock.t += 2.0
    bar.update(2, [("loss", 0.25)])  # 2 s per step after the first: 98 steps -> 3:16
    text = ANSI.sub("", stream.getvalue().split("\r")[-1])
    assert text.startswith("  2/100 ")
    assert " 3:16 2s/step - loss: 0.2500" in text
    assert "\x1b[32m" not in stream.getvalue()  # nothing done yet at 2/100
    clock.t += 2.0
    bar.update(100, [("loss", 0.125)])
    final = ANSI.sub("", stream.getvalue().split("\r")[-1])
    assert final.startswith(f"100/100 {BAR * 20} 4s ")
    assert final.endswith("- loss: 0.1250\n")
    assert "\x1b[32m" in stream.getvalue()  # the done part of the bar is green on a terminal


def test_redraw_pads_shorter_lines(monkeypatch, clock):
    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(10, stateful_metrics=["loss", "extra"])
    bar.update(1, [("loss", 0.5), ("extra", "a long string value")])
    first = len(ANSI.sub("", stream.getvalue()))
    clock.t += 1.0
    bar.update(2, [("extra", "x")])
    second = ANSI.sub("", stream.getvalue())[first:]
    assert len(second.rstrip(" ")) < len(second)  # trailing spaces erase the old text


def test_verbose_2_one_summary_line(capsys, clock):
    bar = Progbar(5, verbose=2, stateful_metrics=["loss"])
    for i in range(5):
        clock.t += 0.6
        bar.update(i + 1, [("loss", 0.4)])
    out = capsys.readouterr().out
    assert out == "5/5 - 3s - 600ms/step - loss: 0.4000\n"


def test_verbose_0_is_silent(capsys):
    bar = Progbar(3, verbose=0)
    for i in range(3):
        bar.update(i + 1, [("loss", 1.0)])
    assert capsys.readouterr().out == ""


def test_value_formatting(capsys, clock):
    bar = Progbar(1, stateful_metrics=["tiny", "neg", "big", "name"])
    bar.update(1, [("tiny", 1.5e-5), ("neg", -0.25), ("big", 1234.5), ("name", "adam")])
    out = capsys.readouterr().out
    assert "- tiny: 1.5000e-05 - neg: -0.2500 - big: 1234.5000 - name: adam" in out


def test_averaging_and_stateful(monkeypatch, clock):
    stream = FakeStream(tty=True)
    monkeypatch.setattr(sys, "stdout", stream)
    bar = Progbar(10, stateful_metrics=["acc"], interval=0.0)
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(3, [("loss", 4.0), ("acc", 0.3)])  # loss weighted by 2 steps: (1 + 8) / 3
    last = ANSI.sub("", stream.getvalue().split("\r")[-1])
    assert "- loss: 3.0000 - acc: 0.3000" in last


def test_unknown_target_and_add(capsys, clock):
    bar = Progbar(None, stateful_metrics=["loss"])
    bar.add(3, [("loss", 0.5)])
    bar.add(2, [("loss", 0.25)])
    assert capsys.readouterr().out == ""  # non-TTY: nothing until finalized
    bar.update(5, finalize=True)
    out = capsys.readouterr().out
    assert out.startswith("      5/Unknown ")
    assert out.endswith("- loss: 0.2500\n")


def test_finalize_before_target_shows_partial_bar(capsys, clock):
    bar = Progbar(4, stateful_metrics=["loss"])
    bar.update(2, [("loss", 1.0)], finalize=True)
    out = capsys.readouterr().out
    assert out.startswith(f"2/4 {BAR * 10}{chr(0x2500) * 10} ")


def test_metric_lists_are_exclusive():
    with pytest.raises(ValueError, match="only one of stateful_metrics"):
        Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])


def test_unencodable_stream_falls_back_to_ascii(monkeypatch, clock):
    class AsciiStream(FakeStream):
        def write(self, s):
            s.encode("ascii")  # raises UnicodeEncodeError for the bar glyphs
            return super().write(s)

    stream = AsciiStream(tty=False)
    monkeypatch.setattr(sys, "stdout", stream)
    Progbar(2).update(2)
    assert stream.getvalue().startswith("2/2 " + "=" * 20)
