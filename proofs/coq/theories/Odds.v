(** Claim kl.odds: the tilt, conditioning on reward values, best-of-N and the quantilizer keep
    the base odds of equally rewarded outcomes. Also the statement of goodhart.reweighting that
    these optimizers are reweightings of the base through the reward. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Tilt RLHF.Reweighting RLHF.Threshold RLHF.Quantilizer.
Open Scope R_scope.

(** Best-of-N with uniform tie-breaking, in the closed form of claim bon.exact:
    [P_N(x) = pi0(x) (F(r(x))^N - F(r(x)^-)^N) / pi0(r = r(x))]. *)
Definition cdf_le (n : nat) (pi0 r : nat -> R) (v : R) : R :=
  sum n (fun i => pi0 i * (if Rle_dec (r i) v then 1 else 0)).
Definition cdf_lt (n : nat) (pi0 r : nat -> R) (v : R) : R :=
  sum n (fun i => pi0 i * (if Rlt_dec (r i) v then 1 else 0)).
Definition bon_weight (n : nat) (pi0 r : nat -> R) (N : nat) (v : R) : R :=
  (cdf_le n pi0 r v ^ N - cdf_lt n pi0 r v ^ N) / massU n pi0 r v.
Definition bon (n : nat) (pi0 r : nat -> R) (N : nat) (i : nat) : R :=
  pi0 i * bon_weight n pi0 r N (r i).

(** Conditioning on the reward lying in a set [V] of values. *)
Definition cond_values (n : nat) (pi0 r : nat -> R) (V : R -> bool) : nat -> R :=
  cond n pi0 (fun i => V (r i)).

(** kl.odds: for outcomes [x, y] with [r(x) = r(y)],
    [pi(x) pi0(y) = pi(y) pi0(x)] for the four optimizers. *)
Theorem kl_odds : forall n pi0 r x y, dist n pi0 -> (x < n)%nat -> (y < n)%nat -> r x = r y ->
  (forall beta, 0 < beta -> tilt n pi0 r beta x * pi0 y = tilt n pi0 r beta y * pi0 x) /\
  (forall V, cond_values n pi0 r V x * pi0 y = cond_values n pi0 r V y * pi0 x) /\
  (forall N, bon n pi0 r N x * pi0 y = bon n pi0 r N y * pi0 x) /\
  (forall q rb, quant n pi0 r q rb x * pi0 y = quant n pi0 r q rb y * pi0 x).
Proof.
  intros n pi0 r x y Hpi0 Hx Hy Hr. split; [|split; [|split]].
  - intros beta Hb. exact (kl_odds_tilt n pi0 r beta Hpi0 x y Hr).
  - intro V. apply (reweighting_odds n pi0 (cond_values n pi0 r V) r
                      (fun v => ind (V v) / prob n pi0 (fun i => V (r i)))); auto.
    intros i Hi. unfold cond_values, cond. unfold Rdiv. ring.
  - intro N. apply (reweighting_odds n pi0 (bon n pi0 r N) r (bon_weight n pi0 r N)); auto.
  - intros q rb. apply (reweighting_odds n pi0 (quant n pi0 r q rb) r (qweight n pi0 r q rb)); auto.
Qed.

(** goodhart.reweighting: for a [U]-reweighting [pi(x) = pi0(x) g(U(x))] with [g >= 0], the law
    of [V] given [U = u] is the base's wherever [pi(U = u) > 0], and [E_pi[V] = E_pi[m(U)]]
    with [m(u) = E_pi0[V | U = u]]. *)
Theorem goodhart_reweighting : forall n pi0 pi U V (g : R -> R),
  (forall i, (i < n)%nat -> 0 <= pi0 i) -> (forall u, 0 <= g u) ->
  (forall i, (i < n)%nat -> pi i = pi0 i * g (U i)) ->
  (forall u v, 0 < massU n pi U u ->
     0 < massU n pi0 U u /\
     massUV n pi U V u v / massU n pi U u = massUV n pi0 U V u v / massU n pi0 U u) /\
  E n pi V = E n pi (fun i => cmean n pi0 U V (U i)).
Proof.
  intros n pi0 pi U V g H0 Hg Hrw. split.
  - intros u v. apply (reweighting_conditional n pi0 pi U V g H0 Hg Hrw).
  - apply (reweighting_mean n pi0 pi U V g H0 Hrw).
Qed.

(** The optimizers run on [U] are [U]-reweightings with a non-negative weight. *)
Theorem optimizers_are_reweightings : forall n pi0 U, dist n pi0 ->
  (forall beta, 0 < beta -> exists g, (forall u, 0 <= g u) /\
     forall i, (i < n)%nat -> tilt n pi0 U beta i = pi0 i * g (U i)) /\
  (forall Vset, exists g, (forall u, 0 <= g u) /\
     forall i, (i < n)%nat -> cond_values n pi0 U Vset i = pi0 i * g (U i)) /\
  (forall N, exists g, (forall u, 0 <= g u) /\
     forall i, (i < n)%nat -> bon n pi0 U N i = pi0 i * g (U i)) /\
  (forall q rb, 0 < q <= 1 -> qabove n pi0 U rb < q <= qabove n pi0 U rb + qclass n pi0 U rb ->
     exists g, (forall u, 0 <= g u) /\
     forall i, (i < n)%nat -> quant n pi0 U q rb i = pi0 i * g (U i)).
Proof.
  intros n pi0 U Hpi0. pose proof (dist_nonneg n pi0) as Hnn. split; [|split; [|split]].
  - intros beta Hb. exists (fun v => exp (v / beta) / Zt n pi0 U beta). split.
    + intro u. apply Rdiv_nonneg; [left; apply exp_pos | apply (Z_pos n pi0 U beta Hpi0)].
    + intros i Hi. unfold tilt. unfold Rdiv. ring.
  - intro Vs. exists (fun v => ind (Vs v) / prob n pi0 (fun i => Vs (U i))). split.
    + intro u. unfold Rdiv. apply Rmult_le_pos; [apply ind_01|].
      assert (0 <= prob n pi0 (fun i => Vs (U i))).
      { apply sum_nonneg. intros i Hi. apply Rmult_le_pos; [apply (Hnn i Hpi0 Hi) | apply ind_01]. }
      destruct H as [H|H]; [left; apply Rinv_0_lt_compat; exact H | rewrite <- H, Rinv_0; lra].
    + intros i Hi. unfold cond_values, cond. unfold Rdiv. ring.
  - intro N. exists (bon_weight n pi0 U N). split; [|intros; reflexivity].
    intro u. unfold bon_weight. unfold Rdiv. apply Rmult_le_pos.
    + assert (0 <= cdf_lt n pi0 U u).
      { apply sum_nonneg. intros i Hi. apply Rmult_le_pos; [apply (Hnn i Hpi0 Hi)|].
        destruct (Rlt_dec (U i) u); lra. }
      assert (cdf_lt n pi0 U u <= cdf_le n pi0 U u).
      { apply sum_le. intros i Hi. apply Rmult_le_compat_l; [apply (Hnn i Hpi0 Hi)|].
        destruct (Rlt_dec (U i) u), (Rle_dec (U i) u); lra. }
      assert (cdf_lt n pi0 U u ^ N <= cdf_le n pi0 U u ^ N) by (apply pow_incr; lra). lra.
    + assert (0 <= massU n pi0 U u).
      { apply sum_nonneg. intros i Hi. apply Rmult_le_pos; [apply (Hnn i Hpi0 Hi) | apply ind_eq_nonneg]. }
      destruct H as [H|H]; [left; apply Rinv_0_lt_compat; exact H | rewrite <- H, Rinv_0; lra].
  - intros q rb Hq Hb. exists (qweight n pi0 U q rb). split; [|intros; reflexivity].
    intro u. apply (qweight_range n pi0 U q rb Hq Hb u).
Qed.
