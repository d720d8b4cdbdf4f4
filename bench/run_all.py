"""Run every benchmark, one after the other, and print one markdown table of the results.

    DATABASE_URL=postgres://USER@HOST:5432/NAME bench/run [--only NAME ...] [--job-seconds 120] [--soak-seconds 180]

Each benchmark runs in its own process with its own throw-away database (see bench/common.py); its
progress goes to the terminal as it runs. ``submit`` places orders at the service level in one process,
through the API (gunicorn, two workers, 8 clients) and in two processes, round after round over one
database, so that the API's figure per worker and the two processes' are set beside the one process of
the same run; ``api`` measures the availability lookups. The jobs benchmark runs each job fully over 1,000 orders and,
over 10,000, for about ``--job-seconds`` (default 120), so that the whole run stays within about a
quarter of an hour on two cores; run ``bench/bench_jobs.py`` alone for complete 10,000-order runs.
The soak runs its mixed storefront load for ``--soak-seconds`` (default 180). ``peer`` runs the shared
peer benchmark (``../shared/peer-bench/compare.sh`` beside the project, or ``PEER_BENCH``) when it is
there: Django Oscar's checkout and the project's order submit interleaved in one run, and their ratio.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, Row, markdown, server_url, verdict

BENCHMARKS = ("submit", "api", "jobs", "documents", "soak", "peer")
DOCUMENT_TARGET_SECONDS = 2.0
PEER_TARGET = 6.0
PEER_ROUND = re.compile(r"round: project ([\d.]+) orders/s, Oscar ([\d.]+) orders/s")


def run_json_benchmark(script: str, *args: str) -> list[Row]:
    with tempfile.NamedTemporaryFile(suffix=".json") as output:
        subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json", output.name], check=True)
        return [Row(**row) for row in json.loads(Path(output.name).read_text())]


def run_documents() -> list[Row]:
    """Run bench_documents.py and turn its table into rows."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_documents.py")], check=True, capture_output=True, text=True
    )
    print(result.stdout, flush=True)
    lines = result.stdout.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("render"))
    baseline, rows = "", []
    for line in lines[start + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if not line.strip():
            continue
        if line.startswith("baseline"):
            baseline = cells[-1]
            continue
        label, timing, first, pages, _size, peak = cells
        releases, document = label.split(" releases, ")
        seconds = float(timing.split()[0])
        name = f"Documents, {releases}-release batch"
        if int(releases) <= 25:
            target, ok = f"<= {DOCUMENT_TARGET_SECONDS:g} s", seconds <= DOCUMENT_TARGET_SECONDS
        else:
            target, ok = "rendered in the background, bounded memory", None
        note = f"{pages} pages, peak RSS {peak} MiB (Django alone: {baseline} MiB)"
        if first != timing.split(" (")[0]:
            note += f"; {first} as the first render of a fresh process"
        rows.append(Row(name, f"{document} render time", timing, target, verdict(ok), note))
    return rows


def run_peer() -> list[Row]:
    """Run the shared peer benchmark (Django Oscar beside the order submit) and turn its rounds into a row."""
    script = Path(os.environ.get("PEER_BENCH", ROOT.parent / "shared" / "peer-bench" / "compare.sh"))
    name = "Order submit vs Django Oscar 4.2.1, one process (compare.sh)"
    if not script.exists():
        return [Row(name, "ratio, same run", "not run", f">= {PEER_TARGET:g}x", "", f"{script} not found")]
    result = subprocess.run(["bash", str(script)], check=True, capture_output=True, text=True, cwd=ROOT)
    print(result.stdout, result.stderr, sep="\n", flush=True)
    rounds = [(float(ours), float(oscar)) for ours, oscar in PEER_ROUND.findall(result.stderr + result.stdout)]
    ratios = [ours / oscar for ours, oscar in rounds]
    middle = statistics.median(ratios)
    note = "; ".join(f"round {n}: {ours:.1f} vs {oscar:.1f} orders/s" for n, (ours, oscar) in enumerate(rounds, 1))
    return [
        Row(
            name,
            "ratio, same run (median of the rounds; best)",
            f"{middle:.2f}x; {max(ratios):.2f}x",
            f">= {PEER_TARGET:g}x",
            verdict(middle >= PEER_TARGET),
            note,
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    parser.add_argument("--job-seconds", type=float, default=120, help="time per job run over 10,000 orders")
    parser.add_argument("--soak-seconds", type=float, default=180, help="how long the soak's clients run")
    options = parser.parse_args()
    server_url()
    os.chdir(ROOT)
    started = time.perf_counter()
    rows: list[Row] = []
    for name in options.only:
        print(f"\n== {name} ==", flush=True)
        begun = time.perf_counter()
        if name == "submit":
            # The service level and the API's placement in one run over one database (target: the API per
            # worker at least 75 % of one process), and two processes beside one (at least 1.7x).
            rows += run_json_benchmark("bench_submit.py", "--api")
        elif name == "api":
            rows += run_json_benchmark("bench_api.py", "--only", "availability")
        elif name == "jobs":
            rows += run_json_benchmark("bench_jobs.py", "--max-seconds", str(options.job_seconds))
        elif name == "soak":
            rows += run_json_benchmark("bench_soak.py", "--seconds", str(options.soak_seconds))
        elif name == "peer":
            rows += run_peer()
        else:
            rows += run_documents()
        print(f"({name} took {time.perf_counter() - begun:.0f} s)", flush=True)
    print(f"\nAll benchmarks took {(time.perf_counter() - started) / 60:.1f} min.\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
