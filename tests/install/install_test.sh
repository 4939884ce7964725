#!/usr/bin/env bash
# aevb as an installed HPC package (cmake/AevbInstall.cmake). ctest runs it as
# a fixture (tests/install/CMakeLists.txt):
#   install_test.sh install      cmake --install <build> --prefix <dir>/prefix (the layout checked)
#   install_test.sh downstream   tests/install/downstream: find_package(aevb), aevb::core; runs it
#   install_test.sh modules      Lmod: module use/load aevb; the programs, AEVB_JOBS, the job
#                                scripts' AEVB_BIN; the Tcl modulefile read by Lmod too
# Environment: AEVB_BUILD_DIR (the build tree), AEVB_INSTALL_TEST_DIR (scratch),
# CMAKE (cmake), AEVB_CC / AEVB_CXX / AEVB_BUILD_TYPE / AEVB_SANITIZE (as the build).
# Never skips: without Lmod the modules case fails (`make test` installs Lmod:
# AEVB_WITH_TESTS=1 tools/install-deps.sh).
set -uo pipefail
B=${AEVB_BUILD_DIR:?set AEVB_BUILD_DIR (the build tree)}
L=${AEVB_INSTALL_TEST_DIR:?set AEVB_INSTALL_TEST_DIR (a scratch directory)}
CMAKE=${CMAKE:-cmake}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
P=$L/prefix
PROGRAMS=(aevb-train aevb-eval aevb-infer aevb-report aevb-data)

fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "PASS: $*"; }
version() { sed -n 's/^project(aevb VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt"; }

case_install() {
  rm -rf "$L"
  mkdir -p "$L"
  local t0=$SECONDS
  "$CMAKE" --install "$B" --prefix "$P" > "$L/install.log" 2>&1 || { tail -20 "$L/install.log"; fail "cmake --install"; }
  local v; v=$(version)
  for p in "${PROGRAMS[@]}"; do [[ -x $P/bin/$p ]] || fail "bin/$p missing or not executable"; done
  local cmakedir
  cmakedir=$(dirname "$(find "$P" -path '*/cmake/aevb/aevbConfig.cmake' | head -1)")
  [[ $cmakedir == "$P/lib/cmake/aevb" || $cmakedir == "$P/lib64/cmake/aevb" || $cmakedir == "$P"/lib/*/cmake/aevb ]] \
    || fail "no aevbConfig.cmake under lib*/cmake/aevb (found: '$cmakedir')"
  for f in aevbConfig.cmake aevbConfigVersion.cmake aevbTargets.cmake; do
    [[ -f $cmakedir/$f ]] || fail "$cmakedir/$f missing"
  done
  ls "$(dirname "$(dirname "$cmakedir")")"/libaevb_core.a >/dev/null || fail "libaevb_core.a not beside cmake/"
  [[ -f $P/include/aevb/core/vae.hpp && -f $P/include/aevb/base/rng.hpp ]] || fail "headers not in include/aevb/<layer>/"
  for j in train eval convert sweep; do
    [[ -x $P/share/aevb/jobs/$j.sbatch ]] || fail "share/aevb/jobs/$j.sbatch missing or not executable"
  done
  [[ -f $P/share/aevb/jobs/launch.sh && -d $P/share/aevb/jobs/sweeps ]] || fail "launch.sh or sweeps/ missing"
  [[ -f $P/share/doc/aevb/README.md ]] || fail "share/doc/aevb/README.md missing"
  ls "$P"/share/doc/aevb/docs/*.md >/dev/null 2>&1 || fail "share/doc/aevb/docs/*.md missing"
  [[ -f $P/share/modulefiles/aevb/$v.lua && -f $P/share/modulefiles/aevb/$v ]] || fail "modulefiles missing"
  grep -qF "local root = \"$P\"" "$P/share/modulefiles/aevb/$v.lua" || fail "the Lua modulefile's root is not $P"
  grep -qF "set root \"$P\"" "$P/share/modulefiles/aevb/$v" || fail "the Tcl modulefile's root is not $P"
  grep -qF "$P/share/modulefiles/aevb/$v.lua" "$B/install_manifest.txt" || fail "modulefile not in install_manifest.txt"
  pass "installed to $P in $((SECONDS - t0)) s"
}

case_downstream() {
  [[ -d $P/bin ]] || fail "nothing installed (install.install failed)"
  local D=$L/downstream t0=$SECONDS flags=() linkflags=()
  rm -rf "$D"
  if [[ ${AEVB_SANITIZE:-OFF} == ON ]]; then  # aevb's static libraries are instrumented
    flags=("-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined")
    linkflags=("-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined")
  fi
  # A clean environment apart from the prefix: the package must find its own dependencies.
  "$CMAKE" -S "$SRC/tests/install/downstream" -B "$D" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_BUILD_TYPE="${AEVB_BUILD_TYPE:-Release}" ${AEVB_CC:+-DCMAKE_C_COMPILER="$AEVB_CC"} \
    ${AEVB_CXX:+-DCMAKE_CXX_COMPILER="$AEVB_CXX"} "${flags[@]}" "${linkflags[@]}" > "$L/downstream-configure.log" 2>&1 \
    || { tail -30 "$L/downstream-configure.log"; fail "configuring the downstream project (find_package(aevb))"; }
  grep -q "^aevb_DIR:PATH=$P/" "$D/CMakeCache.txt" || fail "aevb was not found in $P: $(grep ^aevb_DIR "$D/CMakeCache.txt")"
  "$CMAKE" --build "$D" -j2 > "$L/downstream-build.log" 2>&1 || { tail -30 "$L/downstream-build.log"; fail "building the downstream project"; }
  local out
  out=$("$D/sgvb_demo" 2>&1) || fail "sgvb_demo: $out"
  echo "$out"
  [[ $out =~ ELBO\ -[0-9]+\.[0-9]+ ]] || fail "no finite ELBO printed"
  pass "downstream project: find_package(aevb), aevb::core, ran in $((SECONDS - t0)) s"
}

lmod_init() {
  local f
  for f in /usr/share/lmod/lmod/init/bash "${LMOD_PKG:-/nonexistent}/init/bash" /opt/apps/lmod/lmod/init/bash; do
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

case_modules() {
  [[ -d $P/bin ]] || fail "nothing installed (install.install failed)"
  local init v
  v=$(version)
  init=$(lmod_init) || fail "Lmod is not installed (Debian: lmod; AEVB_WITH_TESTS=1 tools/install-deps.sh)"
  # A fresh Lmod session: nothing loaded, no site MODULEPATH.
  unset MODULEPATH LOADEDMODULES _LMFILES_ AEVB_ROOT AEVB_JOBS AEVB_BIN
  unset $(env | sed -n 's/^\(__LMOD_[A-Za-z0-9_]*\)=.*/\1/p; s/^\(_ModuleTable[0-9_]*_\)=.*/\1/p') 2>/dev/null
  # shellcheck disable=SC1090
  source "$init" || fail "sourcing $init"
  module use "$P/share/modulefiles" || fail "module use"
  module load aevb 2> "$L/module.err" || fail "module load aevb: $(cat "$L/module.err")"
  [[ -z $(grep -iv '^$' "$L/module.err") ]] || fail "module load aevb printed: $(cat "$L/module.err")"
  module -t list 2>&1 | grep -qx "aevb/$v" || fail "aevb/$v is not loaded: $(module -t list 2>&1)"
  [[ $(command -v aevb-train) == "$P/bin/aevb-train" ]] || fail "aevb-train on PATH is $(command -v aevb-train)"
  [[ $AEVB_ROOT == "$P" ]] || fail "AEVB_ROOT=$AEVB_ROOT"
  [[ :$CMAKE_PREFIX_PATH: == *":$P:"* ]] || fail "CMAKE_PREFIX_PATH=$CMAKE_PREFIX_PATH"
  [[ $AEVB_JOBS == "$P/share/aevb/jobs" && -x $AEVB_JOBS/train.sbatch && -f $AEVB_JOBS/launch.sh ]] \
    || fail "AEVB_JOBS=$AEVB_JOBS does not hold the job scripts"
  local help
  help=$(aevb-train --help 2>&1) || fail "aevb-train --help: $help"
  [[ $help == *--data* ]] || fail "aevb-train --help lists no --data: $help"
  local checked="aevb-train --help"
  if [[ $help == *--version* ]]; then
    aevb-train --version | grep -qF "$v" || fail "aevb-train --version does not say $v: $(aevb-train --version 2>&1)"
    checked+=", --version"
  fi
  aevb-data --help > /dev/null 2>&1 || fail "aevb-data --help"
  aevb-eval --help > /dev/null 2>&1 || fail "aevb-eval --help"
  # The installed job scripts run the installed programs by default.
  local bin
  bin=$(bash -c 'source "$AEVB_JOBS/launch.sh" && echo "$AEVB_BIN"') || fail "sourcing \$AEVB_JOBS/launch.sh"
  [[ $bin == "$P/bin" ]] || fail "the installed launch.sh's AEVB_BIN is $bin, expected $P/bin"
  module whatis aevb 2>&1 | grep -q "Version: $v" || fail "module whatis: $(module whatis aevb 2>&1)"
  module help aevb 2>&1 | grep -q 'AEVB_JOBS' || fail "module help says nothing of AEVB_JOBS"
  module unload aevb
  [[ -z ${AEVB_JOBS:-} && :$PATH: != *":$P/bin:"* ]] || fail "module unload left AEVB_JOBS or PATH behind"
  # The Tcl modulefile (Environment Modules), read by Lmod's Tcl support.
  mkdir -p "$L/tcl/aevb"
  cp "$P/share/modulefiles/aevb/$v" "$L/tcl/aevb/$v"
  module unuse "$P/share/modulefiles"
  module use "$L/tcl"
  module load "aevb/$v" 2> "$L/module-tcl.err" || fail "module load (Tcl modulefile): $(cat "$L/module-tcl.err")"
  [[ $AEVB_JOBS == "$P/share/aevb/jobs" && $(command -v aevb-eval) == "$P/bin/aevb-eval" ]] \
    || fail "Tcl modulefile: AEVB_JOBS=$AEVB_JOBS, aevb-eval=$(command -v aevb-eval)"
  module unload aevb
  pass "Lmod ($init): module load aevb/$v; $checked; AEVB_JOBS and its launch.sh; Tcl modulefile"
}

case "${1:-}" in
  install) case_install ;;
  downstream) case_downstream ;;
  modules) case_modules ;;
  *) echo "usage: $0 install|downstream|modules" >&2; exit 2 ;;
esac
