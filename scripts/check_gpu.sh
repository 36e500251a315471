#!/usr/bin/env bash
# Everything GPU-side in one run, for a machine with a CUDA GPU (none on the CI machines): the tests
# marked gpu, the CUDA-simulator and PTX tests, then benchmarks/bench_cuda.py (time per call on the
# device, and every result bit-equal to the CPU kernels). Exits non-zero if anything fails or skips.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "from numba import cuda; raise SystemExit(0 if cuda.is_available() else 1)"; then
    echo "check_gpu: numba sees no CUDA GPU here; run this on a machine with one" >&2
    exit 2
fi
python3 -c "from numba import cuda; d = cuda.get_current_device(); print('GPU:', d.name.decode() if isinstance(d.name, bytes) else d.name, 'compute capability', d.compute_capability)"
# -rs lists any skip; a gpu test that skips on a GPU machine is a failure of this check
python3 -m pytest -p no:cacheprovider -rs -m "gpu or not slow" tests/opmodels/test_numba_cuda.py | tee /tmp/check_gpu_pytest.txt
if grep -q "needs a CUDA GPU" /tmp/check_gpu_pytest.txt; then
    echo "check_gpu: a gpu test skipped although a GPU is visible" >&2
    exit 1
fi
python3 benchmarks/bench_cuda.py --repeat 10
