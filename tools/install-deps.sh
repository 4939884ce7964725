#!/usr/bin/env bash
# Installs the Debian 12 packages aevb needs, only those that are missing.
# Used by `make demo` and `make test` (and so by CI). Needs root or sudo.
#   AEVB_WITH_TESTS=1   also what the tests need beyond the build: a private SLURM
#                       (the job-script tests) and Lmod (the modulefile test);
#                       `make test` sets it. AEVB_WITH_SLURM=1 is the old name.
#   AEVB_WITH_MPICH=1   also MPICH, beside Open MPI (`make test-mpich`). Open MPI
#                       stays the default MPI (mpicc/mpirun alternatives).
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libopenmpi-dev openmpi-bin           # MPI (Open MPI 4.1)
  libdnnl-dev ocl-icd-opencl-dev       # oneDNN 2.6; its CMake package needs the OpenCL ICD loader
  libhdf5-dev hdf5-tools               # HDF5 1.10 (serial) + h5dump
  libboost-program-options-dev         # command lines and INI configs
  librandom123-dev                     # counter-based RNG (Philox)
  libmatio-dev                         # MATLAB .mat reading (Frey Face)
  nlohmann-json3-dev                   # JSON lines and manifests
  libssl-dev zlib1g-dev                # SHA-256 checksums; gzip reading
  libgtest-dev libbenchmark-dev        # tests and benchmarks
  libpng-dev                           # aevb-infer's pictures (PNG)
  libjs-chart.js                       # aevb-report's charts (Chart.js, inlined into the page)
)
if [[ "${AEVB_WITH_TESTS:-0}" == "1" || "${AEVB_WITH_SLURM:-0}" == "1" ]]; then
  packages+=(slurmctld slurmd slurm-client munge)   # the SLURM job-script tests
  packages+=(lmod)                                  # the modulefile test (tests/install)
  packages+=(clang-14 libfuzzer-14-dev)             # the fuzz targets (fuzz/, `make fuzz`)
  packages+=(chromium)                              # the report test: the page in a headless browser
  packages+=(python3-numpy python3-h5py)            # python/aevb_model.py and its test (/usr/bin/python3)
fi
if [[ "${AEVB_WITH_MPICH:-0}" == "1" ]]; then
  packages+=(mpich libmpich-dev)                    # the MPICH build (mpicc.mpich, mpiexec.mpich)
fi

# MPICH's alternatives have a lower priority (40) than Open MPI's (50): mpicc and
# mpirun stay Open MPI's unless someone chose MPICH by hand; say so if they did.
check_default_mpi() {
  [[ "${AEVB_WITH_MPICH:-0}" == "1" ]] || return 0
  local mpicc mpirun
  mpicc=$(update-alternatives --query mpi 2>/dev/null | sed -n 's/^Value: //p')
  mpirun=$(update-alternatives --query mpirun 2>/dev/null | sed -n 's/^Value: //p')
  echo "install-deps: default MPI: mpicc -> ${mpicc:-?}, mpirun -> ${mpirun:-?}"
  if [[ $mpicc != *openmpi* || $mpirun != *openmpi* ]]; then
    echo "install-deps: WARNING: Open MPI is not the default MPI; \`make build\` configures with mpicc," >&2
    echo "  restore it with: update-alternatives --auto mpi; update-alternatives --auto mpirun" >&2
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  check_default_mpi
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
check_default_mpi
