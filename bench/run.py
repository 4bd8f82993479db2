"""Run the benchmarks: `python bench/run.py` runs every bench/<name>.py; `python bench/run.py feeds`
runs one. Each benchmark prints its own figures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> None:
    scripts = [HERE / f"{n}.py" for n in names] or sorted(p for p in HERE.glob("*.py") if p.name != "run.py")
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        sys.argv = [str(script)]
        runpy.run_path(str(script), run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
