#!/usr/bin/env bash
# Issue 28 item 1: the gap probe on each candidate study LLM, in growing slices of dev so a
# stop leaves a usable table (every judgment is cached: a rerun resumes where it stopped).
#   benchmarks/study_llm_gap.sh [RUNS]        (RUNS defaults to runs/qwen)
# Needs RUNS/nq-dense-k10 and RUNS/email-bm25-k5 from `ragbridge retrieve` (see docs).
set -euo pipefail
RUNS=${1:-runs/qwen}
RAGBRIDGE=${RAGBRIDGE:-ragbridge}
declare -A SHORT=([llamacpp:qwen2.5-coder-0.5b]=qwen05 [llamacpp:qwen2.5-coder-1.5b]=qwen15
                  [smollm2-fp32]=smollm2)
probe() {  # run llm n
  local run=$1 llm=$2 n=$3 dir="$RUNS/$1-${SHORT[$2]}"
  mkdir -p "$dir"
  [ -e "$dir/gap-n$n.json" ] && return 0  # done: a replay would only overwrite its seconds
  [ -e "$dir/candidates.jsonl" ] || cp "$RUNS/$run/candidates.jsonl" "$RUNS/$run/config.json" "$dir/"
  echo "== $(date -u +%FT%TZ) gap $dir --llm $llm -n $n"
  $RAGBRIDGE gap --run "$dir" --llm "$llm" -n "$n"
  cp "$dir/gap.json" "$dir/gap-n$n.json"
}
probe nq-dense-k10 llamacpp:qwen2.5-coder-0.5b 50
probe nq-dense-k10 llamacpp:qwen2.5-coder-1.5b 50
probe email-bm25-k5 llamacpp:qwen2.5-coder-0.5b 50
probe nq-dense-k10 smollm2-fp32 50
probe email-bm25-k5 llamacpp:qwen2.5-coder-1.5b 50
probe email-bm25-k5 smollm2-fp32 50
# Larger slices: the LLMs that fit the study's budget first (Qwen-1.5B at ~5 s a prompt here
# cannot pay for the study's silver search, so its 200-question probe comes last).
for n in 100 200; do
  probe nq-dense-k10 llamacpp:qwen2.5-coder-0.5b $n
  probe email-bm25-k5 llamacpp:qwen2.5-coder-0.5b $n
done
for n in 100 200; do
  probe nq-dense-k10 smollm2-fp32 $n
  probe email-bm25-k5 smollm2-fp32 $n
done
for n in 100 200; do
  probe nq-dense-k10 llamacpp:qwen2.5-coder-1.5b $n
  probe email-bm25-k5 llamacpp:qwen2.5-coder-1.5b $n
done
