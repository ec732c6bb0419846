"""Silver-label analysis for the email-subject BM25 BGM study (plain Python, JSON only).

Reads the silver JSONL records and eval-test.json of the Qwen study's email runs; writes a
markdown report. No LLM calls: every number is a metric already stored in the records.

    python experiments/silver_vs_top_k.py [RUNS] [OUT]   # RUNS: runs/qwen-study/
"""
import json
import random
import statistics as st
import sys
from collections import Counter

BASE = (sys.argv[1].rstrip("/") + "/") if len(sys.argv) > 1 else "runs/qwen-study/"
M = BASE + "email-subject-bm25/"
ML = BASE + "email-subject-bm25-metric-likelihood/"
OUT = sys.argv[2] if len(sys.argv) > 2 else "silver_vs_top_k.md"


def load(path):
    """Read a JSONL file into a list of records."""
    with open(path) as f:
        return [json.loads(line) for line in f]


def mean(xs):
    """Mean of the non-None values (nan if there are none)."""
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def singles(r):
    """Metric of each candidate alone, by position."""
    return {t["append"]: t["metric"] for t in r["trace"][1]["tried"]}


def pairs(r):
    """Metric of each verified pair: tuple of positions -> metric."""
    return {tuple(v["sequence"]): v["metric"] for v in r["trace"][2]["verified"]}


def options(r, with_top_k=True):
    """Every judged option: key -> metric (key: tuple of positions, 'K' for top-K)."""
    o = {(): r["empty_score"]}
    o.update({(p,): m for p, m in singles(r).items()})
    o.update(pairs(r))
    if with_top_k and r.get("top_k_score") is not None:
        o["K"] = r["top_k_score"]
    return o


def boot_ci(diffs, n=1000, seed=0):
    """Percentile bootstrap 95% CI of the mean of diffs."""
    rng = random.Random(seed)
    k = len(diffs)
    ms = sorted(sum(rng.choice(diffs) for _ in range(k)) / k for _ in range(n))
    return ms[int(0.025 * n)], ms[int(0.975 * n) - 1]


def f1(x):
    """Format with one decimal."""
    return f"{x:.1f}"


lines = []
w = lines.append

dev = load(M + "silver-dev.jsonl")
test = load(M + "silver-test.jsonl")
train = load(M + "silver.jsonl")
ml_dev, ml_train = load(ML + "silver-dev.jsonl"), load(ML + "silver.jsonl")

w("# Silver labels vs top-5: email-subject, BM25, Qwen2.5-Coder-0.5B (sentence BLEU, 0-100)")
w("")
w("All numbers come from stored records (the eval-test per-example scores match the silver-test "
  "trace exactly: decoding is deterministic). Search = `singles`: empty, each candidate alone, "
  "then the best two; a single/pair is kept only if it *strictly* beats the empty prompt.")
w("")
w("**Verdict.** Part 1 confirmed: train labels are never top-K (max length 2; 48% empty, "
  "mean 0.53 passages). "
  "Part 2 confirmed: half the single labels beat the runner-up option by < 0.6 BLEU and "
  "73-76% by < 5 "
  "(train/test), and 27% of train queries have every option at 0, so the argmax is mostly "
  "noise to imitate; the SL bridges lose to top-5 almost entirely on their one-passage picks.")
w("")
# ---------------------------------------------------------------- 1. fixed policies
w("## 1. Fixed policies on dev / test (mean BLEU; n = queries)")
w("")
w("| policy | dev (108) | test (226) |")
w("|---|---:|---:|")
rows = [("none", lambda r: r["empty_score"])]
rows += [(f"single #{p}" + (" (= top-1)" if p == 0 else ""),
          lambda r, p=p: singles(r).get(p))
         for p in range(5)]
rows += [("mean of the singles", lambda r: mean(singles(r).values())),
         ("top-K (all candidates, ~4.8)", lambda r: r["top_k_score"]),
         ("silver sequence (oracle, no top-K)", lambda r: r["score"]),
         ("best of {top-K, none}", lambda r: max(r["top_k_score"], r["empty_score"])),
         ("best of {silver, top-K}", lambda r: max(r["score"], r["top_k_score"])),
         ("best single (incl. empty)", lambda r: max([r["empty_score"], *singles(r).values()]))]
for name, fn in rows:
    w(f"| {name} | {f1(mean(fn(r) for r in dev))} | {f1(mean(fn(r) for r in test))} |")
w(f"| dev, metric+likelihood silver | {f1(mean(r['score'] for r in ml_dev))} | - |")
w("")
for name, recs in (("dev", dev), ("test", test)):
    win = sum(r["top_k_score"] > r["score"] + 1e-9 for r in recs)
    tie = sum(abs(r["top_k_score"] - r["score"]) <= 1e-9 for r in recs)
    lose = len(recs) - win - tie
    tie0 = sum(abs(r["top_k_score"] - r["score"]) <= 1e-9 and r["score"] == 0 for r in recs)
    gain = sum(max(0, r["top_k_score"] - r["score"]) for r in recs) / len(recs)
    d = [r["top_k_score"] - r["score"] for r in recs]
    lo, hi = boot_ci(d)
    tk1 = [r["top_k_score"] - singles(r)[0] for r in recs]
    lo1, hi1 = boot_ci(tk1)
    w(f"- {name}: top-K beats the silver on {win}/{len(recs)} ({100*win/len(recs):.0f}%), "
      f"ties {tie} "
      f"({tie0} of them both 0), loses {lose}; adding top-K as an option adds "
      f"+{gain:.1f} on average. "
      f"top-K - top-1 = {mean(tk1):+.1f} [95% CI {lo1:+.1f}, {hi1:+.1f}].")
w("")
# ---------------------------------------------------------------- 2. train distribution
w("## 2. Silver labels on train (224 queries; 192 with 5 candidates, 12 with 4, 20 with 3)")
w("")
w("| utility | empty | 1 passage | 2 passages | mean length | first position 0/1/2/3/4 | "
  "any position 0/1/2/3/4 |")
w("|---|---:|---:|---:|---:|---|---|")
for name, recs in (("metric (train)", train), ("metric+likelihood (train)", ml_train),
                   ("metric (dev)", dev), ("metric (test)", test)):
    n = len(recs)
    L = Counter(len(r["silver_positions"]) for r in recs)
    first = Counter(r["silver_positions"][0] for r in recs if r["silver_positions"])
    anyp = Counter(p for r in recs for p in r["silver_positions"])
    w(f"| {name} | {100*L[0]/n:.0f}% | {100*L[1]/n:.0f}% | {100*L[2]/n:.0f}% | "
      f"{mean(len(r['silver_positions']) for r in recs):.2f} | "
      f"{'/'.join(str(first[p]) for p in range(5))} | {'/'.join(str(anyp[p]) for p in range(5))} |")
nobeat = sum(not any(m > r["empty_score"] for m in singles(r).values()) for r in train)
allzero_tr = sum(all(v == 0 for v in options(r).values()) for r in train)
w("")
w(f"- Train: on {nobeat}/224 ({100*nobeat/224:.0f}%) no single strictly beats the empty "
  f"prompt -> label "
  f"'empty'; on {allzero_tr} ({100*allzero_tr/224:.0f}%) every judged option scores 0 "
  f"(label 'empty' "
  f"from a tie, no signal). Max label length is 2; top-K (4.8 passages) can never be a label.")
w("")
# ---------------------------------------------------------------- 3. winner's curse
w("## 3. Noise / winner's curse (no new LLM calls)")
w("")
w("| split | all options 0 | silver = a single | margin over runner-up: median / mean | "
  "margin < 5 | "
  "max tied by >=2 options | best single - mean single |")
w("|---|---:|---:|---:|---:|---:|---:|")
for name, recs in (("train", train), ("dev", dev), ("test", test)):
    n = len(recs)
    allz = sum(all(v == 0 for v in options(r).values()) for r in recs)
    margins, ties = [], 0
    for r in recs:
        o = options(r, with_top_k=False)
        best = max(o.values())
        ties += sum(abs(v - best) < 1e-9 for v in o.values()) >= 2
        if len(r["silver_positions"]) == 1:
            key = tuple(r["silver_positions"])
            margins.append(o[key] - max(v for k, v in o.items() if k != key))
    gap = mean(max(singles(r).values()) - mean(singles(r).values()) for r in recs)
    w(f"| {name} | {allz} ({100*allz/n:.0f}%) | {len(margins)} | "
      f"{st.median(margins):.1f} / {mean(margins):.1f} | "
      f"{sum(m < 5 for m in margins)} ({100*sum(m < 5 for m in margins)/len(margins):.0f}%) | "
      f"{ties} ({100*ties/n:.0f}%) | {gap:.1f} |")
w("")
# policy-level winner's curse: pick best fixed single on dev, apply on test
dev_s = {p: mean(singles(r).get(p) for r in dev) for p in range(5)}
test_s = {p: mean(singles(r).get(p) for r in test) for p in range(5)}
bp = max(dev_s, key=dev_s.get)
# stability: is the per-query best single position the same for the two utilities
# (same metric values)?
def argbest(r):
    """Positions of the best single(s), or [] if none strictly beats the empty prompt."""
    s = singles(r)
    b = max(s.values())
    return [p for p, v in s.items() if v == b] if b > r["empty_score"] else []
uniq = [r for r in test if len(argbest(r)) == 1]
w(f"- Policy-level curse: the best fixed single on dev is #{bp} ({dev_s[bp]:.1f}); "
  f"on test it scores "
  f"{test_s[bp]:.1f} (test top-1 {test_s[0]:.1f}, "
  f"top-K {mean(r['top_k_score'] for r in test):.1f}). "
  f"Dev ranks top-K ({mean(r['top_k_score'] for r in dev):.1f}) *below* top-1 "
  f"({dev_s[0]:.1f}); test ranks it far above: "
  f"dev-based model selection pushes towards short selections.")
# correlation of per-query gains across positions (signal vs noise)
def corr(a, b):
    """Pearson correlation of two equal-length lists (nan if either is constant)."""
    ma, mb = mean(a), mean(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    den = (sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) ** 0.5
    return num / den if den else float("nan")
full = [r for r in test if len(singles(r)) == 5]
g = [[singles(r)[p] - r["empty_score"] for r in full] for p in range(5)]
cs = [corr(g[p], g[q]) for p in range(5) for q in range(p + 1, 5)]
tg = [r["top_k_score"] - r["empty_score"] for r in full]
ms = [mean([g[p][i] for p in range(5)]) for i in range(len(full))]
tot = [g[p][i] for p in range(5) for i in range(len(full))]
res_ = [g[p][i] - ms[i] for p in range(5) for i in range(len(full))]
vt = mean([(x - mean(tot)) ** 2 for x in tot])
vr = mean([x ** 2 for x in res_])
w(f"- Signal vs noise (test, {len(full)} queries with 5 candidates): per-query gains "
  f"(single p - empty) "
  f"correlate {mean(cs):.2f} across positions, the top-K gain correlates "
  f"{corr(tg, ms):.2f} with the mean "
  f"single gain: a query-level 'passages help here' signal exists (learnable: top-K vs none), but "
  f"{100*vr/vt:.0f}% of the gain variance is the position-specific part the silver argmax "
  f"is built on.")
# break-even accuracies
for name, recs in (("dev", dev), ("test", test)):
    tk = mean(r["top_k_score"] for r in recs)
    mx = mean(max(r["score"], r["top_k_score"]) for r in recs)
    mn = mean(min(r["score"], r["top_k_score"]) for r in recs)
    q = (tk - mn) / (mx - mn)
    # imitating the silver exactly, else a uniformly random other search option
    # (what an SL bridge does)
    ex, other = [], []
    for r in recs:
        o = options(r, with_top_k=False)
        key = tuple(r["silver_positions"])
        ex.append(o[key])
        rest = [v for k, v in o.items() if k != key]
        other.append(mean(rest) if rest else o[key])
    q2 = (tk - mean(other)) / (mean(ex) - mean(other))
    w(f"- {name}: a perfect 'silver vs top-K' switch scores {mx:.1f}, a perfect "
      f"'top-K vs none' switch "
      f"{mean(max(r['top_k_score'], r['empty_score']) for r in recs):.1f}; "
      f"a silver/top-K switch beats top-K "
      f"only if right on > {100*q:.0f}% of queries. A bridge that imitates the silver exactly with "
      f"probability a (else a random other search option, mean {mean(other):.1f}) "
      f"ties top-K at a = {100*q2:.0f}%.")
# relabeling with top-K as the default and a margin
w("")
w("| relabel: silver only if it beats top-K by > m, else top-K | m=0 | m=2 | m=5 | m=10 |")
w("|---|---:|---:|---:|---:|")
for name, recs in (("dev", dev), ("test", test)):
    cells_share, cells_val = [], []
    for m in (0, 2, 5, 10):
        lab = [r["score"] if r["score"] > r["top_k_score"] + m else r["top_k_score"] for r in recs]
        share = sum(not (r["score"] > r["top_k_score"] + m) for r in recs) / len(recs)
        cells_share.append(f"{100*share:.0f}%")
        cells_val.append(f"{mean(lab):.1f}")
    w(f"| {name}: share labelled top-K | " + " | ".join(cells_share) + " |")
    w(f"| {name}: mean metric of the labels | " + " | ".join(cells_val) + " |")
w("")
# ---------------------------------------------------------------- 4. SL bridges per example
with open(M + "eval-test.json") as f:
    ev = json.load(f)
res = {r["method"]: r for r in ev["results"]}
top5 = res["top-5"]["scores"]
w("## 4. SL bridges on test, per example (226)")
w("")
w("| method | BLEU | = silver | empty / 1 / 2+ | deficit vs top-5 from empty / 1 / 2+ picks | "
  "bridge > top-5 / < | silver-exact picks: mean vs top-5 |")
w("|---|---:|---:|---|---|---|---|")
sanity = 0
for name in [m for m in res if res[m]["kind"] in ("bridge", "baseline")
             and m not in ("no retrieval", "top-1", "top-5")]:
    r = res[name]
    sc, pos = r["scores"], r["positions"]
    exact = [i for i in range(226) if pos[i] == test[i]["silver_positions"]]
    groups = {0: [], 1: [], 2: []}
    for i in range(226):
        groups[min(len(pos[i]), 2)].append(i)
        o = options(test[i])
        if tuple(pos[i]) in o and abs(o[tuple(pos[i])] - sc[i]) > 1e-6:
            sanity += 1
    defi = "/".join(f"{sum(sc[i]-top5[i] for i in groups[k])/226:+.1f}" for k in (0, 1, 2))
    cnt = "/".join(str(len(groups[k])) for k in (0, 1, 2))
    better = sum(sc[i] > top5[i] + 1e-9 for i in range(226))
    worse = sum(sc[i] < top5[i] - 1e-9 for i in range(226))
    exne = sum(1 for i in exact if test[i]["silver_positions"])
    label = name.replace(" silver", "").replace(
        "point-wise reranker", "point-wise reranker (baseline)")
    w(f"| {label} | {r['metric']:.1f} | "
      f"{len(exact)} ({100*len(exact)/226:.0f}%; {exne} non-empty) | {cnt} | "
      f"{defi} | {better} / {worse} | "
      f"{mean(sc[i] for i in exact):.1f} vs {mean(top5[i] for i in exact):.1f} |")
w("")
# where silver is empty: what does top-5 get there?
se = [i for i in range(226) if not test[i]["silver_positions"]]
w(f"- Queries whose silver is empty ({len(se)}, {100*len(se)/226:.0f}%): "
  f"empty scores {mean(test[i]['empty_score'] for i in se):.1f}, "
  f"top-5 {mean(top5[i] for i in se):.1f} "
  f"(top-5 > empty on {sum(top5[i] > test[i]['empty_score'] for i in se)}); "
  f"silver non-empty ({226-len(se)}): "
  f"silver {mean(test[i]['score'] for i in range(226) if i not in se):.1f}, "
  f"top-5 {mean(top5[i] for i in range(226) if i not in se):.1f}. "
  f"Bridge picks re-scored from the trace: "
  f"{sanity} mismatches.")
w("")
w("## Next steps (cheap, from the data above)")
w("")
tk_gain_train_note = ("1. Add top-K as a judged option in the train silver (`judge_top_k` on "
                      "train; 1 extra prompt per "
                      "query, 224 prompts) and let the label be top-K when it wins or ties: "
                      "the bridge gets a 'use all' "
                      "action it can never learn now.")
w(tk_gain_train_note)
w("2. Require a margin before leaving the default (min_improvement of a few BLEU, "
  "measured against top-K "
  "rather than empty), so ties and 1-hit wins fall back to top-K instead of to 'empty'/one passage "
  "(relabel table, section 3: already computable from the records for dev/test, no LLM).")
w("3. Select SL checkpoints and the fallback on more than 108 dev queries "
  "(or on the paired difference vs "
  "top-K), since dev ranks top-K below top-1 while test ranks it 4 points above; "
  "and try the longer "
  "greedy (max_length 5, prefixes of the single ranking) which can reach top-K-like sequences.")

with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
print(len(lines), "lines")
