//! Reproducible random draws for dataset generation: SplitMix64, small and
//! exactly the same on every platform, so that a seed names a dataset.

use std::f64::consts::TAU;

/// A stream of draws (SplitMix64), reproducible from its seed.
///
/// ```
/// use pde_engine::random::Draws;
/// let (mut a, mut b) = (Draws::new(7), Draws::new(7));
/// assert_eq!(a.uniform([2.0, 3.0]), b.uniform([2.0, 3.0]));
/// assert!((2.0..3.0).contains(&a.uniform([2.0, 3.0])));
/// ```
#[derive(Clone, Debug)]
pub struct Draws(u64);

impl Draws {
    /// The stream of `seed`.
    pub fn new(seed: u64) -> Draws {
        Draws(seed)
    }

    /// An independent stream for item `item` of the stream `stream` of
    /// `seed` (e.g. sample `k` of a split): items do not shift when others
    /// are added or removed.
    pub fn stream(seed: u64, stream: u64, item: u64) -> Draws {
        Draws(mix(mix(mix(seed) ^ stream) ^ item))
    }

    /// The next 64 random bits.
    fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.bits() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, [lo, hi]: [f64; 2]) -> f64 {
        lo + self.unit() * (hi - lo)
    }

    /// Log-uniform in `[lo, hi]` (both positive): `lo` exactly when
    /// `lo == hi`.
    pub fn log_uniform(&mut self, [lo, hi]: [f64; 2]) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    /// Uniform among `0..n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n - 1)
    }

    /// An item of `items` (not empty), each equally likely.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit();
        (-2.0 * u.ln()).sqrt() * (TAU * self.unit()).cos()
    }
}

/// SplitMix64's finaliser: a bijection of the 64-bit words that mixes
/// every bit into every other.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
