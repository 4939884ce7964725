#!/usr/bin/env bash
# Installs the Debian 12 packages aevb needs, only those that are missing.
# Used by `make demo` and `make test` (and so by CI). Needs root or sudo.
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
)
if [[ "${AEVB_WITH_SLURM:-0}" == "1" ]]; then
  packages+=(slurmctld slurmd slurm-client munge)   # the SLURM job-script tests
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
