#!/usr/bin/env bash
# The H100 runs of issues 3, 4 and 5, in parts that each fit one device call (600 s). Run on the GPU
# machine through the packed node (see scripts/pack-device.sh):
#   bash .device/run.sh bash "$PWD/scripts/device-runs.sh" gpu     # bench gpu (copy, element-wise, circles, step floor)
#   bash .device/run.sh bash "$PWD/scripts/device-runs.sh" models  # bench landau (1e6, 1e7 on the GPU), bench water-filling
#   bash .device/run.sh bash "$PWD/scripts/device-runs.sh" runs    # circles, deliveries, delta-f90: webgpu vs cpu
#   bash .device/run.sh bash "$PWD/scripts/device-runs.sh" tests   # the WebGPU test files under vitest
#                                                               # (needs .device/dev.tar.xz: scripts/pack-device.sh)
# run.sh starts in the unpacked build (/tmp/app: dist/ and production dependencies); this script
# finds the repository beside itself. Everything it produces goes under $OUT (default ./device-out):
# the JSON reports, each run's summary.json, the test log (last line: N passed, N failed, N skipped),
# and a log per command.
set -uo pipefail
part=${1:-}
repo=$(cd "$(dirname "$0")/.." && pwd)
app=${SIMLOOM_DEVICE_APP:-/tmp/app}
out=${OUT:-$repo/device-out}
mkdir -p "$out"
[ -d "$app/dist" ] || app=$repo
cli="$app/dist/sim/cli.js"
fails=0
# step NAME CMD...: runs CMD, stdout to $out/NAME.json (the CLI's --json output), stderr to $out/NAME.log.
step() {
  local name=$1
  shift
  local t0=$SECONDS
  if "$@" > "$out/$name.json" 2> "$out/$name.log"; then
    echo "device-runs: $name ok ($((SECONDS - t0)) s)"
  else
    echo "device-runs: $name FAILED rc=$? ($((SECONDS - t0)) s); last lines of its log:"
    tail -5 "$out/$name.log"
    fails=$((fails + 1))
  fi
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1 || true
node --version >> "$out/gpu.txt"
case "$part" in
  gpu)
    step bench-gpu node "$cli" bench gpu --json
    ;;
  models)
    # Measured on the 2-core dev machine: the 1e7-module Landau problem takes 51 s to generate, the
    # CPU rows about a minute, water-filling about 75 s: together over half a device call's 600 s.
    step bench-landau node "$cli" bench landau --json
    step bench-water-filling node "$cli" bench water-filling --json
    ;;
  runs)
    for s in circles deliveries; do
      for b in webgpu cpu; do step "run-$s-$b" node "$cli" run "$s" --backend "$b" --json --out "$out/run-$s-$b"; done
    done
    step run-circles-1m-webgpu node "$cli" run circles --set n=1000000 --steps 20 --backend webgpu --json --out "$out/run-circles-1m-webgpu"
    step run-delta-f90-webgpu node "$cli" run delta-f90 --backend webgpu --json --out "$out/run-delta-f90-webgpu"
    step run-delta-f90-cpu node "$cli" run delta-f90 --backend cpu --json --out "$out/run-delta-f90-cpu"
    step run-water-filling-webgpu node "$cli" run water-filling --set n=100000 --backend webgpu --json --out "$out/run-water-filling-webgpu"
    step run-water-filling-cpu node "$cli" run water-filling --set n=100000 --backend cpu --workers 2 --json --out "$out/run-water-filling-cpu"
    ;;
  tests)
    [ -f "$repo/.device/dev.tar.xz" ] || { echo "device-runs: .device/dev.tar.xz missing: pack with scripts/pack-device.sh" >&2; exit 2; }
    cd "$repo"
    tar -xJf .device/dev.tar.xz
    # The linux build of the webgpu package from the packed app.
    [ -d node_modules/webgpu ] || cp -r "$app/node_modules/webgpu" node_modules/webgpu
    # gpu-checkpoint.test.ts spawns the built CLI.
    [ -f dist/sim/cli.js ] || cp -r "$app/dist" dist
    # scripts/test.mjs: vitest, then the plain line `N passed, N failed, N skipped`.
    if node scripts/test.mjs test/webgpu-probe.test.ts test/parity-messages.test.ts test/parity-circles.test.ts test/parity-deliveries.test.ts \
      test/parity-landau.test.ts test/water-filling-parity.test.ts test/gpu-checkpoint.test.ts > "$out/tests.log" 2>&1; then :; else fails=$((fails + 1)); fi
    tail -1 "$out/tests.log"
    ;;
  *)
    echo "usage: device-runs.sh gpu|models|runs|tests" >&2
    exit 2
    ;;
esac
echo "device-runs: $part done, $fails failed; files in $out"
[ "$fails" -eq 0 ]
