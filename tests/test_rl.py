"""The RL stage: PPO and RLOO raise the reward, the KL penalty bounds the drift, resume
continues the same run, and rewards come from the real LLM through the cache.

The fake task rewards exactly one id sequence ("b"); the policy is a tiny random FiD
bridge (mechanics only, no quality claim).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from silver_fakes import EchoLLM, SequenceRewardTask, make_candidates

from ragbridge.bridge import BridgeFormat, build_bridge
from ragbridge.bridge.data import BridgeExample
from ragbridge.bridge.model import Bridge
from ragbridge.bridge.rl import RLConfig, train_rl
from ragbridge.judge import Judge
from ragbridge.llms import CachedLLM
from ragbridge.records import Candidates, Hit
from ragbridge.render import plot_rl
from ragbridge.tasks import get_task

EXAMPLES = [BridgeExample(item) for item in make_candidates(8, k=3)]
TASK = SequenceRewardTask({f"q{n}": {"b": 100.0} for n in range(8)})


def _policy() -> Bridge:
    return build_bridge("tiny-fid", BridgeFormat(k=3, max_ids=3), seed=1)


def _probability_of_b(bridge: Bridge) -> float:
    logprobs, _ = bridge.sequence_logprobs([e.query for e in EXAMPLES],
                                           [e.passages for e in EXAMPLES], [[1]] * len(EXAMPLES))
    return logprobs.sum(1).exp().mean().item()


def _train(tmp_path: Path, name: str, **settings) -> tuple[dict, Bridge]:
    config = RLConfig(**{"iterations": 12, "rollout_queries": 8, "minibatch_size": 8,
                         "learning_rate": 3e-3, "eval_every": 6, "checkpoint_every": 6,
                         **settings})
    start = _policy()
    judge = Judge(TASK, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    history = train_rl(EXAMPLES, EXAMPLES[:4], judge, start, config, tmp_path / name)
    return history, Bridge.from_pretrained(
        tmp_path / name / f"checkpoint-{config.iterations}" / "policy")


@pytest.mark.parametrize("algorithm", ["ppo", "rloo"])
def test_rl_raises_the_reward_of_the_rewarded_sequence(tmp_path: Path, algorithm: str) -> None:
    settings = {"algorithm": algorithm}
    if algorithm == "rloo":
        settings.update(rollout_queries=4, samples_per_query=2)  # the same 8 LLM calls/step
    history, trained = _train(tmp_path, algorithm, **settings)
    rewards = [step["reward"] for step in history["steps"]]
    assert sum(rewards[-3:]) / 3 > sum(rewards[:3]) / 3 + 30
    assert _probability_of_b(trained) > 2 * _probability_of_b(_policy())
    assert history["dev"][0]["metric"] < history["dev"][-1]["metric"] == 100.0
    assert (tmp_path / algorithm / "model" / "bridge_config.json").exists()
    assert plot_rl(history, tmp_path / "rl.png", "RL").stat().st_size > 0
    step = history["steps"][-1]
    assert {"kl", "entropy", "mean_length", "empty_share", "repeated_share"} <= step.keys()


def test_kl_penalty_bounds_the_drift_from_the_reference(tmp_path: Path) -> None:
    free, _ = _train(tmp_path, "free", kl_coef=0.0)
    held, _ = _train(tmp_path, "held", kl_coef=2.0)
    # with reward in 0..1, the optimum of reward - beta*KL is at KL <= 1/beta
    assert max(step["kl"] for step in held["steps"]) < 1.0
    assert held["steps"][-1]["kl"] < free["steps"][-1]["kl"]


def test_entropy_bonus_keeps_the_policy_spread(tmp_path: Path) -> None:
    plain, plain_policy = _train(tmp_path, "plain", kl_coef=0.0)
    spread, spread_policy = _train(tmp_path, "spread", kl_coef=0.0, entropy_coef=1.0)
    # the bonus is paid into the return: same reward, higher return than without it
    last = spread["steps"][-1]
    assert last["return"] > last["reward"] / 100.0
    assert spread["steps"][-1]["entropy"] > plain["steps"][-1]["entropy"]
    assert _probability_of_b(spread_policy) < _probability_of_b(plain_policy)


def test_a_checkpoint_from_before_a_new_knob_resumes(tmp_path: Path) -> None:
    config = RLConfig(iterations=4, rollout_queries=4, minibatch_size=4, learning_rate=3e-3,
                      eval_every=2, checkpoint_every=2)
    judge = Judge(TASK, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), RLConfig(
        **{**config.__dict__, "iterations": 2}), tmp_path / "run")
    state_file = tmp_path / "run" / "checkpoint-2" / "state.json"
    state = json.loads(state_file.read_text())
    del state["config"]["entropy_coef"]  # as written before the knob existed
    state_file.write_text(json.dumps(state))
    resumed = train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), config, tmp_path / "run")
    assert resumed["iteration"] == 4


def test_resume_continues_the_same_run(tmp_path: Path) -> None:
    config = RLConfig(iterations=4, rollout_queries=4, minibatch_size=4, learning_rate=3e-3,
                      eval_every=2, checkpoint_every=2)
    judge = Judge(TASK, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    straight = train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), config, tmp_path / "straight")
    half = RLConfig(**{**config.__dict__, "iterations": 2})
    train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), half, tmp_path / "resumed")
    with pytest.raises(ValueError, match=r"other settings \(kl_coef\)"):
        train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(),
                 RLConfig(**{**config.__dict__, "kl_coef": 0.5}), tmp_path / "resumed")
    resumed = train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), config, tmp_path / "resumed")
    assert [p.name for p in (tmp_path / "resumed").glob("checkpoint-*")] == ["checkpoint-4"]
    keys = ("reward", "kl", "policy_loss", "mean_length")
    assert [[round(s[k], 4) for k in keys] for s in resumed["steps"]] == \
        [[round(s[k], 4) for k in keys] for s in straight["steps"]]


def test_resume_refuses_another_start_or_other_queries(tmp_path: Path) -> None:
    """The KL reference is rebuilt from the start on resume: another start (or other
    training queries) under the checkpoint's policy is refused."""
    config = RLConfig(iterations=4, rollout_queries=4, minibatch_size=4, learning_rate=3e-3,
                      eval_every=2, checkpoint_every=2)
    judge = Judge(TASK, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    half = RLConfig(**{**config.__dict__, "iterations": 2})
    train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), half, tmp_path / "run")
    other = build_bridge("tiny-fid", BridgeFormat(k=3, max_ids=3), seed=2)
    with pytest.raises(ValueError, match="from another start bridge"):
        train_rl(EXAMPLES, EXAMPLES[:2], judge, other, config, tmp_path / "run")
    with pytest.raises(ValueError, match="on other training queries"):
        train_rl(EXAMPLES[:6], EXAMPLES[:2], judge, _policy(), config, tmp_path / "run")
    assert train_rl(EXAMPLES, EXAMPLES[:2], judge, _policy(), config,
                    tmp_path / "run")["iteration"] == 4


def test_without_dev_the_last_iteration_is_the_model(tmp_path: Path) -> None:
    config = RLConfig(iterations=2, rollout_queries=4, minibatch_size=4, learning_rate=3e-3,
                      eval_every=1, checkpoint_every=2)
    judge = Judge(TASK, CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    history = train_rl(EXAMPLES, [], judge, _policy(), config, tmp_path / "run")
    assert history["selection"].startswith("last iteration")
    last = Bridge.from_pretrained(tmp_path / "run" / "checkpoint-2" / "policy")
    model = Bridge.from_pretrained(tmp_path / "run" / "model")
    assert all(torch.equal(a, b) for a, b in zip(last.model.state_dict().values(),
                                                 model.model.state_dict().values(),
                                                 strict=True))


def test_config_rejects_rloo_without_a_group() -> None:
    with pytest.raises(ValueError, match="samples_per_query"):
        RLConfig(algorithm="rloo", samples_per_query=1)


def test_rewards_come_from_the_real_llm_through_the_cache(tmp_path: Path, smollm2,
                                                          small_corpus, qa_example) -> None:
    task = get_task("qa")
    item = Candidates(qa_example, tuple(Hit(p, 1.0, r + 1) for r, p in
                                        enumerate(small_corpus[:3])), "train", "test")
    examples = [BridgeExample(item)]
    llm = CachedLLM(smollm2, tmp_path / "cache.sqlite")
    judge = Judge(task, llm)
    config = RLConfig(algorithm="rloo", iterations=2, rollout_queries=1, samples_per_query=4,
                      minibatch_size=4, eval_every=2, checkpoint_every=2)
    torch.manual_seed(0)
    history = train_rl(examples, examples, judge, _policy(), config, tmp_path / "rl")
    assert history["llm_calls"] >= 1
    assert history["llm_calls"] + history["cache_hits"] == 8  # 2 iterations x 4 samples
    # the answer-bearing passage alone (p3) is rewarded by the real LLM's output
    before = llm.stats.calls
    alone, nothing = judge.utilities([item, item], [[2], []])
    again = judge.utilities([item, item], [[2], []])
    assert again == [alone, nothing] and llm.stats.calls - before <= 2
    assert alone == 100.0


def test_by_default_rl_trains_the_decoder_and_keeps_the_encoder(tmp_path: Path) -> None:
    start = _policy()
    before = {k: v.clone() for k, v in start.model.encoder.state_dict().items()}
    _, trained = _train(tmp_path, "frozen", iterations=3, eval_every=3, checkpoint_every=3)
    after = trained.model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    decoder_start = start.model.decoder.state_dict()
    assert any(not torch.equal(v, trained.model.decoder.state_dict()[k])
               for k, v in decoder_start.items())


def test_rloo_advantages_are_leave_one_out_scaled_by_the_rollout_std(tmp_path: Path) -> None:
    """Checked against plain arithmetic: each sample's return minus the mean of the others
    in its group, then divided by the standard deviation over the whole rollout."""
    import statistics

    from ragbridge.bridge.rl import collect_rollout

    rewards = {f"q{n}": {"": 10.0 * n, "a": 90.0, "b": 50.0, "c": 20.0, "b|a": 70.0}
               for n in range(4)}
    judge = Judge(SequenceRewardTask(rewards), CachedLLM(EchoLLM(), tmp_path / "c.sqlite"))
    policy = _policy()
    torch.manual_seed(0)  # the samples differ (a rollout of equal returns has no scale)
    config = RLConfig(algorithm="rloo", samples_per_query=3, kl_coef=0.0)
    rollout = collect_rollout(policy, policy, None, EXAMPLES[:4], judge, config)
    returns = rollout.returns.tolist()
    assert returns == pytest.approx([m / 100 for m in rollout.metric.tolist()])
    centred = []
    for start in range(0, len(returns), 3):
        group = returns[start:start + 3]
        centred += [r - (sum(group) - r) / 2 for r in group]
    expected = [a / statistics.stdev(centred) for a in centred]
    assert rollout.advantages.tolist() == pytest.approx(expected, abs=1e-5)
