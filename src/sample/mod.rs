//! Sampled optimizers: textbook algorithms, each seeded (`rand_chacha`), that serve as
//! independent witnesses for the exact solvers in [`crate::solve`].
