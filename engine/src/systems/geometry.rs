//! The domains of `generate systems`: each sample draws its own (notch,
//! holes, vertices) and writes it as a gmsh `.geo` with a mesh-size
//! parameter `lc`, its whole boundary one physical group `boundary` and
//! its inside `domain`. A 2D domain is a polygon less circular holes; a 3D
//! one is a 2D outline extruded.

use std::f64::consts::TAU;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::random::Draws;

/// A family of domains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Geometry {
    /// The unit square.
    Square,
    /// The unit square meshed as a structured grid of right triangles
    /// (gmsh's transfinite meshing, `1/lc` cells a side): P1's Laplacian
    /// is the five-point stencil, where IC(0) is known to be weak.
    Grid,
    /// The unit square less a square notch of side 0.3–0.7 at one corner
    /// (a re-entrant corner).
    LShape,
    /// The channel `[0, 2] × [0, 1]` with 1–3 circular holes of radius
    /// 0.08–0.2.
    ChannelWithHoles,
    /// A star-shaped polygon around `(0.5, 0.5)`: 5–9 vertices at jittered
    /// angles and radii 0.25–0.5.
    Polygon,
    /// A rectangle `1 × (0.4–0.8)` around `(0.5, 0.5)`, turned at random.
    Rectangle,
    /// A triangle with angles of 50–80° at two corners (so all are
    /// acute), its longest side about 1, turned at random around
    /// `(0.5, 0.5)`.
    Triangle,
    /// The unit cube (3D).
    Box,
    /// An `l_shape` extruded to depth 1 (3D).
    LBox,
}

impl Geometry {
    /// Spatial dimension of its domains.
    pub fn dimension(self) -> usize {
        match self {
            Geometry::Box | Geometry::LBox => 3,
            _ => 2,
        }
    }
}

/// A circular hole.
#[derive(Clone, Copy, Debug)]
struct Disc {
    centre: [f64; 2],
    radius: f64,
}

impl Disc {
    fn contains(&self, p: [f64; 2]) -> bool {
        (p[0] - self.centre[0]).hypot(p[1] - self.centre[1]) < self.radius
    }
}

/// A drawn domain: a counter-clockwise polygon less circular holes,
/// extruded to `depth` in 3D, meshed unstructured unless `structured`.
#[derive(Clone, Debug)]
pub(crate) struct Domain {
    outline: Vec<[f64; 2]>,
    holes: Vec<Disc>,
    depth: Option<f64>,
    /// A four-sided planar domain meshed as a structured grid.
    structured: bool,
}

/// Gap kept between a channel's holes and between a hole and the walls.
const HOLE_GAP: f64 = 0.1;

impl Domain {
    /// Draws a domain of `geometry`.
    pub(crate) fn draw(geometry: Geometry, draws: &mut Draws) -> Domain {
        let square = vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        let l_shape = |draws: &mut Draws| {
            let a = 1.0 - draws.uniform([0.3, 0.7]);
            vec![
                [0.0, 0.0],
                [1.0, 0.0],
                [1.0, a],
                [a, a],
                [a, 1.0],
                [0.0, 1.0],
            ]
        };
        let planar = |outline| Domain {
            outline,
            holes: Vec::new(),
            depth: None,
            structured: false,
        };
        match geometry {
            Geometry::Square => planar(square),
            Geometry::Grid => Domain {
                structured: true,
                ..planar(square)
            },
            Geometry::LShape => planar(l_shape(draws)),
            Geometry::Polygon => {
                let n = 5 + draws.index(5);
                planar(
                    (0..n)
                        .map(|k| {
                            let angle = TAU * (k as f64 + draws.uniform([-0.35, 0.35])) / n as f64;
                            let r = draws.uniform([0.25, 0.5]);
                            [0.5 + r * angle.cos(), 0.5 + r * angle.sin()]
                        })
                        .collect(),
                )
            }
            Geometry::Rectangle => {
                let b = 0.5 * draws.uniform([0.4, 0.8]);
                let corners = [[-0.5, -b], [0.5, -b], [0.5, b], [-0.5, b]];
                planar(turned(&corners, draws.uniform([0.0, TAU])))
            }
            Geometry::Triangle => {
                let [a, b] = [0; 2].map(|_| draws.uniform([50.0, 80.0]).to_radians());
                // The apex over the base (0, 0)–(1, 0), by the law of sines.
                let side = (b.sin() / (a + b).sin()).min(2.0);
                let apex = [side * a.cos(), side * a.sin()];
                let centroid = [(1.0 + apex[0]) / 3.0, apex[1] / 3.0];
                let corners = [[0.0, 0.0], [1.0, 0.0], apex]
                    .map(|p| [p[0] - centroid[0], p[1] - centroid[1]]);
                planar(turned(&corners, draws.uniform([0.0, TAU])))
            }
            Geometry::ChannelWithHoles => Domain {
                holes: channel_holes(draws),
                ..planar(vec![[0.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 1.0]])
            },
            Geometry::Box => Domain {
                depth: Some(1.0),
                ..planar(square)
            },
            Geometry::LBox => Domain {
                depth: Some(1.0),
                ..planar(l_shape(draws))
            },
        }
    }

    /// Spatial dimension.
    pub(crate) fn dimension(&self) -> usize {
        if self.depth.is_some() {
            3
        } else {
            2
        }
    }

    /// Lower and upper corners of the bounding box.
    fn bounds(&self) -> ([f64; 3], [f64; 3]) {
        let mut lo = [f64::INFINITY, f64::INFINITY, 0.0];
        let mut hi = [
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
            self.depth.unwrap_or(0.0),
        ];
        for p in &self.outline {
            for c in 0..2 {
                lo[c] = lo[c].min(p[c]);
                hi[c] = hi[c].max(p[c]);
            }
        }
        (lo, hi)
    }

    /// Its size: the largest side of the bounding box.
    pub(crate) fn size(&self) -> f64 {
        let (lo, hi) = self.bounds();
        (0..3).map(|c| hi[c] - lo[c]).fold(0.0, f64::max)
    }

    /// Whether `p` lies inside.
    pub(crate) fn contains(&self, p: [f64; 3]) -> bool {
        let q = [p[0], p[1]];
        let in_depth = self.depth.is_none_or(|d| (0.0..=d).contains(&p[2]));
        in_depth && inside_polygon(&self.outline, q) && !self.holes.iter().any(|h| h.contains(q))
    }

    /// A point drawn uniformly inside (by rejection from the bounding box,
    /// which every domain fills by a fifth at least).
    pub(crate) fn draw_point(&self, draws: &mut Draws) -> [f64; 3] {
        let (lo, hi) = self.bounds();
        loop {
            let p: [f64; 3] = std::array::from_fn(|c| draws.uniform([lo[c], hi[c]]));
            if self.contains(p) {
                return p;
            }
        }
    }

    /// The gmsh `.geo` text, with mesh size `lc` (a parameter `lc` that
    /// `-setnumber lc` overrides).
    pub(crate) fn geo(&self, lc: f64) -> String {
        let mut geo = String::new();
        let mut line = |text: String| {
            geo.push_str(&text);
            geo.push('\n');
        };
        line(format!(
            "// Drawn by `pde-engine generate systems`; mesh with gmsh -{} domain.geo",
            self.dimension()
        ));
        line(format!(
            "DefineConstant[ lc = {{{lc}, Name \"Parameters/lc\"}} ];"
        ));
        let n = self.outline.len();
        for (k, [x, y]) in self.outline.iter().enumerate() {
            line(format!("Point({}) = {{{x}, {y}, 0, lc}};", k + 1));
        }
        for k in 0..n {
            line(format!(
                "Line({}) = {{{}, {}}};",
                k + 1,
                k + 1,
                (k + 1) % n + 1
            ));
        }
        line(format!("Curve Loop(1) = {{{}}};", list(1..=n)));
        let (mut points, mut curves) = (n, n);
        for (h, disc) in self.holes.iter().enumerate() {
            let ([cx, cy], r) = (disc.centre, disc.radius);
            let centre = points + 1;
            line(format!("Point({centre}) = {{{cx}, {cy}, 0, lc}};"));
            for (k, [dx, dy]) in [[r, 0.0], [0.0, r], [-r, 0.0], [0.0, -r]]
                .iter()
                .enumerate()
            {
                line(format!(
                    "Point({}) = {{{}, {}, 0, lc}};",
                    centre + 1 + k,
                    cx + dx,
                    cy + dy
                ));
            }
            for k in 0..4 {
                line(format!(
                    "Circle({}) = {{{}, {centre}, {}}};",
                    curves + 1 + k,
                    centre + 1 + k,
                    centre + 1 + (k + 1) % 4
                ));
            }
            line(format!(
                "Curve Loop({}) = {{{}}};",
                h + 2,
                list(curves + 1..=curves + 4)
            ));
            points += 5;
            curves += 4;
        }
        line(format!(
            "Plane Surface(1) = {{{}}};",
            list(1..=self.holes.len() + 1)
        ));
        if self.structured {
            line(format!(
                "Transfinite Curve{{{}}} = Ceil({} / lc) + 1;",
                list(1..=n),
                self.size()
            ));
            line("Transfinite Surface{1};".into());
        }
        match self.depth {
            None => {
                line(format!(
                    "Physical Curve(\"boundary\") = {{{}}};",
                    list(1..=curves)
                ));
                line("Physical Surface(\"domain\") = {1};".into());
            }
            Some(depth) => {
                // Extrude's list: the top, the volume, then one side per curve.
                line(format!(
                    "out[] = Extrude {{0, 0, {depth}}} {{ Surface{{1}}; }};"
                ));
                let sides: String = (2..curves + 2).fold(String::new(), |mut s, k| {
                    let _ = write!(s, ", out[{k}]");
                    s
                });
                line(format!(
                    "Physical Surface(\"boundary\") = {{1, out[0]{sides}}};"
                ));
                line("Physical Volume(\"domain\") = {out[1]};".into());
            }
        }
        geo
    }
}

/// `corners` (around the origin) turned by `angle` and moved to
/// `(0.5, 0.5)`.
fn turned(corners: &[[f64; 2]], angle: f64) -> Vec<[f64; 2]> {
    let (c, s) = (angle.cos(), angle.sin());
    corners
        .iter()
        .map(|p| [0.5 + c * p[0] - s * p[1], 0.5 + s * p[0] + c * p[1]])
        .collect()
}

/// `a, b, c` of a range of tags.
fn list(tags: std::ops::RangeInclusive<usize>) -> String {
    tags.map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
}

/// 1–3 holes in the channel `[0, 2] × [0, 1]`, apart from each other and
/// from the walls (a hole that finds no room in 100 tries is left out; the
/// first always fits).
fn channel_holes(draws: &mut Draws) -> Vec<Disc> {
    let wanted = 1 + draws.index(3);
    let mut holes: Vec<Disc> = Vec::with_capacity(wanted);
    for _ in 0..wanted {
        for _ in 0..100 {
            let radius = draws.uniform([0.08, 0.2]);
            let margin = radius + HOLE_GAP;
            let centre = [
                draws.uniform([margin, 2.0 - margin]),
                draws.uniform([margin, 1.0 - margin]),
            ];
            let apart = holes.iter().all(|h| {
                (centre[0] - h.centre[0]).hypot(centre[1] - h.centre[1])
                    > radius + h.radius + HOLE_GAP
            });
            if apart {
                holes.push(Disc { centre, radius });
                break;
            }
        }
    }
    holes
}

/// Whether `p` lies inside the polygon (crossing count of a ray in +x).
fn inside_polygon(polygon: &[[f64; 2]], p: [f64; 2]) -> bool {
    let n = polygon.len();
    (0..n)
        .filter(|&k| {
            let (a, b) = (polygon[k], polygon[(k + 1) % n]);
            (a[1] > p[1]) != (b[1] > p[1])
                && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        })
        .count()
        % 2
        == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drawn domains hold the points they should and their `.geo` names
    /// every boundary curve (or side) once.
    #[test]
    fn domains_contain_their_inside_and_tag_their_whole_boundary() {
        let mut draws = Draws::new(5);
        let channel = Domain::draw(Geometry::ChannelWithHoles, &mut draws);
        let hole = channel.holes[0];
        assert!(!channel.contains([hole.centre[0], hole.centre[1], 0.0]));
        assert!(channel.contains([0.05, 0.05, 0.0]) && !channel.contains([2.1, 0.5, 0.0]));
        let curves = 4 + 4 * channel.holes.len();
        assert!(channel.geo(0.1).contains(&format!(
            "Physical Curve(\"boundary\") = {{{}}};",
            list(1..=curves)
        )));
        let l_box = Domain::draw(Geometry::LBox, &mut draws);
        assert_eq!(l_box.dimension(), 3);
        assert!(l_box.contains([0.1, 0.1, 0.5]) && !l_box.contains([0.95, 0.95, 0.5]));
        assert!(!l_box.contains([0.1, 0.1, 1.5]));
        assert!(l_box.geo(0.2).contains(
            "Physical Surface(\"boundary\") = {1, out[0], out[2], out[3], out[4], out[5], out[6], out[7]};"
        ));
        let polygon = Domain::draw(Geometry::Polygon, &mut draws);
        assert!((5..=9).contains(&polygon.outline.len()));
        assert!(polygon.contains([0.5, 0.5, 0.0]) && !polygon.contains([0.01, 0.99, 0.0]));
    }
}
