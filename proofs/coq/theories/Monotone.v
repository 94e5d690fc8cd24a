(** Claim kl.monotone: with [lambda = 1/beta], [dE/dlambda = Var >= 0] and
    [dKL/dlambda = lambda Var >= 0], both strict when [r] is non-constant on the support. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Tilt.
Open Scope R_scope.

(** * Derivatives of finite sums *)

Lemma dpl_ext : forall f g x l, (forall y, f y = g y) -> derivable_pt_lim f x l ->
  derivable_pt_lim g x l.
Proof.
  intros f g x l H Hf eps Heps. destruct (Hf eps Heps) as [d Hd]. exists d. intros h Hh Hlt.
  rewrite <- !H. apply Hd; assumption.
Qed.

Lemma dpl_val : forall f x l l', l = l' -> derivable_pt_lim f x l -> derivable_pt_lim f x l'.
Proof. intros. subst. assumption. Qed.

Lemma dpl_sum : forall n (F : nat -> R -> R) (F' : nat -> R) x,
  (forall i, (i < n)%nat -> derivable_pt_lim (F i) x (F' i)) ->
  derivable_pt_lim (fun y => sum n (fun i => F i y)) x (sum n F').
Proof.
  induction n; intros F F' x H; simpl.
  - apply (dpl_ext (fct_cte 0)); [intros; reflexivity | apply derivable_pt_lim_const].
  - apply (dpl_ext (plus_fct (fun y => sum n (fun i => F i y)) (F n))); [intros; reflexivity|].
    apply derivable_pt_lim_plus; [apply IHn; intros; apply H; lia | apply H; lia].
Qed.

(** [d/dl (a e^(l c)) = a c e^(l c)]. *)
Lemma dpl_aexp : forall a c x, derivable_pt_lim (fun l => a * exp (l * c)) x (a * c * exp (x * c)).
Proof.
  intros a c x.
  apply (dpl_ext (mult_real_fct a (comp exp (fun l => l * c)))); [intros; reflexivity|].
  apply (dpl_val _ _ (a * (exp (x * c) * c))); [ring|].
  apply derivable_pt_lim_scal. apply derivable_pt_lim_comp; [|apply derivable_pt_lim_exp].
  apply (dpl_ext (mult_fct id (fct_cte c))); [intros; reflexivity|].
  apply (dpl_val _ _ (1 * c + x * 0)); [unfold fct_cte; ring|].
  apply derivable_pt_lim_mult; [apply derivable_pt_lim_id | apply derivable_pt_lim_const].
Qed.

Section Monotone.
Variable n : nat.
Variables pi0 r : nat -> R.
Hypothesis Hpi0 : dist n pi0.

(** Moments of the unnormalized tilt at [lambda = l]. *)
Definition W (l : R) : R := sum n (fun i => pi0 i * exp (l * r i)).
Definition W1 (l : R) : R := sum n (fun i => pi0 i * r i * exp (l * r i)).
Definition W2 (l : R) : R := sum n (fun i => pi0 i * r i * r i * exp (l * r i)).

(** The tilt at [lambda = l], its mean, variance and KL to the base. *)
Definition tl (l : R) (i : nat) : R := pi0 i * exp (l * r i) / W l.
Definition Elam (l : R) : R := W1 l / W l.
Definition Var (l : R) : R := W2 l / W l - Elam l ^ 2.
Definition KLlam (l : R) : R := l * Elam l - ln (W l).

Lemma W_pos : forall l, 0 < W l.
Proof.
  intro l. destruct (dist_exists_pos n pi0 Hpi0) as [j [Hj Hp]].
  apply (sum_pos n _ j); [| exact Hj | apply Rmult_lt_0_compat; [exact Hp | apply exp_pos]].
  intros i Hi. apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | left; apply exp_pos].
Qed.

Lemma tl_dist : forall l, dist n (tl l).
Proof.
  intro l. pose proof (W_pos l). split.
  - intros i Hi. unfold tl. apply Rdiv_nonneg; [|exact H].
    apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | left; apply exp_pos].
  - unfold tl. rewrite sum_div. fold (W l). field. lra.
Qed.

Lemma tl_pos : forall l i, 0 < pi0 i -> 0 < tl l i.
Proof.
  intros l i Hp. unfold tl. apply Rdiv_lt_0_compat; [|apply W_pos].
  apply Rmult_lt_0_compat; [exact Hp | apply exp_pos].
Qed.

(** The tilt at [lambda] is the tilt of [Tilt.v] at [beta = 1/lambda]. *)
Lemma tl_tilt : forall l i, 0 < l -> tilt n pi0 r (/ l) i = tl l i.
Proof.
  intros l i Hl. unfold tilt, tl, Zt, W.
  replace (r i / / l) with (l * r i) by (field; lra).
  f_equal. apply sum_ext. intros j _. f_equal. f_equal. field. lra.
Qed.

Lemma Elam_E : forall l, E n (tl l) r = Elam l.
Proof.
  intro l. pose proof (W_pos l). unfold E, tl, Elam, W1. rewrite <- sum_div.
  apply sum_ext. intros. field. lra.
Qed.

Lemma Var_E : forall l, Var l = E n (tl l) (fun i => (r i - Elam l) ^ 2).
Proof.
  intro l. pose proof (W_pos l).
  transitivity (E n (tl l) (fun i => r i * r i) - 2 * Elam l * E n (tl l) r + Elam l ^ 2 * sum n (tl l)).
  - rewrite Elam_E. rewrite (proj2 (tl_dist l)).
    assert (E n (tl l) (fun i => r i * r i) = W2 l / W l).
    { unfold E, tl, W2. rewrite <- sum_div. apply sum_ext. intros. field. lra. }
    rewrite H0. unfold Var. ring.
  - unfold E. rewrite <- !sum_scal_l, <- sum_minus, <- sum_plus. apply sum_ext. intros. ring.
Qed.

Lemma Var_nonneg : forall l, 0 <= Var l.
Proof.
  intro l. rewrite Var_E. apply sum_nonneg. intros i Hi.
  apply Rmult_le_pos; [apply (proj1 (tl_dist l) i Hi) | apply pow2_ge_0].
Qed.

(** Strictness: [Var > 0] when [r] takes two values on the support. *)
Lemma Var_pos : forall l, (exists i j, (i < n)%nat /\ (j < n)%nat /\ 0 < pi0 i /\ 0 < pi0 j /\ r i <> r j) ->
  0 < Var l.
Proof.
  intros l [i [j [Hi [Hj [Hpi [Hpj Hne]]]]]]. destruct (Var_nonneg l) as [H|H]; [exact H|].
  exfalso. rewrite Var_E in H. symmetry in H.
  assert (Hnn : forall k, (k < n)%nat -> 0 <= tl l k * (r k - Elam l) ^ 2).
  { intros k Hk. apply Rmult_le_pos; [apply (proj1 (tl_dist l) k Hk) | apply pow2_ge_0]. }
  pose proof (sum_zero_each n _ Hnn H i Hi) as Zi. pose proof (sum_zero_each n _ Hnn H j Hj) as Zj.
  cbv beta in Zi, Zj. pose proof (tl_pos l i Hpi). pose proof (tl_pos l j Hpj).
  assert ((r i - Elam l) ^ 2 = 0).
  { apply Rmult_eq_reg_l with (tl l i); [rewrite Zi; ring | lra]. }
  assert ((r j - Elam l) ^ 2 = 0).
  { apply Rmult_eq_reg_l with (tl l j); [rewrite Zj; ring | lra]. }
  apply Hne. assert (r i = Elam l) by nra. assert (r j = Elam l) by nra. lra.
Qed.
Lemma dW : forall l, derivable_pt_lim W l (W1 l).
Proof.
  intro l. unfold W, W1. apply (dpl_sum n (fun i y => pi0 i * exp (y * r i))).
  intros i Hi. apply dpl_aexp.
Qed.

Lemma dW1 : forall l, derivable_pt_lim W1 l (W2 l).
Proof.
  intro l. unfold W1, W2. apply (dpl_sum n (fun i y => pi0 i * r i * exp (y * r i))).
  intros i Hi. apply dpl_aexp.
Qed.

(** [dE/dlambda = Var]. *)
Lemma dElam : forall l, derivable_pt_lim Elam l (Var l).
Proof.
  intro l. pose proof (W_pos l).
  apply (dpl_ext (div_fct W1 W)); [intros; reflexivity|].
  apply (dpl_val _ _ ((W2 l * W l - W1 l * W1 l) / (W l)²)).
  - unfold Var, Elam, Rsqr. field. lra.
  - apply derivable_pt_lim_div; [apply dW1 | apply dW | lra].
Qed.

(** [dKL/dlambda = lambda Var]. *)
Lemma dKLlam : forall l, derivable_pt_lim KLlam l (l * Var l).
Proof.
  intro l. pose proof (W_pos l).
  apply (dpl_ext (minus_fct (mult_fct id Elam) (comp ln W))); [intros; reflexivity|].
  apply (dpl_val _ _ ((1 * Elam l + id l * Var l) - (/ W l * W1 l))).
  - unfold id, Elam. field. lra.
  - apply derivable_pt_lim_minus.
    + apply derivable_pt_lim_mult; [apply derivable_pt_lim_id | apply dElam].
    + apply derivable_pt_lim_comp; [apply dW | apply derivable_pt_lim_ln; exact H].
Qed.

Lemma Elam_continuous : continuity Elam.
Proof. intro l. apply derivable_continuous_pt. exists (Var l). apply dElam. Qed.

Lemma KLlam_continuous : continuity KLlam.
Proof. intro l. apply derivable_continuous_pt. exists (l * Var l). apply dKLlam. Qed.

(** [KLlam] is the KL divergence of the tilt from the base. *)
Lemma KLlam_KL : forall l, KL n (tl l) pi0 = KLlam l.
Proof.
  intro l. pose proof (W_pos l).
  transitivity (l * E n (tl l) r - ln (W l) * sum n (tl l)).
  - unfold KL, E. rewrite <- sum_scal_l, <- sum_scal_l, <- sum_minus. apply sum_ext. intros i Hi.
    destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz].
    + replace (tl l i / pi0 i) with (exp (l * r i) / W l) by (unfold tl; field; lra).
      rewrite ln_div by (auto; apply exp_pos). rewrite ln_exp. ring.
    + unfold tl. rewrite <- Hz. unfold Rdiv. ring.
  - rewrite Elam_E, (proj2 (tl_dist l)). unfold KLlam. ring.
Qed.

(** Values at [lambda = 0]: the base itself. *)
Lemma tl_0 : forall i, (i < n)%nat -> tl 0 i = pi0 i.
Proof.
  intros i Hi. unfold tl, W. rewrite Rmult_0_l, exp_0.
  replace (sum n (fun i => pi0 i * exp (0 * r i))) with 1.
  - field.
  - destruct Hpi0 as [_ H1]. rewrite <- H1. apply sum_ext. intros. rewrite Rmult_0_l, exp_0. ring.
Qed.

Lemma Elam_0 : Elam 0 = E n pi0 r.
Proof. rewrite <- Elam_E. apply E_ext. apply tl_0. Qed.

Lemma KLlam_0 : KLlam 0 = 0.
Proof. rewrite <- KLlam_KL, (KL_ext_l n _ pi0 pi0 tl_0). apply KL_self. Qed.

Definition nonconstant : Prop :=
  exists i j, (i < n)%nat /\ (j < n)%nat /\ 0 < pi0 i /\ 0 < pi0 j /\ r i <> r j.

(** Strict monotonicity in [lambda]: [E] on the whole line, [KL] on [lambda >= 0]. *)
Lemma Elam_strict : nonconstant -> forall a b, a < b -> Elam a < Elam b.
Proof.
  intros Hnc a b Hab. destruct (MVT_cor2 Elam Var a b Hab (fun c _ => dElam c)) as [c [Hc _]].
  pose proof (Var_pos c Hnc). nra.
Qed.

Lemma KLlam_strict : nonconstant -> forall a b, 0 <= a -> a < b -> KLlam a < KLlam b.
Proof.
  intros Hnc a b Ha Hab.
  destruct (MVT_cor2 KLlam (fun c => c * Var c) a b Hab (fun c _ => dKLlam c)) as [c [Hc Hin]].
  pose proof (Var_pos c Hnc). assert (0 < c * Var c) by (apply Rmult_lt_0_compat; lra). nra.
Qed.

End Monotone.

(** kl.monotone: for every [lambda = 1/beta > 0], the tilt's mean and KL have derivatives
    [Var] and [lambda Var] (non-negative), the KL is the divergence of the tilt
    [pi_beta] of [Tilt.v] from [pi0]; when [r] is non-constant on the support both derivatives
    are positive and [E], [KL] are strictly increasing in [lambda]. *)
Theorem kl_monotone : forall n pi0 r, dist n pi0 ->
  (forall l, 0 < l -> forall i, tilt n pi0 r (/ l) i = tl n pi0 r l i) /\
  (forall l, E n (tl n pi0 r l) r = Elam n pi0 r l /\ KL n (tl n pi0 r l) pi0 = KLlam n pi0 r l) /\
  (forall l, Var n pi0 r l = E n (tl n pi0 r l) (fun i => (r i - Elam n pi0 r l) ^ 2)) /\
  (forall l, derivable_pt_lim (Elam n pi0 r) l (Var n pi0 r l) /\
             derivable_pt_lim (KLlam n pi0 r) l (l * Var n pi0 r l) /\
             0 <= Var n pi0 r l /\ (0 < l -> 0 <= l * Var n pi0 r l)) /\
  (nonconstant n pi0 r ->
     (forall l, 0 < Var n pi0 r l /\ (0 < l -> 0 < l * Var n pi0 r l)) /\
     (forall a b, a < b -> Elam n pi0 r a < Elam n pi0 r b) /\
     (forall a b, 0 <= a -> a < b -> KLlam n pi0 r a < KLlam n pi0 r b)).
Proof.
  intros n pi0 r Hpi0. split; [|split; [|split; [|split]]].
  - intros l Hl i. apply tl_tilt; exact Hl.
  - intro l. split; [apply Elam_E; exact Hpi0 | apply KLlam_KL; exact Hpi0].
  - intro l. apply Var_E. exact Hpi0.
  - intro l. pose proof (Var_nonneg n pi0 r Hpi0 l). split; [apply dElam; exact Hpi0|].
    split; [apply dKLlam; exact Hpi0|]. split; [exact H|]. intro Hl. apply Rmult_le_pos; lra.
  - intro Hnc. split; [|split].
    + intro l. pose proof (Var_pos n pi0 r Hpi0 l Hnc). split; [exact H|].
      intro Hl. apply Rmult_lt_0_compat; lra.
    + apply Elam_strict; assumption.
    + apply KLlam_strict; assumption.
Qed.
