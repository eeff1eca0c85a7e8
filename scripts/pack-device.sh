#!/usr/bin/env bash
# Packs everything the GPU machine needs for the H100 items of issues 3, 4 and 5 into .device/:
#   1. ../shared/device/pack.sh: node, the Vulkan loader, dist/ and the production dependencies
#      (app.tar.xz), and run.sh;
#   2. dev.tar.xz: the development dependencies the WebGPU test files need (vitest and its tree),
#      without the packages those tests never load (typescript, eslint, playwright, vega, resvg) and
#      without webgpu (the device takes the linux build from app.tar.xz).
# Measured on the dev machine: .device is about 34 MB after step 1 and 51 MB after step 2, under the
# 64 MiB a device call carries with the working tree.
# Usage, from the project root, after `npm ci`:  bash scripts/pack-device.sh
# Then (device tool): carry [".device"], command "bash .device/run.sh bash \"$PWD/scripts/device-runs.sh\" gpu"
# and the same with "models", "runs" and "tests" (see scripts/device-runs.sh).
set -euo pipefail
[ -f package.json ] || { echo "pack-device.sh: run it from the project root" >&2; exit 2; }
[ -d node_modules/vitest ] || { echo "pack-device.sh: node_modules/vitest is missing: run 'npm ci' first" >&2; exit 2; }
pack=${SIMLOOM_DEVICE_PACK:-../shared/device/pack.sh}
[ -f "$pack" ] || { echo "pack-device.sh: $pack not found (set SIMLOOM_DEVICE_PACK to the device tool's pack.sh)" >&2; exit 2; }
bash "$pack"
tar -cf - \
  --exclude=node_modules/webgpu --exclude=node_modules/typescript --exclude=node_modules/@typescript-eslint \
  --exclude=node_modules/eslint --exclude=node_modules/playwright-core --exclude=node_modules/.cache \
  --exclude=node_modules/@resvg --exclude=node_modules/vega --exclude=node_modules/vega-lite \
  node_modules | xz -T2 -6 > .device/dev.tar.xz
du -sh .device/dev.tar.xz .device | sed 's/^/pack-device.sh: /'
total=$(du -sm .device | cut -f1)
[ "$total" -lt 60 ] || echo "pack-device.sh: WARNING .device is ${total} MB; a device call carries at most 64 MiB with the working tree" >&2
