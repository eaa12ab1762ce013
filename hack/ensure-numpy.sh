#!/usr/bin/env bash
# The npz cross-check test loads our files with numpy, as the SLA planner does.
# Debian's python3-numpy is the only numpy this machine's registries offer.
set -euo pipefail
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "numpy is missing for /usr/bin/python3: run 'sudo apt-get install python3-numpy'" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-numpy >/dev/null
