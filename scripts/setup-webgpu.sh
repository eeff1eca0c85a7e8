#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe) so that Dawn (the `webgpu` npm package) finds a
# WebGPU adapter on machines without a GPU. Debian 12's own Mesa 22 lavapipe is rejected by Dawn, so the
# driver comes from bookworm-backports (Mesa 25 at the time of writing).
#
# Idempotent: does nothing when a lavapipe ICD from Mesa >= 24 is already installed.
# Usage: sudo bash scripts/setup-webgpu.sh
set -euo pipefail

MIN_MESA_MAJOR=24
BPO_LIST=/etc/apt/sources.list.d/bpo.list
BPO_LINE='deb http://deb.debian.org/debian bookworm-backports main'

# Major version of the installed mesa-vulkan-drivers package, or 0 when absent.
mesa_vulkan_major() {
  local v
  v="$(dpkg-query -W -f='${Status} ${Version}' mesa-vulkan-drivers 2>/dev/null || true)"
  case "$v" in
    'install ok installed '*) v="${v##* }" ;;
    *) echo 0; return ;;
  esac
  v="${v#*:}"            # drop an epoch, if any
  echo "${v%%.*}"
}

have_lavapipe_icd() {
  compgen -G '/usr/share/vulkan/icd.d/lvp_icd*.json' >/dev/null
}

if have_lavapipe_icd && [ "$(mesa_vulkan_major)" -ge "$MIN_MESA_MAJOR" ]; then
  echo "setup-webgpu: lavapipe (mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)) already installed; nothing to do."
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat <<MSG
setup-webgpu: not root, so nothing was installed. To install Mesa's lavapipe (software Vulkan) run:
  sudo bash scripts/setup-webgpu.sh
or by hand:
  echo '$BPO_LINE' | sudo tee $BPO_LIST
  sudo apt-get update
  sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
MSG
  exit 0
fi

if ! grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "setup-webgpu: warning: this script targets Debian 12 (bookworm); continuing anyway." >&2
fi

if ! grep -qsxF "$BPO_LINE" "$BPO_LIST"; then
  echo "$BPO_LINE" > "$BPO_LIST"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1

if ! have_lavapipe_icd; then
  echo "setup-webgpu: error: no lavapipe ICD under /usr/share/vulkan/icd.d after installing." >&2
  exit 1
fi
major="$(mesa_vulkan_major)"
if [ "$major" -lt "$MIN_MESA_MAJOR" ]; then
  echo "setup-webgpu: error: installed mesa-vulkan-drivers is Mesa $major, Dawn needs >= $MIN_MESA_MAJOR." >&2
  exit 1
fi
echo "setup-webgpu: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers):"
ls /usr/share/vulkan/icd.d/lvp_icd*.json
