"""Zephyr applications: `init --board zephyr:<board>` (or a board definition with
build = "zephyr") writes CMakeLists.txt + prj.conf around the same src/ and vendored runtime as
a PlatformIO project; `build`/`flash` run `west build`/`west flash` when a Zephyr workspace is
set up (ZEPHYR_BASE, west on PATH)."""
