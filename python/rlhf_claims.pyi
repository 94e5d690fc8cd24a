"""Exact solvers for RLHF objectives on finite outcome spaces, and the registry of checked claims.

Arrays in and out are NumPy ``float64`` (anything array-like is accepted); every solver returns a
``Solution`` whose fields are attributes (``keys()`` names them). Errors are subclasses of
``RlhfClaimsError`` (a ``ValueError``) with the Rust error's ``kind`` and message.

Batches: ``tilt``, ``kl_budget``, ``reward_target``, ``condition_on_threshold``, ``best_of_n``,
``quantilize``, ``soft_best_of_n`` and ``grpo_stationary`` take a 2-D ``base`` (or ``logits``)
and/or ``reward`` (``B x V``, one problem per row; a 1-D one is shared by every row) and each
scalar parameter as one value or a 1-D array of length ``B``. Their result's arrays are then
``B x V``, its numbers length-``B`` arrays (NaN where a single answer has None), its strings
lists; row ``i`` is bit for bit the answer of row ``i`` alone. ``logits=`` (``float64`` or
``float32``, ``-inf`` masks an outcome) replaces ``base``; ``log_policy`` is ``log policy``
(``-inf`` at zero mass; for the tilt family finite where ``policy`` underflows to 0).
"""

from typing import Any, Dict, List, Literal, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
Array = npt.NDArray[np.float64]
# One value, or one per row of a batch.
PerRow = Union[float, ArrayLike]
PerRowInt = Union[int, ArrayLike]

__version__: str

class RlhfClaimsError(ValueError):
    kind: str

class EmptyError(RlhfClaimsError): ...
class LengthMismatchError(RlhfClaimsError): ...
class NonFiniteError(RlhfClaimsError): ...
class NegativeProbabilityError(RlhfClaimsError): ...
class NotNormalizedError(RlhfClaimsError): ...
class InvalidParameterError(RlhfClaimsError): ...
class InfeasibleError(RlhfClaimsError): ...
class NoConvergenceError(RlhfClaimsError): ...
class NotUniqueError(RlhfClaimsError): ...
class InvalidInputError(RlhfClaimsError): ...

class Solution:
    """A solver's answer; the fields present depend on the solver (see each function)."""

    @property
    def solver(self) -> str: ...
    policy: Array
    log_policy: Array
    expected_reward: Any  # float, or an array for a batch
    kl: Any
    def keys(self) -> List[str]: ...
    def to_dict(self) -> Dict[str, Any]: ...
    def __getattr__(self, name: str) -> Any: ...

class Comparisons:
    """Pair weights ``w`` (symmetric, >= 0) and preferences ``P`` (``P + P.T = 1`` on weighted pairs)."""

    def __init__(self, weight: ArrayLike, prefs: ArrayLike) -> None: ...
    @staticmethod
    def bradley_terry(reward: ArrayLike, weight: ArrayLike) -> "Comparisons": ...
    @staticmethod
    def product_weights(mu: ArrayLike) -> npt.NDArray[np.float64]: ...
    def __len__(self) -> int: ...

class LogLinearClass:
    """``pi_theta(x) ∝ base(x) exp(theta . features[x])``, features an ``n x k`` matrix."""

    def __init__(self, base: ArrayLike, features: ArrayLike) -> None: ...
    def dim(self) -> int: ...

def tilt(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    beta: Optional[PerRow] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """policy, log_policy, expected_reward, kl, beta, log_partition, reward_variance, reward_gain, objective."""

def kl_budget(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    eps: Optional[PerRow] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """Solution fields, beta (None when no finite beta; NaN in a batch), regime ("zero", "binding", "slack")."""

def reward_target(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    c: Optional[PerRow] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """Solution fields, beta (None when no finite beta; NaN in a batch), regime."""

def maxent(reward: ArrayLike, alpha: float) -> Solution:
    """Solution fields (kl against uniform), alpha, value, entropy."""

def condition_on_threshold(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    threshold: Optional[PerRow] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution: ...
def condition_on_event(base: ArrayLike, reward: ArrayLike, event: Sequence[bool]) -> Solution: ...
def best_of_n(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    n: Optional[PerRowInt] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """Solution fields, n, kl_bound, win_rate_half_ties, win_rate_strict."""

def quantilize(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    q: Optional[PerRow] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """Solution fields, q, boundary_reward, boundary_fraction."""

def quantilizer_at_kl(base: ArrayLike, reward: ArrayLike, eps: float) -> Solution: ...
def fdiv_optimum(
    base: ArrayLike,
    reward: ArrayLike,
    divergence: Union[Literal["reverse_kl", "forward_kl", "chi_square"], float],
    beta: float,
) -> Solution:
    """Solution fields, divergence, beta, lambda_, divergence_value, objective."""

def forward_kl(base: ArrayLike, reward: ArrayLike, gamma: float) -> Solution: ...
def winrate_optimal(base: ArrayLike, reward: ArrayLike, eps: float) -> Solution:
    """Solution fields, win_rate, beta, regime."""

def soft_best_of_n(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    n: Optional[PerRowInt] = None,
    temperature: Optional[PerRow] = None,
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """Solution fields, n, temperature, kl_to_tilt, nodes."""

def chipo(base: ArrayLike, reward: ArrayLike, beta: float) -> Solution:
    """Solution fields, beta, lambda_."""

def grpo_stationary(
    base: Optional[ArrayLike] = None,
    reward: Optional[ArrayLike] = None,
    beta: Optional[PerRow] = None,
    group_size: Optional[Union[int, Literal["infinite"]]] = None,
    std: Literal["sample", "population"] = "sample",
    kl: Literal["k3_loss", "k3_ratio"] = "k3_loss",
    *,
    logits: Optional[ArrayLike] = None,
) -> Solution:
    """Solution fields, kl_forward, advantage (array), residual."""

def kl_gradients(
    base: ArrayLike,
    logits: ArrayLike,
    behavior_logits: Optional[ArrayLike],
    k: Literal["k1", "k2", "k3"],
    placement: Literal["reward", "loss", "loss_ratio"],
) -> Solution:
    """gradient, reverse_kl_gradient (None when base has a zero), forward_kl_gradient."""

def dpo_minimizer(base: ArrayLike, c: Comparisons, beta: float) -> Solution:
    """policy, log_ratio, loss, gradient_norm, iterations."""

def ipo_minimizer(base: ArrayLike, c: Comparisons, tau: float) -> Solution: ...
def dpo_has_minimizer(c: Comparisons) -> bool: ...
def grpo_ratio_temperatures(base: ArrayLike, reward: ArrayLike, beta: float) -> Array:
    """The temperatures tau = beta sigma_tau(reward), increasing (G = inf, k3 ratio)."""

def class_optimum(class_: LogLinearClass, reward: ArrayLike, beta: float) -> Solution:
    """theta, policy, objective, gradient_norm, newton_decrement, max_hessian_eigenvalue, iterations."""

def true_utility_range(base: ArrayLike, truth: ArrayLike, eps: float) -> Solution:
    """eps, base_mean, low, high, pinsker, variance_proxy, sub_gaussian."""

def gaussian_best_of_n(n: int, rho: float) -> Solution:
    """expected_proxy, expected_true, kl."""

def set_max_threads(n: int) -> None:
    """Most threads per solver call, process-wide (0: RLHF_CLAIMS_THREADS or the cores, at most 8)."""

def max_threads() -> int: ...
def list() -> List[Dict[str, Any]]:
    """The registered claims: id, title, status, sources, statement, proof, control, ..."""

def check(
    ids: Optional[Sequence[str]] = None,
    cases: Optional[int] = None,
    seed: int = 0,
    witnesses: bool = False,
) -> List[Dict[str, Any]]:
    """Runs claims with their controls; one dict per claim (id, passed, cases, control, ...)."""
