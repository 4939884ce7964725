#!/bin/bash
# Submits the AEVB paper's Figure 2 sweeps as job arrays of jobs/sweep.sbatch:
# MNIST (aevb-fig2-mnist.txt, J = 3..200, 500 hidden units) and Frey Face
# (aevb-fig2-frey.txt, J = 2..20, 200 hidden units, Gaussian decoder), with the
# paper's Adagrad, M = 100, L = 1, N(0, 0.01^2) initialization and N(0, I)
# weight prior; test log-likelihoods by importance sampling at the end.
#
#   jobs/experiments/aevb-fig2.sh MNIST_DATA FREY_DATA OUT_DIR [extra sbatch options...]
#
# MNIST_DATA from aevb-data convert mnist; FREY_DATA from aevb-data convert frey
# (with a test split, e.g. --split train=0.9,test=rest). EPOCHS (default 1667,
# the paper's 10^8 MNIST samples) sets the length of both sweeps.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
if [[ $# -lt 3 ]]; then sed -n '2,13p' "$0" >&2; exit 2; fi
mnist=$1 frey=$2 out=$3
shift 3
common=(--estimator B --samples 1 --batch 100 --optimizer adagrad --lr 0.02 --init normal --init-std 0.01
        --weight-prior-precision 1 --epochs "${EPOCHS:-1667}" --eval-every 10 --checkpoint-every-seconds 1800)
sbatch --array=0-4 "$@" "$here/../sweep.sbatch" "$here/aevb-fig2-mnist.txt" "$out/mnist" --data "$mnist" "${common[@]}"
sbatch --array=0-3 "$@" "$here/../sweep.sbatch" "$here/aevb-fig2-frey.txt" "$out/frey" --data "$frey" "${common[@]}"
