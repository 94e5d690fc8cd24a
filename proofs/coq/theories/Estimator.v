(** Schulman's KL estimators: claims estimator.unbiased (k1, k3) and estimator.sign.
    With [x ~ pi] and [l(x) = log(pi0(x)/pi(x))]: [k1 = -l], [k3 = e^l - 1 - l]. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist.
Open Scope R_scope.

Definition lratio (p0 p : R) : R := ln (p0 / p).
Definition k1 (p0 p : R) : R := - lratio p0 p.
Definition k3 (p0 p : R) : R := exp (lratio p0 p) - 1 - lratio p0 p.

(** [pi0(X \ supp pi)]: the reference mass the sampled policy never visits. *)
Definition missing (n : nat) (pi pi0 : nat -> R) : R :=
  sum n (fun i => if Rlt_dec 0 (pi i) then 0 else pi0 i).

Section Unbiased.
Variable n : nat.
Variables pi pi0 : nat -> R.
Hypothesis Hpi : dist n pi.
Hypothesis Hpi0 : dist n pi0.
Hypothesis Hs : supp_in n pi pi0.

Lemma E_k1 : E n pi (fun i => k1 (pi0 i) (pi i)) = KL n pi pi0.
Proof.
  unfold E, KL, k1, lratio. apply sum_ext. intros i Hi.
  destruct (dist_nonneg n pi i Hpi Hi) as [Hp|Hz]; [|rewrite <- Hz; ring].
  pose proof (Hs i Hi Hp). rewrite !ln_div by auto. ring.
Qed.

Lemma E_exp_l : E n pi (fun i => exp (lratio (pi0 i) (pi i))) = 1 - missing n pi pi0.
Proof.
  destruct Hpi0 as [_ H1]. rewrite <- H1. unfold missing. rewrite <- sum_minus. unfold E.
  apply sum_ext. intros i Hi. unfold lratio.
  destruct (Rlt_dec 0 (pi i)) as [Hp|Hn].
  - pose proof (Hs i Hi Hp). rewrite exp_ln by (apply Rdiv_lt_0_compat; auto). field. lra.
  - assert (pi i = 0) by (pose proof (dist_nonneg n pi i Hpi Hi); lra). rewrite H. ring.
Qed.

Lemma E_k3 : E n pi (fun i => k3 (pi0 i) (pi i)) = KL n pi pi0 - missing n pi pi0.
Proof.
  rewrite <- E_k1. transitivity (E n pi (fun i => exp (lratio (pi0 i) (pi i))) - sum n pi +
                                 E n pi (fun i => k1 (pi0 i) (pi i))).
  - unfold E. rewrite <- sum_minus, <- sum_plus. apply sum_ext. intros. unfold k3, k1. ring.
  - rewrite E_exp_l. destruct Hpi as [_ ->]. ring.
Qed.

Lemma missing_nonneg_terms : forall i, (i < n)%nat -> 0 <= (if Rlt_dec 0 (pi i) then 0 else pi0 i).
Proof. intros i Hi. destruct (Rlt_dec 0 (pi i)); [lra | apply (dist_nonneg n pi0 i Hpi0 Hi)]. Qed.

(** estimator.unbiased, items 1 and 2: [E[k1] = KL], [E[k3] = KL - pi0(X \ supp pi)], and
    [E[k3] = KL] iff [supp pi0] lies inside [supp pi]. *)
Theorem estimator_unbiased :
  E n pi (fun i => k1 (pi0 i) (pi i)) = KL n pi pi0 /\
  E n pi (fun i => k3 (pi0 i) (pi i)) = KL n pi pi0 - missing n pi pi0 /\
  (E n pi (fun i => k3 (pi0 i) (pi i)) = KL n pi pi0 <->
   forall i, (i < n)%nat -> 0 < pi0 i -> 0 < pi i).
Proof.
  split; [exact E_k1|]. split; [exact E_k3|]. rewrite E_k3. split.
  - intros H i Hi Hp0. assert (Hm : missing n pi pi0 = 0) by lra.
    pose proof (sum_zero_each n _ missing_nonneg_terms Hm i Hi). cbv beta in H0.
    destruct (Rlt_dec 0 (pi i)) as [Hp|Hn]; [exact Hp | lra].
  - intro H. assert (missing n pi pi0 = 0); [|lra].
    unfold missing. transitivity (sum n (fun _ => 0)); [|apply sum_const_zero].
    apply sum_ext. intros i Hi.
    destruct (Rlt_dec 0 (pi i)) as [Hp|Hn]; [reflexivity|].
    destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp0|Hz]; [exfalso; apply Hn; auto | auto].
Qed.

(** Item 4, first part: [Var[k1] = 2 E[k2] - KL^2] with [k2 = l^2/2]. *)
Theorem estimator_var_k1 :
  E n pi (fun i => (k1 (pi0 i) (pi i) - KL n pi pi0) ^ 2) =
  2 * E n pi (fun i => lratio (pi0 i) (pi i) ^ 2 / 2) - KL n pi pi0 ^ 2.
Proof.
  set (K := KL n pi pi0).
  transitivity (sum n (fun i => pi i * lratio (pi0 i) (pi i) ^ 2) +
                (-2 * K) * E n pi (fun i => k1 (pi0 i) (pi i)) + K ^ 2 * sum n pi).
  - unfold E. rewrite <- !sum_scal_l, <- !sum_plus. apply sum_ext. intros. unfold k1. ring.
  - rewrite E_k1. fold K. destruct Hpi as [_ ->]. unfold E. rewrite <- sum_scal_l.
    replace (sum n (fun i => 2 * (pi i * (lratio (pi0 i) (pi i) ^ 2 / 2)))) with
      (sum n (fun i => pi i * lratio (pi0 i) (pi i) ^ 2)) by (apply sum_ext; intros; field).
    ring.
Qed.

End Unbiased.

(** estimator.sign, item 1: [k3 = e^l - 1 - l >= 0] for every real [l], [= 0] iff [l = 0]. *)
Theorem k3_nonneg : forall l, 0 <= exp l - 1 - l /\ (exp l - 1 - l = 0 <-> l = 0).
Proof.
  intro l. pose proof (exp_ineq1_le l). split; [lra|]. split.
  - intro Hz. destruct (Req_dec l 0) as [E0|Hne]; [exact E0|].
    pose proof (exp_ineq1 l Hne). lra.
  - intros ->. rewrite exp_0. ring.
Qed.

(** Either some [i] has [g i < f i], or [f <= g] on {0..n-1}. *)
Lemma exists_lt_or_all_le : forall n (f g : nat -> R),
  (exists i, (i < n)%nat /\ g i < f i) \/ (forall i, (i < n)%nat -> f i <= g i).
Proof.
  induction n; intros f g; [right; intros; lia|].
  destruct (IHn f g) as [[i [Hi H]]|H].
  - left. exists i. split; [lia|exact H].
  - destruct (Rlt_dec (g n) (f n)) as [Hlt|Hge].
    + left. exists n. split; [lia|exact Hlt].
    + right. intros i Hi. destruct (Nat.eq_dec i n) as [->|Hne]; [lra|]. apply H. lia.
Qed.

(** estimator.sign, item 2: if [supp pi0] lies inside [supp pi] and [pi <> pi0], some outcome
    [x] has [pi(x) > 0] and [k1(x) = log(pi(x)/pi0(x)) < 0]; a batch of [B] copies of it has
    probability [pi(x)^B > 0] and mean [k1(x) < 0]. *)
Theorem estimator_sign : forall n pi pi0, dist n pi -> dist n pi0 ->
  (forall i, (i < n)%nat -> 0 < pi0 i -> 0 < pi i) ->
  (exists j, (j < n)%nat /\ pi j <> pi0 j) ->
  exists x, (x < n)%nat /\ 0 < pi x /\ k1 (pi0 x) (pi x) < 0 /\
    (forall B, 0 < pi x ^ B /\ sum B (fun _ => k1 (pi0 x) (pi x)) / INR B < 0 \/ B = 0%nat).
Proof.
  intros n pi pi0 Hpi Hpi0 Hs [j [Hj Hne]].
  assert (Hx : exists x, (x < n)%nat /\ pi x < pi0 x).
  { destruct (exists_lt_or_all_le n pi0 pi) as [[x [Hx H]]|H]; [exists x; auto|].
    exfalso. assert (pi0 j < pi j) by (specialize (H j Hj); lra).
    pose proof (sum_lt n pi0 pi j H Hj H0). destruct Hpi as [_ Hs1], Hpi0 as [_ Hs2]. lra. }
  destruct Hx as [x [Hx Hlt]].
  assert (Hp0 : 0 < pi0 x) by (pose proof (dist_nonneg n pi x Hpi Hx); lra).
  pose proof (Hs x Hx Hp0) as Hp.
  assert (Hk : k1 (pi0 x) (pi x) < 0).
  { unfold k1, lratio. rewrite ln_div by auto.
    pose proof (ln_increasing (pi x) (pi0 x) Hp Hlt). lra. }
  exists x. split; [exact Hx|]. split; [exact Hp|]. split; [exact Hk|].
  intro B. destruct B as [|B]; [right; reflexivity|]. left. split; [apply pow_lt; exact Hp|].
  rewrite sum_const. replace (INR (S B) * k1 (pi0 x) (pi x) / INR (S B)) with (k1 (pi0 x) (pi x)).
  - exact Hk.
  - field. apply not_0_INR. lia.
Qed.
