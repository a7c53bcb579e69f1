"""The layer check itself: it reports what it must, with the file, the line and the include."""
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layers  # noqa: E402


def write(root, rel, text):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_includes_of_higher_layers_are_reported(tmp_path):
    write(tmp_path, "src/index/good.cc", '#include "common/status.h"\n#include <vector>\n')
    write(tmp_path, "src/index/bad.cc",
          '#include "index/id_map.h"\n#include "build/metered_index.h"\n'
          '#include "vecperf/tuning.h"\n')
    write(tmp_path, "src/metrics/bad.h", '#pragma once\n#include "vecperf/cache.h"\n')
    write(tmp_path, "include/vecperf/metrics.h", '#include "vecperf/index.h"\n')
    write(tmp_path, "include/vecperf/novel.h", "\n")
    write(tmp_path, "src/cli/main.cc", '#include "build/metered_index.h"\n')  # tools use anything
    problems = check_layers.check_includes(str(tmp_path))
    assert sorted(problems) == sorted([
        "src/index/bad.cc:2: includes build/metered_index.h (layer build) from layer index, "
        "which may use only common, distance",
        "src/index/bad.cc:3: includes vecperf/tuning.h (layer build) from layer index, "
        "which may use only common, distance",
        "src/metrics/bad.h:2: includes vecperf/cache.h (layer cache) from layer metrics, "
        "which may use only common",
        "include/vecperf/metrics.h:1: includes vecperf/index.h (layer index) from layer metrics, "
        "which may use only common",
        "include/vecperf/novel.h: public header without a layer; add it to PUBLIC_LAYERS in "
        + os.path.relpath(check_layers.__file__, str(tmp_path)),
    ])


def test_the_repository_passes():
    root = os.path.normpath(os.path.join(os.path.dirname(check_layers.__file__), "..", ".."))
    assert check_layers.check_includes(root) == []


def compile_object(tmp_path, rel, source):
    src = tmp_path / (rel + ".cc")
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(source)
    obj = tmp_path / "CMakeFiles" / "vecperf.dir" / (rel + ".cc.o")
    obj.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["g++", "-c", "-o", str(obj), str(src)], check=True)
    return str(obj)


def test_calls_into_higher_layers_are_reported(tmp_path):
    lower = compile_object(tmp_path, "src/index/lower",
                           "namespace vecperf { int upper(); int lower() { return upper(); } }\n")
    upper = compile_object(tmp_path, "src/build/upper",
                           "namespace vecperf { int lower(); int upper() { return 1; }\n"
                           "int user() { return lower(); } }\n")
    problems = check_layers.check_objects([lower, upper])
    assert problems == ["src/index/lower.cc: uses vecperf::upper() (layer build) from layer index, "
                        "which may use only common, distance"]
