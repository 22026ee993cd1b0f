"""Runs that cannot lose rows (issue 11, point 7).

* Several processes filling one run folder at once keep every row: :meth:`RunFolder.add` merges
  under the folder's lock (the old ``write`` replaced the file, so the last of two sweeps that had
  each read the folder once erased the other's rows).
* A pooled sweep that is killed (SIGTERM, Ctrl-C, SIGKILL) leaves no worker running.

The multi-process tests start real Python processes (each imports sltheory: seconds apiece).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from sltheory.errors import InvalidArgumentError
from sltheory.experiment.runs import RunFolder, folder_lock, read_rows

REPO = Path(__file__).resolve().parents[1]
COLUMNS = {"who": int, "i": int, "value": float, "note": str}
KEY = ("who", "i")
CONFIG = {"experiment": "concurrency"}


def _env(*paths) -> dict:
    return dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), *map(str, paths)]))


def _folder(root) -> RunFolder:
    return RunFolder(root, CONFIG, COLUMNS, KEY)


# ----------------------------------------------------------------------------- merge semantics
def test_add_merges_with_the_saved_rows(tmp_path):
    f = _folder(tmp_path).prepare()
    f.add([{"who": 0, "i": 0, "value": 1.0}, {"who": 0, "i": 1, "value": 2.0}])
    saved = f.add([{"who": 1, "i": 0, "value": 3.0, "note": "other"}])         # keeps the two saved rows
    assert saved == f.read() and len(saved) == 3
    saved = f.add([{"who": 0, "i": 1, "value": np.float64(5.5)}])             # same key: replaced
    assert {(r["who"], r["i"]): r["value"] for r in saved} == {(0, 0): 1.0, (0, 1): 5.5, (1, 0): 3.0}
    assert f.write([{"who": 2, "i": 0}]) == f.read() and len(f.read()) == 4    # write merges as well


def test_add_matches_keys_by_their_saved_form(tmp_path):
    f = RunFolder(tmp_path, CONFIG, {"rho": float, "seed": int, "v": float}, ("rho", "seed")).prepare()
    f.add([{"rho": 2.0, "seed": 0, "v": 1.0}])
    saved = f.add([{"rho": 2, "seed": np.int64(0), "v": 7.0}])    # int 2 in a float column is 2.0
    assert saved == [{"rho": 2.0, "seed": 0, "v": 7.0}]


@pytest.mark.parametrize("bad, message", [
    ([{"who": 0, "i": 0, "extra": 1}], "not in the schema"),
    ([{"who": 0, "value": 1.0}], "key column"),
    ([{"who": 0, "i": 1.5}], "column i holds '1.5', not an int"),
    ([{"who": 0, "i": 0, "value": "abc"}], "column value holds 'abc', not a float"),
    (["not a row"], "must be a dict"),
])
def test_bad_rows_are_refused_before_anything_is_written(tmp_path, bad, message):
    f = _folder(tmp_path).prepare()
    f.add([{"who": 9, "i": 9, "value": 0.5}])
    before = f.results_path.read_bytes()
    with pytest.raises(InvalidArgumentError, match=message):
        f.add([{"who": 9, "i": 10}] + bad)        # a good row first: nothing of the call is saved
    assert f.results_path.read_bytes() == before


def test_prepare_refuses_a_corrupt_or_different_config(tmp_path):
    f = _folder(tmp_path).prepare()
    cfg = f.path / RunFolder.CONFIG
    assert json.loads(cfg.read_text()) == CONFIG
    cfg.write_text('{"experiment": "other"}')
    with pytest.raises(InvalidArgumentError, match="different config"):
        f.prepare()
    cfg.write_text('{"experiment": ')
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        f.prepare()


# ----------------------------------------------------------------------------- concurrent writers
WRITER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    from sltheory.experiment.runs import RunFolder
    root, who, n, pattern, ready, writers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], \\
        Path(sys.argv[5]), int(sys.argv[6])
    f = RunFolder(root, {"experiment": "concurrency"}, {"who": int, "i": int, "value": float, "note": str},
                  ("who", "i")).prepare()
    rows = f.read()                     # a sweep reads the folder once, when it starts ...
    (ready / str(who)).touch()
    deadline = time.time() + 120
    while len(list(ready.iterdir())) < writers:     # ... and every writer has read before any writes
        if time.time() > deadline:
            sys.exit("the other writers never started")
        time.sleep(0.01)
    for i in range(n):
        row = {"who": who, "i": i, "value": i / 7, "note": "x" * (i % 5)}
        if pattern == "whole-list":     # what the experiment scripts did: write the whole list held
            rows.append(row)
            f.write(rows)
            time.sleep(0.02)            # a job takes a while
        else:                           # many small merges, as fast as they come
            f.add([row])
''')


@pytest.mark.parametrize("pattern, writers, rows_each", [("whole-list", 2, 11), ("add", 3, 40)])
def test_concurrent_writers_lose_no_row(tmp_path, pattern, writers, rows_each):
    """Writers that all read the folder before any of them writes: with the old replace-on-write,
    the last writer's file held only its own rows (2 sweeps × 11 rows → 11 kept, 11 lost); merging
    under the lock keeps them all."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    ready = tmp_path / "ready"
    ready.mkdir()
    root = tmp_path / "runs"
    procs = [subprocess.Popen([sys.executable, str(script), str(root), str(w), str(rows_each), pattern, str(ready),
                               str(writers)], env=_env(), stderr=subprocess.PIPE, text=True)
             for w in range(writers)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    saved = _folder(root).read()
    keys = [(r["who"], r["i"]) for r in saved]
    assert len(keys) == len(set(keys))
    expected = {(w, i) for w in range(writers) for i in range(rows_each)}
    assert set(keys) <= expected
    assert set(keys) == expected, f"{len(expected - set(keys))} of {len(expected)} rows lost"
    assert all(r["value"] == r["i"] / 7 and (r["note"] or "") == "x" * (r["i"] % 5) for r in saved)


def test_the_folder_lock_makes_a_writer_wait(tmp_path):
    """While this process holds the folder's lock, another process's add() writes nothing; it
    writes as soon as the lock is released."""
    f = _folder(tmp_path / "runs").prepare()
    code = ("import sys; from sltheory.experiment.runs import RunFolder; "
            "f = RunFolder(sys.argv[1], {'experiment': 'concurrency'}, {'who': int, 'i': int, 'value': float, "
            "'note': str}, ('who', 'i')); print('ready', flush=True); f.add([{'who': 1, 'i': 0}]); "
            "print('added', flush=True)")
    with folder_lock(f.path):
        p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "runs")], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "ready\n", p.communicate()       # sltheory imported, add() next
        time.sleep(1.0)
        assert p.poll() is None and not f.results_path.exists()       # waiting for the lock
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and out == "added\n", err
    assert f.read() == [{"who": 1, "i": 0, "value": None, "note": None}]


# ----------------------------------------------------------------------------- orphan workers
JOB = textwrap.dedent('''
    import os, time
    from pathlib import Path

    def job(path):
        Path(path).write_text(str(os.getpid()))     # the worker running this job
        time.sleep(120)
''')
SWEEP = textwrap.dedent('''
    import sys
    from sleepy_job import job
    from sltheory.experiment.executors import run_jobs

    if __name__ == "__main__":
        for _ in run_jobs(job, [f"{sys.argv[1]}/started-{i}" for i in range(4)], workers=2):
            pass
''')


def _default_sigint():
    """preexec_fn of the sweep: Ctrl-C as a terminal delivers it. A test run started in the
    background by a non-interactive shell (``cmd &``) inherits SIGINT ignored, and a Python started
    with SIGINT ignored keeps ignoring it: the sweep would never see the signal this test sends."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's new parent may be slow to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_killing_a_pooled_sweep_leaves_no_worker(tmp_path, sig):
    (tmp_path / "sleepy_job.py").write_text(JOB)
    (tmp_path / "sweep.py").write_text(SWEEP)
    started = tmp_path / "started"
    started.mkdir()
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        sweep = subprocess.Popen([sys.executable, str(tmp_path / "sweep.py"), str(started)], env=_env(tmp_path),
                                 stderr=err, preexec_fn=_default_sigint)
    workers = []
    try:
        deadline = time.time() + 180
        while len(workers) < 2:
            assert sweep.poll() is None, log.read_text()
            assert time.time() < deadline, "the workers never started their jobs"
            time.sleep(0.05)
            workers = [int(p.read_text()) for p in started.iterdir() if p.read_text()]
        assert len(workers) == 2 and all(map(_running, workers))
        sweep.send_signal(sig)
        sweep.wait(timeout=15)       # Ctrl-C too: the sweep does not wait for its running jobs
        deadline = time.time() + 5
        while any(map(_running, workers)) and time.time() < deadline:
            time.sleep(0.05)
        assert not [w for w in workers if _running(w)], f"workers left running after {sig.name}"
        assert len(list(started.iterdir())) == 2     # the queued jobs never started
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait()
        for w in workers:
            if _running(w):
                os.kill(w, signal.SIGKILL)


def test_a_failing_job_stops_the_pool_at_once(tmp_path):
    """An error in one job ends run_jobs without waiting for the other running jobs."""
    (tmp_path / "sleepy_job.py").write_text(JOB + textwrap.dedent('''
        def fail_or_sleep(path):
            if path.endswith("-0"):
                time.sleep(1)
                raise ValueError("job 0 failed")
            job(path)
    '''))
    code = textwrap.dedent('''
        import sys, time
        from sleepy_job import fail_or_sleep
        from sltheory.experiment.executors import run_jobs
        if __name__ == "__main__":
            t = time.time()
            try:
                list(run_jobs(fail_or_sleep, [f"{sys.argv[1]}/started-{i}" for i in range(3)], workers=2))
            except ValueError as exc:
                print(exc, round(time.time() - t))
    ''')
    (tmp_path / "sweep.py").write_text(code)
    started = tmp_path / "started"
    started.mkdir()
    try:
        out = subprocess.run([sys.executable, str(tmp_path / "sweep.py"), str(started)], env=_env(tmp_path),
                             capture_output=True, text=True, timeout=110)
        assert out.returncode == 0, out.stderr
        message, seconds = out.stdout.rsplit(" ", 1)
        assert message == "job 0 failed" and int(seconds) < 60     # the other job sleeps 120 s
        pids = [int(p.read_text()) for p in started.iterdir() if p.read_text()]    # job 1 (and job 2, if the
        assert pids and not [pid for pid in pids if _running(pid)]                  # freed worker took it first)
    finally:    # a failed run must not leave sleeping workers behind
        for p in started.iterdir():
            if p.read_text() and _running(int(p.read_text())):
                os.kill(int(p.read_text()), signal.SIGKILL)


@pytest.mark.parametrize("line", ["2,2,9", "3"])
def test_a_damaged_results_row_is_a_typed_error(tmp_path, line):
    path = tmp_path / "results.csv"
    path.write_text("a,b\n1,2\n" + line + "\n")
    with pytest.raises(InvalidArgumentError, match="exactly 2 fields"):
        read_rows(path, {"a": int, "b": int})
