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
#   bash benchmarks/entropy_rl.sh [RUN] [COEF ...]   # default: runs/exp/email-entropy 0.01 0.03
#
# Then the test table of the best dev run (same 226 emails as the study's table):
#   ragbridge evaluate --run RUN --split test --bridge "SL+RL entropy C=RUN/bridge-rl-entropy-C/model"
set -euo pipefail
RUN=${1:-runs/exp/email-entropy}
shift || true
COEFS=("$@")
[ ${#COEFS[@]} -gt 0 ] || COEFS=(0.01 0.03)
BIN=${BIN:-.venv/bin}
LLM=(--llm smollm2-fp32)
SEARCH=(--strategy singles --max-length 2 --utility metric)

[ -f "$RUN/candidates.jsonl" ] || {
  [ -f "$HOME/.cache/ragbridge/datasets/email-subject/meta.json" ] || "$BIN/ragbridge" data email-subject
  "$BIN/ragbridge" retrieve --dataset email-subject --retriever bm25 --k 5 --run "$RUN"
}
"$BIN/ragbridge" silver --run "$RUN" --split train "${SEARCH[@]}" --no-top-k "${LLM[@]}"
"$BIN/ragbridge" silver --run "$RUN" --split dev "${SEARCH[@]}" "${LLM[@]}"
"$BIN/ragbridge" train-sl --run "$RUN" --epochs 4 --dev-limit 150 "${LLM[@]}"
for COEF in "${COEFS[@]}"; do
  "$BIN/ragbridge" train-rl --run "$RUN" --out "$RUN/bridge-rl-entropy-$COEF" \
    --algorithm rloo --samples-per-query 4 --rollout-queries 8 --learning-rate 1e-4 \
    --kl-coef 0.05 --likelihood-weight 0.1 --entropy-coef "$COEF" \
    --iterations 40 --eval-every 10 --dev-limit 150 "${LLM[@]}"
done
