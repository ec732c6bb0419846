#!/usr/bin/env bash
# Can SL+RL (BGM) on email-subject leave its SL start's single passages?
#
# The study's email SL+RL kept its SL start (BENCHMARKS.md, "Results"): the SL policy is
# peaked on one passage (rollouts of mean length 1.0, no repeats), and the KL term charges a
# sampled sequence kl_coef x its log-ratio to SL, which for a passage repeated five times
# (what RL-only learned) is several nats: more than the whole BLEU reward. This run repeats the
# study's email pipeline (same candidates, metric silver, SL 4 epochs, RLOO 40 x 8 x 4) and
# trains SL+RL once per variant, each a name and its extra train-rl options. Every stage
# resumes: rerun to continue.
#
#   bash experiments/rl_from_sl.sh RUN NAME "OPTIONS" [NAME "OPTIONS" ...]
#   bash experiments/rl_from_sl.sh runs/exp/email-rl-explore kl0-t2 "--kl-coef 0 --temperature 2"
#   SL_OPTIONS="--epochs 1 --head-learning-rate 5e-5" bash experiments/rl_from_sl.sh \
#       runs/exp/email-weak-sl study ""        # RL with the study's settings from a broad SL
#
# SL_OPTIONS (default: the study's SL, 4 epochs) are extra train-sl options; SILVER_OPTIONS
# (default: --utility metric, the study's) replace the silver search's utility and repeats:
#   SILVER_OPTIONS="--utility likelihood --repeat-best 5" bash experiments/rl_from_sl.sh \
#       runs/exp/email-subject-lik-repeat5 study ""    # SL on silver that may repeat, then RL
#
# Then the test table (same 226 emails as the study's):
#   ragbridge evaluate --run RUN --split test --bridge "SL+RL NAME=RUN/bridge-rl-NAME/model"
set -euo pipefail
RUN=${1:?RUN}
shift
BIN=${BIN:-.venv/bin}
LLM=(--llm smollm2-fp32)
# shellcheck disable=SC2206  # SILVER_OPTIONS is a list of options
SEARCH=(--strategy singles --max-length 2 ${SILVER_OPTIONS:---utility metric})

[ -f "$RUN/candidates.jsonl" ] || {
  [ -f "${RAGBRIDGE_CACHE:-$HOME/.cache/ragbridge}/datasets/email-subject/meta.json" ] || "$BIN/ragbridge" data email-subject
  "$BIN/ragbridge" retrieve --dataset email-subject --retriever bm25 --k 5 --run "$RUN"
}
"$BIN/ragbridge" silver --run "$RUN" --split train "${SEARCH[@]}" --no-top-k "${LLM[@]}"
"$BIN/ragbridge" silver --run "$RUN" --split dev "${SEARCH[@]}" "${LLM[@]}"
[ -f "$RUN/bridge-sl/model/bridge_config.json" ] || \
  # shellcheck disable=SC2086  # SL_OPTIONS is a list of options
  "$BIN/ragbridge" train-sl --run "$RUN" --epochs 4 --dev-limit 150 ${SL_OPTIONS:-} "${LLM[@]}"
while [ $# -ge 2 ]; do
  NAME=$1 OPTIONS=$2
  shift 2
  # shellcheck disable=SC2086  # OPTIONS is a list of options
  "$BIN/ragbridge" train-rl --run "$RUN" --out "$RUN/bridge-rl-$NAME" \
    --algorithm rloo --samples-per-query 4 --rollout-queries 8 --learning-rate 1e-4 \
    --kl-coef 0.05 --likelihood-weight 0.1 --iterations 40 --eval-every 10 --dev-limit 150 \
    $OPTIONS "${LLM[@]}"
done
