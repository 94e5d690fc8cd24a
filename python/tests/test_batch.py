"""Batches (2-D arrays), logits input and log-policy output of the Python solvers.

A batch runs, row by row, exactly the code of the single-problem solver (the Rust crate's
`solve::batch`), so every comparison with the row-by-row results here is bit for bit
(``np.array_equal``, NaN only where a single answer has None). Tolerances elsewhere are derived
next to their checks.
"""

import math

import numpy as np
import pytest

import rlhf_claims as rc

B, V = 5, 40


@pytest.fixture
def batch():
    rng = np.random.default_rng(11)
    logits = rng.normal(scale=3.0, size=(B, V))
    reward = rng.normal(size=(B, V))
    base = np.exp(logits - logits.max(axis=1, keepdims=True))
    base /= base.sum(axis=1, keepdims=True)
    return logits, base, reward


# (solver, keyword parameters of a batch: one per row or shared, the same for row i)
CASES = [
    ("tilt", {"beta": np.array([0.25, 0.5, 1.0, 2.0, 4.0])}, lambda p, i: {"beta": p["beta"][i]}),
    ("tilt", {"beta": 0.7}, lambda p, i: p),
    ("kl_budget", {"eps": np.array([0.0, 0.01, 0.1, 1.0, 50.0])}, lambda p, i: {"eps": p["eps"][i]}),
    ("reward_target", {"c": 0.3}, lambda p, i: p),
    ("condition_on_threshold", {"threshold": 0.0}, lambda p, i: p),
    ("best_of_n", {"n": np.array([1, 2, 4, 8, 16])}, lambda p, i: {"n": int(p["n"][i])}),
    ("quantilize", {"q": 0.25}, lambda p, i: p),
    ("soft_best_of_n", {"n": 4, "temperature": np.array([0.1, 0.5, 1.0, 2.0, 3.0])},
     lambda p, i: {"n": 4, "temperature": p["temperature"][i]}),
    ("grpo_stationary", {"beta": np.array([0.5, 1.0, 1.5, 2.0, 3.0]), "group_size": 2},
     lambda p, i: {"beta": p["beta"][i], "group_size": 2}),
]


def same(batched, single):
    """Bit-for-bit equality of a batch field's row and a single answer's field."""
    if isinstance(single, np.ndarray):
        return np.array_equal(batched, single)
    if single is None:
        return math.isnan(batched)
    if isinstance(single, float):
        return np.float64(batched).tobytes() == np.float64(single).tobytes() or (
            math.isnan(single) and math.isnan(batched))
    return batched == single


@pytest.mark.parametrize("solver, params, row_params", CASES)
@pytest.mark.parametrize("given", ["base", "logits", "logits32"])
def test_batch_equals_row_by_row_bit_for_bit(batch, solver, params, row_params, given):
    logits, base, reward = batch
    f = getattr(rc, solver)
    arg = {"base": {"base": base}, "logits": {"logits": logits},
           "logits32": {"logits": logits.astype(np.float32)}}[given]
    many = f(reward=reward, **arg, **params)
    assert many.policy.shape == (B, V) and many.log_policy.shape == (B, V)
    assert many.solver == solver
    for i in range(B):
        row_arg = {k: v[i] for k, v in arg.items()}
        one = f(reward=reward[i], **row_arg, **row_params(params, i))
        assert one.keys() == many.keys()
        for k in one.keys():
            got, want = getattr(many, k), getattr(one, k)
            if isinstance(got, (list, np.ndarray)):
                got = got[i]
            assert same(got, want), (solver, given, i, k, got, want)


def test_float32_logits_are_their_exact_float64_values(batch):
    logits, _, reward = batch
    w32 = logits.astype(np.float32)
    a = rc.tilt(logits=w32, reward=reward, beta=0.5)
    b = rc.tilt(logits=w32.astype(np.float64), reward=reward, beta=0.5)
    assert np.array_equal(a.policy, b.policy) and np.array_equal(a.log_policy, b.log_policy)


def test_shared_base_and_broadcast_reward(batch):
    _, base, reward = batch
    shared = rc.tilt(base[0], reward, 0.5)  # one base for every row
    for i in range(B):
        assert np.array_equal(shared.policy[i], rc.tilt(base[0], reward[i], 0.5).policy)
    broadcast = rc.tilt(base, reward[0], 0.5)  # one reward for every row
    for i in range(B):
        assert np.array_equal(broadcast.policy[i], rc.tilt(base[i], reward[0], 0.5).policy)


def test_one_dimensional_calls_are_unchanged(batch):
    # Positional calls as before, the same fields (plus log_policy) and Python scalars.
    _, base, reward = batch
    t = rc.tilt(base[0], reward[0], 0.7)
    assert t.policy.shape == (V,) and isinstance(t.beta, float) and isinstance(t.kl, float)
    assert t.keys()[:2] == ["policy", "log_policy"]
    k = rc.kl_budget(base[0], reward[0], 0.0)
    assert k.beta is None and k.regime == "zero"
    assert isinstance(rc.best_of_n(base[0], reward[0], 3).n, int)


def test_logits_match_the_normalized_base(batch):
    # The softmax of the logits and that softmax given as probabilities differ by rounding:
    # Dist::new renormalizes (<= (V/2 + 1) eps relative) and takes ln p (within a few eps of the
    # log view, plus eps |w - max w| <= 20 eps here), so the bases differ by ~50 eps; the tilt's
    # policy is linear in the base (2x that), plus its own rounding: 1e-12 relative has a
    # margin of ~40x. Halved logits (a wrong reading) must miss by far more.
    logits, base, reward = batch
    a = rc.tilt(logits=logits, reward=reward, beta=0.5).policy
    b = rc.tilt(base, reward, 0.5).policy
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=0)
    c = rc.tilt(logits=logits / 2, reward=reward, beta=0.5).policy
    assert np.max(np.abs(c - b) / b) > 1e-3


def test_log_policy_is_log_of_policy_and_survives_underflow():
    # Where the policy is a normal number, log_policy = ln policy to 1e-12 (1 + |ln p|): both
    # views are formed from the same shifted exponents within a few ulps (see the Rust tests).
    w = np.array([0.0, -700.5, -1400.0, -2000.0, -np.inf])
    r = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    t = rc.tilt(logits=w, reward=r, beta=1.0)
    # Exact: log pi = w + r - ln(1 + e^{-699.5} + ...) = (-e^{-699.5}, -699.5, -1398, -1997,
    # -inf); the log view is a sum of terms of at most these sizes, 4 eps (1 + |x|) absolute.
    want = np.array([-math.exp(-699.5), -699.5, -1398.0, -1997.0, -np.inf])
    finite = np.isfinite(want)
    assert np.all(np.abs(t.log_policy[finite] - want[finite])
                  <= 4 * np.finfo(float).eps * (1 + np.abs(want[finite])))
    assert t.log_policy[4] == -np.inf and t.policy[4] == 0.0
    assert t.policy[2] == 0.0 and t.policy[3] == 0.0  # underflowed, yet their logs are finite
    normal = t.policy >= np.finfo(float).tiny
    np.testing.assert_allclose(t.log_policy[normal], np.log(t.policy[normal]), rtol=1e-12, atol=1e-12)
    # In a batch, the same rows.
    many = rc.tilt(logits=np.stack([w, w[::-1]]), reward=np.stack([r, r]), beta=1.0)
    assert np.array_equal(many.log_policy[0], t.log_policy)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda b, r: rc.tilt(b, r[:, :-1], 0.5), rc.LengthMismatchError),
        (lambda b, r: rc.tilt(b[:-1], r, 0.5), rc.LengthMismatchError),
        (lambda b, r: rc.tilt(b, r, np.ones(B + 1)), rc.LengthMismatchError),
        (lambda b, r: rc.tilt(b[0], r[0], np.ones(2)), rc.InvalidInputError),
        (lambda b, r: rc.tilt(b[None], r[None], 0.5), rc.InvalidInputError),
        (lambda b, r: rc.tilt(b, r, 0.5, logits=b), rc.InvalidInputError),
        (lambda b, r: rc.tilt(reward=r, beta=0.5), rc.InvalidInputError),
        (lambda b, r: rc.tilt(b, r, np.array([0.5, 1.0, -1.0, 1.0, 1.0])), rc.InvalidParameterError),
        (lambda b, r: rc.tilt(logits=np.full((2, 3), -np.inf), reward=np.zeros((2, 3)), beta=1.0),
         rc.InvalidInputError),
        (lambda b, r: rc.best_of_n(b, r, np.array([1, 2, 0, 1, 1])), rc.InvalidParameterError),
    ],
)
def test_shape_and_value_errors_are_typed(batch, call, error):
    _, base, reward = batch
    with pytest.raises(error):
        call(base, reward)


def test_missing_arguments_are_type_errors(batch):
    _, base, reward = batch
    with pytest.raises(TypeError):
        rc.tilt(base, reward)
    with pytest.raises(TypeError):
        rc.tilt(base, beta=1.0)
