#!/bin/bash
# Submits the Appendix F comparison (appendix-f.txt): MAP and full VB models,
# on all of MNIST and on a 1,000-row subset, each evaluated on the test split
# (plug-in log-likelihood at theta = mu_theta, K = 1,000; for the Bayesian
# models also the full bound and the predictive over S = 10 thetas).
#
#   jobs/experiments/appendix-f.sh MNIST_DATA OUT_DIR [extra sbatch options...]
#
# MNIST_DATA from aevb-data convert mnist. Two job arrays: the MAP lines (0, 2)
# and the Bayesian ones (1, 3), which add --theta-samples 10 to the evaluation.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
if [[ $# -lt 2 ]]; then sed -n '2,10p' "$0" >&2; exit 2; fi
data=$1 out=$2
shift 2
common=(--data "$data" --hidden 200 --latent 20 --activation tanh --batch 100 --optimizer adagrad --lr 0.02
        --weight-prior-precision 1 --eval-every 10 --checkpoint-every-seconds 1800)
EVAL_ARGS="--k 1,1000" sbatch --array=0,2 "$@" "$here/../sweep.sbatch" "$here/appendix-f.txt" "$out" "${common[@]}"
EVAL_ARGS="--k 1,1000 --theta-samples 10" sbatch --array=1,3 "$@" "$here/../sweep.sbatch" "$here/appendix-f.txt" "$out" \
  "${common[@]}"
