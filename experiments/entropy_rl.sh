#!/usr/bin/env bash
# Does an entropy bonus let SL+RL (BGM) on email-subject leave single passages?
#
# RL from the study's email SL bridge samples length-1 sequences only (mean length 1.0, no
# repeats: BENCHMARKS.md, "SL+RL from a silver that may repeat"), so it cannot find what
# RL-only found (repeating a passage). This run repeats the study's email pipeline (same
# candidates, metric silver, SL and RL settings) and trains SL+RL once per entropy
# coefficient (`--entropy-coef`, paid into the reward per nat of the sampled sequence's
# negative log-probability). Every stage resumes: rerun to continue.
#
#   bash experiments/entropy_rl.sh [RUN] [COEF ...]   # default: runs/exp/email-entropy 0.01 0.03
#
# Then the test table of the best dev run (same 226 emails as the study's table):
#   ragbridge evaluate --run RUN --split test --bridge "SL+RL entropy C=RUN/bridge-rl-entropy-C/model"
set -euo pipefail
RUN=${1:-runs/exp/email-entropy}
shift || true
COEFS=("$@")
[ ${#COEFS[@]} -gt 0 ] || COEFS=(0.01 0.03)
VARIANTS=()
for COEF in "${COEFS[@]}"; do
  VARIANTS+=("entropy-$COEF" "--entropy-coef $COEF")
done
# the study's email pipeline with one RL variant per coefficient (experiments/rl_from_sl.sh)
exec bash "$(dirname "$0")/rl_from_sl.sh" "$RUN" "${VARIANTS[@]}"
