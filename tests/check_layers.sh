#!/usr/bin/env bash
# The layering rule of docs/architecture.md, checked on the source tree:
# a file of layer X may include aevb headers of the layers X depends on only,
# and the third-party headers that belong to a layer stay in it (no MPI or
# HDF5 in the VAE math, no MPI in the I/O layer...).
#
# Every source file must sit in a layer's folder, and a quoted include other
# than "aevb/<layer>/..." may only name a private header beside the file.
#
#   check_layers.sh [SOURCE_DIR]     check the tree (exit 1 and one line per violation)
#   check_layers.sh --self-test DIR  copy the tree, add deliberate violations
#                                    (MPI and a driver header in the VAE math, a
#                                    ../ include, a stray file) and check that
#                                    each is caught
set -uo pipefail

# layer -> the aevb layers its files may include
declare -A ALLOWED=(
  [base]="base"
  [core]="base core"
  [io]="base core io"
  [dist]="base dist"
  [cli]="base cli"
  [train]="base core io dist cli train"
  [eval]="base core io dist cli eval"
  [convert]="base io cli convert"
  [infer]="base core io dist cli infer"
  [report]="base core io cli report"   # aevb-report: no MPI
  [apps]="base core io dist cli train eval convert infer report"
  [data_app]="base io cli convert"   # aevb-data: no MPI, no model
)
# third-party header (regex on the include path) -> the layers that may use it
declare -A EXTERNAL=(
  ['^(mpi|mpio|pmpi)\.h$']="dist apps"
  ['^(hdf5|hdf5_hl|H5[A-Za-z_]*)\.h$']="io"
  ['^(dnnl|oneapi/dnnl/)']="core"
  ['^matio\.h$']="convert"
  ['^Random123/']="base"
  ['^boost/']="cli train eval infer report convert apps data_app"
  ['^openssl/']="io"
  ['^png\.h$']="io"
)

check_tree() {
  local root=$1 bad=0 f layer lineno inc target re hit d
  local include_re='^([^:]+):([0-9]+):[[:space:]]*#[[:space:]]*include(_next)?[[:space:]]*([<"])([^>"]+)[>"]'
  cd "$root" || { echo "check_layers: cannot enter $root" >&2; return 2; }
  for d in include/aevb src data_tools; do
    [[ -d $d ]] || { echo "check_layers: $root/$d is missing"; return 2; }
  done
  # Every source file must sit in a layer's folder.
  while IFS= read -r f; do
    case "$f" in
      include/aevb/*/*|src/*/*|data_tools/convert/*) ;;
      data_tools/*/*) echo "$f: not in a layer's folder (include/aevb/<layer>/, src/<layer>/, data_tools/convert/)"; bad=1 ;;
      data_tools/*) ;;  # the aevb-data executable (layer data_app)
      *) echo "$f: not in a layer's folder (include/aevb/<layer>/, src/<layer>/, data_tools/convert/)"; bad=1 ;;
    esac
  done < <(find include src data_tools -type f \( -name '*.[ch]pp' -o -name '*.[ch]' -o -name '*.cc' -o -name '*.hh' \
             -o -name '*.inl' -o -name '*.ipp' \) | sort)
  # One grep over the tree; every include line as file:line:text.
  while IFS= read -r hit; do
    [[ $hit =~ $include_re ]] || continue
    f=${BASH_REMATCH[1]} lineno=${BASH_REMATCH[2]} inc=${BASH_REMATCH[5]}
    case "$f" in
      include/aevb/*/*) layer=${f#include/aevb/}; layer=${layer%%/*} ;;
      src/apps/*) layer=apps ;;
      src/*/*) layer=${f#src/}; layer=${layer%%/*} ;;
      data_tools/convert/*) layer=convert ;;
      data_tools/*/*) continue ;;  # reported above
      data_tools/*) layer=data_app ;;
      *) continue ;;  # reported above
    esac
    if [[ -z ${ALLOWED[$layer]+x} ]]; then
      echo "$f: unknown layer '$layer' (add it to tests/check_layers.sh and docs/architecture.md)"
      bad=1; continue
    fi
    if [[ $inc == aevb/* ]]; then
      target=${inc#aevb/}; target=${target%%/*}
      [[ " ${ALLOWED[$layer]} " == *" $target "* ]] && continue
      echo "$f:$lineno: layer '$layer' may not include $inc (it may include: ${ALLOWED[$layer]})"
      bad=1
    elif [[ ${BASH_REMATCH[4]} == '"' ]]; then
      # A quoted include that is not aevb/...: a private header beside the file,
      # never a path out of its folder.
      if [[ $inc == */* ]]; then
        echo "$f:$lineno: \"$inc\": a relative include may only name a header in the same folder (use \"aevb/<layer>/...\")"
        bad=1
      elif [[ ! -f $(dirname "$f")/$inc ]]; then
        echo "$f:$lineno: \"$inc\" is not in $(dirname "$f")/ (aevb headers are included as \"aevb/<layer>/...\")"
        bad=1
      fi
    else
      for re in "${!EXTERNAL[@]}"; do
        [[ $inc =~ $re ]] || continue
        [[ " ${EXTERNAL[$re]} " == *" $layer "* ]] && continue
        echo "$f:$lineno: layer '$layer' may not include <$inc> (only: ${EXTERNAL[$re]})"
        bad=1
      done
    fi
  done < <(grep -rnE --include='*.[ch]pp' --include='*.[ch]' --include='*.cc' --include='*.hh' --include='*.inl' \
             --include='*.ipp' '^[[:space:]]*#[[:space:]]*include' include src data_tools | sort -t: -k1,1 -k2,2n)
  return $bad
}

if [[ ${1:-} == --self-test ]]; then
  src=${2:?usage: check_layers.sh --self-test SOURCE_DIR}
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  cp -r "$src/include" "$src/src" "$src/data_tools" "$tmp/"
  check_tree "$tmp" >/dev/null || { echo "self-test: the unmodified tree already fails"; exit 1; }
  # The VAE math reaching for MPI and for a driver header: both must be caught.
  printf '#include <mpi.h>\n#include "aevb/train/train_step.hpp"\n' >> "$tmp/src/core/sgvb.cpp"
  # A path out of the folder, and a source file outside every layer.
  printf '#include "../train/train_step.hpp"\n' >> "$tmp/src/core/vae.cpp"
  printf 'int x;\n' > "$tmp/src/stray.cpp"
  out=$(check_tree "$tmp"); rc=$?
  echo "$out"
  [[ $rc -eq 1 ]] || { echo "self-test: expected exit 1, got $rc"; exit 1; }
  grep -q 'src/core/vae.cpp:.*relative include' <<<"$out" || { echo "self-test: ../ include not caught"; exit 1; }
  grep -q 'src/stray.cpp: not in a layer' <<<"$out" || { echo "self-test: stray file not caught"; exit 1; }
  grep -q "src/core/sgvb.cpp:.*layer 'core' may not include <mpi.h>" <<<"$out" || { echo "self-test: mpi.h not caught"; exit 1; }
  grep -q "src/core/sgvb.cpp:.*layer 'core' may not include aevb/train/train_step.hpp" <<<"$out" || { echo "self-test: driver header not caught"; exit 1; }
  echo "self-test: all four deliberate violations caught"
  exit 0
fi

check_tree "${1:-$(dirname "$0")/..}" && echo "check_layers: every include respects the layers"
