(** GRPO's expected update and its stationary points: claim grpo.stationary, items 1 and 2
    (the algebra after the expectation). [P j] stands for [P_G(j | pi)]; the only property of it
    used is [E_pi[P] = sum_j pi j * P j = 0], which holds because a group's advantages sum to 0. *)
Require Import Reals Lra.
Require Import RLHF.Sums RLHF.Dist.
Open Scope R_scope.

(** The expected update on logit [j]: [F_j = pi_j P_j + beta (pi0_j - pi_j)]. *)
Definition grpo_update (pi pi0 P : nat -> R) (beta : R) (j : nat) : R :=
  pi j * P j + beta * (pi0 j - pi j).

(** Item 2, "summing over j is consistent": [sum_j F_j = 0]. *)
Theorem grpo_update_sum : forall (n : nat) (pi pi0 P : nat -> R) (beta : R),
  dist n pi -> dist n pi0 -> E n pi P = 0 ->
  sum n (grpo_update pi pi0 P beta) = 0.
Proof.
  intros n pi pi0 P beta [_ H1] [_ H01] HE. unfold grpo_update, E in *.
  rewrite sum_plus, sum_scal_l, sum_minus, H1, H01, HE. ring.
Qed.

(** Item 2: [F = 0] iff [pi_j (1 - P_j/beta) = pi0_j] for every [j]. *)
Theorem grpo_stationary : forall (n : nat) (pi pi0 P : nat -> R) (beta : R),
  0 < beta ->
  (forall j, (j < n)%nat -> grpo_update pi pi0 P beta j = 0) <->
  (forall j, (j < n)%nat -> pi j * (1 - P j / beta) = pi0 j).
Proof.
  intros n pi pi0 P beta Hb. unfold grpo_update.
  split; intros H j Hj; specialize (H j Hj).
  - apply (Rmult_eq_reg_l beta); [|lra].
    replace (beta * (pi j * (1 - P j / beta))) with (beta * pi j - pi j * P j) by (field; lra).
    lra.
  - replace (pi j * P j) with (beta * pi j - beta * (pi j * (1 - P j / beta))) by (field; lra).
    rewrite H. ring.
Qed.

(** Item 2 on [supp pi0]: at a stationary point, [pi_j > 0], [1 - P_j/beta = pi0_j/pi_j > 0]
    and [pi_j = pi0_j / (1 - P_j/beta)]. *)
Theorem grpo_stationary_supp : forall (n : nat) (pi pi0 P : nat -> R) (beta : R),
  dist n pi -> 0 < beta ->
  (forall j, (j < n)%nat -> grpo_update pi pi0 P beta j = 0) ->
  forall j, (j < n)%nat -> 0 < pi0 j ->
  0 < pi j /\ 0 < 1 - P j / beta /\ 1 - P j / beta = pi0 j / pi j /\
  pi j = pi0 j / (1 - P j / beta).
Proof.
  intros n pi pi0 P beta Hpi Hb HF j Hj Hp0.
  pose proof (proj1 (grpo_stationary n pi pi0 P beta Hb) HF j Hj) as H.
  assert (Hp : 0 < pi j).
  { destruct (dist_nonneg n pi j Hpi Hj) as [Hp|Hz]; [exact Hp|].
    rewrite <- Hz in H. lra. }
  assert (Hc : 0 < 1 - P j / beta).
  { destruct (Rlt_or_le 0 (1 - P j / beta)) as [Hc|Hc]; [exact Hc|].
    assert (pi j * (1 - P j / beta) <= pi j * 0) by (apply Rmult_le_compat_l; lra). lra. }
  split; [exact Hp|]. split; [exact Hc|].
  set (c := 1 - P j / beta) in *. clearbody c. rewrite <- H.
  split; field; lra.
Qed.
