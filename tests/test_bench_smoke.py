"""Every benchmark in bench/ runs end to end on tiny input and prints its table; every bench and script answers
--help. Each runs as a person runs it (`python bench/x.py ...`, a subprocess started outside the repo) on a
fresh data dir with its own SQLite database (CROSSTALK_DATA_DIR), so nothing of the developer's data is read
or written. The real data in the shared data dir is the input; the numbers are not checked, the run is."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import config
from tests.conftest import REPO_ROOT

BENCH = REPO_ROOT / "bench"
SCRIPTS = REPO_ROOT / "scripts"
HELPERS = {"app_harness.py"}  # imported by the page benchmarks, not run on its own
SST_FILE = config.REPO_ROOT / "models" / "sst.pt"


@dataclass
class Case:
    script: str
    args: list[str]
    expect: list[str]  # lines (or parts of lines) of the table it prints
    marks: list = field(default_factory=list)

    def param(self):
        return pytest.param(self, id=self.script.removesuffix(".py"), marks=self.marks)


# {set}: a one-meeting simulated set; {tmp}: the test's temp dir; {postgres}: CROSSTALK_TEST_POSTGRES_URL.
CASES = [
    Case("saa_demo_wer.py", [], ["| group | speakers | words |", "| all speakers | 1166 |"]),
    Case(
        "fairness_scale.py",
        ["--sizes", "1000", "--kmeans-speakers", "1000"],
        ["| utterances | speakers | import |", "| 1,000 | 50 |", "automatic cohorts, 1,000 speakers"],
    ),
    Case(
        "cascade_ami.py",
        ["--files", "dev00", "--no-docs"],
        ["| file | audio s | wall s | RTF (wall) |", "| dev00 | 30.0 |", "| **total** |"],
    ),
    Case(
        "cascade_threshold_sweep.py",
        ["--files", "dev00", "--thresholds", "0.3"],
        ["| threshold | hyp speakers |", "| 0.3 |", "| oracle count | 2 |"],
    ),
    Case(
        "cascade_change_sweep.py",
        ["--set", "{set}", "--limit", "1", "--thresholds", "0.35"],
        ["| voice-change threshold | ORC-WER % |", "| 0.35 |"],
    ),
    Case(
        "cascade_speed.py",
        ["--recognisers", "whisper", "--minutes", "0.1"],
        ["| backend | minutes | turns |", "| cascade | 0 |"],
    ),
    Case("sst_speed.py", ["--minutes", "0.1", "--threads", "1"], ["| minutes | turns | RTF (wall) |", "| 0 |"]),
    Case(
        "sst_ablations.py",
        ["--model", str(SST_FILE), "--set", "{set}", "--limit", "1", "--variants", "shipped"],
        ["| file | variant |", "| sst.pt | shipped |"],
    ),
    Case("whisper_runtimes.py", ["--speakers", "1"], ["runtime", "CTranslate2 int8", "PyTorch float32"]),
    Case(
        "mitigation_adapt_cost.py",
        ["--updates", "1", "--batch", "1", "--speakers", "1"],
        ["| adaptation set | moving weights |", "| decoder | 8,284,416 |", "| encoder_top | 1,775,232 |"],
    ),
    Case("mitigation_page_speed.py", ["--runs", "1"], ["| experiments | first render s |"]),
    Case(
        "load.py",
        ["--uploads", "1", "--browsers", "1", "--visits", "1", "--clip-seconds", "6"],
        ["page          | visits |", "Mitigation    |      1 |", "rows: intact", "jobs: {'done': 1}"],
        # the real app (websocket sessions, no Chromium), 25-45 s; tests/test_load.py runs the same load through
        # bench/load.py's functions against the shared app in the default suite
        [pytest.mark.browser, pytest.mark.slow],
    ),
    Case(
        "page_load.py",
        ["--repeats", "1", "--long-rounds", "1", "--pages", "Transcribe", "Docs"],
        ["page          | first visit p50 / p95 s |", "Transcribe    |", "Docs          |", "long session: 1 rounds"],
        [pytest.mark.browser, pytest.mark.slow],  # 70-90 s: a fresh server's first visit seeds the demo data
    ),
    Case(
        "map_cost.py",
        ["--repeats", "1"],
        ["variant                   | first visit p50 s |", "basemap image + points", "vector land and borders"],
        [pytest.mark.browser, pytest.mark.slow],  # ~40 s: ten fresh browsers
    ),
    Case(
        "fairness_screens.py",
        ["--widths", "1280", "--out", "{tmp}/screens"],
        ["| page | width px | first visit s |", "| Regional WER | 1280 |", "| Cohorts | 1280 |"],
        [pytest.mark.browser, pytest.mark.slow],  # ~100 s: seeding, the demo analyses, three browsers
    ),
    Case(
        "ray_scaling.py",
        ["--database", "{postgres}", "--recordings", "1", "--workers", "1", "--write-shards", "2", "--write-rows", "1"],
        ["| workers | start-up s | wall s |", "| writers | rows/s |", "each worker writes"],
        [pytest.mark.postgres, pytest.mark.slow],  # a private Ray cluster starting takes most of a minute
    ),
]


def test_every_bench_has_a_smoke_test():
    benches = {p.name for p in BENCH.glob("*.py")} - HELPERS
    assert benches == {c.script for c in CASES}


def run(path: Path, args: list[str], tmp: Path) -> subprocess.CompletedProcess:
    """`python path args` started in `tmp`, on the data dir tmp/data (a fresh SQLite database)."""
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    env = {**os.environ, "CROSSTALK_DATA_DIR": str(data)}
    env.pop("CROSSTALK_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, str(path), *args], cwd=tmp, env=env, capture_output=True, text=True, timeout=540
    )


def test_every_bench_and_script_answers_help(tmp_path):
    paths = sorted(p for p in [*BENCH.glob("*.py"), *SCRIPTS.glob("*.py")] if p.name not in HELPERS)
    with ThreadPoolExecutor(3) as pool:  # each imports torch or streamlit; a few at a time on 2 cores
        results = list(pool.map(lambda p: run(p, ["--help"], tmp_path), paths))
    failed = {
        str(p.relative_to(REPO_ROOT)): (r.stdout + r.stderr)[-600:]
        for p, r in zip(paths, results)
        if r.returncode != 0 or "usage" not in r.stdout.lower()
    }
    assert not failed


@pytest.fixture(scope="module")
def one_meeting(tmp_path_factory) -> Path:
    """A simulated set of one 6-7 s meeting of two talkers (espeak-ng voices over the shared sentences)."""
    from engine.simulate.sets import SetRecipe, write_set

    root = tmp_path_factory.mktemp("set")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CROSSTALK_DATA_DIR", str(root))  # the speech synthesis cache
        write_set(root / "one", SetRecipe(1, "balanced", 11, (2, 2), "dev", duration_s=(6.0, 7.0)), workers=1)
    return root / "one"


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_bench_runs_tiny_and_prints_its_table(case, request, tmp_path):
    values = {"tmp": str(tmp_path)}
    if any("{set}" in a for a in case.args):
        values["set"] = str(request.getfixturevalue("one_meeting"))
    if any("{postgres}" in a for a in case.args):
        values["postgres"] = request.getfixturevalue("postgres_url")
    done = run(BENCH / case.script, [a.format(**values) for a in case.args], tmp_path)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    missing = [line for line in case.expect if line not in done.stdout]
    assert not missing, done.stdout[-3000:]


def test_simulated_sets_describes_the_set(one_meeting, tmp_path):
    done = run(SCRIPTS / "simulated_sets.py", [str(one_meeting)], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| condition | meetings | minutes |" in done.stdout
    assert "1 meetings" in done.stdout
