#!/usr/bin/env bash
# Transfer (issue 28, item 4): a bridge trained on one frozen LLM's judgments, served in front
# of another, on the same email-subject test emails, against each LLM's own baselines.
#
#   bash experiments/transfer.sh   # tables: runs/transfer/email-{smollm2,qwen}/eval-test.md
#
# SmolLM2's bridges come from the recipe of the Qwen margin-0 run with SmolLM2 as the judge
# (top_k_margin.sh with MODEL=smollm2-fp32 on the same BM25 K=5 candidates: the singles
# metric silver that keeps top-K unless a single beats it, SL with 3 seeds; with SMOL_RL_ONLY=1
# also RL-only with the SmolLM2 study recipe's RL, 3 seeds: about 1,300 new SmolLM2 prompts a
# seed), replayed from SmolLM2's committed judgments where they hold the prompt. Each
# LLM's test folder (its silver: baselines, oracle; its reranker, linked) is then copied into
# runs/transfer/email-LLM and evaluated there with both LLMs' bridges. The Qwen bridges must
# exist: MARGIN=0 RL=1 RL_ONLY=1 bash experiments/top_k_margin.sh. Every stage resumes.
set -euo pipefail
BIN=${BIN:-.venv/bin}
OUT=${OUT:-runs/transfer}
SMALL=smollm2-fp32
BIG=llamacpp:qwen2.5-coder-0.5b
QWEN=runs/qwen-study/email-topk-m0
SMOL=$OUT/email-smollm2-m0

MODEL=$SMALL RUN=$SMOL RL_PRESET=study RL_ONLY=${SMOL_RL_ONLY:-0} TEST=1 BIN=$BIN \
  JUDGMENTS="src/ragbridge/judgments/study.jsonl.gz benchmarks/results/study/judgments.jsonl.gz" \
  bash experiments/top_k_margin.sh

BRIDGES=()
add_bridges() {  # LABEL FOLDER PREFIX: the 3 seeds of one chain
  local seed out
  for seed in 0 1 2; do
    out="$2/$3$seed"
    [ "$3" != bridge-sl-seed ] || [ "$seed" != 0 ] || out="$2/bridge-sl"
    BRIDGES+=(--bridge "$1 seed $seed=$out/model")
  done
}
add_bridges "SmolLM2 SL" "$SMOL" bridge-sl-seed
[ "${SMOL_RL_ONLY:-0}" != 1 ] || add_bridges "SmolLM2 RL-only" "$SMOL" bridge-rl-only-seed
add_bridges "Qwen SL" "$QWEN" bridge-sl-seed
add_bridges "Qwen SL+RL" "$QWEN" bridge-rl-seed
add_bridges "Qwen RL-only" "$QWEN" bridge-rl-only-seed

copy_eval() {  # SOURCE DEST: a test folder's candidates, config and silver; its reranker linked
  mkdir -p "$2"
  cp "$1"/candidates.jsonl "$1"/config.json "$1"/silver*.jsonl "$1"/silver*.json "$2"/
  ln -sfn "$(realpath "$1/reranker")" "$2/reranker"
}
copy_eval "$SMOL-test" "$OUT/email-smollm2"
copy_eval "$QWEN-test" "$OUT/email-qwen"
"$BIN/ragbridge" evaluate --run "$OUT/email-smollm2" --split test "${BRIDGES[@]}" --llm "$SMALL"
"$BIN/ragbridge" evaluate --run "$OUT/email-qwen" --split test "${BRIDGES[@]}" --llm "$BIG"
