(** Claims lagrange.kl-budget and lagrange.reward-target: existence and uniqueness of the
    matching beta (strict monotonicity plus the intermediate value theorem), the optimality of
    the tilt, and the edge cases. *)
Require Import Reals Lra Lia.
Require Import RLHF.Sums RLHF.Dist RLHF.Tilt RLHF.Reweighting RLHF.Threshold RLHF.Monotone
  RLHF.Lagrange.
Open Scope R_scope.

Lemma below_or_all : forall n (pi0 r : nat -> R) rs,
  (exists j, (j < n)%nat /\ 0 < pi0 j /\ r j <> rs) \/
  (forall j, (j < n)%nat -> 0 < pi0 j -> r j = rs).
Proof.
  induction n; intros pi0 r rs; [right; intros; lia|].
  destruct (IHn pi0 r rs) as [[j [Hj H]]|H]; [left; exists j; split; [lia|exact H]|].
  destruct (Rlt_dec 0 (pi0 n)) as [Hp|Hp]; [destruct (Req_EM_T (r n) rs) as [He|He]|].
  - right. intros j Hj Hpj. destruct (Nat.eq_dec j n) as [->|Hne]; [exact He | apply H; [lia|auto]].
  - left. exists n. split; [lia|]. split; assumption.
  - right. intros j Hj Hpj. destruct (Nat.eq_dec j n) as [->|Hne]; [contradiction | apply H; [lia|auto]].
Qed.

(** The intermediate value theorem from [0]: a continuous [f] with [f 0 < v < f l1], [l1 > 0],
    takes the value [v] at some [z > 0]. *)
Lemma ivt_pos : forall f v l1, continuity f -> 0 < l1 -> f 0 < v -> v < f l1 ->
  exists z, 0 < z /\ f z = v.
Proof.
  intros f v l1 Hc Hl H0 H1.
  assert (Hcont : continuity (fun l => f l - v)).
  { apply (continuity_minus f (fct_cte v)); [exact Hc|]. apply continuity_const. intros x y. reflexivity. }
  destruct (IVT (fun l => f l - v) 0 l1 Hcont Hl ltac:(lra) ltac:(lra)) as [z [[Hz0 _] Hz]].
  exists z. split; [|lra]. destruct Hz0 as [Hz0|Hz0]; [exact Hz0|]. subst z. lra.
Qed.

(** The tilt at [beta] is the tilt at [lambda = 1/beta]. *)
Lemma tilt_tl : forall n pi0 r beta i, 0 < beta -> tilt n pi0 r beta i = tl n pi0 r (/ beta) i.
Proof.
  intros. rewrite <- tl_tilt by (apply Rinv_0_lt_compat; exact H). rewrite Rinv_inv. reflexivity.
Qed.

Section Budget.
Variable n : nat.
Variables pi0 r : nat -> R.
Variable rs : R.
Hypothesis Hpi0 : dist n pi0.
(** [rs] is the largest reward on the support of [pi0]. *)
Hypothesis Hmax : forall i, (i < n)%nat -> 0 < pi0 i -> r i <= rs.
Hypothesis Hattain : exists i, (i < n)%nat /\ 0 < pi0 i /\ r i = rs.

Let pA := prob n pi0 (Aev r rs).

Lemma nonconst_of_below : (exists j, (j < n)%nat /\ 0 < pi0 j /\ r j <> rs) -> nonconstant n pi0 r.
Proof.
  intros [j [Hj [Hp Hne]]]. destruct Hattain as [i [Hi [Hpi He]]].
  exists i, j. repeat split; auto. rewrite He. auto.
Qed.

Lemma E_le_max : forall pi, dist n pi -> supp_in n pi pi0 -> E n pi r <= rs.
Proof.
  intros pi Hpi Hs. destruct Hpi as [H0 H1]. replace rs with (E n pi (fun _ => rs)).
  - unfold E. apply sum_le. intros i Hi. destruct (H0 i Hi) as [Hp|Hz].
    + apply Rmult_le_compat_l; [lra|]. apply Hmax; [exact Hi | apply Hs; auto].
    + rewrite <- Hz. lra.
  - unfold E. rewrite sum_scal_r, H1. ring.
Qed.

(** A policy with finite KL reaching the top reward lives on the argmax. *)
Lemma at_max_on_argmax : forall pi, dist n pi -> supp_in n pi pi0 -> rs <= E n pi r ->
  prob n pi (Aev r rs) = 1.
Proof.
  intros pi Hpi Hs HE.
  assert (Hnn : forall i, (i < n)%nat -> 0 <= pi i * (rs - r i)).
  { intros i Hi. destruct (dist_nonneg n pi i Hpi Hi) as [Hp|Hz].
    - apply Rmult_le_pos; [lra|]. pose proof (Hmax i Hi (Hs i Hi Hp)). lra.
    - rewrite <- Hz. lra. }
  assert (Hz : sum n (fun i => pi i * (rs - r i)) = 0).
  { assert (sum n (fun i => pi i * (rs - r i)) = rs - E n pi r).
    { unfold E. transitivity (rs * sum n pi - sum n (fun i => pi i * r i)).
      - rewrite <- sum_scal_l, <- sum_minus. apply sum_ext. intros. ring.
      - rewrite (proj2 Hpi). ring. }
    pose proof (sum_nonneg n _ Hnn). lra. }
  rewrite <- (proj2 Hpi). unfold prob. apply sum_ext. intros i Hi.
  pose proof (sum_zero_each n _ Hnn Hz i Hi) as Hi0. cbv beta in Hi0.
  unfold Aev. destruct (Req_EM_T (r i) rs) as [He|Hne]; simpl; [ring|].
  assert (pi i = 0) by (apply Rmult_eq_reg_r with (rs - r i); [lra | intro; apply Hne; lra]).
  rewrite H. ring.
Qed.

Lemma cond_argmax_E : E n (cond n pi0 (Aev r rs)) r = rs.
Proof.
  pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  unfold E, cond. fold pA.
  transitivity (sum n (fun i => pi0 i * ind (Aev r rs i)) * rs / pA); [|change (sum n (fun i => pi0 i * ind (Aev r rs i))) with pA; field; lra].
  rewrite <- sum_scal_r, <- sum_div. apply sum_ext. intros i _.
  unfold Aev. destruct (Req_EM_T (r i) rs) as [He|Hne]; simpl; [rewrite He|]; field; lra.
Qed.

(** The matching [lambda] for a reward target strictly between [E_pi0[r]] and [r*]. *)
Lemma lambda_for_reward : forall c, E n pi0 r < c < rs -> exists z, 0 < z /\ Elam n pi0 r z = c.
Proof.
  intros c Hc. pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  destruct (gap_exists n pi0 r rs Hmax) as [d [Hd Hgap]].
  set (M := (rs - E n pi0 r) / pA).
  assert (HM : 0 <= M) by (unfold M; apply Rdiv_nonneg; lra).
  set (l1 := M / ((rs - c) * d) + 1).
  assert (Hl1 : 1 <= l1) by (unfold l1; pose proof (Rdiv_nonneg M ((rs - c) * d) HM
                                   ltac:(apply Rmult_lt_0_compat; lra)); lra).
  assert (Hup : c < Elam n pi0 r l1).
  { pose proof (E_gap n pi0 r rs Hpi0 Hattain d Hd Hgap l1 ltac:(lra)) as Hg. fold pA in Hg.
    assert (M / (rs - c) < l1 * d).
    { unfold l1. replace ((M / ((rs - c) * d) + 1) * d) with (M / (rs - c) + d) by (field; lra). lra. }
    pose proof (exp_ineq1_le (l1 * d)).
    assert (M < (rs - c) * exp (l1 * d)).
    { apply (Rmult_lt_reg_r (/ (rs - c))); [apply Rinv_0_lt_compat; lra|].
      replace ((rs - c) * exp (l1 * d) * / (rs - c)) with (exp (l1 * d)) by (field; lra).
      unfold Rdiv in H. lra. }
    assert (exp (- (l1 * d)) * (rs - E n pi0 r) / pA < rs - c).
    { replace (exp (- (l1 * d)) * (rs - E n pi0 r) / pA) with (M * exp (- (l1 * d)))
        by (unfold M; field; lra).
      apply (Rmult_lt_reg_r (exp (l1 * d))); [apply exp_pos|].
      rewrite Rmult_assoc, <- exp_plus. replace (- (l1 * d) + l1 * d) with 0 by ring.
      rewrite exp_0. lra. }
    lra. }
  apply (ivt_pos (Elam n pi0 r) c l1 (Elam_continuous n pi0 r Hpi0)); [lra | | exact Hup].
  rewrite Elam_0 by exact Hpi0. lra.
Qed.

(** The matching [lambda] for a KL budget strictly between [0] and [-log pi0(A)]. *)
Lemma lambda_for_budget : forall eps, 0 < eps < - ln pA -> exists z, 0 < z /\ KLlam n pi0 r z = eps.
Proof.
  intros eps He. pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  destruct (gap_exists n pi0 r rs Hmax) as [d [Hd Hgap]].
  set (K := - ln pA). fold K in He.
  set (l1 := 4 / (pA * (K - eps) * d) + 1).
  assert (Hpos : 0 < pA * (K - eps) * d) by (repeat apply Rmult_lt_0_compat; lra).
  assert (Hl1 : 1 <= l1) by (unfold l1; pose proof (Rdiv_nonneg 4 _ ltac:(lra) Hpos); lra).
  assert (Hup : eps < KLlam n pi0 r l1).
  { pose proof (KL_gap n pi0 r rs Hpi0 Hattain d Hd Hgap l1 ltac:(lra)) as Hg. fold pA K in Hg.
    assert (2 / (pA * (K - eps)) < l1 * d / 2).
    { unfold l1. replace ((4 / (pA * (K - eps) * d) + 1) * d / 2) with (2 / (pA * (K - eps)) + d / 2)
        by (field; repeat split; lra). lra. }
    pose proof (exp_ineq1_le (l1 * d / 2)).
    assert (2 * exp (- (l1 * d / 2)) / pA < K - eps).
    { apply (Rmult_lt_reg_r (exp (l1 * d / 2) * pA)); [apply Rmult_lt_0_compat; [apply exp_pos | lra]|].
      replace (2 * exp (- (l1 * d / 2)) / pA * (exp (l1 * d / 2) * pA)) with
        (2 * (exp (- (l1 * d / 2)) * exp (l1 * d / 2))) by (field; lra).
      rewrite <- exp_plus. replace (- (l1 * d / 2) + l1 * d / 2) with 0 by ring. rewrite exp_0.
      assert (2 < (K - eps) * pA * exp (l1 * d / 2)).
      { apply (Rmult_lt_reg_r (/ ((K - eps) * pA))); [apply Rinv_0_lt_compat, Rmult_lt_0_compat; lra|].
        replace ((K - eps) * pA * exp (l1 * d / 2) * / ((K - eps) * pA)) with (exp (l1 * d / 2))
          by (field; lra).
        replace (2 * / ((K - eps) * pA)) with (2 / (pA * (K - eps))) by (field; lra). lra. }
      lra. }
    lra. }
  apply (ivt_pos (KLlam n pi0 r) eps l1 (KLlam_continuous n pi0 r Hpi0)); [lra | | exact Hup].
  rewrite KLlam_0 by exact Hpi0. lra.
Qed.

(** The matching beta for a reward target exists and is unique. *)
Lemma beta_for_reward : forall c, E n pi0 r < c < rs ->
  exists beta, 0 < beta /\ E n (tilt n pi0 r beta) r = c /\
  (forall beta', 0 < beta' -> E n (tilt n pi0 r beta') r = c -> beta' = beta).
Proof.
  intros c Hc. destruct (lambda_for_reward c Hc) as [z [Hz Hez]].
  assert (Hnc : nonconstant n pi0 r).
  { apply nonconst_of_below. destruct (below_or_all n pi0 r rs) as [H|H]; [exact H|].
    exfalso. assert (E n pi0 r = rs); [|lra].
    transitivity (E n pi0 (fun _ => rs)); [|apply E_const; exact Hpi0].
    unfold E. apply sum_ext. intros i Hi. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz0].
    - rewrite (H i Hi Hp). reflexivity.
    - rewrite <- Hz0. ring. }
  assert (HE : forall b, 0 < b -> E n (tilt n pi0 r b) r = Elam n pi0 r (/ b)).
  { intros b Hb. rewrite <- (Elam_E n pi0 r Hpi0). apply E_ext. intros. apply tilt_tl. exact Hb. }
  exists (/ z). split; [apply Rinv_0_lt_compat; exact Hz|]. split.
  - rewrite HE by (apply Rinv_0_lt_compat; exact Hz). rewrite Rinv_inv. exact Hez.
  - intros b Hb Heb. rewrite HE in Heb by exact Hb.
    destruct (Rtotal_order (/ b) z) as [Hlt|[Heq|Hgt]].
    + pose proof (Elam_strict n pi0 r Hpi0 Hnc _ _ Hlt). lra.
    + rewrite <- Heq, Rinv_inv. reflexivity.
    + pose proof (Elam_strict n pi0 r Hpi0 Hnc _ _ Hgt). lra.
Qed.

(** The matching beta for a KL budget exists and is unique. *)
Lemma beta_for_budget : forall eps, 0 < eps < - ln pA ->
  exists beta, 0 < beta /\ KL n (tilt n pi0 r beta) pi0 = eps /\
  (forall beta', 0 < beta' -> KL n (tilt n pi0 r beta') pi0 = eps -> beta' = beta).
Proof.
  intros eps He. destruct (lambda_for_budget eps He) as [z [Hz Hkz]].
  pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  assert (Hnc : nonconstant n pi0 r).
  { apply nonconst_of_below. destruct (below_or_all n pi0 r rs) as [H|H]; [exact H|].
    exfalso. assert (pA = 1); [|rewrite H0, ln_1 in He; lra].
    rewrite <- (proj2 Hpi0). unfold pA, prob. apply sum_ext. intros i Hi.
    destruct (dist_nonneg n pi0 i Hpi0 Hi) as [Hp|Hz0].
    - unfold Aev. destruct (Req_EM_T (r i) rs) as [_|Hne]; [simpl; ring|].
      exfalso. apply Hne. apply H; assumption.
    - rewrite <- Hz0. ring. }
  assert (HK : forall b, 0 < b -> KL n (tilt n pi0 r b) pi0 = KLlam n pi0 r (/ b)).
  { intros b Hb. rewrite <- (KLlam_KL n pi0 r Hpi0). apply KL_ext_l. intros. apply tilt_tl. exact Hb. }
  exists (/ z). split; [apply Rinv_0_lt_compat; exact Hz|]. split.
  - rewrite HK by (apply Rinv_0_lt_compat; exact Hz). rewrite Rinv_inv. exact Hkz.
  - intros b Hb Heb. rewrite HK in Heb by exact Hb.
    assert (0 < / b) by (apply Rinv_0_lt_compat; exact Hb).
    destruct (Rtotal_order (/ b) z) as [Hlt|[Heq|Hgt]].
    + pose proof (KLlam_strict n pi0 r Hpi0 Hnc (/ b) z ltac:(lra) Hlt). lra.
    + rewrite <- Heq, Rinv_inv. reflexivity.
    + pose proof (KLlam_strict n pi0 r Hpi0 Hnc z (/ b) ltac:(lra) Hgt). lra.
Qed.

(** lagrange.reward-target: [min {KL(pi||pi0) : E_pi[r] >= c}] over policies with finite KL,
    with [r*] the top reward on the support and [A] its argmax set. *)
Theorem lagrange_reward_target : forall c,
  (* 1. c <= E_pi0[r]: the minimum is 0, attained only by pi0 *)
  (c <= E n pi0 r ->
     (forall pi, dist n pi -> supp_in n pi pi0 -> c <= E n pi r -> 0 <= KL n pi pi0) /\
     KL n pi0 pi0 = 0 /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> c <= E n pi r -> KL n pi pi0 = 0 ->
        forall i, (i < n)%nat -> pi i = pi0 i)) /\
  (* 2. E_pi0[r] < c < r*: a unique beta > 0 with E_beta[r] = c; the tilt is the unique minimizer *)
  (E n pi0 r < c < rs ->
     exists beta, 0 < beta /\ E n (tilt n pi0 r beta) r = c /\
     (forall beta', 0 < beta' -> E n (tilt n pi0 r beta') r = c -> beta' = beta) /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> c <= E n pi r ->
        KL n (tilt n pi0 r beta) pi0 + KL n pi (tilt n pi0 r beta) <= KL n pi pi0) /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> c <= E n pi r ->
        KL n pi pi0 = KL n (tilt n pi0 r beta) pi0 -> forall i, (i < n)%nat -> pi i = tilt n pi0 r beta i)) /\
  (* 3. c = r*: the minimum is -log pi0(A), attained only by pi0(.|A) *)
  (c = rs ->
     dist n (cond n pi0 (Aev r rs)) /\ supp_in n (cond n pi0 (Aev r rs)) pi0 /\
     E n (cond n pi0 (Aev r rs)) r = c /\ KL n (cond n pi0 (Aev r rs)) pi0 = - ln pA /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> c <= E n pi r ->
        - ln pA <= KL n pi pi0 /\
        (KL n pi pi0 = - ln pA -> forall i, (i < n)%nat -> pi i = cond n pi0 (Aev r rs) i))) /\
  (* 4. c > r*: no policy with finite KL is feasible *)
  (rs < c -> forall pi, dist n pi -> supp_in n pi pi0 -> E n pi r < c).
Proof.
  intros c. pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  split; [|split; [|split]].
  - intro Hc. split; [intros pi Hpi Hs _; exact (gibbs n pi pi0 Hpi (proj1 Hpi0) (Req_le _ _ (proj2 Hpi0)) Hs)|].
    split; [apply KL_self|]. intros pi Hpi Hs _ H0.
    exact (proj2 (gibbs_eq n pi pi0 Hpi (proj1 Hpi0) (Req_le _ _ (proj2 Hpi0)) Hs H0)).
  - intro Hc. destruct (beta_for_reward c Hc) as [b [Hb [HEb Hu]]].
    exists b. split; [exact Hb|]. split; [exact HEb|]. split; [exact Hu|].
    pose proof (tilt_dist n pi0 r b Hpi0) as Htd.
    assert (Hkb : KL n (tilt n pi0 r b) pi0 = c / b - ln (Zt n pi0 r b)).
    { rewrite (kl_decomp n pi0 r b Hpi0 Hb _ Htd (tilt_supp_base n pi0 r b Hpi0)), KL_self, HEb. ring. }
    assert (Hineq : forall pi, dist n pi -> supp_in n pi pi0 -> c <= E n pi r ->
        KL n (tilt n pi0 r b) pi0 + KL n pi (tilt n pi0 r b) <= KL n pi pi0).
    { intros pi Hpi Hs HE. rewrite (kl_decomp n pi0 r b Hpi0 Hb pi Hpi Hs), Hkb.
      assert (c / b <= E n pi r / b) by (unfold Rdiv; apply Rmult_le_compat_r; [left; apply Rinv_0_lt_compat|]; lra).
      lra. }
    split; [exact Hineq|]. intros pi Hpi Hs HE Heq.
    pose proof (Hineq pi Hpi Hs HE).
    pose proof (gibbs n pi _ Hpi (proj1 Htd) (Req_le _ _ (proj2 Htd)) (supp_tilt n pi0 r b Hpi0 pi Hs)).
    exact (proj2 (gibbs_eq n pi _ Hpi (proj1 Htd) (Req_le _ _ (proj2 Htd))
                    (supp_tilt n pi0 r b Hpi0 pi Hs) ltac:(lra))).
  - intro Hc. subst c.
    destruct (proj1 (lagrange_threshold n pi0 (Aev r rs) Hpi0) HpA) as [Hd [He [Hs0 [HK Hall]]]].
    split; [exact Hd|]. split; [exact Hs0|]. split; [apply cond_argmax_E|]. split; [exact HK|].
    intros pi Hpi Hs HE. pose proof (at_max_on_argmax pi Hpi Hs HE) as HB.
    destruct (Hall pi Hpi HB Hs) as [_ [H1 H2]]. split; [exact H1 | exact H2].
  - intros Hc pi Hpi Hs. pose proof (E_le_max pi Hpi Hs). lra.
Qed.

(** lagrange.kl-budget: [V(eps) = sup {E_pi[r] : KL(pi||pi0) <= eps}], with [K = -log pi0(A)]. *)
Theorem lagrange_kl_budget : forall eps, 0 <= eps ->
  (* 1. eps >= K: V = r*, attained by pi0(.|A), which has the least KL (= K) among optimal policies *)
  (- ln pA <= eps ->
     (forall pi, dist n pi -> supp_in n pi pi0 -> E n pi r <= rs) /\
     dist n (cond n pi0 (Aev r rs)) /\ supp_in n (cond n pi0 (Aev r rs)) pi0 /\
     KL n (cond n pi0 (Aev r rs)) pi0 = - ln pA /\ E n (cond n pi0 (Aev r rs)) r = rs /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> E n pi r = rs ->
        - ln pA <= KL n pi pi0 /\
        (KL n pi pi0 = - ln pA -> forall i, (i < n)%nat -> pi i = cond n pi0 (Aev r rs) i))) /\
  (* 2. eps = 0: the only feasible policy is pi0 *)
  (eps = 0 -> forall pi, dist n pi -> supp_in n pi pi0 -> KL n pi pi0 <= eps ->
     forall i, (i < n)%nat -> pi i = pi0 i) /\
  (* 3. 0 < eps < K: a unique beta > 0 with KL(pi_beta||pi0) = eps; pi_beta is the unique optimum *)
  (0 < eps < - ln pA ->
     exists beta, 0 < beta /\ KL n (tilt n pi0 r beta) pi0 = eps /\
     (forall beta', 0 < beta' -> KL n (tilt n pi0 r beta') pi0 = eps -> beta' = beta) /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> KL n pi pi0 <= eps ->
        E n pi r <= E n (tilt n pi0 r beta) r - beta * KL n pi (tilt n pi0 r beta)) /\
     (forall pi, dist n pi -> supp_in n pi pi0 -> KL n pi pi0 <= eps ->
        E n (tilt n pi0 r beta) r <= E n pi r -> forall i, (i < n)%nat -> pi i = tilt n pi0 r beta i)).
Proof.
  intros eps Heps0. pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  split; [|split].
  - intro HK. destruct (proj1 (lagrange_threshold n pi0 (Aev r rs) Hpi0) HpA) as [Hd [He [Hs0 [HKc Hall]]]].
    split; [exact E_le_max|]. split; [exact Hd|]. split; [exact Hs0|]. split; [exact HKc|].
    split; [apply cond_argmax_E|].
    intros pi Hpi Hs HE. pose proof (at_max_on_argmax pi Hpi Hs ltac:(lra)) as HB.
    destruct (Hall pi Hpi HB Hs) as [_ [H1 H2]]. split; [exact H1 | exact H2].
  - intros H0 pi Hpi Hs HK. subst eps.
    pose proof (gibbs n pi pi0 Hpi (proj1 Hpi0) (Req_le _ _ (proj2 Hpi0)) Hs).
    exact (proj2 (gibbs_eq n pi pi0 Hpi (proj1 Hpi0) (Req_le _ _ (proj2 Hpi0)) Hs ltac:(lra))).
  - intro He. destruct (beta_for_budget eps He) as [b [Hb [HKb Hu]]].
    exists b. split; [exact Hb|]. split; [exact HKb|]. split; [exact Hu|].
    pose proof (tilt_dist n pi0 r b Hpi0) as Htd.
    assert (Hle : forall pi, dist n pi -> supp_in n pi pi0 -> KL n pi pi0 <= eps ->
        E n pi r <= E n (tilt n pi0 r b) r - b * KL n pi (tilt n pi0 r b)).
    { intros pi Hpi Hs HK.
      pose proof (J_identity n pi0 r b Hpi0 Hb pi Hpi Hs) as HJ.
      pose proof (J_tilt n pi0 r b Hpi0 Hb) as HJt. unfold J in HJ, HJt. rewrite HKb in HJt.
      assert (b * KL n pi pi0 <= b * eps) by (apply Rmult_le_compat_l; lra). lra. }
    split; [exact Hle|]. intros pi Hpi Hs HK HE.
    pose proof (Hle pi Hpi Hs HK).
    pose proof (gibbs n pi _ Hpi (proj1 Htd) (Req_le _ _ (proj2 Htd)) (supp_tilt n pi0 r b Hpi0 pi Hs)).
    assert (Hz0 : KL n pi (tilt n pi0 r b) = 0).
    { assert (b * KL n pi (tilt n pi0 r b) <= 0) by lra.
      assert (KL n pi (tilt n pi0 r b) <= 0).
      { apply (Rmult_le_reg_l b); [exact Hb|]. lra. }
      lra. }
    exact (proj2 (gibbs_eq n pi _ Hpi (proj1 Htd) (Req_le _ _ (proj2 Htd))
                    (supp_tilt n pi0 r b Hpi0 pi Hs) Hz0)).
Qed.

(** kl.monotone, ranges: for r non-constant on the support, [lambda |-> E_lambda[r]] maps
    [(0, infinity)] into and onto [(E_pi0[r], rs)] ([rs] the top reward), and
    [lambda |-> KL(pi_lambda||pi0)] into and onto [(0, -log pi0(A))]; with the strict monotonicity and continuity of [kl_monotone], both
    are continuous increasing bijections. *)
Theorem kl_monotone_ranges : nonconstant n pi0 r ->
  (forall l, 0 < l -> E n pi0 r < Elam n pi0 r l < rs /\ 0 < KLlam n pi0 r l < - ln pA) /\
  (forall c, E n pi0 r < c < rs -> exists l, 0 < l /\ Elam n pi0 r l = c) /\
  (forall eps, 0 < eps < - ln pA -> exists l, 0 < l /\ KLlam n pi0 r l = eps).
Proof.
  intro Hnc. pose proof (pA_pos n pi0 r rs Hpi0 Hattain) as HpA. fold pA in HpA.
  assert (Hsupp : forall l, supp_in n (tl n pi0 r l) pi0).
  { intros l i Hi Hp. destruct (dist_nonneg n pi0 i Hpi0 Hi) as [H|H]; [exact H|].
    unfold tl in Hp. rewrite <- H in Hp. unfold Rdiv in Hp. rewrite !Rmult_0_l in Hp. lra. }
  assert (Hup : forall l, Elam n pi0 r l <= rs).
  { intro l. rewrite <- (Elam_E n pi0 r Hpi0). apply E_le_max; [apply tl_dist; exact Hpi0 | apply Hsupp]. }
  split; [|split; [exact lambda_for_reward | exact lambda_for_budget]].
  intros l Hl.
  pose proof (Elam_strict n pi0 r Hpi0 Hnc 0 l Hl) as H1. rewrite Elam_0 in H1 by exact Hpi0.
  pose proof (Elam_strict n pi0 r Hpi0 Hnc l (l + 1) ltac:(lra)) as H2. pose proof (Hup (l + 1)).
  pose proof (KLlam_strict n pi0 r Hpi0 Hnc 0 l (Rle_refl 0) Hl) as H3. rewrite KLlam_0 in H3 by exact Hpi0.
  split; [lra|]. split; [exact H3|].
  pose proof (W_ge n pi0 r rs Hpi0 l) as HW. fold pA in HW.
  pose proof (W_pos n pi0 r Hpi0 l) as HWp.
  assert (Hln : ln pA + l * rs <= ln (W n pi0 r l)).
  { rewrite <- (ln_exp (l * rs)), <- ln_mult by (try apply exp_pos; lra).
    destruct HW as [HW|HW]; [left; apply ln_increasing; [apply Rmult_lt_0_compat; [lra | apply exp_pos] | exact HW]|].
    rewrite HW. lra. }
  unfold KLlam. assert (0 < l * (rs - Elam n pi0 r l)) by (apply Rmult_lt_0_compat; lra). nra.
Qed.

End Budget.
