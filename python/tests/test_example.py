"""examples/dask_stddev.py on a small demo scan: it runs with 1 and 2 workers, checks its
pixels against numpy itself, and prints the speed-up."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_dask_stddev_example(tmp_path):
    build = os.environ.get("TESSERA_BUILD_DIR")
    demo = pathlib.Path(build or ROOT / "build") / "tools" / "tessera-demo"
    if not demo.exists():
        pytest.skip(f"{demo} not built")
    scan = tmp_path / "scan.tsr"
    subprocess.run([str(demo), "ingest", str(scan), "--width", "1536", "--height", "1024"], check=True,
                   capture_output=True)
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "dask_stddev.py"), str(scan), "--samples", "60"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 worker:" in run.stdout and "2 workers:" in run.stdout
    assert run.stdout.count("checked 60 pixels against numpy: equal") == 2
    assert "speed-up of 2 workers over 1:" in run.stdout
