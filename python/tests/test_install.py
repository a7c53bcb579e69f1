"""The documented install route: `cmake --install <build> --component python --prefix <venv>`
into a fresh venv, then `import vecperf` from a directory outside the source and build trees."""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

BUILD_DIR = os.environ.get("VECPERF_BUILD_DIR")


@pytest.mark.skipif(not BUILD_DIR, reason="VECPERF_BUILD_DIR is set by ctest (make test)")
def test_installed_package_imports_outside_the_source_tree(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True)
    subprocess.run(["cmake", "--install", BUILD_DIR, "--component", "python", "--prefix",
                    str(venv)], check=True, stdout=subprocess.DEVNULL)
    script = textwrap.dedent("""
        import numpy as np, vecperf
        index = vecperf.Index(4, kind="flat")
        index.add(np.eye(4, dtype=np.float32))
        assert index.search(np.eye(4, dtype=np.float32)[1], 1)[1][0, 0] == 1
        print(vecperf.__file__)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(venv / "bin" / "python"), "-c", script], cwd=elsewhere, env=env,
                            check=True, capture_output=True, text=True)
    location = pathlib.Path(result.stdout.strip()).resolve()
    assert location.is_relative_to(venv.resolve()), location
    assert (location.parent / "py.typed").exists() and (location.parent / "__init__.pyi").exists()
