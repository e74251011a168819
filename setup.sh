#!/usr/bin/env bash
# Sets up microdeploy on this machine and runs the main job: generate, build and run the
# hello_world example on the host ("native" board). Safe to run again.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
bash .ci/install.sh

.venv/bin/microdeploy doctor
.venv/bin/microdeploy init build/hello_world --board native --example hello_world
.venv/bin/microdeploy build build/hello_world
echo "--- running build/hello_world/.pio/build/native/program ---"
build/hello_world/.pio/build/native/program
