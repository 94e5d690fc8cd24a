(** Claims that follow from the tilt identity and the reward-target theorem:
    lagrange.duality, conditioning.tilt-closest, conditioning.uniform-maxent. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Tilt RLHF.Reweighting RLHF.Threshold RLHF.Monotone
  RLHF.Lagrange RLHF.Budget.
Open Scope R_scope.

(** The dual function [D(beta) = beta eps + beta log E_pi0[e^(r/beta)]]. *)
Definition Dual (n : nat) (pi0 r : nat -> R) (eps beta : R) : R :=
  beta * eps + beta * ln (Zt n pi0 r beta).

(** A policy [pi0 g(r)] with [g >= 0] has finite KL to [pi0]. *)
Lemma reweighting_supp : forall n pi0 pi r (g : R -> R),
  (forall i, (i < n)%nat -> 0 <= pi0 i) ->
  (forall i, (i < n)%nat -> pi i = pi0 i * g (r i)) -> supp_in n pi pi0.
Proof.
  intros n pi0 pi r g H0 Hrw i Hi Hp. rewrite Hrw in Hp by exact Hi.
  destruct (H0 i Hi) as [H|H]; [exact H|]. rewrite <- H in Hp. lra.
Qed.

Section Corollaries.
Variable n : nat.
Variables pi0 r : nat -> R.
Variable rs : R.
Hypothesis Hpi0 : dist n pi0.
Hypothesis Hmax : forall i, (i < n)%nat -> 0 < pi0 i -> r i <= rs.
Hypothesis Hattain : exists i, (i < n)%nat /\ 0 < pi0 i /\ r i = rs.

(** lagrange.duality: for [0 < eps < K = -log pi0(A)], every feasible policy has
    [E_pi[r] <= D(beta)] for every [beta > 0] (weak duality); at the beta of lagrange.kl-budget,
    [D(beta) = E_beta[r]], the value [V(eps)] attained by the feasible tilt (no gap); and that
    beta is the unique minimizer of [D]. *)
Theorem lagrange_duality : forall eps, 0 < eps < - ln (prob n pi0 (Aev r rs)) ->
  exists bs, 0 < bs /\ KL n (tilt n pi0 r bs) pi0 = eps /\
  (forall pi beta, dist n pi -> supp_in n pi pi0 -> KL n pi pi0 <= eps -> 0 < beta ->
     E n pi r <= Dual n pi0 r eps beta) /\
  Dual n pi0 r eps bs = E n (tilt n pi0 r bs) r /\
  (forall beta, 0 < beta -> Dual n pi0 r eps bs <= Dual n pi0 r eps beta) /\
  (forall beta, 0 < beta -> Dual n pi0 r eps beta = Dual n pi0 r eps bs -> beta = bs).
Proof.
  intros eps He.
  destruct (beta_for_budget n pi0 r rs Hpi0 Hmax Hattain eps He) as [bs [Hbs [HK Hu]]].
  pose proof (tilt_dist n pi0 r bs Hpi0) as Htd. pose proof (tilt_supp_base n pi0 r bs Hpi0) as Hts.
  assert (Hweak : forall pi beta, dist n pi -> supp_in n pi pi0 -> KL n pi pi0 <= eps -> 0 < beta ->
     E n pi r <= Dual n pi0 r eps beta).
  { intros pi beta Hpi Hs Hk Hb. pose proof (J_identity n pi0 r beta Hpi0 Hb pi Hpi Hs) as HJ.
    pose proof (gibbs n pi _ Hpi (proj1 (tilt_dist n pi0 r beta Hpi0))
                  (Req_le _ _ (proj2 (tilt_dist n pi0 r beta Hpi0))) (supp_tilt n pi0 r beta Hpi0 pi Hs)).
    unfold J in HJ. unfold Dual.
    assert (beta * KL n pi pi0 <= beta * eps) by (apply Rmult_le_compat_l; lra).
    assert (0 <= beta * KL n pi (tilt n pi0 r beta)) by (apply Rmult_le_pos; lra). lra. }
  assert (Hval : Dual n pi0 r eps bs = E n (tilt n pi0 r bs) r).
  { pose proof (J_tilt n pi0 r bs Hpi0 Hbs) as HJ. unfold J in HJ. rewrite HK in HJ.
    unfold Dual. lra. }
  exists bs. split; [exact Hbs|]. split; [exact HK|]. split; [exact Hweak|]. split; [exact Hval|].
  split.
  - intros beta Hb. rewrite Hval. apply Hweak; [exact Htd | exact Hts | lra | exact Hb].
  - intros beta Hb Heq.
    pose proof (J_identity n pi0 r beta Hpi0 Hb _ Htd Hts) as HJ. unfold J in HJ.
    rewrite HK in HJ. rewrite Hval in Heq. unfold Dual in Heq.
    assert (Hz : KL n (tilt n pi0 r bs) (tilt n pi0 r beta) = 0).
    { assert (beta * KL n (tilt n pi0 r bs) (tilt n pi0 r beta) = 0) by lra.
      apply Rmult_integral in H. destruct H; [lra | exact H]. }
    pose proof (tilt_dist n pi0 r beta Hpi0) as Htd'.
    destruct (gibbs_eq n _ _ Htd (proj1 Htd') (Req_le _ _ (proj2 Htd'))
                (supp_tilt n pi0 r beta Hpi0 _ Hts) Hz) as [_ Hpt].
    apply Hu; [exact Hb|]. rewrite <- HK. symmetry. apply KL_ext_l. exact Hpt.
Qed.

(** conditioning.tilt-closest: for every policy [pi] with finite KL (in particular threshold
    conditioning, best-of-N and the quantilizer, which are reweightings of [pi0], see
    [reweighting_supp] and [Odds.optimizers_are_reweightings]) with [E_pi[r] = c], the
    KL-closest policy at [c] has KL at most [KL(pi||pi0)]: [pi0] if [c <= E_pi0[r]], the tilt
    with [E[r] = c] if [E_pi0[r] < c < r*], [pi0(.|A)] if [c = r*]. *)
Theorem conditioning_tilt_closest : forall pi, dist n pi -> supp_in n pi pi0 ->
  (E n pi r <= E n pi0 r -> KL n pi0 pi0 <= KL n pi pi0) /\
  (E n pi0 r < E n pi r < rs -> exists beta, 0 < beta /\ E n (tilt n pi0 r beta) r = E n pi r /\
     KL n (tilt n pi0 r beta) pi0 <= KL n pi pi0) /\
  (E n pi r = rs -> KL n (cond n pi0 (Aev r rs)) pi0 <= KL n pi pi0).
Proof.
  intros pi Hpi Hs.
  destruct (lagrange_reward_target n pi0 r rs Hpi0 Hmax Hattain (E n pi r)) as [H1 [H2 [H3 _]]].
  split; [|split].
  - intro Hc. rewrite KL_self. exact (proj1 (H1 Hc) pi Hpi Hs (Rle_refl _)).
  - intro Hc. destruct (H2 Hc) as [b [Hb [HE [_ [Hin _]]]]]. exists b. split; [exact Hb|].
    split; [exact HE|]. pose proof (Hin pi Hpi Hs (Rle_refl _)).
    pose proof (gibbs n pi _ Hpi (proj1 (tilt_dist n pi0 r b Hpi0))
                  (Req_le _ _ (proj2 (tilt_dist n pi0 r b Hpi0))) (supp_tilt n pi0 r b Hpi0 pi Hs)).
    lra.
  - intro Hc. destruct (H3 Hc) as [_ [_ [_ [HK Hall]]]]. rewrite HK.
    exact (proj1 (Hall pi Hpi Hs (Rle_refl _))).
Qed.

End Corollaries.

(** conditioning.uniform-maxent: with [pi0] uniform on [n] outcomes and [r* = max r], among the
    policies with [E_pi[r] >= c] the entropy is largest at [pi0] if [c <= E_pi0[r]], at the tilt
    with [E[r] = c] if [E_pi0[r] < c < r*], and at the uniform law on the argmax if [c = r*]. *)
Theorem conditioning_uniform_maxent : forall n r rs, (0 < n)%nat ->
  (forall i, (i < n)%nat -> r i <= rs) -> (exists i, (i < n)%nat /\ r i = rs) -> forall c,
  (c <= E n (uniform n) r -> forall pi, dist n pi -> c <= E n pi r ->
     entropy n pi <= entropy n (uniform n)) /\
  (E n (uniform n) r < c < rs -> exists beta, 0 < beta /\ E n (tilt n (uniform n) r beta) r = c /\
     forall pi, dist n pi -> c <= E n pi r -> entropy n pi <= entropy n (tilt n (uniform n) r beta)) /\
  (c = rs -> forall pi, dist n pi -> c <= E n pi r ->
     entropy n pi <= entropy n (cond n (uniform n) (Aev r rs))).
Proof.
  intros n r rs Hn Hmax [j [Hj Hrj]] c.
  pose proof (uniform_dist n Hn) as HU.
  assert (HUp : forall i, (i < n)%nat -> 0 < uniform n i).
  { intros. unfold uniform. apply Rinv_0_lt_compat, lt_0_INR. exact Hn. }
  assert (Hs : forall pi, supp_in n pi (uniform n)) by (intros pi i Hi _; apply HUp; exact Hi).
  assert (Hatt : exists i, (i < n)%nat /\ 0 < uniform n i /\ r i = rs) by (exists j; auto).
  assert (Hmax' : forall i, (i < n)%nat -> 0 < uniform n i -> r i <= rs) by auto.
  assert (HH : forall p, dist n p -> entropy n p = ln (INR n) - KL n p (uniform n))
    by (intros p Hp; rewrite (entropy_kl_uniform n p Hn Hp); ring).
  destruct (lagrange_reward_target n (uniform n) r rs HU Hmax' Hatt c) as [H1 [H2 [H3 _]]].
  split; [|split].
  - intros Hc pi Hpi HE. rewrite (HH pi Hpi), (HH _ HU), KL_self.
    pose proof (proj1 (H1 Hc) pi Hpi (Hs pi) HE). lra.
  - intro Hc. destruct (H2 Hc) as [b [Hb [HE [_ [Hin _]]]]]. exists b. split; [exact Hb|].
    split; [exact HE|]. intros pi Hpi Hpc. pose proof (tilt_dist n (uniform n) r b HU) as Htd.
    rewrite (HH pi Hpi), (HH _ Htd). pose proof (Hin pi Hpi (Hs pi) Hpc).
    pose proof (gibbs n pi _ Hpi (proj1 Htd) (Req_le _ _ (proj2 Htd)) (supp_tilt n (uniform n) r b HU pi (Hs pi))).
    lra.
  - intros Hc pi Hpi Hpc. destruct (H3 Hc) as [Hd [_ [_ [HK Hall]]]].
    rewrite (HH pi Hpi), (HH _ Hd), HK. pose proof (proj1 (Hall pi Hpi (Hs pi) Hpc)). lra.
Qed.
