#!/usr/bin/env bash
# Sets up microdeploy on this machine and runs the main job: generate, build and run the
# hello_world example on the host ("native" board). Safe to run again.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
bash .ci/install.sh

.venv/bin/microdeploy doctor
# build/ is scratch space: --force regenerates everything, main.cpp included.
.venv/bin/microdeploy init build/hello_world --board native --example hello_world --force
.venv/bin/microdeploy build build/hello_world
# Start the program (the native "device" on a pty), run the example input on it and compare
# the output bit for bit with TFLM's, then stop it.
.venv/bin/microdeploy flash build/hello_world
trap '.venv/bin/microdeploy flash build/hello_world --stop >/dev/null 2>&1 || true' EXIT
.venv/bin/microdeploy run build/hello_world --input example_projects/hello_world/input.bin
