"""nice -n 10 .venv/bin/python bench/load.py [--uploads 10] [--browsers 20] [--visits 5] [--timeout 1800]
    [--clip-seconds S]

The real dashboard under load, on localhost only: `streamlit run app.py` on a free port with a temp data
dir (bench/app_harness.py). At the same moment
- --uploads sessions each upload a different AMI excerpt (30 s of a real meeting, at least 10 s of it speech)
  and start its transcription through the code the Transcribe page calls (persistence.add_uploaded_recording,
  transcription_for, the app's job runner and its one worker), then poll the job as the page does until it ends
  (--clip-seconds: only the excerpt's first S seconds, for a quick run);
- --browsers sessions each open the fairness pages (Regional WER, Cohorts, Mitigation) --visits times in turn
  as websocket clients of the server (the protocol the browser speaks: a new session per visit, asking for
  the page, until the server says the script run finished), timing each visit.

Then the database is checked: one recording, one run and one job per upload, every job ended (done),
turns saved equal the count the job reported, no exception in any page. Prints page times p50/p95 per page
and the jobs' wall times; exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app_harness import PAGE_PATHS, percentile, running_app

FAIRNESS_PAGES = ("Regional WER", "Cohorts", "Mitigation")
# Uploads are excerpts a transcription can be checked on: a few excerpts hold only a second or two of faint
# speech, which the cascade refuses as "no speech" (by design, tested in tests/test_transcribe.py) and deletes.
MIN_SPEECH_S = 10.0


def visit(url: str, page: str, timeout_s: float) -> tuple[float, list[str]]:
    """(seconds until the page's script run finished, exception messages) as a new websocket session."""
    import websocket
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    started = time.perf_counter()
    ws = websocket.create_connection(
        url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"], timeout=timeout_s
    )
    try:
        request = BackMsg()
        request.rerun_script.query_string = ""
        request.rerun_script.page_name = PAGE_PATHS[page]
        ws.send_binary(request.SerializeToString())
        errors = []
        while time.perf_counter() - started < timeout_s:
            message = ForwardMsg()
            message.ParseFromString(ws.recv())
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.new_element.WhichOneof("type") == "exception":
                errors.append(message.delta.new_element.exception.message)
            elif kind == "page_not_found":
                errors.append(f"page not found: {page}")
            elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return time.perf_counter() - started, errors
        raise TimeoutError(f"{page} did not finish within {timeout_s:.0f} s")
    finally:
        ws.close()


def browse(url: str, visits: int, offset: int, timeout_s: float) -> list[tuple[str, float, list[str]]]:
    pages = FAIRNESS_PAGES[offset % len(FAIRNESS_PAGES) :] + FAIRNESS_PAGES[: offset % len(FAIRNESS_PAGES)]
    return [(page, *visit(url, page, timeout_s)) for _ in range(visits) for page in pages]


def upload_and_transcribe(path: Path, timeout_s: float) -> dict:
    """What the Transcribe page does for one upload, then its poll loop until the job ends."""
    from engine import persistence
    from engine.backends import BACKENDS
    from engine.jobs import get_runner
    from engine.transcribe_job import transcription_for

    runner = get_runner()
    started = time.perf_counter()
    rec = persistence.add_uploaded_recording(io.BytesIO(path.read_bytes()), path.name)
    run = transcription_for(rec.id, BACKENDS[0], None, runner)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = runner.status(run.job_id)
        if not job.active:
            return {
                "file": path.name,
                "recording_id": rec.id,
                "run_id": run.id,
                "job_id": job.id,
                "status": job.status,
                "error": job.error,
                "result": job.result,
                "seconds": time.perf_counter() - started,
            }
        time.sleep(1.0)  # the page's fragment polls every second
    return {
        "file": path.name,
        "recording_id": rec.id,
        "run_id": run.id,
        "job_id": run.job_id,
        "status": "timed out",
        "error": None,
        "result": None,
        "seconds": time.perf_counter() - started,
    }


def speech_excerpts(folder: Path, min_speech_s: float = MIN_SPEECH_S) -> list[Path]:
    """The AMI excerpts with at least `min_speech_s` of reference speech (the manifest's speech_s), by name."""
    with open(folder / "manifest.csv", newline="") as f:
        return sorted(folder / row["file"] for row in csv.DictReader(f) if float(row["speech_s"]) >= min_speech_s)


def clip(path: Path, seconds: float, folder: Path) -> Path:
    """The first `seconds` of a recording as a WAV file in `folder`."""
    import soundfile as sf

    samples, rate = sf.read(path, dtype="float32", frames=int(seconds * sf.info(path).samplerate))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{path.stem}_first{seconds:g}s.wav"
    sf.write(out, samples, rate)
    return out


def check_rows(uploads: list[dict]) -> list[str]:
    """Problems found in the database after the load: lost or duplicated rows, jobs that did not end well."""
    from engine import persistence

    problems = []
    recordings = [r for r in persistence.list_recordings() if not r.is_demo]
    by_name = Counter(r.filename for r in recordings)
    problems += [f"{name}: {n} recordings" for name, n in by_name.items() if n != 1]
    problems += [f"{u['file']}: no recording" for u in uploads if u["file"] not in by_name]
    for upload in uploads:
        runs = persistence.list_runs(upload["recording_id"])
        if len(runs) != 1:
            problems.append(f"{upload['file']}: {len(runs)} runs")
        if upload["status"] != "done":
            problems.append(f"{upload['file']}: job {upload['status']} ({upload['error']})")
            continue
        saved = len(persistence.get_turns(upload["run_id"]))
        if saved != upload["result"]["turns"] or saved == 0:
            problems.append(f"{upload['file']}: {saved} turns saved, the job reported {upload['result']['turns']}")
    job_ids = [u["job_id"] for u in uploads]
    if len(set(job_ids)) != len(job_ids):
        problems.append("two uploads share a job")
    return problems


def run_load(
    url: str, files: list[Path], browsers: int, visits: int, timeout_s: float
) -> tuple[list[dict], list[tuple[str, float, list[str]]], float]:
    """All uploads and browsing sessions at once (a barrier starts them together): (uploads, visits, wall s).
    This process must point at the app's database (CROSSTALK_DATA_DIR / CROSSTALK_DATABASE_URL)."""
    go = threading.Barrier(len(files) + browsers)

    def after_barrier(work, *work_args):
        go.wait()
        return work(*work_args)

    started = time.perf_counter()
    with ThreadPoolExecutor(len(files) + browsers) as pool:
        upload_futures = [pool.submit(after_barrier, upload_and_transcribe, path, timeout_s) for path in files]
        browse_futures = [pool.submit(after_barrier, browse, url, visits, i, timeout_s) for i in range(browsers)]
        uploads = [f.result() for f in upload_futures]
        pages = [v for f in browse_futures for v in f.result()]
    return uploads, pages, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--browsers", type=int, default=20)
    parser.add_argument("--visits", type=int, default=5, help="rounds of the fairness pages per browsing session")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds any one job or page may take")
    parser.add_argument("--clip-seconds", type=float, help="upload only the first S seconds of each excerpt")
    args = parser.parse_args()
    from engine.config import shared_data_dir

    files = speech_excerpts(shared_data_dir() / "ami_excerpts")
    if not 1 <= args.uploads <= len(files) or args.browsers < 0 or args.visits < 1:
        parser.error(
            f"--uploads takes 1 to {len(files)} (one AMI excerpt with speech each); --browsers ≥ 0, --visits ≥ 1."
        )
    if args.clip_seconds is not None and args.clip_seconds <= 0:
        parser.error("--clip-seconds must be positive.")
    files = files[: args.uploads]

    print(
        f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs", flush=True
    )
    with running_app(worker_idle_s=600) as app:
        os.environ["CROSSTALK_DATA_DIR"] = str(app.data_dir)  # this process submits to the app's database
        os.environ.pop("CROSSTALK_DATABASE_URL", None)
        if args.clip_seconds:
            files = [clip(path, args.clip_seconds, app.data_dir / "clips") for path in files]
        for page in ("Transcribe",) + FAIRNESS_PAGES:  # first visits (imports, caches) are not measured
            visit(app.url, page, args.timeout)
        uploads, visits, wall = run_load(app.url, files, args.browsers, args.visits, args.timeout)
        problems = check_rows(uploads)
        server_alive = Path(f"/proc/{app.pid}").exists()
        server_log = app.log.read_text(errors="replace")

    problems += [f"{page}: {message}" for page, _, errors in visits for message in errors]
    if not server_alive:
        problems.append("the server crashed")
    if "Traceback" in server_log:
        last = server_log[server_log.rindex("Traceback") :].splitlines()[:30]
        problems.append("the server log holds a traceback; the last one:\n    " + "\n    ".join(last))
    print(
        f"\n{args.uploads} uploads + {args.browsers} browsing sessions × {args.visits} rounds of "
        f"{len(FAIRNESS_PAGES)} pages, all at once: {wall:.0f} s wall"
    )
    header = f"{'page':<13} | {'visits':>6} | {'p50 s':>6} | {'p95 s':>6} | {'max s':>6}"
    print(header)
    print("-" * len(header))
    for page in FAIRNESS_PAGES:
        times = [t for p, t, _ in visits if p == page]
        if times:
            print(
                f"{page:<13} | {len(times):>6} | {percentile(times, 50):>6.2f} | {percentile(times, 95):>6.2f} | "
                f"{max(times):>6.2f}"
            )
    job_times = [u["seconds"] for u in uploads]
    print(
        f"\njobs: {dict(Counter(u['status'] for u in uploads))}; upload → transcript p50 "
        f"{percentile(job_times, 50):.0f} s, max {max(job_times):.0f} s (one worker runs them in turn)"
    )
    print(
        "rows: "
        + (
            "intact (one recording, run and job per upload; turns as reported)"
            if not problems
            else "PROBLEMS:\n  " + "\n  ".join(problems)
        )
    )
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
