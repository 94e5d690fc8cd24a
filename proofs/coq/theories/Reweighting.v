(** Reweightings of a base distribution through a function of a score:
    claims goodhart.reweighting and kl.odds. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist.
Open Scope R_scope.

(** Indicator of the equality of two reals. *)
Definition ind_eq (x y : R) : R := if Req_EM_T x y then 1 else 0.

Lemma ind_eq_refl : forall x, ind_eq x x = 1.
Proof. intro x. unfold ind_eq. destruct (Req_EM_T x x); [reflexivity | contradiction]. Qed.

Lemma ind_eq_sym : forall x y, ind_eq x y = ind_eq y x.
Proof.
  intros. unfold ind_eq. destruct (Req_EM_T x y), (Req_EM_T y x); subst; auto; contradiction.
Qed.

Lemma ind_eq_nonneg : forall x y, 0 <= ind_eq x y.
Proof. intros. unfold ind_eq. destruct (Req_EM_T x y); lra. Qed.

(** [p(U = u)], [p(U = u, V = v)]. *)
Definition massU (n : nat) (p U : nat -> R) (u : R) : R := sum n (fun i => p i * ind_eq (U i) u).
Definition massUV (n : nat) (p U V : nat -> R) (u v : R) : R :=
  sum n (fun i => p i * ind_eq (U i) u * ind_eq (V i) v).

(** The conditional mean [m(u) = E_pi0[V | U = u]]. *)
Definition cmean (n : nat) (pi0 U V : nat -> R) (u : R) : R :=
  sum n (fun j => pi0 j * ind_eq (U j) u * V j) / massU n pi0 U u.

Section Reweighting.
Variable n : nat.
Variables pi0 pi U V : nat -> R.
Variable g : R -> R.
Hypothesis Hpi0 : forall i, (i < n)%nat -> 0 <= pi0 i.
Hypothesis Hg : forall u, 0 <= g u.
Hypothesis Hrw : forall i, (i < n)%nat -> pi i = pi0 i * g (U i).

Lemma massU_rw : forall u, massU n pi U u = g u * massU n pi0 U u.
Proof.
  intro u. unfold massU. rewrite <- sum_scal_l. apply sum_ext. intros i Hi. rewrite Hrw by exact Hi.
  unfold ind_eq. destruct (Req_EM_T (U i) u) as [->|]; ring.
Qed.

Lemma massUV_rw : forall u v, massUV n pi U V u v = g u * massUV n pi0 U V u v.
Proof.
  intros u v. unfold massUV. rewrite <- sum_scal_l. apply sum_ext. intros i Hi.
  rewrite Hrw by exact Hi. unfold ind_eq. destruct (Req_EM_T (U i) u) as [->|]; ring.
Qed.

(** goodhart.reweighting, first part: the law of [V] given [U = u] is the base's. *)
Theorem reweighting_conditional : forall u v, 0 < massU n pi U u ->
  0 < massU n pi0 U u /\
  massUV n pi U V u v / massU n pi U u = massUV n pi0 U V u v / massU n pi0 U u.
Proof.
  intros u v Hpos. rewrite massU_rw in Hpos |- *. rewrite massUV_rw.
  assert (0 <= massU n pi0 U u).
  { apply sum_nonneg. intros i Hi. apply Rmult_le_pos; [auto | apply ind_eq_nonneg]. }
  assert (0 < massU n pi0 U u /\ 0 < g u) as [H1 H2].
  { pose proof (Hg u). destruct H as [H|H]; [|rewrite <- H in Hpos; lra].
    destruct H0 as [H0|H0]; [|rewrite <- H0 in Hpos; lra]. auto. }
  split; [exact H1|]. field. lra.
Qed.

(** goodhart.reweighting, second part: [E_pi[V] = E_pi[m(U)]]. *)
Theorem reweighting_mean : E n pi V = E n pi (fun i => cmean n pi0 U V (U i)).
Proof.
  unfold E, cmean.
  assert (Hl : forall i, (i < n)%nat -> pi i * (sum n (fun j => pi0 j * ind_eq (U j) (U i) * V j)
                                / massU n pi0 U (U i)) =
     sum n (fun j => pi0 i * ind_eq (U i) (U j) * (g (U j) * pi0 j * V j / massU n pi0 U (U j)))).
  { intros i Hi. rewrite Hrw by exact Hi. unfold Rdiv. rewrite <- !sum_scal_r, <- sum_scal_l.
    apply sum_ext. intros j Hj. unfold ind_eq.
    destruct (Req_EM_T (U j) (U i)) as [E1|E1], (Req_EM_T (U i) (U j)) as [E2|E2];
      try (exfalso; auto; fail); [rewrite E1 | ]; ring. }
  rewrite (sum_ext n _ _ Hl), sum_swap. apply sum_ext. intros j Hj.
  rewrite sum_scal_r. fold (massU n pi0 U (U j)).
  rewrite Hrw by exact Hj.
  destruct (Hpi0 j Hj) as [Hp|Hz].
  - assert (0 < massU n pi0 U (U j)).
    { apply (sum_pos n _ j); [intros; apply Rmult_le_pos; [auto | apply ind_eq_nonneg] | exact Hj |].
      rewrite ind_eq_refl. lra. }
    replace (sum n (fun i => pi0 i * ind_eq (U i) (U j))) with (massU n pi0 U (U j))
      by reflexivity. field. lra.
  - rewrite <- Hz. unfold Rdiv. ring.
Qed.

(** kl.odds (general form): equally scored outcomes keep their base odds. *)
Theorem reweighting_odds : forall i j, (i < n)%nat -> (j < n)%nat -> U i = U j ->
  pi i * pi0 j = pi j * pi0 i.
Proof. intros i j Hi Hj H. rewrite !Hrw by assumption. rewrite H. ring. Qed.

End Reweighting.
