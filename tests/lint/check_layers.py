#!/usr/bin/env python3
"""Checks that vecperf's layers depend only downwards (docs/architecture.md, "Layers").

Two checks over one table of layers:

  check_layers.py [--root DIR]              the #include lines of src/ and include/
  check_layers.py --objects OBJ...          the symbols of the library's object files (CMake
                                            passes $<TARGET_OBJECTS:vecperf>), which also catches
                                            a call through a declaration that lives beside a
                                            lower layer's types

Each violation is printed as "file: includes/uses X (layer A) from layer B" and the exit status
is 1 when there is any. Tools (the CLI, Python bindings, benchmarks, examples, tests) sit on top
and may use everything, so only the library itself is checked.
"""
import argparse
import os
import re
import subprocess
import sys

# Layer -> the layers it may use (besides itself). Lowest first.
ALLOWED = {
    "common": set(),
    "distance": {"common"},
    "index": {"common", "distance"},
    "metrics": {"common"},
    "cache": {"common", "metrics"},
    "build": {"common", "distance", "index", "metrics", "cache"},
    "eval": {"common", "distance", "index", "metrics", "cache", "build"},
}

# Directories of src/ -> layer.
SOURCE_LAYERS = {
    "common": "common",
    "distance": "distance",
    "gpu": "index",  # the device side of the gpu_flat backend (CUDA, or a stub without it)
    "index": "index",
    "metrics": "metrics",
    "cache": "cache",
    "build": "build",
    "tuning": "build",
    "dataset": "eval",
    "eval": "eval",
}

# Public headers -> the layer that declares their types (and implements their functions, except
# the entry points load(), from_bytes() and make_index(), which are declared beside the types
# users need with them and implemented in build; the symbol check covers calls to them).
PUBLIC_LAYERS = {
    "export.h": "common",
    "status.h": "common",
    "span.h": "common",
    "types.h": "common",
    "gpu.h": "index",
    "index.h": "index",
    "options.h": "index",
    "merge.h": "index",
    "cache_stats.h": "metrics",
    "metrics.h": "metrics",
    "cache.h": "cache",
    "factory.h": "build",
    "tuning.h": "build",
    "dataset.h": "eval",
    "report.h": "eval",
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def layer_of_include(target):
    """Layer of an included path, None for system and third-party headers, "?" if unknown."""
    if target.startswith("vecperf/"):
        return PUBLIC_LAYERS.get(target[len("vecperf/"):], "?")
    head = target.split("/", 1)[0]
    if "/" in target and head in SOURCE_LAYERS:
        return SOURCE_LAYERS[head]
    return None


def layer_of_file(rel):
    parts = rel.split(os.sep)
    if parts[0] == "include" and len(parts) == 3 and parts[1] == "vecperf":
        return PUBLIC_LAYERS.get(parts[2], "?")
    if parts[0] == "src" and len(parts) >= 3:
        return SOURCE_LAYERS.get(parts[1])  # None: a tool under src/ (the CLI)
    return None


def check_includes(root):
    problems = []
    for top in ("src", "include"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".h", ".cc", ".cu", ".cuh")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                layer = layer_of_file(rel)
                if layer is None:
                    continue
                if layer == "?":
                    problems.append(f"{rel}: public header without a layer; add it to "
                                    f"PUBLIC_LAYERS in {os.path.relpath(__file__, root)}")
                    continue
                with open(path, encoding="utf-8") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        used = layer_of_include(target)
                        if used is None or used == layer:
                            continue
                        if used == "?":
                            problems.append(f"{rel}:{number}: includes {target}, a public "
                                            "header without a layer")
                        elif used not in ALLOWED[layer]:
                            problems.append(f"{rel}:{number}: includes {target} (layer {used}) "
                                            f"from layer {layer}, which may use only "
                                            f"{', '.join(sorted(ALLOWED[layer])) or 'nothing'}")
    return problems


SYMBOL_PREFIXES = ("", "vtable for ", "typeinfo for ", "typeinfo name for ", "VTT for ",
                   "guard variable for ")


def ours(symbol):
    return any(symbol.startswith(p + "vecperf::") for p in SYMBOL_PREFIXES)


def nm(path, *flags):
    out = subprocess.run(["nm", "-C", *flags, path], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        fields = line.split(None, 2)
        if len(fields) == 3:
            yield fields[1], fields[2]
        elif len(fields) == 2:
            yield fields[0], fields[1]


def check_objects(paths):
    """Symbols of the library's objects: an undefined vecperf symbol must be defined in the
    object's own layer or one it may use."""
    objects = []  # (source path from src/, layer, object path)
    for path in paths:
        parts = os.path.normpath(path).split(os.sep)
        # .../CMakeFiles/<target>.dir/src/<dir>/<file>.<ext>.o
        if "src" not in parts:
            continue
        i = len(parts) - 1 - parts[::-1].index("src")
        if i + 2 >= len(parts):
            continue
        layer = SOURCE_LAYERS.get(parts[i + 1])
        if layer is None:
            continue
        objects.append(("/".join(parts[i:])[:-2], layer, path))
    if not objects:
        return ["no library object files given (pass $<TARGET_OBJECTS:vecperf>)"]
    defined = {}  # symbol -> layers defining it
    undefined = []
    for rel, layer, path in objects:
        for kind, symbol in nm(path, "--defined-only"):
            if ours(symbol) and kind not in ("t", "d", "b", "r"):  # global or weak
                defined.setdefault(symbol, set()).add(layer)
        for _, symbol in nm(path, "--undefined-only"):
            if ours(symbol):
                undefined.append((rel, layer, symbol))
    problems = []
    for rel, layer, symbol in undefined:
        where = defined.get(symbol)
        if not where or layer in where or where & ALLOWED[layer]:
            continue
        problems.append(f"{rel}: uses {symbol} (layer {', '.join(sorted(where))}) from layer "
                        f"{layer}, which may use only "
                        f"{', '.join(sorted(ALLOWED[layer])) or 'nothing'}")
    return sorted(set(problems))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--root", default=os.path.normpath(os.path.join(here, "..", "..")))
    parser.add_argument("--objects", nargs="+", help="library object files to check")
    args = parser.parse_args()
    problems = check_objects(args.objects) if args.objects else check_includes(args.root)
    for p in problems:
        print(p)
    what = "symbols" if args.objects else "includes"
    if problems:
        print(f"layer check ({what}): {len(problems)} violation(s); see docs/architecture.md")
        return 1
    print(f"layer check ({what}): OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
