"""The run's clock leaves out the time the process was stopped."""

from __future__ import annotations

import signal

from train.clock import RunClock


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_the_time_from_the_last_mark_to_a_continue_is_left_out():
    now = FakeTime()
    clock = RunClock(now)
    now.t += 5
    clock.mark()
    assert clock.elapsed() == 5
    now.t += 100  # stopped part-way through the next minibatch, then continued
    clock.continued()
    assert clock.elapsed() == 5 and clock.stopped == 100
    now.t += 7
    clock.mark()
    assert clock.elapsed() == 12


def test_without_a_continue_it_is_the_wall_clock():
    now = FakeTime()
    clock = RunClock(now)
    for _ in range(3):
        now.t += 2.5
        clock.mark()
    assert clock.elapsed() == 7.5 and clock.stopped == 0


def test_it_hears_sigcont_while_entered_and_restores_the_old_handler():
    before = signal.getsignal(signal.SIGCONT)
    now = FakeTime()
    with RunClock(now) as clock:
        now.t += 30
        signal.raise_signal(signal.SIGCONT)  # runs the handler before returning
        assert clock.stopped == 30
    assert signal.getsignal(signal.SIGCONT) == before
