"""The shared run loop (sltheory.experiment.engine): saves every job's rows, skips saved jobs on a
rerun, redoes them when asked, marks the folder as the latest run, and keeps other jobs' rows."""

from sltheory.experiment import engine
from sltheory.experiment.runs import RunFolder, latest

COLUMNS = {"n": int, "square": int}


def square(n):
    return [{"n": n, "square": n * n}]


def test_runs_saves_and_resumes(tmp_path, capsys):
    folder = RunFolder(tmp_path, {"what": "squares"}, COLUMNS, ("n",))
    calls = []

    def fn(n):
        calls.append(n)
        return square(n)

    first = engine.run(folder, [1, 2, 3], fn, job_key=lambda n: (n,), status=lambda n, rows: f"n={n}")
    assert first.ran == 3 and sorted(r["square"] for r in first.rows) == [1, 4, 9]
    assert "[3/3] n=3" in capsys.readouterr().out                # off a terminal: one line per job
    assert latest(tmp_path) == folder.path
    again = engine.run(folder, [2, 3, 4], fn, job_key=lambda n: (n,))
    assert again.ran == 1 and calls == [1, 2, 3, 4]                 # 2 and 3 were saved: only 4 runs
    assert sorted(r["n"] for r in again.rows) == [2, 3, 4]          # the rows of the jobs asked for
    assert sorted(r["n"] for r in folder.read()) == [1, 2, 3, 4]    # the folder keeps job 1's row
    assert "resuming: 2 of 3 jobs" in capsys.readouterr().out
    redo = engine.run(folder, [1], fn, job_key=lambda n: (n,), redo=True)
    assert redo.ran == 1 and calls[-1] == 1


def test_save_turns_results_into_rows(tmp_path):
    folder = RunFolder(tmp_path, {"what": "pairs"}, COLUMNS, ("n",))

    def save(n, result):
        (folder.path / f"{n}.txt").write_text(str(result))
        return [{"n": n, "square": result}]

    out = engine.run(folder, [5], lambda n: n * n, job_key=lambda n: (n,), save=save)
    assert out.rows == [{"n": 5, "square": 25}] and (folder.path / "5.txt").read_text() == "25"
