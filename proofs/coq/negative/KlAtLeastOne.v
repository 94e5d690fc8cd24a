(** Negative control: a FALSE statement, which Coq must reject.
    "KL(p||q) >= 1 for all distributions" fails at p = q, where KL = 0. The proof attempt is the
    proof of Gibbs' inequality (0 <= KL), which cannot reach 1; scripts/check_coq.sh fails if this
    file is ever accepted, and checks that the rejection is a failed tactic (not a missing name
    or a syntax error). *)
Require Import Reals Lra.
Require Import RLHF.Sums RLHF.Dist.
Open Scope R_scope.

Theorem kl_at_least_one : forall n p q, dist n p -> dist n q -> supp_in n p q -> 1 <= KL n p q.
Proof.
  intros n p q Hp Hq Hs.
  pose proof (gibbs n p q Hp (proj1 Hq) (Req_le _ _ (proj2 Hq)) Hs).
  lra.
Qed.
