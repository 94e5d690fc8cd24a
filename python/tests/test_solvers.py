"""The Python bindings against independent NumPy computations.

Tolerances: the solvers are accurate to a few ulps of the quantities involved; the NumPy
reference formulas below lose at most a few more (exp/log of values of order 1, sums of <= 10
terms), so relative agreement to 1e-12 leaves a margin of ~100x over double rounding.
"""

import numpy as np
import pytest

import rlhf_claims as rc

REL = 1e-12


def tilt_reference(base, reward, beta):
    w = base * np.exp((reward - reward.max()) / beta)
    return w / w.sum()


def kl_reference(p, q):
    m = p > 0
    return float(np.sum(p[m] * np.log(p[m] / q[m])))


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    base = rng.dirichlet(np.ones(6))
    reward = rng.normal(size=6)
    return base, reward


def test_tilt_from_numpy_arrays(problem):
    base, reward = problem
    t = rc.tilt(base, reward, 0.7)
    assert isinstance(t.policy, np.ndarray) and t.policy.dtype == np.float64
    expected = tilt_reference(base, reward, 0.7)
    np.testing.assert_allclose(t.policy, expected, rtol=REL, atol=0)
    assert t.kl == pytest.approx(kl_reference(expected, base), rel=REL)
    assert t.expected_reward == pytest.approx(float(expected @ reward), rel=REL)
    assert t.objective == pytest.approx(t.expected_reward - 0.7 * t.kl, rel=REL)
    assert t.solver == "tilt"
    assert set(["policy", "kl", "expected_reward", "beta", "log_partition"]) <= set(t.keys())


def test_array_like_inputs_give_the_same_bits(problem):
    base, reward = problem
    ref = rc.tilt(base, reward, 0.7).policy
    strided = np.zeros(12)
    strided[::2] = reward
    assert np.array_equal(rc.tilt(list(base), reward.tolist(), 0.7).policy, ref)
    assert np.array_equal(rc.tilt(base, strided[::2], 0.7).policy, ref)
    assert np.array_equal(rc.tilt(base, reward.astype(np.float32).astype(np.float64), 0.7).policy,
                          rc.tilt(base, reward.astype(np.float32), 0.7).policy)


def test_reverse_kl_fdiv_is_the_tilt(problem):
    base, reward = problem
    f = rc.fdiv_optimum(base, reward, "reverse_kl", 0.5)
    np.testing.assert_allclose(f.policy, tilt_reference(base, reward, 0.5), rtol=1e-9)
    assert f.divergence == "reverse_kl"


def test_best_of_n_matches_the_order_statistic(problem):
    base, reward = problem  # distinct rewards: P(best = x) = F(x)^n - F(x-)^n
    n = 5
    order = np.argsort(reward)
    cdf = np.cumsum(base[order])
    below = np.concatenate([[0.0], cdf[:-1]])
    expected = np.empty_like(base)
    expected[order] = cdf**n - below**n
    b = rc.best_of_n(base, reward, n)
    np.testing.assert_allclose(b.policy, expected, rtol=1e-10, atol=1e-15)
    assert b.kl <= b.kl_bound


def test_quantilizer_and_condition(problem):
    base, reward = problem
    np.testing.assert_allclose(rc.quantilize(base, reward, 1.0).policy, base, rtol=REL)
    top = reward >= np.median(reward)
    c = rc.condition_on_threshold(base, reward, float(np.median(reward)))
    np.testing.assert_allclose(c.policy, np.where(top, base, 0) / base[top].sum(), rtol=REL)
    e = rc.condition_on_event(base, reward, top.tolist())
    np.testing.assert_allclose(e.policy, c.policy, rtol=REL)


def test_dpo_with_full_coverage_recovers_the_tilt(problem):
    # Bradley-Terry preferences on every pair: the DPO minimizer is the tilt at beta.
    base, reward = problem
    c = rc.Comparisons.bradley_terry(reward, rc.Comparisons.product_weights(base))
    assert rc.dpo_has_minimizer(c) and len(c) == 6
    d = rc.dpo_minimizer(base, c, 0.8)
    np.testing.assert_allclose(d.policy, tilt_reference(base, reward, 0.8), rtol=1e-8)
    assert d.log_ratio.shape == (6,)
    i = rc.ipo_minimizer(base, c, 0.8)
    assert abs(i.policy.sum() - 1) < 1e-12


def test_full_log_linear_class_recovers_the_tilt(problem):
    base, reward = problem  # one-hot features: the class holds every full-support policy
    cls = rc.LogLinearClass(base, np.eye(6))
    assert cls.dim() == 6
    o = rc.class_optimum(cls, reward, 0.9)
    np.testing.assert_allclose(o.policy, tilt_reference(base, reward, 0.9), rtol=1e-8)


def test_off_policy_k3_loss_ratio_gradient_is_the_reverse_kl_gradient():
    # The importance-weighted k3 loss is unbiased for KL(pi||pi0), so its expected gradient is
    # the reverse-KL gradient (the crate's doc example), to rounding (entries of order 0.1).
    g = rc.kl_gradients([0.2, 0.3, 0.5], [1.0, 0.0, -0.5], [0.0, 0.0, 0.0], "k3", "loss_ratio")
    np.testing.assert_allclose(g.gradient, g.reverse_kl_gradient, rtol=0, atol=1e-14)


def test_remaining_solvers_return_their_fields(problem):
    base, reward = problem
    assert rc.kl_budget(base, reward, 0.1).kl == pytest.approx(0.1, rel=1e-9)
    r = rc.reward_target(base, reward, float(base @ reward) + 0.1)
    assert r.expected_reward == pytest.approx(float(base @ reward) + 0.1, rel=1e-9)
    assert rc.maxent(reward, 1.0).entropy > 0
    assert rc.quantilizer_at_kl(base, reward, 0.1).kl == pytest.approx(0.1, rel=1e-9)
    assert rc.forward_kl(base, reward, 1.0).divergence == "forward_kl"
    assert 0.5 <= rc.winrate_optimal(base, reward, 0.1).win_rate <= 1
    assert rc.soft_best_of_n(base, reward, 4, 0.5).n == 4
    assert rc.chipo(base, reward, 1.0).policy.shape == (6,)
    g = rc.grpo_stationary(base, reward, 0.5, "infinite", "population", "k3_loss")
    assert g.advantage.shape == (6,) and g.residual < 1e-9
    assert rc.grpo_stationary(base, reward, 0.5, 4).kl_forward > 0
    taus = rc.grpo_ratio_temperatures([0.5, 0.5], [0.0, 1.0], 20.0)
    assert len(taus) == 2
    for tau in taus:
        p, q = 1 / (1 + np.exp(-1 / tau)), 1 / (1 + np.exp(1 / tau))
        assert 20.0 * np.sqrt(p * q) / tau == pytest.approx(1.0, rel=REL)
    assert len(rc.grpo_ratio_temperatures([0.5, 0.5], [0.0, 1.0], 0.5)) == 0
    u = rc.true_utility_range(base, reward, 0.1)
    assert u.low <= u.base_mean <= u.high
    gb = rc.gaussian_best_of_n(1, 0.5)
    assert abs(gb.expected_proxy) < 1e-15 and gb.kl == 0.0  # one draw: E[max] = E[U] = 0


@pytest.mark.parametrize(
    "call, error, kind",
    [
        (lambda: rc.tilt([0.5, 0.6], [0, 1], 1.0), rc.NotNormalizedError, "not_normalized"),
        (lambda: rc.tilt([1.5, -0.5], [0, 1], 1.0), rc.NegativeProbabilityError, "negative_probability"),
        (lambda: rc.tilt([0.5, 0.5], [0, 1, 2], 1.0), rc.LengthMismatchError, "length_mismatch"),
        (lambda: rc.tilt([0.5, 0.5], [0, np.nan], 1.0), rc.NonFiniteError, "non_finite"),
        (lambda: rc.tilt([0.5, 0.5], [0, 1], 0.0), rc.InvalidParameterError, "invalid_parameter"),
        (lambda: rc.tilt([], [], 1.0), rc.EmptyError, "empty"),
        (lambda: rc.reward_target([0.5, 0.5], [0, 1], 2.0), rc.InfeasibleError, "infeasible"),
        (lambda: rc.fdiv_optimum([0.5, 0.5], [0, 1], "hellinger", 1.0), rc.InvalidInputError, "invalid_input"),
        (lambda: rc.grpo_stationary([0.5, 0.5], [0, 1], 1.0, 1), rc.InvalidParameterError, "invalid_parameter"),
        (lambda: rc.check(["no.such.claim"]), rc.InvalidInputError, "invalid_input"),
    ],
)
def test_errors_carry_their_kind_and_message(call, error, kind):
    with pytest.raises(error) as info:
        call()
    e = info.value
    assert isinstance(e, rc.RlhfClaimsError) and isinstance(e, ValueError)
    assert e.kind == kind and type(e).kind == kind
    assert str(e)  # the Rust message


def test_missing_attribute_names_the_fields():
    t = rc.tilt([0.5, 0.5], [0, 1], 1.0)
    with pytest.raises(AttributeError, match="log_partition"):
        t.no_such_field
    d = t.to_dict()
    assert d["policy"] is t.policy and d["beta"] == 1.0
    assert "tilt" in repr(t)


def test_registry_lists_and_checks_claims():
    claims = rc.list()
    ids = [c["id"] for c in claims]
    assert "kl.tilt" in ids and len(ids) == len(set(ids)) >= 60
    (v,) = rc.check(["kl.tilt"], cases=32, seed=3)
    assert v["id"] == "kl.tilt" and v["passed"] and v["cases"] == 32
    assert v["control"]["rejected"]
    family = rc.check(["kl"], cases=8)
    assert {c["id"] for c in family} == {i for i in ids if i.startswith("kl.")}


def test_thread_count_is_settable_and_solvers_run_from_python_threads(problem):
    from concurrent.futures import ThreadPoolExecutor

    default = rc.max_threads()
    rc.set_max_threads(1)
    assert rc.max_threads() == 1
    rc.set_max_threads(0)
    assert rc.max_threads() == default >= 1
    base, reward = problem
    one = rc.tilt(base, reward, 0.3).policy
    with ThreadPoolExecutor(4) as pool:  # the GIL is released while a solver runs
        for p in pool.map(lambda _: rc.tilt(base, reward, 0.3).policy, range(8)):
            assert np.array_equal(p, one)
