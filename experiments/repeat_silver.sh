#!/usr/bin/env bash
# Does SL+RL (BGM) on email-subject gain when its silver may repeat the best single?
#
# The study's SL bridge emits one passage for every email (its silver never repeats), so RL
# from it samples length-1 sequences only and cannot find what RL-only found (repetition).
# This run repeats the study's email pipeline (same candidates, metric utility, SL and RL
# settings) with one change: the singles search also judges the best single twice
# (`--repeat-best 2`, one more prompt per query). Every stage resumes: rerun to continue.
#
#   bash experiments/repeat_silver.sh [RUN]     # default RUN: runs/exp/email-subject-repeat
#   REPEAT=5 bash experiments/repeat_silver.sh runs/exp/email-subject-repeat5
#
# REPEAT (default 2) is --repeat-best: the best single is also judged 2..REPEAT times.
#
# Then compare with the study's test table (same 226 emails, per-example scores):
#   python experiments/paired_dev.py --split test ...   (see BENCHMARKS.md)
set -euo pipefail
RUN=${1:-runs/exp/email-subject-repeat}
BIN=${BIN:-.venv/bin}
LLM=(--llm smollm2-fp32)
SEARCH=(--strategy singles --max-length 2 --repeat-best "${REPEAT:-2}" --utility metric)

[ -f "$RUN/candidates.jsonl" ] || {
  [ -f "${RAGBRIDGE_CACHE:-$HOME/.cache/ragbridge}/datasets/email-subject/meta.json" ] || "$BIN/ragbridge" data email-subject
  "$BIN/ragbridge" retrieve --dataset email-subject --retriever bm25 --k 5 --run "$RUN"
}
"$BIN/ragbridge" silver --run "$RUN" --split train "${SEARCH[@]}" --no-top-k "${LLM[@]}"
"$BIN/ragbridge" silver --run "$RUN" --split dev "${SEARCH[@]}" "${LLM[@]}"
"$BIN/ragbridge" train-sl --run "$RUN" --epochs 4 --dev-limit 150 "${LLM[@]}"
"$BIN/ragbridge" train-rl --run "$RUN" --algorithm rloo --samples-per-query 4 \
  --rollout-queries 8 --learning-rate 1e-4 --kl-coef 0.05 --likelihood-weight 0.1 \
  --iterations 40 --eval-every 10 --dev-limit 150 "${LLM[@]}"
"$BIN/ragbridge" silver --run "$RUN" --split test "${SEARCH[@]}" "${LLM[@]}"
"$BIN/ragbridge" evaluate --run "$RUN" --split test --bridge "SL (repeat silver)=$RUN/bridge-sl/model" \
  --bridge "SL+RL (repeat silver)=$RUN/bridge-rl/model" "${LLM[@]}"
