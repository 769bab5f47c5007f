"""SIGTERM and SIGINT as requests to stop a worker: at once while it starts, at a safe point
while it serves, at once again if asked twice. Real signals, sent to this process."""

from __future__ import annotations

import signal

import pytest

from maestro_pipeline.optimization.stopping import StopSignals, WorkerStopped, pause


def _send(signum: int) -> None:
    # Only ever with StopSignals' handler installed: the default action would end the tests.
    assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.default_int_handler)
    signal.raise_signal(signum)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_starting_stops_at_once(signum):
    before = signal.getsignal(signum)
    with pytest.raises(WorkerStopped), StopSignals() as stop:
        _send(signum)
        pytest.fail("the signal did not stop the worker where it was")
    assert stop.reason == signal.Signals(signum).name
    assert signal.getsignal(signum) is before


def test_a_signal_while_serving_waits_for_the_next_safe_point():
    with StopSignals() as stop, stop.serving():
        _send(signal.SIGTERM)
        # Nothing raised where the signal arrived (a batch in flight goes on) ...
        assert stop.requested() and stop.reason == "SIGTERM"
        # ... the next safe point raises (a pause ends without being waited out).
        with pytest.raises(WorkerStopped):
            pause(3600.0, stop.requested)


def test_a_second_signal_while_serving_stops_at_once():
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals() as stop, stop.serving():
        _send(signal.SIGTERM)
        with pytest.raises(WorkerStopped):
            _send(signal.SIGINT)
            pytest.fail("the second signal did not stop the worker at once")
        # Handlers are given back once the worker stops: a third signal acts as usual.
        assert signal.getsignal(signal.SIGTERM) is before


def test_serving_after_a_request_to_stop_does_not_start():
    with StopSignals() as stop:
        with pytest.raises(WorkerStopped):
            _send(signal.SIGTERM)
        with pytest.raises(WorkerStopped), stop.serving():
            pytest.fail("served although asked to stop")
