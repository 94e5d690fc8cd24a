(** Distributions on {0, ..., n-1}, expectations, KL divergence and Gibbs' inequality.

    Conventions, made explicit: Coq's [ln] is total ([ln x = 0] for [x <= 0]) and [x / 0 = 0].
    [KL n p q] is the finite sum [sum_i p_i ln (p_i / q_i)]. Its terms with [p_i = 0] are [0],
    which is the convention [0 log (0/q) = 0]. A term with [p_i > 0 = q_i] is [+infinity] in
    the mathematical definition; [KL] is the true divergence only under [supp_in n p q]
    (support of [p] inside the support of [q]), so every theorem about [KL] carries that
    hypothesis. [KLext] below is the extended-real divergence with the [+infinity] convention. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums.
Open Scope R_scope.

(** A probability vector on {0, ..., n-1}. *)
Definition dist (n : nat) (p : nat -> R) : Prop :=
  (forall i, (i < n)%nat -> 0 <= p i) /\ sum n p = 1.

(** The support of [p] lies inside the support of [q]. *)
Definition supp_in (n : nat) (p q : nat -> R) : Prop :=
  forall i, (i < n)%nat -> 0 < p i -> 0 < q i.

(** Expectation of [f] under [p]. *)
Definition E (n : nat) (p f : nat -> R) : R := sum n (fun i => p i * f i).

(** KL divergence (finite part; see the conventions above). *)
Definition KL (n : nat) (p q : nat -> R) : R := sum n (fun i => p i * ln (p i / q i)).

(** Extended reals: a finite value or [+infinity]. *)
Inductive ER : Type := Fin (x : R) | PInf.

Definition ER_plus (a b : ER) : ER :=
  match a, b with Fin x, Fin y => Fin (x + y) | _, _ => PInf end.

(** One term of the extended KL: [+infinity] when [p > 0 = q], [p ln (p/q)] otherwise. *)
Definition kl_term_ext (p q : R) : ER :=
  if Rlt_dec 0 p then (if Rlt_dec 0 q then Fin (p * ln (p / q)) else PInf) else Fin 0.

Fixpoint KLext (n : nat) (p q : nat -> R) : ER :=
  match n with
  | O => Fin 0
  | S k => ER_plus (KLext k p q) (kl_term_ext (p k) (q k))
  end.

Lemma dist_nonneg : forall n p i, dist n p -> (i < n)%nat -> 0 <= p i.
Proof. intros n p i [H _] Hi. auto. Qed.

(** A distribution charges some outcome. *)
Lemma dist_exists_pos : forall n p, dist n p -> exists j, (j < n)%nat /\ 0 < p j.
Proof. intros n p [H1 H2]. apply sum_pos_exists; [exact H1 | lra]. Qed.

Lemma E_plus : forall n p f g, E n p (fun i => f i + g i) = E n p f + E n p g.
Proof.
  intros. unfold E. rewrite <- sum_plus. apply sum_ext. intros. ring.
Qed.

Lemma E_scal : forall n p c f, E n p (fun i => c * f i) = c * E n p f.
Proof.
  intros. unfold E. rewrite <- sum_scal_l. apply sum_ext. intros. ring.
Qed.

Lemma E_const : forall n p c, dist n p -> E n p (fun _ => c) = c.
Proof.
  intros n p c [_ H]. unfold E. rewrite sum_scal_r, H. ring.
Qed.

(** * Logarithm facts *)

Lemma ln_div : forall x y, 0 < x -> 0 < y -> ln (x / y) = ln x - ln y.
Proof.
  intros. unfold Rdiv. rewrite ln_mult by (auto with real). rewrite ln_Rinv by auto. ring.
Qed.

(** [ln t <= t - 1] (from [1 + x <= e^x]), strictly unless [t = 1]. *)
Lemma ln_le_sub1 : forall t, 0 < t -> ln t <= t - 1.
Proof.
  intros t Ht. pose proof (exp_ineq1_le (ln t)). rewrite exp_ln in H by exact Ht. lra.
Qed.

Lemma ln_lt_sub1 : forall t, 0 < t -> t <> 1 -> ln t < t - 1.
Proof.
  intros t Ht Hne. assert (ln t <> 0).
  { intro H0. apply Hne. rewrite <- (exp_ln t Ht), H0. apply exp_0. }
  pose proof (exp_ineq1 (ln t) H). rewrite exp_ln in H0 by exact Ht. lra.
Qed.

(** The KL term dominates [p - q]: [p ln (p/q) >= p - q], strictly when [p > 0] and [p <> q]. *)
Lemma kl_term_ge : forall p q, 0 <= p -> 0 <= q -> (0 < p -> 0 < q) -> p - q <= p * ln (p / q).
Proof.
  intros p q Hp Hq Hs. destruct Hp as [Hp|Hp].
  - specialize (Hs Hp).
    assert (ln (q / p) <= q / p - 1) by (apply ln_le_sub1; apply Rdiv_lt_0_compat; auto).
    rewrite ln_div in H by auto. rewrite ln_div by auto.
    assert (p * (ln q - ln p) <= p * (q / p - 1)) by (apply Rmult_le_compat_l; lra).
    replace (p * (q / p - 1)) with (q - p) in H0 by (field; lra). nra.
  - subst. rewrite Rmult_0_l. lra.
Qed.

Lemma kl_term_gt : forall p q, 0 < p -> 0 < q -> p <> q -> p - q < p * ln (p / q).
Proof.
  intros p q Hp Hq Hne.
  assert (ln (q / p) < q / p - 1).
  { apply ln_lt_sub1; [apply Rdiv_lt_0_compat; auto|].
    intro H. apply Hne. apply Rmult_eq_reg_r with (/ p); [|apply Rinv_neq_0_compat; lra].
    unfold Rdiv in H. rewrite H. field. lra. }
  rewrite ln_div in H by auto. rewrite ln_div by auto.
  assert (p * (ln q - ln p) < p * (q / p - 1)) by (apply Rmult_lt_compat_l; lra).
  replace (p * (q / p - 1)) with (q - p) in H0 by (field; lra). nra.
Qed.

(** * Gibbs' inequality *)

Section Gibbs.
Variable n : nat.
Variables p q : nat -> R.
Hypothesis Hp : dist n p.
Hypothesis Hq0 : forall i, (i < n)%nat -> 0 <= q i.
Hypothesis Hq1 : sum n q <= 1.
Hypothesis Hs : supp_in n p q.

Lemma KL_minus_gap :
  KL n p q = sum n (fun i => p i * ln (p i / q i) - (p i - q i)) + (1 - sum n q).
Proof.
  destruct Hp as [_ Hp1]. unfold KL. rewrite sum_minus, sum_minus, Hp1. ring.
Qed.

Lemma gap_nonneg : forall i, (i < n)%nat -> 0 <= p i * ln (p i / q i) - (p i - q i).
Proof.
  intros i Hi. pose proof (kl_term_ge (p i) (q i) (dist_nonneg n p i Hp Hi) (Hq0 i Hi) (Hs i Hi)).
  lra.
Qed.

(** Gibbs' inequality: [KL(p||q) >= 0] (for [q] a sub-probability vector). *)
Theorem gibbs : 0 <= KL n p q.
Proof.
  rewrite KL_minus_gap. pose proof (sum_nonneg n _ gap_nonneg). lra.
Qed.

(** Equality case: [KL(p||q) = 0] forces [p = q] and [q] of total mass 1. *)
Theorem gibbs_eq : KL n p q = 0 -> sum n q = 1 /\ forall i, (i < n)%nat -> p i = q i.
Proof.
  intro H0. rewrite KL_minus_gap in H0.
  pose proof (sum_nonneg n _ gap_nonneg).
  assert (Hsum : sum n (fun i => p i * ln (p i / q i) - (p i - q i)) = 0) by lra.
  split; [lra|]. intros i Hi.
  pose proof (sum_zero_each n _ gap_nonneg Hsum i Hi) as Hz.
  destruct (dist_nonneg n p i Hp Hi) as [Hpos|Hzero].
  - destruct (Req_dec (p i) (q i)) as [Heq|Hne]; [exact Heq|].
    pose proof (kl_term_gt (p i) (q i) Hpos (Hs i Hi Hpos) Hne). lra.
  - cbv beta in Hz. rewrite <- Hzero in Hz |- *. rewrite Rmult_0_l in Hz. lra.
Qed.

End Gibbs.

(** [KL(p||p) = 0]. *)
Lemma KL_self : forall n p, KL n p p = 0.
Proof.
  intros. unfold KL. rewrite <- (sum_const_zero n). apply sum_ext. intros i _.
  destruct (Req_dec (p i) 0) as [->|Hne]; [ring|].
  unfold Rdiv. rewrite Rinv_r by exact Hne. rewrite ln_1. ring.
Qed.

(** The extended KL is finite under the support condition, and then equals [KL]. *)
Lemma KLext_fin : forall n p q, (forall i, (i < n)%nat -> 0 <= p i) -> supp_in n p q ->
  KLext n p q = Fin (KL n p q).
Proof.
  induction n; intros p q Hp Hs; simpl; [reflexivity|].
  rewrite IHn; [| intros; apply Hp; lia | intros i Hi; apply Hs; lia].
  unfold kl_term_ext. destruct (Rlt_dec 0 (p n)) as [H|H].
  - destruct (Rlt_dec 0 (q n)) as [H'|H']; [reflexivity|].
    exfalso. apply H'. apply Hs; [lia|exact H].
  - simpl. assert (p n = 0) by (pose proof (Hp n (Nat.lt_succ_diag_r n)); lra).
    unfold KL. simpl. rewrite H0. rewrite Rmult_0_l, Rplus_0_r. reflexivity.
Qed.

Lemma ER_plus_PInf_l : forall b, ER_plus PInf b = PInf.
Proof. destruct b; reflexivity. Qed.

Lemma ER_plus_PInf_r : forall a, ER_plus a PInf = PInf.
Proof. destruct a; reflexivity. Qed.

(** One outcome charged by [p] but not by [q] makes the extended KL infinite. *)
Lemma KLext_inf : forall n p q i, (i < n)%nat -> 0 < p i -> ~ 0 < q i -> KLext n p q = PInf.
Proof.
  induction n; intros p q i Hi Hp Hq; [lia|]. simpl.
  destruct (Nat.eq_dec i n) as [->|Hne].
  - unfold kl_term_ext. destruct (Rlt_dec 0 (p n)); [|contradiction].
    destruct (Rlt_dec 0 (q n)); [contradiction|]. apply ER_plus_PInf_r.
  - rewrite (IHn p q i) by (auto; lia). apply ER_plus_PInf_l.
Qed.

(** Finite extended KL forces the support condition. *)
Lemma KLext_finite_supp : forall n p q, KLext n p q <> PInf -> supp_in n p q.
Proof.
  intros n p q H i Hi Hp. destruct (Rlt_dec 0 (q i)) as [Hq|Hq]; [exact Hq|].
  exfalso. apply H. apply (KLext_inf n p q i Hi Hp Hq).
Qed.

(** Quantities depend only on the values at {0, ..., n-1}. *)
Lemma dist_ext : forall n p p', (forall i, (i < n)%nat -> p i = p' i) -> dist n p -> dist n p'.
Proof.
  intros n p p' H [H1 H2]. split.
  - intros i Hi. rewrite <- H by exact Hi. auto.
  - rewrite <- (sum_ext n p p' H). exact H2.
Qed.

Lemma E_ext : forall n p p' f, (forall i, (i < n)%nat -> p i = p' i) -> E n p f = E n p' f.
Proof. intros. unfold E. apply sum_ext. intros i Hi. rewrite H by exact Hi. reflexivity. Qed.

Lemma KL_ext_l : forall n p p' q, (forall i, (i < n)%nat -> p i = p' i) -> KL n p q = KL n p' q.
Proof. intros. unfold KL. apply sum_ext. intros i Hi. rewrite H by exact Hi. reflexivity. Qed.

Lemma KL_ext_r : forall n p q q', (forall i, (i < n)%nat -> q i = q' i) -> KL n p q = KL n p q'.
Proof. intros. unfold KL. apply sum_ext. intros i Hi. rewrite H by exact Hi. reflexivity. Qed.

Lemma Rdiv_nonneg : forall a b, 0 <= a -> 0 < b -> 0 <= a / b.
Proof. intros. unfold Rdiv. apply Rmult_le_pos; [exact H | left; apply Rinv_0_lt_compat; exact H0]. Qed.
