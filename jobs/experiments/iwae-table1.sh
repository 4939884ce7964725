#!/bin/bash
# Submits the IWAE paper's Table 1 one-layer protocol (iwae-table1.txt) as a job
# array of jobs/sweep.sbatch: five models, each trained for the 3,280 epochs of
# the 8-stage schedule (stage i: 3^i epochs at 0.001 * 10^(-i/7)), the best
# model on the 400 validation rows kept as model_best.h5, then evaluated with
# K = 5,000 importance samples on the 10,000 test rows.
#
#   jobs/experiments/iwae-table1.sh DATA_DIR OUT_DIR [extra sbatch options...]
#
# DATA_DIR: MNIST with a 400-row validation split, made by
#   aevb-data convert mnist --mnist-dir MNIST --valid-rows 400 --out DATA_DIR
# The 59,600 training rows are binarized afresh every step (dynamic), the
# test rows once, with the evaluation seed.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
if [[ $# -lt 2 ]]; then sed -n '2,13p' "$0" >&2; exit 2; fi
data=$1 out=$2
shift 2
export EVAL_ARGS="${EVAL_ARGS:---k 1,5,50,5000}"
exec sbatch --array=0-4 --cpus-per-task="${CPUS:-4}" "$@" "$here/../sweep.sbatch" "$here/iwae-table1.txt" "$out" \
  --data "$data" --valid-split valid --keep-best on --binarize dynamic \
  --hidden 200,200 --latent 50 --activation tanh --batch 20 --init glorot --output-bias-init mean \
  --optimizer adam --lr 0.001 --adam-beta1 0.9 --adam-beta2 0.999 --adam-eps 1e-4 --lr-schedule iwae \
  --weight-prior-precision 0 --epochs 3280 --eval-every 27 --checkpoint-every-seconds 1800
