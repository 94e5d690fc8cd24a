//! Output buffers for solvers that return one value per outcome.
//!
//! A solver on 10^7 outcomes returns vectors of 80 MB. Fresh memory of that size comes from the
//! kernel one 4 KiB page at a time, and on x86-64 Linux the page faults of writing it cost more
//! than the arithmetic of a tilt (about 60 ms for two 80 MB vectors, against about 14 ms with
//! 2 MiB pages). [`filled`] therefore asks the kernel to back large buffers with transparent huge
//! pages (`madvise(MADV_HUGEPAGE)`), as NumPy does for its arrays of 4 MiB and more. The advice
//! changes neither contents nor semantics; where it is unavailable (another OS, THP disabled) it
//! is a no-op and the buffer is an ordinary `Vec`.

/// Buffers of at least this many bytes get the huge-page advice (NumPy's threshold).
const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

/// `vec![value; n]`, with the huge-page advice given before the first write when the buffer is
/// large.
pub fn filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = with_capacity(n);
    v.resize(n, value);
    v
}

/// `vec![T::default(); n]` for a primitive `T` whose default is all-zero bits: the memory
/// comes zeroed from the allocator (`calloc`, which does not write fresh pages), and a large
/// buffer gets the huge-page advice before the caller's first write. For scratch space, which
/// `filled` would write twice.
pub fn zeroed<T: Copy + Default>(n: usize) -> Vec<T> {
    advised(vec![T::default(); n])
}

/// `Vec::with_capacity(n)`, with the huge-page advice given before the first write when the
/// buffer is large: for buffers filled by `push` (one write per element instead of two).
pub fn with_capacity<T>(n: usize) -> Vec<T> {
    advised(Vec::with_capacity(n))
}

/// `v`, after the huge-page advice for its allocation if that is large.
fn advised<T>(v: Vec<T>) -> Vec<T> {
    let bytes = v.capacity().saturating_mul(std::mem::size_of::<T>());
    if bytes >= HUGE_PAGE_THRESHOLD {
        advise_huge_pages(v.as_ptr() as usize, bytes);
    }
    v
}

/// Advises the kernel to back `[start, start + len)` (rounded inwards to 2 MiB boundaries) with
/// huge pages.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise_huge_pages(start: usize, len: usize) {
    const HUGE: usize = 2 << 20;
    let lo = start.div_ceil(HUGE) * HUGE;
    let hi = (start + len) / HUGE * HUGE;
    if hi > lo {
        // SAFETY: `[lo, hi)` lies inside one live allocation owned by the caller's `Vec`
        // (its capacity), page aligned. MADV_HUGEPAGE is advisory: it never changes the
        // contents or the validity of the mapping, so no Rust invariant depends on it; a
        // failure (EINVAL when THP is compiled out) leaves the memory as it was, and is ignored.
        let _ = unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: usize, _len: usize) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_buffers_hold_the_value_at_every_size() {
        for n in [0, 1, 1000, HUGE_PAGE_THRESHOLD / 8 + 12_345] {
            let v = filled(n, -1.5f64);
            assert_eq!(v.len(), n);
            assert!(v.iter().all(|&x| x == -1.5));
            let z = zeroed::<f64>(n);
            assert_eq!(z.len(), n);
            assert!(z.iter().all(|&x| x.to_bits() == 0));
        }
    }
}
