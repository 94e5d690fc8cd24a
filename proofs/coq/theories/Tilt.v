(** The Gibbs tilt of a base distribution: claims kl.tilt, kl.gap, kl.support, kl.maxent. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist.
Open Scope R_scope.

(** Partition function [Z = E_pi0 [e^(r/beta)]] and the tilt [pi_beta]. *)
Definition Zt (n : nat) (pi0 r : nat -> R) (beta : R) : R :=
  sum n (fun i => pi0 i * exp (r i / beta)).

Definition tilt (n : nat) (pi0 r : nat -> R) (beta : R) (i : nat) : R :=
  pi0 i * exp (r i / beta) / Zt n pi0 r beta.

(** The KL-regularized objective [J(pi) = E_pi[r] - beta KL(pi||pi0)] (for [pi] with finite KL). *)
Definition J (n : nat) (pi0 r : nat -> R) (beta : R) (pi : nat -> R) : R :=
  E n pi r - beta * KL n pi pi0.

Section Tilt.
Variable n : nat.
Variables pi0 r : nat -> R.
Variable beta : R.
Hypothesis Hpi0 : dist n pi0.
Hypothesis Hbeta : 0 < beta.

Let Z := Zt n pi0 r beta.
Let pb := tilt n pi0 r beta.

Lemma Z_pos : 0 < Z.
Proof.
  destruct (dist_exists_pos n pi0 Hpi0) as [j [Hj Hp]].
  apply (sum_pos n _ j); [| exact Hj | apply Rmult_lt_0_compat; [exact Hp | apply exp_pos]].
  intros i Hi. apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | left; apply exp_pos].
Qed.

Lemma tilt_dist : dist n pb.
Proof.
  pose proof Z_pos. split.
  - intros i Hi. unfold pb, tilt. apply Rdiv_nonneg; [|exact H].
    apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | left; apply exp_pos].
  - unfold pb, tilt. rewrite sum_div. unfold Z, Zt in *. field. lra.
Qed.

Lemma tilt_pos_iff : forall i, (i < n)%nat -> (0 < pb i <-> 0 < pi0 i).
Proof.
  intros i Hi. pose proof Z_pos. pose proof (exp_pos (r i / beta)). unfold pb, tilt. fold Z. split.
  - intro H1. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz]; [exact Hp|].
    rewrite <- Hz in H1. unfold Rdiv in H1. rewrite !Rmult_0_l in H1. lra.
  - intro Hp. apply Rdiv_lt_0_compat; [apply Rmult_lt_0_compat|]; assumption.
Qed.

Lemma ln_tilt : forall i, 0 < pi0 i -> ln (pb i) = ln (pi0 i) + r i / beta - ln Z.
Proof.
  intros i Hp. pose proof Z_pos. unfold pb, tilt. fold Z. unfold Rdiv at 1.
  rewrite ln_mult by (try apply Rmult_lt_0_compat; try apply exp_pos; auto with real).
  rewrite ln_mult by (auto; apply exp_pos). rewrite ln_exp, ln_Rinv by exact H. ring.
Qed.

(** Identity (1): [KL(pi||pi0) = KL(pi||pi_beta) + E_pi[r]/beta - log Z]. *)
Lemma kl_decomp : forall pi, dist n pi -> supp_in n pi pi0 ->
  KL n pi pi0 = KL n pi pb + E n pi r / beta - ln Z.
Proof.
  intros pi Hpi Hs.
  assert (Hterm : forall i, (i < n)%nat ->
    pi i * ln (pi i / pi0 i) = pi i * ln (pi i / pb i) + pi i * r i / beta - pi i * ln Z).
  { intros i Hi. destruct (dist_nonneg n pi i Hpi Hi) as [Hp|Hz].
    - pose proof (Hs i Hi Hp) as H0. pose proof (proj2 (tilt_pos_iff i Hi) H0).
      rewrite !ln_div by auto. rewrite ln_tilt by exact H0. field. lra.
    - rewrite <- Hz. field. lra. }
  unfold KL. rewrite (sum_ext n _ _ Hterm), sum_minus, sum_plus, sum_div, sum_scal_r.
  destruct Hpi as [_ H1]. rewrite H1. unfold E. ring.
Qed.

(** [J(pi) = beta log Z - beta KL(pi||pi_beta)] for every [pi] with finite KL. *)
Lemma J_identity : forall pi, dist n pi -> supp_in n pi pi0 ->
  J n pi0 r beta pi = beta * ln Z - beta * KL n pi pb.
Proof.
  intros pi Hpi Hs. unfold J. rewrite (kl_decomp pi Hpi Hs). field. lra.
Qed.

Lemma supp_tilt : forall pi, supp_in n pi pi0 -> supp_in n pi pb.
Proof. intros pi Hs i Hi Hp. apply (tilt_pos_iff i Hi). auto. Qed.

Lemma tilt_supp_base : supp_in n pb pi0.
Proof. intros i Hi Hp. apply (tilt_pos_iff i Hi). exact Hp. Qed.

Lemma J_tilt : J n pi0 r beta pb = beta * ln Z.
Proof. rewrite (J_identity pb tilt_dist tilt_supp_base), KL_self. ring. Qed.

(** kl.tilt: [pi_beta] is a distribution with finite KL, attains [beta log Z], and is the
    unique maximizer of [J] among the policies with finite KL (a policy with infinite KL has
    [J = -infinity]). *)
Theorem kl_tilt :
  dist n pb /\ supp_in n pb pi0 /\ J n pi0 r beta pb = beta * ln Z /\
  (forall pi, dist n pi -> supp_in n pi pi0 -> J n pi0 r beta pi <= beta * ln Z) /\
  (forall pi, dist n pi -> supp_in n pi pi0 -> J n pi0 r beta pi = beta * ln Z ->
     forall i, (i < n)%nat -> pi i = pb i).
Proof.
  split; [exact tilt_dist|]. split; [exact tilt_supp_base|]. split; [exact J_tilt|]. split.
  - intros pi Hpi Hs. rewrite (J_identity pi Hpi Hs).
    pose proof (gibbs n pi pb Hpi (proj1 tilt_dist) (Req_le _ _ (proj2 tilt_dist)) (supp_tilt pi Hs)).
    nra.
  - intros pi Hpi Hs Heq. rewrite (J_identity pi Hpi Hs) in Heq.
    assert (KL n pi pb = 0).
    { apply Rmult_eq_reg_l with beta; [|lra]. lra. }
    exact (proj2 (gibbs_eq n pi pb Hpi (proj1 tilt_dist) (Req_le _ _ (proj2 tilt_dist))
                    (supp_tilt pi Hs) H)).
Qed.

(** kl.gap: [J(pi_beta) - J(pi) = beta KL(pi||pi_beta)], which is [>= 0] and [0] only at the tilt. *)
Theorem kl_gap : forall pi, dist n pi -> supp_in n pi pi0 ->
  J n pi0 r beta pb - J n pi0 r beta pi = beta * KL n pi pb /\
  0 <= KL n pi pb /\ (KL n pi pb = 0 -> forall i, (i < n)%nat -> pi i = pb i).
Proof.
  intros pi Hpi Hs. split; [rewrite J_tilt, (J_identity pi Hpi Hs); ring|]. split.
  - exact (gibbs n pi pb Hpi (proj1 tilt_dist) (Req_le _ _ (proj2 tilt_dist)) (supp_tilt pi Hs)).
  - intro H. exact (proj2 (gibbs_eq n pi pb Hpi (proj1 tilt_dist) (Req_le _ _ (proj2 tilt_dist))
                    (supp_tilt pi Hs) H)).
Qed.

(** kl.support (a): the tilt charges exactly the outcomes the base charges. *)
Theorem kl_support_tilt : forall i, (i < n)%nat -> (0 < pb i <-> 0 < pi0 i).
Proof. exact tilt_pos_iff. Qed.

(** kl.odds, item 1: equally rewarded outcomes keep their base odds under the tilt. *)
Theorem kl_odds_tilt : forall i j, r i = r j -> pb i * pi0 j = pb j * pi0 i.
Proof. intros i j H. unfold pb, tilt. rewrite H. pose proof Z_pos. unfold Z in *. field. lra. Qed.

End Tilt.

(** kl.support (b): a policy with finite (extended) KL to [pi0] is supported inside [pi0]'s
    support, and its extended KL is then the finite sum [KL]. *)
Theorem kl_support_finite : forall n pi pi0, dist n pi ->
  KLext n pi pi0 <> PInf -> supp_in n pi pi0 /\ KLext n pi pi0 = Fin (KL n pi pi0).
Proof.
  intros n pi pi0 Hpi H. pose proof (KLext_finite_supp n pi pi0 H).
  split; [exact H0|]. apply KLext_fin; [apply Hpi | exact H0].
Qed.

(** kl.support, both parts together. *)
Theorem kl_support : forall n pi0 r beta, dist n pi0 -> 0 < beta ->
  (forall i, (i < n)%nat -> (0 < tilt n pi0 r beta i <-> 0 < pi0 i)) /\
  (forall pi, dist n pi -> KLext n pi pi0 <> PInf -> supp_in n pi pi0).
Proof.
  intros n pi0 r beta Hpi0 Hb. split.
  - exact (kl_support_tilt n pi0 r beta Hpi0).
  - intros pi Hpi H. exact (proj1 (kl_support_finite n pi pi0 Hpi H)).
Qed.

(** * kl.maxent: entropy regularization is KL regularization toward the uniform law *)

Definition uniform (n : nat) (i : nat) : R := / INR n.
Definition entropy (n : nat) (p : nat -> R) : R := - sum n (fun i => p i * ln (p i)).
Definition softmax (n : nat) (r : nat -> R) (alpha : R) (i : nat) : R :=
  exp (r i / alpha) / sum n (fun j => exp (r j / alpha)).

Lemma uniform_dist : forall n, (0 < n)%nat -> dist n (uniform n).
Proof.
  intros n Hn. assert (0 < INR n) by (apply lt_0_INR; exact Hn). split.
  - intros. unfold uniform. left. apply Rinv_0_lt_compat. exact H.
  - unfold uniform. rewrite sum_const. field. lra.
Qed.

Lemma entropy_kl_uniform : forall n pi, (0 < n)%nat -> dist n pi ->
  KL n pi (uniform n) = ln (INR n) - entropy n pi.
Proof.
  intros n pi Hn Hpi. assert (0 < INR n) by (apply lt_0_INR; exact Hn).
  unfold KL, entropy, uniform.
  assert (Hterm : forall i, (i < n)%nat ->
    pi i * ln (pi i / / INR n) = pi i * ln (INR n) + pi i * ln (pi i)).
  { intros i Hi. destruct (dist_nonneg n pi i Hpi Hi) as [Hp|Hz].
    - unfold Rdiv. rewrite Rinv_inv. rewrite ln_mult by auto. ring.
    - rewrite <- Hz. ring. }
  rewrite (sum_ext n _ _ Hterm), sum_plus, sum_scal_r. destruct Hpi as [_ ->]. ring.
Qed.

(** kl.maxent: the identity, the maximum [alpha log sum_x e^(r(x)/alpha)], attained exactly at
    [softmax(r/alpha)]. *)
Theorem kl_maxent : forall n r alpha, (0 < n)%nat -> 0 < alpha ->
  (forall pi, dist n pi ->
     E n pi r + alpha * entropy n pi =
     E n pi r - alpha * KL n pi (uniform n) + alpha * ln (INR n)) /\
  dist n (softmax n r alpha) /\
  E n (softmax n r alpha) r + alpha * entropy n (softmax n r alpha) =
    alpha * ln (sum n (fun j => exp (r j / alpha))) /\
  (forall pi, dist n pi ->
     E n pi r + alpha * entropy n pi <= alpha * ln (sum n (fun j => exp (r j / alpha)))) /\
  (forall pi, dist n pi ->
     E n pi r + alpha * entropy n pi = alpha * ln (sum n (fun j => exp (r j / alpha))) ->
     forall i, (i < n)%nat -> pi i = softmax n r alpha i).
Proof.
  intros n r alpha Hn Ha.
  assert (HN : 0 < INR n) by (apply lt_0_INR; exact Hn).
  pose proof (uniform_dist n Hn) as HU.
  assert (Hsupp : forall pi, supp_in n pi (uniform n)).
  { intros pi i _ _. unfold uniform. apply Rinv_0_lt_compat. exact HN. }
  assert (Hid : forall pi, dist n pi ->
     E n pi r + alpha * entropy n pi =
     E n pi r - alpha * KL n pi (uniform n) + alpha * ln (INR n)).
  { intros pi Hpi. rewrite (entropy_kl_uniform n pi Hn Hpi). ring. }
  assert (HZ : Zt n (uniform n) r alpha = sum n (fun j => exp (r j / alpha)) / INR n).
  { unfold Zt, uniform. rewrite <- sum_div. apply sum_ext. intros. field. lra. }
  assert (HS : 0 < sum n (fun j => exp (r j / alpha))).
  { apply (sum_pos n _ 0%nat); [intros; left; apply exp_pos | exact Hn | apply exp_pos]. }
  assert (Hsm : forall i, tilt n (uniform n) r alpha i = softmax n r alpha i).
  { intro i. unfold tilt, softmax. rewrite HZ. unfold uniform. field. lra. }
  assert (HlnZ : alpha * ln (Zt n (uniform n) r alpha) + alpha * ln (INR n) =
                 alpha * ln (sum n (fun j => exp (r j / alpha)))).
  { rewrite HZ, ln_div by auto. ring. }
  destruct (kl_tilt n (uniform n) r alpha HU Ha) as [Hd [Hs0 [HJ [Hle Huniq]]]].
  assert (Hext : forall i, (i < n)%nat -> tilt n (uniform n) r alpha i = softmax n r alpha i)
    by (intros; apply Hsm).
  assert (Hent : forall p p', (forall i, (i < n)%nat -> p i = p' i) -> entropy n p = entropy n p').
  { intros p p' H. unfold entropy. f_equal. apply sum_ext. intros i Hi. rewrite H by exact Hi.
    reflexivity. }
  split; [exact Hid|]. split; [exact (dist_ext n _ _ Hext Hd)|]. split.
  - rewrite <- (E_ext n _ _ r Hext), <- (Hent _ _ Hext), (Hid _ Hd). rewrite <- HlnZ.
    unfold J in HJ. rewrite <- HJ. ring.
  - split.
    + intros pi Hpi. rewrite (Hid pi Hpi), <- HlnZ.
      pose proof (Hle pi Hpi (Hsupp pi)). unfold J in H. lra.
    + intros pi Hpi Heq i Hi. rewrite <- Hsm. apply (Huniq pi Hpi (Hsupp pi)); [|exact Hi].
      rewrite (Hid pi Hpi), <- HlnZ in Heq. unfold J. lra.
Qed.
