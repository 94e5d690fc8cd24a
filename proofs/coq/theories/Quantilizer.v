(** The q-quantilizer: claims quantilizer.cost and quantilizer.kl.

    With the boundary reward level [rb], [A = pi0(r > rb)], [C = pi0(r = rb)] and the boundary
    class fixed by [A < q <= A + C], the quantilizer is [pi_q(x) = pi0(x)/q] above [rb],
    [pi0(x) f/q] on the boundary class with [f = (q - A)/C], and [0] below. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Reweighting.
Open Scope R_scope.

Definition ind_gt (v rb : R) : R := if Rlt_dec rb v then 1 else 0.

Definition qabove (n : nat) (pi0 r : nat -> R) (rb : R) : R := sum n (fun i => pi0 i * ind_gt (r i) rb).
Definition qclass (n : nat) (pi0 r : nat -> R) (rb : R) : R := sum n (fun i => pi0 i * ind_eq (r i) rb).
Definition qfrac (n : nat) (pi0 r : nat -> R) (q rb : R) : R :=
  (q - qabove n pi0 r rb) / qclass n pi0 r rb.

(** The weight [pi_q(x)/pi0(x)] as a function of the reward. *)
Definition qweight (n : nat) (pi0 r : nat -> R) (q rb : R) (v : R) : R :=
  (ind_gt v rb + qfrac n pi0 r q rb * ind_eq v rb) / q.

Definition quant (n : nat) (pi0 r : nat -> R) (q rb : R) (i : nat) : R :=
  pi0 i * qweight n pi0 r q rb (r i).

Section Quantilizer.
Variable n : nat.
Variables pi0 r : nat -> R.
Variables q rb : R.
Hypothesis Hpi0 : dist n pi0.
Hypothesis Hq : 0 < q <= 1.
Hypothesis Hb : qabove n pi0 r rb < q <= qabove n pi0 r rb + qclass n pi0 r rb.

Let A := qabove n pi0 r rb.
Let C := qclass n pi0 r rb.
Let f := qfrac n pi0 r q rb.

Lemma qclass_pos : 0 < C.
Proof. unfold C, A in *. lra. Qed.

Lemma qfrac_range : 0 < f <= 1.
Proof.
  pose proof qclass_pos. unfold f, qfrac. fold A C. split.
  - apply Rdiv_lt_0_compat; unfold A, C in *; lra.
  - apply (Rmult_le_reg_r C); [exact H|]. unfold Rdiv. rewrite Rmult_assoc, Rinv_l by lra.
    unfold A, C in *. lra.
Qed.

Lemma qweight_cases : forall v,
  (rb < v /\ qweight n pi0 r q rb v = 1 / q) \/
  (v = rb /\ qweight n pi0 r q rb v = f / q) \/
  (v < rb /\ qweight n pi0 r q rb v = 0).
Proof.
  intro v. unfold qweight, ind_gt, ind_eq. fold f.
  destruct (Rlt_dec rb v) as [H1|H1]; destruct (Req_EM_T v rb) as [H2|H2].
  - lra.
  - left. split; [exact H1|]. field. lra.
  - right; left. split; [exact H2|]. field. lra.
  - right; right. split; [lra|]. field. lra.
Qed.

Lemma qweight_range : forall v, 0 <= qweight n pi0 r q rb v <= 1 / q.
Proof.
  intro v. pose proof qfrac_range. assert (0 < 1 / q) by (apply Rdiv_lt_0_compat; lra).
  assert (f / q <= 1 / q) by (unfold Rdiv; apply Rmult_le_compat_r; [left; apply Rinv_0_lt_compat|]; lra).
  assert (0 <= f / q) by (apply Rdiv_nonneg; lra).
  destruct (qweight_cases v) as [[_ ->]|[[_ ->]|[_ ->]]]; lra.
Qed.

Lemma quant_nonneg : forall i, (i < n)%nat -> 0 <= quant n pi0 r q rb i.
Proof.
  intros i Hi. unfold quant. apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi)|].
  apply qweight_range.
Qed.

(** [pi_q(x) <= pi0(x)/q]. *)
Lemma quant_le : forall i, (i < n)%nat -> quant n pi0 r q rb i <= pi0 i / q.
Proof.
  intros i Hi. unfold quant. pose proof (qweight_range (r i)).
  pose proof (dist_nonneg n pi0 i Hpi0 Hi).
  replace (pi0 i / q) with (pi0 i * (1 / q)) by (field; lra).
  apply Rmult_le_compat_l; [exact H0 | apply H].
Qed.

Lemma quant_dist : dist n (quant n pi0 r q rb).
Proof.
  split; [exact quant_nonneg|]. unfold quant, qweight.
  transitivity ((A + f * C) / q).
  - unfold A, C, qabove, qclass. rewrite <- sum_scal_l, <- sum_plus, <- sum_div.
    apply sum_ext. intros. fold f. field. lra.
  - pose proof qclass_pos. unfold f, qfrac. fold A C. field. split; lra.
Qed.

(** quantilizer.cost: [E_{pi_q}[c] <= E_{pi0}[c]/q] for every non-negative cost. *)
Theorem quantilizer_cost : forall c, (forall i, (i < n)%nat -> 0 <= c i) ->
  E n (quant n pi0 r q rb) c <= E n pi0 c / q.
Proof.
  intros c Hc. unfold E. rewrite <- sum_div. apply sum_le. intros i Hi.
  replace (pi0 i * c i / q) with (pi0 i / q * c i) by (field; lra).
  apply Rmult_le_compat_r; [apply Hc; exact Hi | apply quant_le; exact Hi].
Qed.

(** The KL of the quantilizer in closed form: [log(1/q) + ((q - A)/q) log f]. *)
Lemma quantilizer_kl_value : KL n (quant n pi0 r q rb) pi0 = ln (1 / q) + (q - A) / q * ln f.
Proof.
  pose proof qfrac_range as Hf. pose proof qclass_pos as HC.
  assert (Hterm : forall i, (i < n)%nat ->
    quant n pi0 r q rb i * ln (quant n pi0 r q rb i / pi0 i) =
    pi0 i * ind_gt (r i) rb * (ln (1 / q) / q) + pi0 i * ind_eq (r i) rb * (f / q * ln (f / q))).
  { intros i Hi. unfold quant. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz]; [|rewrite <- Hz; ring].
    replace (pi0 i * qweight n pi0 r q rb (r i) / pi0 i) with (qweight n pi0 r q rb (r i))
      by (field; lra).
    destruct (qweight_cases (r i)) as [[H1 ->]|[[H1 ->]|[H1 ->]]]; unfold ind_gt, ind_eq;
      destruct (Rlt_dec rb (r i)); destruct (Req_EM_T (r i) rb); try lra;
      try (field; lra); try ring. }
  unfold KL. rewrite (sum_ext n _ _ Hterm), sum_plus, !sum_scal_r. fold (qabove n pi0 r rb) (qclass n pi0 r rb).
  fold A C.
  assert (HfC : q - A = f * C) by (unfold f, qfrac; fold A C; field; lra).
  assert (L1 : ln (1 / q) = - ln q) by (unfold Rdiv; rewrite Rmult_1_l, ln_Rinv by lra; ring).
  assert (L2 : ln (f / q) = ln f - ln q) by (apply ln_div; lra).
  rewrite L1, L2, HfC. replace A with (q - f * C) by lra. field. lra.
Qed.

(** quantilizer.kl: [KL(pi_q||pi0) <= log(1/q)], with equality iff the boundary class is kept
    whole ([f = 1], i.e. [q = A + C]). *)
Theorem quantilizer_kl : KL n (quant n pi0 r q rb) pi0 <= ln (1 / q) /\
  (KL n (quant n pi0 r q rb) pi0 = ln (1 / q) <-> qfrac n pi0 r q rb = 1).
Proof.
  rewrite quantilizer_kl_value. fold f. pose proof qfrac_range as Hf.
  assert (Hw : 0 < (q - A) / q) by (apply Rdiv_lt_0_compat; unfold A in *; lra).
  assert (Hl : ln f <= 0).
  { destruct Hf as [Hf1 [Hlt|Heq]]; [|rewrite Heq, ln_1; lra].
    pose proof (ln_increasing f 1 Hf1 Hlt). rewrite ln_1 in H. lra. }
  split; [nra|]. split.
  - intro H. assert (ln f = 0) by nra.
    destruct Hf as [Hf1 [Hlt|Heq]]; [|exact Heq].
    exfalso. pose proof (ln_increasing f 1 Hf1 Hlt). rewrite ln_1 in H1. lra.
  - intro H. rewrite H, ln_1. ring.
Qed.

End Quantilizer.
