#!/usr/bin/env bash
# Transfer (issue 28, item 4): a bridge trained on one frozen LLM's judgments, served in front
# of another, on the same email-subject test emails, against each LLM's own baselines.
#
#   bash experiments/transfer.sh   # tables: runs/transfer/email-{smollm2,qwen}/eval-test.md
#   TO=qwen QWEN_CHAINS=sl QWEN_SEEDS=0 bash experiments/transfer.sh   # SmolLM2's bridges in
#                                       # front of Qwen, beside Qwen's SL bridge of seed 0
#
# SmolLM2's bridges come from the recipe of the Qwen margin-0 run with SmolLM2 as the judge
# (top_k_margin.sh with MODEL=smollm2-fp32 on the same BM25 K=5 candidates: the singles
# metric silver that keeps top-K unless a single beats it, SL with 3 seeds; with SMOL_RL_ONLY=1
# also RL-only with the SmolLM2 study recipe's RL, 3 seeds: about 1,300 new SmolLM2 prompts a
# seed), replayed from SmolLM2's committed judgments where they hold the prompt; its silver,
# when committed under benchmarks/results/transfer/email-smollm2-m0, is restored from there
# (`ragbridge collect --restore`) rather than searched again. Each LLM's test folder (its
# silver: baselines, oracle; its reranker, linked) is then copied into runs/transfer/email-LLM and evaluated there with both
# LLMs' bridges. TO (default "smollm2 qwen") names the LLMs evaluated in front of; the
# SmolLM2 test folder is built only when SmolLM2 is among them. QWEN_CHAINS (default "sl
# sl+rl rl-only") names the Qwen chains evaluated; a missing Qwen run is built with them
# (MARGIN=0 TEST=1 bash experiments/top_k_margin.sh, RL=1 and RL_ONLY=1 as they ask), with
# QWEN_SEEDS (default "0 1 2") the Qwen seeds trained and evaluated. Every stage resumes.
set -euo pipefail
BIN=${BIN:-.venv/bin}
OUT=${OUT:-runs/transfer}
SMALL=smollm2-fp32
BIG=llamacpp:qwen2.5-coder-0.5b
QWEN=runs/qwen-study/email-topk-m0
SMOL=$OUT/email-smollm2-m0

TO=${TO:-smollm2 qwen}
QWEN_CHAINS=${QWEN_CHAINS:-sl sl+rl rl-only}
QWEN_SEEDS=${QWEN_SEEDS:-0 1 2}
wants() { [[ " $1 " == *" $2 "* ]]; }  # LIST WORD: is WORD among the words of LIST?

QWEN_RL=0; QWEN_RL_ONLY=0
! wants "$QWEN_CHAINS" sl+rl || QWEN_RL=1
! wants "$QWEN_CHAINS" rl-only || QWEN_RL_ONLY=1
MARGIN=0 RL=$QWEN_RL RL_ONLY=$QWEN_RL_ONLY TEST=1 SEEDS="$QWEN_SEEDS" BIN=$BIN \
  bash experiments/top_k_margin.sh

# the committed silver (and tables) back into OUT rather than searched again
"$BIN/ragbridge" collect --runs "$OUT" --name transfer --restore
# SmolLM2's judgments beyond the study's, committed before a stop by
#   .venv/bin/ragbridge export-judgments --llm smollm2-fp32 --out $SMOL_NEW \
#     --exclude src/ragbridge/judgments/study.jsonl.gz \
#     --exclude benchmarks/results/study/judgments.jsonl.gz
SMOL_NEW=benchmarks/results/transfer/judgments-smollm2.jsonl.gz
SMOL_TEST=0; ! wants "$TO" smollm2 || SMOL_TEST=1
MODEL=$SMALL RUN=$SMOL RL_PRESET=study RL_ONLY=${SMOL_RL_ONLY:-0} TEST=$SMOL_TEST BIN=$BIN \
  JUDGMENTS="src/ragbridge/judgments/study.jsonl.gz benchmarks/results/study/judgments.jsonl.gz $SMOL_NEW" \
  bash experiments/top_k_margin.sh

BRIDGES=()
add_bridges() {  # LABEL FOLDER PREFIX SEEDS: the seeds of one chain
  local seed out
  for seed in $4; do
    out="$2/$3$seed"
    [ "$3" != bridge-sl-seed ] || [ "$seed" != 0 ] || out="$2/bridge-sl"
    BRIDGES+=(--bridge "$1 seed $seed=$out/model")
  done
}
add_bridges "SmolLM2 SL" "$SMOL" bridge-sl-seed "0 1 2"
[ "${SMOL_RL_ONLY:-0}" != 1 ] || add_bridges "SmolLM2 RL-only" "$SMOL" bridge-rl-only-seed "0 1 2"
! wants "$QWEN_CHAINS" sl || add_bridges "Qwen SL" "$QWEN" bridge-sl-seed "$QWEN_SEEDS"
[ "$QWEN_RL" != 1 ] || add_bridges "Qwen SL+RL" "$QWEN" bridge-rl-seed "$QWEN_SEEDS"
[ "$QWEN_RL_ONLY" != 1 ] || add_bridges "Qwen RL-only" "$QWEN" bridge-rl-only-seed "$QWEN_SEEDS"

copy_eval() {  # SOURCE DEST: a test folder's candidates, config and silver; its reranker linked
  mkdir -p "$2"
  cp "$1"/candidates.jsonl "$1"/config.json "$1"/silver*.jsonl "$1"/silver*.json "$2"/
  ln -sfn "$(realpath "$1/reranker")" "$2/reranker"
}
if wants "$TO" smollm2; then
  copy_eval "$SMOL-test" "$OUT/email-smollm2"
  "$BIN/ragbridge" evaluate --run "$OUT/email-smollm2" --split test "${BRIDGES[@]}" --llm "$SMALL"
fi
if wants "$TO" qwen; then
  copy_eval "$QWEN-test" "$OUT/email-qwen"
  "$BIN/ragbridge" evaluate --run "$OUT/email-qwen" --split test "${BRIDGES[@]}" --llm "$BIG"
fi
