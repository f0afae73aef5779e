"""DAG-parse cost: 20 tasks of our operator vs 20 of the Google provider's vs an empty DAG.

Each parse runs in a fresh interpreter that has already imported ``airflow.sdk`` and built one
DAG (as a DAG processor has); it reports the wall time, the modules and the resident memory
the DAG file added.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import Row, median

TASKS = 20

_DAG = """
from airflow.sdk import DAG
{imports}

with DAG("bench_dag", schedule=None, catchup=False):
    for i in range({tasks}):
        {call}
"""

_OURS_CALL = """BatchStreamSubmitJobOperator(
            task_id=f"job_{i}",
            region="us-central1",
            project_id="demo-project",
            image_uri=IMAGE,
            commands=["python", "-c", f"print({i})"],
        )"""

_THEIRS_CALL = """CloudBatchSubmitJobOperator(
            task_id=f"job_{i}",
            region="us-central1",
            project_id="demo-project",
            job_name=f"job-{i}",
            job={"task_groups": [{"task_spec": {"runnables": [{"container": {
                "image_uri": IMAGE,
                "commands": ["python", "-c", f"print({i})"],
                "enable_image_streaming": True,
            }}]}}]},
        )"""

_IMAGE = 'IMAGE = "us-central1-docker.pkg.dev/demo-project/repo/image:1"'
DAGS = {
    "empty": _DAG.format(imports="", tasks=0, call="pass"),
    "ours": _DAG.format(
        imports="from airflow_batchstream.operators.batch import BatchStreamSubmitJobOperator\n" + _IMAGE,
        tasks=TASKS,
        call=_OURS_CALL,
    ),
    "theirs": _DAG.format(
        imports="from airflow.providers.google.cloud.operators.cloud_batch "
        "import CloudBatchSubmitJobOperator\n" + _IMAGE,
        tasks=TASKS,
        call=_THEIRS_CALL,
    ),
}

# Runs in the fresh interpreter: measure only what parsing the DAG file adds.
_PROBE = """
import gc, importlib.util, json, os, sys, time
import airflow.sdk

# A DAG processor has parsed other files before: the DAG class's own lazy imports are done.
with airflow.sdk.DAG("warm_up", schedule=None):
    pass

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

gc.collect()
modules, memory = len(sys.modules), rss()
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("bench_dag", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
wall = time.perf_counter() - start
gc.collect()
print(json.dumps({"wall": wall, "modules": len(sys.modules) - modules, "rss": rss() - memory}))
"""


def _parse_once(path: Path) -> dict[str, float]:
    command = [sys.executable, "-c", _PROBE, str(path)]
    out = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(runs: int = 5) -> list[Row]:
    """Parse each DAG ``runs`` times, interleaved, and return the extra cost over the empty DAG.

    :param runs: fresh-process parses per DAG file; the median is reported.
    """
    with tempfile.TemporaryDirectory(prefix="bench-dags-") as tmp:
        files = {name: Path(tmp, f"{name}.py") for name in DAGS}
        for name, path in files.items():
            path.write_text(DAGS[name])
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in files}
        for _ in range(runs):
            for name, path in files.items():
                samples[name].append(_parse_once(path))
    base = {key: median([s[key] for s in samples["empty"]]) for key in ("wall", "modules", "rss")}

    def extra(name: str, key: str, scale: float = 1.0) -> float:
        return (median([s[key] for s in samples[name]]) - base[key]) * scale

    note = f"{TASKS} tasks, over an empty DAG; median of {runs} fresh processes"
    figures = (
        ("extra wall time (ms)", "wall", 1e3),
        ("extra modules imported", "modules", 1.0),
        ("extra memory (MiB)", "rss", 2**-20),
    )
    return [
        Row("DAG parse", metric, extra("ours", key, scale), extra("theirs", key, scale), note)
        for metric, key, scale in figures
    ]


if __name__ == "__main__":
    from benchmarks.common import table

    print(table(run()))
