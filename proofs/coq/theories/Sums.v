(** Finite sums over the outcomes {0, ..., n-1}. *)
Require Import Reals Lra Lia.
Open Scope R_scope.

(** [sum n f] is f 0 + ... + f (n-1). *)
Fixpoint sum (n : nat) (f : nat -> R) : R :=
  match n with
  | O => 0
  | S k => sum k f + f k
  end.

Lemma sum_ext : forall n f g, (forall i, (i < n)%nat -> f i = g i) -> sum n f = sum n g.
Proof.
  induction n; intros f g H; simpl; [reflexivity|].
  rewrite (IHn f g) by (intros; apply H; lia). rewrite H by lia. reflexivity.
Qed.

Lemma sum_plus : forall n f g, sum n (fun i => f i + g i) = sum n f + sum n g.
Proof. induction n; intros; simpl; [lra|]. rewrite IHn. lra. Qed.

Lemma sum_minus : forall n f g, sum n (fun i => f i - g i) = sum n f - sum n g.
Proof. induction n; intros; simpl; [lra|]. rewrite IHn. lra. Qed.

Lemma sum_scal_l : forall n c f, sum n (fun i => c * f i) = c * sum n f.
Proof. induction n; intros; simpl; [lra|]. rewrite IHn. lra. Qed.

Lemma sum_scal_r : forall n c f, sum n (fun i => f i * c) = sum n f * c.
Proof. induction n; intros; simpl; [lra|]. rewrite IHn. lra. Qed.

Lemma sum_div : forall n c f, sum n (fun i => f i / c) = sum n f / c.
Proof. intros. unfold Rdiv. apply sum_scal_r. Qed.

Lemma sum_const_zero : forall n, sum n (fun _ => 0) = 0.
Proof. induction n; simpl; [lra|]. rewrite IHn. lra. Qed.

Lemma sum_le : forall n f g, (forall i, (i < n)%nat -> f i <= g i) -> sum n f <= sum n g.
Proof.
  induction n; intros f g H; simpl; [lra|].
  assert (sum n f <= sum n g) by (apply IHn; intros; apply H; lia).
  assert (f n <= g n) by (apply H; lia). lra.
Qed.

Lemma sum_nonneg : forall n f, (forall i, (i < n)%nat -> 0 <= f i) -> 0 <= sum n f.
Proof.
  intros. rewrite <- (sum_const_zero n). apply sum_le. assumption.
Qed.

(** A sum of non-negative terms with one positive term is positive. *)
Lemma sum_pos : forall n f j, (forall i, (i < n)%nat -> 0 <= f i) -> (j < n)%nat -> 0 < f j ->
  0 < sum n f.
Proof.
  induction n; intros f j H Hj Hp; [lia|]. simpl.
  destruct (Nat.eq_dec j n) as [->|Hne].
  - assert (0 <= sum n f) by (apply sum_nonneg; intros; apply H; lia). lra.
  - assert (0 < sum n f) by (apply (IHn f j); [intros; apply H; lia | lia | exact Hp]).
    assert (0 <= f n) by (apply H; lia). lra.
Qed.

(** Strict monotonicity: pointwise [<=] with one strict term gives a strict inequality. *)
Lemma sum_lt : forall n f g j, (forall i, (i < n)%nat -> f i <= g i) -> (j < n)%nat ->
  f j < g j -> sum n f < sum n g.
Proof.
  intros n f g j H Hj Hlt.
  assert (0 < sum n (fun i => g i - f i)).
  { apply (sum_pos n _ j); [intros i Hi; specialize (H i Hi); lra | exact Hj | lra]. }
  rewrite sum_minus in H0. lra.
Qed.

(** A sum of non-negative terms vanishes only if every term does. *)
Lemma sum_zero_each : forall n f, (forall i, (i < n)%nat -> 0 <= f i) -> sum n f = 0 ->
  forall i, (i < n)%nat -> f i = 0.
Proof.
  intros n f H Hs i Hi. destruct (H i Hi) as [Hp|Hz]; [|auto].
  exfalso. pose proof (sum_pos n f i H Hi Hp). lra.
Qed.

(** A positive sum of non-negative terms has a positive term. *)
Lemma sum_pos_exists : forall n f, (forall i, (i < n)%nat -> 0 <= f i) -> 0 < sum n f ->
  exists j, (j < n)%nat /\ 0 < f j.
Proof.
  induction n; intros f H Hs; simpl in Hs; [lra|].
  destruct (Rlt_dec 0 (f n)) as [Hp|Hn].
  - exists n. split; [lia|exact Hp].
  - assert (0 < sum n f) by lra.
    destruct (IHn f) as [j [Hj Hf]]; [intros; apply H; lia | exact H0 |].
    exists j. split; [lia|exact Hf].
Qed.

(** Swapping a double sum. *)
Lemma sum_swap : forall n m (f : nat -> nat -> R),
  sum n (fun i => sum m (fun j => f i j)) = sum m (fun j => sum n (fun i => f i j)).
Proof.
  induction n; intros; simpl.
  - symmetry. apply sum_const_zero.
  - rewrite IHn. rewrite <- sum_plus. reflexivity.
Qed.

Lemma sum_const : forall n c, sum n (fun _ => c) = INR n * c.
Proof. induction n; intros; simpl sum; [simpl; ring|]. rewrite IHn, S_INR. ring. Qed.
