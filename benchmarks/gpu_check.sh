#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU: install the project, then run
# benchmarks/gpu_check.py (a 6-trial convolutional search, two trials at once).
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv
python3 -m venv .venv-gpu
.venv-gpu/bin/pip install -q --upgrade pip
.venv-gpu/bin/pip install -q -e . 'tensorflow[and-cuda]'
.venv-gpu/bin/python benchmarks/gpu_check.py
