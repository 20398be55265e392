//! The coefficient fields of `generate systems`: smooth random fields made
//! of random Fourier modes, the diffusion coefficient κ drawn from them
//! (log-normal) or as inclusions, and the right-hand side's source.

use std::f64::consts::TAU;

use serde::{Deserialize, Serialize};

use super::geometry::Domain;
use crate::random::Draws;

/// How the diffusion coefficient κ is drawn; κ ranges over `[1, contrast]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoefficientKind {
    /// `κ = contrast^t(x)`, `t` a smooth Gaussian random field rescaled to
    /// `[0, 1]` over the dofs: log-normal, with `max κ / min κ` over the
    /// dofs exactly the contrast.
    Lognormal,
    /// `κ = 1` with 3–8 discs (balls in 3D) of `κ = contrast`, of radius
    /// 0.05–0.15 of the domain's size (at least twice the mesh size).
    Inclusions,
}

/// The source `f` of the right-hand side `b = ∫ f v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// `f = 1`.
    One,
    /// A smooth random field (Fourier modes of wavelength 0.2–0.5 of the
    /// domain's size, of unit variance).
    Smooth,
}

/// One Fourier mode: `amplitude · cos(wave · x + phase)`.
#[derive(Clone, Debug)]
struct Mode {
    wave: [f64; 3],
    phase: f64,
    amplitude: f64,
}

/// A smooth Gaussian random field: the sum of 16–32 Fourier modes of random
/// directions, phases, normal amplitudes (variance 1 in all) and
/// wavelengths drawn from a range.
#[derive(Clone, Debug)]
pub(crate) struct FourierField {
    modes: Vec<Mode>,
}

impl FourierField {
    /// A field in `dim` dimensions with wavelengths in `wavelength`.
    pub(crate) fn draw(draws: &mut Draws, dim: usize, wavelength: [f64; 2]) -> FourierField {
        let count = 16 + draws.index(17);
        let scale = (2.0 / count as f64).sqrt();
        let modes = (0..count)
            .map(|_| {
                let k = TAU / draws.uniform(wavelength);
                let direction: [f64; 3] =
                    std::array::from_fn(|c| if c < dim { draws.normal() } else { 0.0 });
                let length = direction.iter().map(|d| d * d).sum::<f64>().sqrt();
                Mode {
                    wave: direction.map(|d| k * d / length),
                    phase: draws.uniform([0.0, TAU]),
                    amplitude: scale * draws.normal(),
                }
            })
            .collect();
        FourierField { modes }
    }

    /// The value at `x`.
    pub(crate) fn at(&self, x: [f64; 3]) -> f64 {
        self.modes
            .iter()
            .map(|m| {
                let phase = m.wave[0] * x[0] + m.wave[1] * x[1] + m.wave[2] * x[2] + m.phase;
                m.amplitude * phase.cos()
            })
            .sum()
    }
}

/// A drawn diffusion coefficient, at least 1 and at most its contrast
/// everywhere.
#[derive(Clone, Debug)]
pub(crate) enum Kappa {
    /// `contrast^t`, `t = (g - low) / (high - low)` clamped to `[0, 1]`.
    Lognormal {
        field: FourierField,
        low: f64,
        high: f64,
        contrast: f64,
    },
    /// `contrast` inside the balls, 1 outside.
    Inclusions {
        balls: Vec<([f64; 3], f64)>,
        contrast: f64,
    },
}

impl Kappa {
    /// Draws a coefficient of `kind` on `domain` meshed at `mesh_size`,
    /// rescaled (log-normal) so that it spans `[1, contrast]` over `dofs`.
    pub(crate) fn draw(
        kind: CoefficientKind,
        contrast: f64,
        domain: &Domain,
        mesh_size: f64,
        dofs: &[[f64; 3]],
        draws: &mut Draws,
    ) -> Kappa {
        let size = domain.size();
        match kind {
            CoefficientKind::Lognormal => {
                let field = FourierField::draw(draws, domain.dimension(), [0.1 * size, 0.3 * size]);
                let (low, high) = dofs
                    .iter()
                    .map(|&x| field.at(x))
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), g| {
                        (lo.min(g), hi.max(g))
                    });
                Kappa::Lognormal {
                    field,
                    low,
                    high,
                    contrast,
                }
            }
            CoefficientKind::Inclusions => {
                let count = 3 + draws.index(6);
                let balls = (0..count)
                    .map(|_| {
                        let centre = domain.draw_point(draws);
                        let radius = draws.uniform([0.05 * size, 0.15 * size]);
                        (centre, radius.max(2.0 * mesh_size))
                    })
                    .collect();
                Kappa::Inclusions { balls, contrast }
            }
        }
    }

    /// The value at `x`.
    pub(crate) fn at(&self, x: [f64; 3]) -> f64 {
        match self {
            Kappa::Lognormal {
                field,
                low,
                high,
                contrast,
            } => {
                let t = if high > low {
                    ((field.at(x) - low) / (high - low)).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                contrast.powf(t)
            }
            Kappa::Inclusions { balls, contrast } => {
                let inside = balls
                    .iter()
                    .any(|(c, r)| (0..3).map(|k| (x[k] - c[k]).powi(2)).sum::<f64>() < r * r);
                if inside {
                    *contrast
                } else {
                    1.0
                }
            }
        }
    }
}
