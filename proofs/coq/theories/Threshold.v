(** Conditioning on an event: claim lagrange.threshold. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist.
Open Scope R_scope.

Definition ind (b : bool) : R := if b then 1 else 0.

Lemma ind_01 : forall b, 0 <= ind b <= 1.
Proof. destruct b; simpl; lra. Qed.

(** [p(B)] for an event [B]. *)
Definition prob (n : nat) (p : nat -> R) (B : nat -> bool) : R := sum n (fun i => p i * ind (B i)).

(** [pi0(. | B)]. *)
Definition cond (n : nat) (pi0 : nat -> R) (B : nat -> bool) (i : nat) : R :=
  pi0 i * ind (B i) / prob n pi0 B.

Section Cond.
Variable n : nat.
Variable pi0 : nat -> R.
Variable B : nat -> bool.
Hypothesis Hpi0 : dist n pi0.
Hypothesis HB : 0 < prob n pi0 B.

Lemma cond_dist : dist n (cond n pi0 B).
Proof.
  split.
  - intros i Hi. unfold cond. apply Rdiv_nonneg; [|exact HB].
    apply Rmult_le_pos; [apply (dist_nonneg n pi0 i Hpi0 Hi) | apply ind_01].
  - unfold cond. rewrite sum_div. fold (prob n pi0 B). field. lra.
Qed.

Lemma cond_event : prob n (cond n pi0 B) B = 1.
Proof.
  unfold prob at 1. unfold cond.
  transitivity (prob n pi0 B / prob n pi0 B); [|field; lra].
  unfold prob at 2. rewrite <- sum_div. apply sum_ext. intros i _.
  destruct (B i); simpl; field; lra.
Qed.

Lemma cond_supp : supp_in n (cond n pi0 B) pi0.
Proof.
  intros i Hi Hp. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [H|H]; [exact H|].
  unfold cond in Hp. rewrite <- H in Hp. unfold Rdiv in Hp. rewrite !Rmult_0_l in Hp. lra.
Qed.

(** A distribution with [p(B) = 1] puts no mass off [B]. *)
Lemma off_event_zero : forall p, dist n p -> prob n p B = 1 ->
  forall i, (i < n)%nat -> B i = false -> p i = 0.
Proof.
  intros p Hp HpB i Hi Hf.
  assert (Hs : sum n (fun i => p i * (1 - ind (B i))) = 0).
  { replace (sum n (fun i => p i * (1 - ind (B i)))) with (sum n p - prob n p B).
    - destruct Hp as [_ H1]. lra.
    - unfold prob. rewrite <- sum_minus. apply sum_ext. intros. ring. }
  assert (Hnn : forall j, (j < n)%nat -> 0 <= p j * (1 - ind (B j))).
  { intros j Hj. apply Rmult_le_pos; [apply (dist_nonneg n p j Hp Hj)|].
    pose proof (ind_01 (B j)). lra. }
  pose proof (sum_zero_each n _ Hnn Hs i Hi) as H. cbv beta in H.
  rewrite Hf in H. simpl in H. lra.
Qed.

(** The identity [KL(pi||pi0) = KL(pi||pi0(.|B)) - log pi0(B)] for [pi(B) = 1] with finite KL. *)
Lemma threshold_identity : forall pi, dist n pi -> prob n pi B = 1 -> supp_in n pi pi0 ->
  KL n pi pi0 = KL n pi (cond n pi0 B) - ln (prob n pi0 B).
Proof.
  intros pi Hpi HpB Hs.
  assert (Hterm : forall i, (i < n)%nat ->
    pi i * ln (pi i / pi0 i) = pi i * ln (pi i / cond n pi0 B i) - pi i * ln (prob n pi0 B)).
  { intros i Hi. destruct (dist_nonneg n pi i Hpi Hi) as [Hp|Hz].
    - assert (HBi : B i = true).
      { destruct (B i) eqn:E; [reflexivity|]. pose proof (off_event_zero pi Hpi HpB i Hi E). lra. }
      pose proof (Hs i Hi Hp). unfold cond. rewrite HBi. simpl. rewrite Rmult_1_r.
      rewrite !ln_div by (auto; apply Rdiv_lt_0_compat; auto). ring.
    - rewrite <- Hz. ring. }
  unfold KL. rewrite (sum_ext n _ _ Hterm), sum_minus, sum_scal_r.
  destruct Hpi as [_ ->]. ring.
Qed.

End Cond.

(** lagrange.threshold: among the policies with [pi(B) = 1] (and finite KL), [pi0(.|B)] is
    feasible, has KL [-log pi0(B)], every feasible [pi] satisfies the identity, and it is the
    unique minimizer; if [pi0(B) = 0], no policy with [pi(B) = 1] has finite KL. *)
Theorem lagrange_threshold : forall n pi0 B, dist n pi0 ->
  (0 < prob n pi0 B ->
    dist n (cond n pi0 B) /\ prob n (cond n pi0 B) B = 1 /\ supp_in n (cond n pi0 B) pi0 /\
    KL n (cond n pi0 B) pi0 = - ln (prob n pi0 B) /\
    (forall pi, dist n pi -> prob n pi B = 1 -> supp_in n pi pi0 ->
       KL n pi pi0 = KL n pi (cond n pi0 B) - ln (prob n pi0 B) /\
       - ln (prob n pi0 B) <= KL n pi pi0 /\
       (KL n pi pi0 = - ln (prob n pi0 B) -> forall i, (i < n)%nat -> pi i = cond n pi0 B i))) /\
  (prob n pi0 B = 0 -> forall pi, dist n pi -> prob n pi B = 1 -> ~ supp_in n pi pi0).
Proof.
  intros n pi0 B Hpi0. split.
  - intro HB. pose proof (cond_dist n pi0 B Hpi0 HB) as Hd.
    pose proof (cond_supp n pi0 B Hpi0) as Hs0.
    pose proof (cond_event n pi0 B HB) as He.
    assert (Hsupp : forall pi, dist n pi -> prob n pi B = 1 -> supp_in n pi pi0 ->
                      supp_in n pi (cond n pi0 B)).
    { intros pi Hpi HpB Hs i Hi Hp. unfold cond.
      destruct (B i) eqn:E.
      - simpl. rewrite Rmult_1_r. apply Rdiv_lt_0_compat; auto.
      - pose proof (off_event_zero n B pi Hpi HpB i Hi E). lra. }
    split; [exact Hd|]. split; [exact He|]. split; [exact Hs0|]. split.
    + rewrite (threshold_identity n pi0 B HB _ Hd He Hs0), KL_self. ring.
    + intros pi Hpi HpB Hs. rewrite (threshold_identity n pi0 B HB pi Hpi HpB Hs).
      pose proof (gibbs n pi _ Hpi (proj1 Hd) (Req_le _ _ (proj2 Hd)) (Hsupp pi Hpi HpB Hs)).
      split; [reflexivity|]. split; [lra|]. intro Heq.
      apply (proj2 (gibbs_eq n pi _ Hpi (proj1 Hd) (Req_le _ _ (proj2 Hd)) (Hsupp pi Hpi HpB Hs)
                     ltac:(lra))).
  - intros H0 pi Hpi HpB Hs.
    assert (Hle : prob n pi B <= 0).
    { rewrite <- H0. apply sum_le. intros i Hi. destruct (B i) eqn:E; simpl.
      - rewrite !Rmult_1_r. destruct (dist_nonneg n pi i Hpi Hi) as [Hp|Hz].
        + exfalso. assert (0 < pi0 i * ind (B i)) by (rewrite E; simpl; pose proof (Hs i Hi Hp); lra).
          pose proof (sum_pos n (fun i => pi0 i * ind (B i)) i
            (fun j Hj => Rmult_le_pos _ _ (dist_nonneg n pi0 j Hpi0 Hj) (proj1 (ind_01 (B j))))
            Hi H). unfold prob in H0. lra.
        + rewrite <- Hz. apply (dist_nonneg n pi0 i Hpi0 Hi).
      - lra. }
    lra.
Qed.
