(** Claim bon.kl-bound: [KL(P_N||pi0) <= log N - (N-1)/N], stated on the reward classes.

    With the reward classes of [pi0] in increasing order of reward, of masses [m 0, ..., m (K-1)]
    (all positive, summing to 1), [F k = m 0 + ... + m k] and [F (k-1)] the mass strictly below
    class [k], best-of-N gives class [k] the mass [P k = F k ^ N - F (k-1) ^ N] (claim bon.exact)
    and splits it within the class proportionally to [pi0] (claim kl.odds), so that
    [KL(P_N||pi0) = sum_k P k log (P k / m k)], the class-level divergence bounded here. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Monotone.
Open Scope R_scope.

Section Bound.
Variable N : nat.
Hypothesis HN : (1 <= N)%nat.

Let nN := INR N.

(** [Phi(u) = int_0^u g log g] for the density [g(u) = N u^(N-1)] of the maximum of [N] uniforms. *)
Definition Phi (u : R) : R := u ^ N * ln nN + (nN - 1) * (u ^ N * ln u) - (nN - 1) / nN * u ^ N.

Lemma nN_pos : 0 < nN.
Proof. unfold nN. apply lt_0_INR. lia. Qed.

Lemma nN_ge1 : 1 <= nN.
Proof. unfold nN. replace 1 with (INR 1) by reflexivity. apply le_INR. exact HN. Qed.

Lemma pow_strict : forall a b, 0 <= a < b -> a ^ N < b ^ N.
Proof.
  intros a b Hab. destruct N as [|k]; [lia|]. clear HN. induction k as [|k IH].
  - simpl. lra.
  - change (a * a ^ S k < b * b ^ S k).
    assert (a ^ S k < b ^ S k) by (apply IH).
    assert (0 <= a ^ S k) by (apply pow_le; lra).
    assert (0 < b ^ S k) by (apply pow_lt; lra). nra.
Qed.

(** [Phi'(t) = g log g] with [g = N t^(N-1)], for [t > 0]. *)
Lemma dPhi : forall t, 0 < t ->
  derivable_pt_lim Phi t (nN * t ^ pred N * (ln nN + (nN - 1) * ln t)).
Proof.
  intros t Ht.
  pose proof (derivable_pt_lim_pow t N) as Dp. fold nN in Dp.
  assert (Dl : derivable_pt_lim (fun u => u ^ N * ln u) t (nN * t ^ pred N * ln t + t ^ N * / t)).
  { apply (dpl_ext (mult_fct (fun y => y ^ N) ln)); [intros; reflexivity|].
    apply derivable_pt_lim_mult; [exact Dp | apply derivable_pt_lim_ln; exact Ht]. }
  apply (dpl_ext (minus_fct (plus_fct (mult_real_fct (ln nN) (fun y => y ^ N))
                                       (mult_real_fct (nN - 1) (fun u => u ^ N * ln u)))
                            (mult_real_fct ((nN - 1) / nN) (fun y => y ^ N)))).
  { intro y. unfold Phi, minus_fct, plus_fct, mult_real_fct. ring. }
  apply (dpl_val _ _ (ln nN * (nN * t ^ pred N) + (nN - 1) * (nN * t ^ pred N * ln t + t ^ N * / t)
                      - (nN - 1) / nN * (nN * t ^ pred N))).
  - assert (t ^ N = t * t ^ pred N).
    { destruct N as [|k]; [lia|]. reflexivity. }
    rewrite H. pose proof nN_pos. field. split; lra.
  - apply derivable_pt_lim_minus; [apply derivable_pt_lim_plus|]; apply derivable_pt_lim_scal;
      assumption.
Qed.

(** One class: [P log (P / (b - a)) <= Phi(b) - Phi(a)] with [P = b^N - a^N], for [0 < a < b]. *)
Lemma interval_bound : forall a b, 0 < a < b ->
  (b ^ N - a ^ N) * ln ((b ^ N - a ^ N) / (b - a)) <= Phi b - Phi a.
Proof.
  intros a b Hab. pose proof nN_pos as HnN. pose proof nN_ge1.
  set (P := b ^ N - a ^ N). assert (HP : 0 < P) by (unfold P; pose proof (pow_strict a b ltac:(lra)); lra).
  set (c := P / (b - a)). assert (Hc : 0 < c) by (unfold c; apply Rdiv_lt_0_compat; lra).
  set (Psi := fun t => Phi t - (t ^ N * ln c + t ^ N - c * t)).
  set (Psi' := fun t => nN * t ^ pred N * (ln nN + (nN - 1) * ln t)
                        - (nN * t ^ pred N * ln c + nN * t ^ pred N - c * 1)).
  assert (HD : forall t, a <= t <= b -> derivable_pt_lim Psi t (Psi' t)).
  { intros t Ht. assert (Ht0 : 0 < t) by lra.
    apply (dpl_ext (minus_fct Phi (plus_fct (plus_fct (mult_real_fct (ln c) (fun y => y ^ N))
                                                     (fun y => y ^ N))
                                           (mult_real_fct (- c) id)))).
    { intro y. unfold Psi, minus_fct, plus_fct, mult_real_fct, id. ring. }
    unfold Psi'. apply (dpl_val _ _ (nN * t ^ pred N * (ln nN + (nN - 1) * ln t) -
      (ln c * (nN * t ^ pred N) + nN * t ^ pred N + - c * 1))); [ring|].
    pose proof (derivable_pt_lim_pow t N) as Dp. fold nN in Dp.
    apply derivable_pt_lim_minus; [apply dPhi; exact Ht0|].
    apply derivable_pt_lim_plus; [apply derivable_pt_lim_plus|].
    - apply derivable_pt_lim_scal. exact Dp.
    - exact Dp.
    - apply derivable_pt_lim_scal. apply derivable_pt_lim_id. }
  destruct (MVT_cor2 Psi Psi' a b ltac:(lra) HD) as [xi [Hxi Hin]].
  assert (Hnn : 0 <= Psi' xi).
  { unfold Psi'. assert (0 < xi) by lra. set (g := nN * xi ^ pred N).
    assert (Hg : 0 < g) by (unfold g; apply Rmult_lt_0_compat; [lra | apply pow_lt; lra]).
    assert (Hlg : ln g = ln nN + (nN - 1) * ln xi).
    { unfold g. rewrite ln_mult by (auto; apply pow_lt; lra). rewrite ln_pow by lra.
      f_equal. f_equal. unfold nN. rewrite <- Nat.sub_1_r, minus_INR by exact HN. simpl. ring. }
    rewrite <- Hlg. pose proof (kl_term_ge g c ltac:(lra) ltac:(lra) (fun _ => Hc)) as Hk.
    rewrite ln_div in Hk by lra. nra. }
  assert (Hmono : Psi b - Psi a >= 0) by (rewrite Hxi; apply Rle_ge, Rmult_le_pos; lra).
  unfold Psi in Hmono.
  assert (Hcp : c * (b - a) = P) by (unfold c; field; lra).
  replace ((b ^ N - a ^ N) * ln ((b ^ N - a ^ N) / (b - a))) with (P * ln c) by reflexivity.
  unfold P in *. nra.
Qed.

(** The first class ([a = 0]): [b^N log (b^N / b) <= Phi(b) - Phi(0)], using [log N >= 1 - 1/N]. *)
Lemma first_bound : forall b, 0 < b ->
  (b ^ N - 0 ^ N) * ln ((b ^ N - 0 ^ N) / (b - 0)) <= Phi b - Phi 0.
Proof.
  intros b Hb. pose proof nN_pos as Hn1. pose proof nN_ge1 as Hn2.
  assert (Hz : 0 ^ N = 0) by (apply pow_i; lia).
  assert (HPhi0 : Phi 0 = 0) by (unfold Phi; rewrite Hz; ring).
  rewrite Hz, HPhi0. replace (b ^ N - 0) with (b ^ N) by ring. replace (b - 0) with b by ring.
  assert (Hbn : 0 < b ^ N) by (apply pow_lt; exact Hb).
  rewrite ln_div by lra. rewrite ln_pow by lra.
  assert (Hln : 1 - 1 / nN <= ln nN).
  { pose proof (ln_le_sub1 (/ nN) ltac:(apply Rinv_0_lt_compat; lra)) as Hl.
    rewrite ln_Rinv in Hl by lra. unfold Rdiv. lra. }
  unfold Phi. fold nN.
  assert (Hpos : 0 <= b ^ N * (ln nN - (1 - 1 / nN))) by (apply Rmult_le_pos; lra).
  replace ((nN - 1) / nN) with (1 - 1 / nN) by (field; lra). nra.
Qed.

(** Telescoping over the classes. *)
Lemma telescope : forall K (m : nat -> R),
  sum K (fun k => Phi (sum (S k) m) - Phi (sum k m)) = Phi (sum K m) - Phi 0.
Proof.
  intros K m. induction K; [simpl; ring|].
  transitivity (sum K (fun k => Phi (sum (S k) m) - Phi (sum k m)) + (Phi (sum (S K) m) - Phi (sum K m)));
    [reflexivity|].
  rewrite IHK. ring.
Qed.

End Bound.

(** The class-level law of best-of-N and its KL to the base. *)
Definition bon_class (N : nat) (m : nat -> R) (k : nat) : R := sum (S k) m ^ N - sum k m ^ N.
Definition bon_class_kl (N K : nat) (m : nat -> R) : R :=
  sum K (fun k => bon_class N m k * ln (bon_class N m k / m k)).

(** bon.kl-bound: for [N >= 1] and [K] reward classes of positive masses summing to 1,
    [KL(P_N||pi0) <= log N - (N-1)/N]. *)
Theorem bon_kl_bound : forall N K (m : nat -> R), (1 <= N)%nat ->
  (forall k, (k < K)%nat -> 0 < m k) -> sum K m = 1 ->
  bon_class_kl N K m <= ln (INR N) - (INR N - 1) / INR N.
Proof.
  intros N K m HN Hm H1.
  assert (Hphi1 : Phi N 1 = ln (INR N) - (INR N - 1) / INR N).
  { unfold Phi. rewrite pow1, ln_1. ring. }
  rewrite <- Hphi1, <- H1.
  assert (HP0 : Phi N 0 = 0).
  { unfold Phi. rewrite pow_i by lia. ring. }
  replace (Phi N (sum K m)) with (Phi N (sum K m) - Phi N 0) by (rewrite HP0; ring).
  rewrite <- telescope. unfold bon_class_kl. apply sum_le. intros k Hk.
  assert (Hlo : 0 <= sum k m) by (apply sum_nonneg; intros; left; apply Hm; lia).
  assert (Hstep : sum (S k) m = sum k m + m k) by reflexivity.
  pose proof (Hm k Hk) as Hmk. unfold bon_class.
  replace (m k) with (sum (S k) m - sum k m) by (rewrite Hstep; ring).
  destruct Hlo as [Hlo|Hlo].
  - apply interval_bound; [exact HN | rewrite Hstep; lra].
  - rewrite <- Hlo. apply first_bound; [exact HN | rewrite Hstep, <- Hlo; lra].
Qed.
