(** Audit control: a theorem proved from an extra axiom. It compiles, and the assumption audit
    of scripts/check_coq.sh must reject it (the axiom is not one of the standard library's
    classical-reals axioms). *)
Require Import Reals.
Open Scope R_scope.

Axiom cheat : forall x : R, x = 0.

Theorem one_is_zero : 1 = 0.
Proof. apply cheat. Qed.
