"""Which runtime_cpp files a project gets: the core, the kernels of the model's ops, one port.

- core: every .h/.cc directly in runtime_cpp/src/md/ except all_ops.* (it names every kernel),
  plus md/app/ (device-side protocol) and the shared kernel headers md/kernels/*.h;
- kernels: md/kernels/<op lowercase>.cc per op (and any optimized variants named
  md/kernels/<subdir>/<op lowercase>*.cc with the headers of that subdir);
- port: md/ports/<board.port>/;
- app folders an app asks for (md/app_mlperf/ for --app mlperf-tiny).
"""

from __future__ import annotations

from pathlib import Path

from microdeploy import paths
from microdeploy.errors import ModelError

_SOURCE_SUFFIXES = (".h", ".cc", ".cpp", ".c", ".S")
_CORE_EXCLUDED = ("all_ops.h", "all_ops.cc")


def runtime_src() -> Path:
    return paths.runtime_dir() / "src"


def runtime_version() -> str:
    return (paths.runtime_dir() / "VERSION").read_text(encoding="utf-8").strip()


def kernel_file_stem(op_name: str) -> str:
    return op_name.lower()


def _sources(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _SOURCE_SUFFIXES)


def select_runtime_files(
    op_names: tuple[str, ...], port: str, app_dirs: tuple[str, ...] = ()
) -> list[Path]:
    """Paths relative to runtime_cpp/src of every file to vendor, sorted."""
    src = runtime_src()
    md = src / "md"
    chosen: set[Path] = set()
    chosen.update(p for p in _sources(md) if p.name not in _CORE_EXCLUDED)
    chosen.update(_sources(md / "app"))
    for app_dir in app_dirs:
        chosen.update(_sources(md / app_dir))
    kernels = md / "kernels"
    chosen.update(p for p in _sources(kernels) if p.suffix == ".h")
    missing = []
    for op in op_names:
        stem = kernel_file_stem(op)
        kernel = kernels / f"{stem}.cc"
        if not kernel.is_file():
            missing.append(op)
            continue
        chosen.add(kernel)
        for subdir in sorted(p for p in kernels.iterdir() if p.is_dir()):
            variants = [p for p in _sources(subdir) if p.stem.startswith(stem)]
            if variants:
                chosen.update(variants)
                chosen.update(p for p in _sources(subdir) if p.suffix == ".h")
    if missing:
        raise ModelError(
            f"the runtime has no kernel for op(s) {', '.join(missing)} used by this model",
            hint="supported ops are those with a file in runtime_cpp/src/md/kernels/",
        )
    port_dir = md / "ports" / port
    chosen.update(_sources(port_dir))
    return sorted(p.relative_to(src) for p in chosen)
