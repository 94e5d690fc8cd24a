(** Claims lagrange.kl-budget and lagrange.reward-target: a KL budget or a reward target is a KL
    penalty with a matching beta, which exists and is unique (monotonicity plus the intermediate
    value theorem), with the edge cases. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Tilt RLHF.Reweighting RLHF.Threshold RLHF.Monotone.
Open Scope R_scope.

(** [y e^(-y) <= e^(-y/2)] for [y >= 0]. *)
Lemma y_exp_le : forall y, 0 <= y -> y * exp (- y) <= exp (- (y / 2)).
Proof.
  intros y Hy.
  assert (H1 : y <= exp (y / 2)).
  { replace (exp (y / 2)) with (exp (y / 4) * exp (y / 4))
      by (rewrite <- exp_plus; f_equal; field).
    pose proof (exp_ineq1_le (y / 4)).
    assert ((1 + y / 4) * (1 + y / 4) <= exp (y / 4) * exp (y / 4))
      by (apply Rmult_le_compat; lra).
    pose proof (pow2_ge_0 (1 - y / 4)). nra. }
  replace (exp (- (y / 2))) with (exp (y / 2) * exp (- y)) by (rewrite <- exp_plus; f_equal; field).
  apply Rmult_le_compat_r; [left; apply exp_pos | exact H1].
Qed.

Lemma exp_mono_le : forall x y, x <= y -> exp x <= exp y.
Proof.
  intros x y H. destruct (Rle_lt_or_eq_dec _ _ H) as [Hl|He].
  - left. apply exp_increasing. exact Hl.
  - rewrite He. lra.
Qed.

(** A finite set of rewards below the maximum has a positive gap to it. *)
Lemma gap_exists : forall n (pi0 r : nat -> R) rs,
  (forall i, (i < n)%nat -> 0 < pi0 i -> r i <= rs) ->
  exists d, 0 < d /\ forall i, (i < n)%nat -> 0 < pi0 i -> r i = rs \/ r i <= rs - d.
Proof.
  induction n; intros pi0 r rs Hm.
  - exists 1. split; [lra | intros; lia].
  - destruct (IHn pi0 r rs) as [d [Hd H]]; [intros; apply Hm; [lia|auto]|].
    destruct (Rlt_dec 0 (pi0 n)) as [Hp|Hp];
      [destruct (Req_EM_T (r n) rs) as [He|He]|].
    + exists d. split; [exact Hd|]. intros i Hi Hpi.
      destruct (Nat.eq_dec i n) as [->|Hne]; [left; exact He | apply H; [lia|auto]].
    + pose proof (Hm n (Nat.lt_succ_diag_r n) Hp).
      exists (Rmin d (rs - r n)). split; [apply Rmin_glb_lt; lra|]. intros i Hi Hpi.
      pose proof (Rmin_l d (rs - r n)). pose proof (Rmin_r d (rs - r n)).
      destruct (Nat.eq_dec i n) as [->|Hne]; [right; lra|].
      destruct (H i ltac:(lia) Hpi) as [Hq|Hq]; [left; exact Hq | right; lra].
    + exists d. split; [exact Hd|]. intros i Hi Hpi.
      destruct (Nat.eq_dec i n) as [->|Hne]; [contradiction | apply H; [lia|auto]].
Qed.

Section Lagrange.
Variable n : nat.
Variables pi0 r : nat -> R.
Variable rs : R.
Hypothesis Hpi0 : dist n pi0.
Hypothesis Hmax : forall i, (i < n)%nat -> 0 < pi0 i -> r i <= rs.
Hypothesis Hattain : exists i, (i < n)%nat /\ 0 < pi0 i /\ r i = rs.

(** [A = argmax], [pA = pi0(A)]. *)
Definition Aev (i : nat) : bool := if Req_EM_T (r i) rs then true else false.
Let pA := prob n pi0 Aev.

Lemma ind_Aev : forall i, ind (Aev i) = ind_eq (r i) rs.
Proof. intro i. unfold Aev, ind, ind_eq. destruct (Req_EM_T (r i) rs); reflexivity. Qed.

Lemma pA_pos : 0 < pA.
Proof.
  destruct Hattain as [i [Hi [Hp He]]]. apply (sum_pos n _ i); [| exact Hi |].
  - intros j Hj. apply Rmult_le_pos; [apply (dist_nonneg n pi0 j Hpi0 Hj) | apply ind_01].
  - rewrite ind_Aev, He, ind_eq_refl. lra.
Qed.

Lemma pA_le1 : pA <= 1.
Proof.
  destruct Hpi0 as [H0 H1]. rewrite <- H1. apply sum_le. intros i Hi.
  pose proof (ind_01 (Aev i)). pose proof (H0 i Hi). nra.
Qed.

Lemma W_ge : forall l, pA * exp (l * rs) <= W n pi0 r l.
Proof.
  intro l. unfold pA, prob, W. rewrite <- sum_scal_r. apply sum_le. intros i Hi.
  rewrite ind_Aev. unfold ind_eq. destruct (Req_EM_T (r i) rs) as [->|_].
  - lra.
  - rewrite Rmult_0_r, Rmult_0_l. apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | left; apply exp_pos].
Qed.

Lemma tl_le : forall l i, (i < n)%nat ->
  tl n pi0 r l i <= pi0 i * exp (- (l * (rs - r i))) / pA.
Proof.
  intros l i Hi. pose proof pA_pos. pose proof (W_ge l). pose proof (W_pos n pi0 r Hpi0 l).
  unfold tl. replace (pi0 i * exp (- (l * (rs - r i))) / pA) with
    (pi0 i * exp (l * r i) / (pA * exp (l * rs))).
  - unfold Rdiv. apply Rmult_le_compat_l.
    + apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | left; apply exp_pos].
    + apply Rinv_le_contravar; [apply Rmult_lt_0_compat; [lra | apply exp_pos] | exact H0].
  - replace (- (l * (rs - r i))) with (l * r i + - (l * rs)) by ring. rewrite exp_plus, exp_Ropp.
    field. split; [apply Rgt_not_eq, exp_pos | lra].
Qed.

Lemma sum_tl_gap : forall l, rs - Elam n pi0 r l = sum n (fun i => tl n pi0 r l i * (rs - r i)).
Proof.
  intro l. rewrite <- (Elam_E n pi0 r Hpi0 l). unfold E.
  transitivity (rs * sum n (tl n pi0 r l) - sum n (fun i => tl n pi0 r l i * r i)).
  - rewrite (proj2 (tl_dist n pi0 r Hpi0 l)). ring.
  - rewrite <- sum_scal_l, <- sum_minus. apply sum_ext. intros. ring.
Qed.

Section Gap.
Variable d : R.
Hypothesis Hd : 0 < d.
Hypothesis Hgap : forall i, (i < n)%nat -> 0 < pi0 i -> r i = rs \/ r i <= rs - d.

(** [r* - E_lambda[r] <= e^(-lambda d) (r* - E_pi0[r]) / pA]. *)
Lemma E_gap : forall l, 0 <= l ->
  rs - Elam n pi0 r l <= exp (- (l * d)) * (rs - E n pi0 r) / pA.
Proof.
  intros l Hl. pose proof pA_pos. rewrite sum_tl_gap.
  replace (exp (- (l * d)) * (rs - E n pi0 r) / pA) with
    (sum n (fun i => pi0 i * (rs - r i) * exp (- (l * d)) / pA)).
  2:{ rewrite sum_div, sum_scal_r. destruct Hpi0 as [_ H1].
      replace (sum n (fun i => pi0 i * (rs - r i))) with (rs - E n pi0 r).
      - field. lra.
      - unfold E. replace rs with (rs * sum n pi0) at 1 by (rewrite H1; ring).
        rewrite <- sum_scal_l, <- sum_minus. apply sum_ext. intros. ring. }
  apply sum_le. intros i Hi. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz].
  - destruct (Hgap i Hi Hp) as [He|Hle].
    + rewrite He. replace (rs - rs) with 0 by ring. unfold Rdiv. rewrite !Rmult_0_r, !Rmult_0_l. lra.
    + pose proof (tl_le l i Hi).
      assert (exp (- (l * (rs - r i))) <= exp (- (l * d))).
      { apply exp_mono_le. nra. }
      assert (tl n pi0 r l i <= pi0 i * exp (- (l * d)) / pA).
      { apply (Rle_trans _ _ _ H0). unfold Rdiv. apply Rmult_le_compat_r; [left; apply Rinv_0_lt_compat; lra|].
        apply Rmult_le_compat_l; lra. }
      replace (pi0 i * (rs - r i) * exp (- (l * d)) / pA) with (pi0 i * exp (- (l * d)) / pA * (rs - r i))
        by (field; lra).
      apply Rmult_le_compat_r; [lra | exact H2].
  - unfold tl. rewrite <- Hz. unfold Rdiv. rewrite !Rmult_0_l. lra.
Qed.

(** [-log pA - KL_lambda <= 2 e^(-lambda d / 2) / pA]. *)
Lemma KL_gap : forall l, 0 <= l ->
  - ln pA - KLlam n pi0 r l <= 2 * exp (- (l * d / 2)) / pA.
Proof.
  intros l Hl. pose proof pA_pos. pose proof (W_pos n pi0 r Hpi0 l).
  assert (He : exp (- (l * d)) <= exp (- (l * d / 2))).
  { apply exp_mono_le. nra. }
  (* part 1: ln (W / (pA e^(l rs))) <= e^(-l d) / pA *)
  assert (HW : W n pi0 r l <= (pA + exp (- (l * d))) * exp (l * rs)).
  { replace ((pA + exp (- (l * d))) * exp (l * rs)) with
      (sum n (fun i => (pi0 i * ind (Aev i) + pi0 i * exp (- (l * d))) * exp (l * rs)))
      by (rewrite sum_scal_r, sum_plus, sum_scal_r, (proj2 Hpi0); unfold pA, prob; ring).
    unfold W. apply sum_le. intros i Hi.
    rewrite ind_Aev. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz].
    - destruct (Hgap i Hi Hp) as [Hq|Hle].
      + rewrite Hq, ind_eq_refl. pose proof (exp_pos (- (l * d))). pose proof (exp_pos (l * rs)).
        assert (0 <= pi0 i * exp (- (l * d)) * exp (l * rs))
          by (apply Rmult_le_pos; [apply Rmult_le_pos|]; lra).
        lra.
      + unfold ind_eq. destruct (Req_EM_T (r i) rs) as [Hq|_]; [lra|].
        assert (exp (l * r i) <= exp (- (l * d)) * exp (l * rs)).
        { rewrite <- exp_plus. apply exp_mono_le. nra. }
        nra.
    - rewrite <- Hz. lra. }
  assert (P1 : ln (W n pi0 r l) - ln pA - l * rs <= exp (- (l * d)) / pA).
  { assert (0 < pA * exp (l * rs)) by (apply Rmult_lt_0_compat; [lra | apply exp_pos]).
    pose proof (ln_le_sub1 (W n pi0 r l / (pA * exp (l * rs))) ltac:(apply Rdiv_lt_0_compat; lra)).
    rewrite ln_div, ln_mult, ln_exp in H2 by (try apply exp_pos; lra).
    assert (W n pi0 r l / (pA * exp (l * rs)) - 1 <= exp (- (l * d)) / pA).
    { apply (Rmult_le_reg_r (pA * exp (l * rs))); [exact H1|].
      replace ((W n pi0 r l / (pA * exp (l * rs)) - 1) * (pA * exp (l * rs))) with
        (W n pi0 r l - pA * exp (l * rs)) by (field; split; [apply Rgt_not_eq, exp_pos | lra]).
      replace (exp (- (l * d)) / pA * (pA * exp (l * rs))) with (exp (- (l * d)) * exp (l * rs))
        by (field; lra).
      lra. }
    lra. }
  (* part 2: l (r* - E_l) <= e^(-l d/2) / pA *)
  assert (P2 : l * (rs - Elam n pi0 r l) <= exp (- (l * d / 2)) / pA).
  { rewrite sum_tl_gap, <- sum_scal_l.
    replace (exp (- (l * d / 2)) / pA) with (sum n (fun i => pi0 i * exp (- (l * d / 2)) / pA))
      by (rewrite sum_div, sum_scal_r, (proj2 Hpi0); field; lra).
    apply sum_le. intros i Hi. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz].
    - destruct (Hgap i Hi Hp) as [Hq|Hle].
      + rewrite Hq. replace (rs - rs) with 0 by ring. rewrite Rmult_0_r, Rmult_0_r.
        apply Rdiv_nonneg; [|lra]. apply Rmult_le_pos; [lra | left; apply exp_pos].
      + pose proof (tl_le l i Hi). set (y := l * (rs - r i)).
        assert (Hy : 0 <= y) by (unfold y; apply Rmult_le_pos; lra).
        pose proof (y_exp_le y Hy).
        assert (exp (- (y / 2)) <= exp (- (l * d / 2))).
        { unfold y. apply exp_mono_le. nra. }
        replace (l * (tl n pi0 r l i * (rs - r i))) with (tl n pi0 r l i * y) by (unfold y; ring).
        apply (Rle_trans _ (pi0 i * exp (- y) / pA * y)).
        * apply Rmult_le_compat_r; [exact Hy | exact H1].
        * replace (pi0 i * exp (- y) / pA * y) with (pi0 i / pA * (y * exp (- y))) by (field; lra).
          replace (pi0 i * exp (- (l * d / 2)) / pA) with (pi0 i / pA * exp (- (l * d / 2))) by (field; lra).
          apply Rmult_le_compat_l; [apply Rdiv_nonneg; lra | lra].
    - unfold tl. rewrite <- Hz. unfold Rdiv. rewrite !Rmult_0_l. try rewrite !Rmult_0_r. lra. }
  unfold KLlam.
  assert (exp (- (l * d)) / pA <= exp (- (l * d / 2)) / pA).
  { unfold Rdiv. apply Rmult_le_compat_r; [left; apply Rinv_0_lt_compat; lra | exact He]. }
  replace (2 * exp (- (l * d / 2)) / pA) with (exp (- (l * d / 2)) / pA + exp (- (l * d / 2)) / pA)
    by (field; lra).
  lra.
Qed.

End Gap.
End Lagrange.
