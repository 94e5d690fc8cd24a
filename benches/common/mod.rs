//! The benchmark instances shared by the bench targets.

/// SplitMix64 (Steele, Lea, Flood 2014), the generator `scripts/bench_numpy.py` also documents.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// A uniform number in `(0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // (0, 1): 53 random bits, offset by half a step so that neither end is hit.
        ((z >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard logistic number `ln(u / (1 - u))`.
    pub fn logistic(&mut self) -> f64 {
        let u = self.next_unit();
        (u / (1.0 - u)).ln()
    }
}

/// The instance of size `n` (seed 2026): base `pi0 ∝ -ln u`, logistic rewards.
pub fn instance(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut rng = SplitMix64(2026);
    let mut base: Vec<f64> = (0..n).map(|_| -rng.next_unit().ln()).collect();
    let total: f64 = base.iter().sum();
    base.iter_mut().for_each(|w| *w /= total);
    let reward = (0..n).map(|_| rng.logistic()).collect();
    (base, reward)
}

/// Writes `xs` as little-endian f64 to `target/bench-data/{name}` for `scripts/bench_numpy.py`.
pub fn write_f64s(name: &str, xs: &[f64]) {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let _ = std::fs::create_dir_all(&dir);
    let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
    if let Err(e) = std::fs::write(dir.join(name), bytes) {
        eprintln!("cannot write {name}: {e}");
    }
}
