//! `monitors:`, what is recorded as the run goes: probes (every model) and
//! forces (flows).

use pde_mesh::Mesh;
use serde::Deserialize;

use super::Case;
use crate::fvm::geometry::FvMesh;
use crate::physics::checks::{check_group, check_point, is_positive};
use crate::physics::navier_stokes::ForcesSpec;

/// A monitor: a quantity recorded after every step.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MonitorSpec {
    /// The solution at a point, into `probes.csv` (flows: every velocity
    /// component and the pressure).
    Probe {
        /// Column name.
        name: String,
        /// The point (2 or 3 coordinates).
        point: Vec<f64>,
    },
    /// Force coefficients on a group (flows): `forces.csv` with `t,cd,cl`
    /// (and `cs` in 3D), plus `dp` when `pressure_difference` is given, and
    /// `forces.png`.
    Forces(ForcesSpec),
}

impl Case {
    /// The probes: name and point (missing coordinates 0).
    pub fn probe_points(&self) -> Vec<(String, [f64; 3])> {
        self.monitors
            .iter()
            .filter_map(|m| match &m.value {
                MonitorSpec::Probe { name, point } => Some((
                    name.clone(),
                    std::array::from_fn(|k| point.get(k).copied().unwrap_or(0.0)),
                )),
                MonitorSpec::Forces(_) => None,
            })
            .collect()
    }

    /// The forces monitor, if any.
    pub fn forces(&self) -> Option<&ForcesSpec> {
        self.monitors.iter().find_map(|m| match &m.value {
            MonitorSpec::Forces(f) => Some(f),
            MonitorSpec::Probe { .. } => None,
        })
    }

    pub(crate) fn check_monitors(&self, mesh: &Mesh, outer: &mut Vec<String>) {
        let dim = mesh.dim();
        let model = self.physics.spec();
        let flow = model.capabilities().forces;
        let mut forces = 0;
        // Located on the straight-sided cells, as the run locates them.
        let geometry = std::cell::OnceCell::new();
        let check_inside = |key: &str, p: &[f64], problems: &mut Vec<String>| {
            let fv = geometry.get_or_init(|| FvMesh::new(std::sync::Arc::new(mesh.clone())).ok());
            let point = std::array::from_fn(|k| p.get(k).copied().unwrap_or(0.0));
            if let Some(fv) = fv {
                if fv.locate(point).is_none() {
                    problems.push(format!("{key}: {p:?} is outside the mesh"));
                }
            }
        };
        for spanned in &self.monitors {
            // Each problem of an entry names the entry's line.
            let mut found = Vec::new();
            let problems = &mut found;
            match &spanned.value {
                MonitorSpec::Probe { name, point } => {
                    let key = format!("monitors: probe '{name}'");
                    let before = problems.len();
                    check_point(&key, point, dim, problems);
                    if problems.len() == before {
                        check_inside(&key, point, problems);
                    }
                }
                MonitorSpec::Forces(_) if !flow => problems.push(format!(
                    "monitors: forces are measured on flows (navier_stokes, stokes), not {}",
                    self.physics.name()
                )),
                MonitorSpec::Forces(f) => {
                    check_group(mesh, "monitors: forces.group", &f.group, problems);
                    if mesh
                        .group(&f.group)
                        .is_ok_and(|g| mesh.cells_of(g).is_empty())
                    {
                        problems.push(format!(
                            "monitors: forces.group '{}' has no cells: there is nothing to \
                             measure a force on",
                            f.group
                        ));
                    }
                    self.check_force_group(&f.group, problems);
                    forces += 1;
                    if !(is_positive(f.reference_velocity) && is_positive(f.reference_length)) {
                        problems.push(
                            "monitors: forces: reference_velocity and reference_length must be positive"
                                .into(),
                        );
                    }
                    for p in f.pressure_difference.iter().flatten() {
                        let key = "monitors: forces.pressure_difference";
                        let before = problems.len();
                        check_point(key, p, dim, problems);
                        if problems.len() == before {
                            check_inside(key, p, problems);
                        }
                    }
                }
            }
            let line = spanned.referenced.line();
            outer.extend(found.into_iter().map(|p| format!("line {line}: {p}")));
        }
        if forces > 1 {
            outer.push("monitors: one forces monitor per case".into());
        }
    }

    /// Forces are measured on a body: a group with a wall condition
    /// (`no_slip`, or a prescribed `velocity` of a moving wall).
    fn check_force_group(&self, group: &str, problems: &mut Vec<String>) {
        if !self.physics.spec().is_wall(group) {
            problems.push(format!(
                "monitors: forces.group '{group}' has no wall condition (it is do-nothing, a \
                 free outflow, so the force would be meaningless); give it \
                 `physics.{}.boundary.{group}: no_slip`",
                self.physics.name()
            ));
        }
    }
}
