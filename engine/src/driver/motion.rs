//! Moving the mesh during a run: before every `every`-th step the case's
//! mover proposes new node positions from a monitor of the current
//! solution, the guard checks the proposal, and the model follows the
//! accepted mesh ([`crate::physics::Stepper::move_nodes`]). A proposal with
//! an inverted or degenerate cell (or a mover that failed) is scaled back
//! towards the current mesh (halving the move up to three times), then
//! handed to the fallback mover, and else the mesh stays as it is; every
//! case is counted for the run's summary.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use pde_mesh::Mesh;

use crate::movers::monitor::{MonitorSpec, NodalMonitor};
use crate::movers::{registry, MeshMover};
use crate::physics::{Model, Snapshot, StepError, Transient};

/// What moves a stepper's mesh before its steps; the [`super::TimeLoop`]
/// calls it before every step it tries.
pub trait MeshMotion<S: ?Sized> {
    /// Moves the mesh of `stepper`, at time `t` before a step, if that
    /// step is due for a move.
    fn before_step(&mut self, t: f64, stepper: &mut S) -> Result<(), StepError>;
    /// What a checkpoint keeps of the motion: the mesh `stepper` is on now
    /// and whatever the next moves depend on.
    fn snapshot(&self, stepper: &S) -> Snapshot;
    /// Continues from a [`MeshMotion::snapshot`]: puts `stepper` (as
    /// built, before its own state is restored) on the saved mesh, and
    /// the motion where it was.
    fn restore(&mut self, snapshot: &Snapshot, stepper: &mut S) -> Result<(), StepError>;
}

/// How far a node may move in one move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// About the size of its cells: moves between steps, whose state
    /// follows by remap or ALE.
    Cell,
    /// Anywhere: moves before the first step, after which the model is
    /// built again on the moved mesh.
    Any,
}

/// `mesh_mover:` as the case gives it, checked.
pub struct MotionSpec<'a> {
    /// The mover kind and its options.
    pub kind: &'a str,
    /// Its options.
    pub options: &'a registry::Options,
    /// The fallback kind (default options), if any.
    pub fallback: Option<&'a str>,
    /// How the monitor is built from the solution.
    pub monitor: &'a MonitorSpec,
    /// Move before every `every`-th step.
    pub every: usize,
}

/// A mover by kind name, with what it did.
struct NamedMover {
    name: String,
    mover: Box<dyn MeshMover>,
    record: MoverRecord,
}

/// What one mover did, for the summary: the primary and the fallback
/// are counted apart, so that each one's cost and quality can be read.
#[derive(Clone, Debug)]
struct MoverRecord {
    /// Meshes it proposed (each scaled back as the guard needed).
    proposals: usize,
    /// Proposals the guard accepted.
    accepted: usize,
    /// Seconds in its proposals and their checks (not the monitor).
    seconds: f64,
    /// Smallest angle (degrees) of its accepted meshes.
    min_angle: f64,
}

impl Default for MoverRecord {
    fn default() -> Self {
        MoverRecord {
            proposals: 0,
            accepted: 0,
            seconds: 0.0,
            min_angle: f64::INFINITY,
        }
    }
}

impl MoverRecord {
    /// Its summary entry, for the mover `name` in `role`.
    fn summary(&self, name: &str, role: &str) -> serde_json::Value {
        serde_json::json!({
            "mover": name,
            "role": role,
            "proposals": self.proposals,
            "accepted": self.accepted,
            "seconds_per_proposal": self.seconds / self.proposals.max(1) as f64,
            "min_angle_degrees": (self.accepted > 0).then_some(self.min_angle),
        })
    }

    /// The record as a snapshot row.
    fn to_row(&self) -> Vec<f64> {
        vec![
            self.proposals as f64,
            self.accepted as f64,
            self.seconds,
            self.min_angle,
        ]
    }

    /// The record of a [`MoverRecord::to_row`] row.
    fn from_row(row: &[f64]) -> Self {
        MoverRecord {
            proposals: row[0] as usize,
            accepted: row[1] as usize,
            seconds: row[2],
            min_angle: row[3],
        }
    }
}

/// What the movers did together, for the summary (moves, fallbacks and
/// the smallest angle are those of the movers' [`MoverRecord`]s).
#[derive(Clone, Debug, Default)]
struct MotionRecord {
    /// Moves accepted only after scaling the proposal back.
    scaled_back: usize,
    /// Moves given up (the mesh stayed).
    skipped: usize,
    /// Why the first proposal was refused.
    first_refusal: Option<String>,
    /// Seconds in the movers (monitor, proposal, checks).
    seconds: f64,
}

/// The case's mover with its monitor, fallback and guard.
pub struct Motion {
    primary: NamedMover,
    fallback: Option<NamedMover>,
    monitor: MonitorSpec,
    every: usize,
    /// Steps seen (distinct start times), and the last start time.
    steps: usize,
    last_t: Option<f64>,
    record: MotionRecord,
}

impl Motion {
    /// The movers of computational mesh `mesh` (the mesh the run starts
    /// on).
    pub fn new(spec: &MotionSpec, mesh: &Mesh) -> Result<Motion> {
        let build = |kind: &str, options: &registry::Options| -> Result<NamedMover> {
            let entry = registry::kind(kind)
                .with_context(|| format!("mesh_mover: unknown kind '{kind}'"))?;
            Ok(NamedMover {
                name: kind.to_string(),
                mover: (entry.build)(options, mesh)
                    .with_context(|| format!("mesh_mover: building {kind}"))?,
                record: MoverRecord::default(),
            })
        };
        Ok(Motion {
            primary: build(spec.kind, spec.options)?,
            fallback: spec
                .fallback
                .map(|k| build(k, &registry::Options::new()))
                .transpose()?,
            monitor: spec.monitor.clone(),
            every: spec.every.max(1),
            steps: 0,
            last_t: None,
            record: MotionRecord::default(),
        })
    }

    /// The mesh the movers propose for `model`'s current state, checked
    /// and guarded, each node moving at most `reach`; `None` when every
    /// attempt was refused (counted).
    pub fn propose<M: Model + ?Sized>(
        &mut self,
        model: &M,
        reach: Reach,
    ) -> Result<Option<Arc<Mesh>>> {
        let started = Instant::now();
        let current = model.mesh().clone();
        let values = nodal_field(model, &self.monitor.field)?;
        let nodal = self.monitor.nodal(&current, &values)?;
        let monitor = NodalMonitor::new(current.clone(), &nodal)?;
        let eval = |x: [f64; 3]| monitor.eval(x);
        let limits = Limits::of(&current, reach);
        let mut accepted = None;
        for mover in std::iter::once(&mut self.primary).chain(self.fallback.as_mut()) {
            let proposed = Instant::now();
            let checked = guarded(
                &current,
                mover.mover.new_points(&current.points, &eval),
                &limits,
            );
            mover.record.proposals += 1;
            mover.record.seconds += proposed.elapsed().as_secs_f64();
            match checked {
                Ok((mesh, scaled, min_angle)) => {
                    mover.record.accepted += 1;
                    mover.record.min_angle = mover.record.min_angle.min(min_angle);
                    self.record.scaled_back += usize::from(scaled);
                    accepted = Some(mesh);
                    break;
                }
                Err(why) => {
                    self.record
                        .first_refusal
                        .get_or_insert_with(|| format!("{}: {why}", mover.name));
                }
            }
        }
        self.record.skipped += usize::from(accepted.is_none());
        self.record.seconds += started.elapsed().as_secs_f64();
        Ok(accepted.map(Arc::new))
    }

    /// `built`, built again by `build` on the mesh the movers make of its
    /// model's initial state, `moves` times over (each node may go
    /// anywhere), so that the initial condition is sampled where the
    /// nodes went rather than interpolated; stops at the first refused
    /// move (counted), or where `model` finds no model in `built`.
    pub fn initial_moves<B, M: Model + ?Sized>(
        &mut self,
        mut built: B,
        moves: usize,
        model: impl Fn(&B) -> Option<&M>,
        mut build: impl FnMut(Arc<Mesh>) -> Result<B>,
    ) -> Result<B> {
        for _ in 0..moves {
            let Some(m) = model(&built) else {
                break;
            };
            let Some(moved) = self.propose(m, Reach::Any)? else {
                break;
            };
            built = build(moved)?;
        }
        Ok(built)
    }

    /// The movers' keys of the run's summary.
    pub fn summary(&self) -> serde_json::Value {
        let r = &self.record;
        let moves: usize = self.movers().map(|(m, _)| m.record.accepted).sum();
        let fallbacks = self.fallback.as_ref().map_or(0, |f| f.record.accepted);
        let min_angle = self
            .movers()
            .map(|(m, _)| m.record.min_angle)
            .fold(f64::INFINITY, f64::min);
        serde_json::json!({
            "mover": self.primary.name,
            "fallback_mover": self.fallback.as_ref().map(|f| f.name.clone()),
            "moves": moves,
            "moves_scaled_back": r.scaled_back,
            "mover_fallbacks": fallbacks,
            "moves_skipped": r.skipped,
            "first_refused_move": r.first_refusal,
            "seconds_per_move": r.seconds / (moves + r.skipped).max(1) as f64,
            "min_angle_degrees": (moves > 0).then_some(min_angle),
            "per_mover": self.movers().map(|(m, role)| m.record.summary(&m.name, role))
                .collect::<Vec<_>>(),
        })
    }

    /// The primary mover and the fallback, with their roles (the keys of
    /// their summaries and snapshots).
    fn movers(&self) -> impl Iterator<Item = (&NamedMover, &'static str)> {
        std::iter::once((&self.primary, "primary"))
            .chain(self.fallback.as_ref().map(|f| (f, "fallback")))
    }
}

/// The counts of [`MotionRecord`] and the loop position, in a snapshot's
/// `counters` array.
const COUNTERS: usize = 5;

impl<S: Transient + ?Sized> MeshMotion<S> for Motion {
    fn before_step(&mut self, t: f64, stepper: &mut S) -> Result<(), StepError> {
        // A rejected adaptive step comes back from the same time.
        if self.last_t == Some(t) {
            return Ok(());
        }
        self.last_t = Some(t);
        self.steps += 1;
        if (self.steps - 1) % self.every != 0 {
            return Ok(());
        }
        let proposed = self
            .propose(stepper, Reach::Cell)
            .map_err(|e| StepError::Output(format!("mesh mover: {e:#}")))?;
        match proposed {
            Some(mesh) => stepper.move_nodes(mesh),
            None => Ok(()),
        }
    }

    fn snapshot(&self, stepper: &S) -> Snapshot {
        let r = &self.record;
        let mut s = Snapshot::new();
        s.push_points("points", &stepper.mesh().points);
        s.push(
            "counters",
            vec![
                self.steps as f64,
                self.last_t.unwrap_or(f64::NAN),
                r.scaled_back as f64,
                r.skipped as f64,
                r.seconds,
            ],
        );
        for (named, role) in self.movers() {
            s.push(role, named.mover.state());
            s.push(format!("{role}_record"), named.record.to_row());
        }
        if let Some(why) = &r.first_refusal {
            s.push_text("first_refusal", why.clone());
        }
        s
    }

    fn restore(&mut self, snapshot: &Snapshot, stepper: &mut S) -> Result<(), StepError> {
        let mesh = stepper.mesh().clone();
        let points = snapshot.points("points", mesh.num_points())?;
        if points != mesh.points {
            let mut moved = (*mesh).clone();
            moved.points = points;
            stepper.place_on(Arc::new(moved))?;
        }
        let c = snapshot.get_len("counters", COUNTERS)?;
        self.steps = c[0] as usize;
        self.last_t = Some(c[1]).filter(|t| !t.is_nan());
        self.record = MotionRecord {
            scaled_back: c[2] as usize,
            skipped: c[3] as usize,
            first_refusal: snapshot.text("first_refusal").map(str::to_string),
            seconds: c[4],
        };
        let movers = std::iter::once((&mut self.primary, "primary"))
            .chain(self.fallback.as_mut().map(|f| (f, "fallback")));
        for (named, key) in movers {
            named
                .mover
                .set_state(snapshot.get(key)?)
                .map_err(|e| StepError::Restart(format!("the {} mover: {e:#}", named.name)))?;
            named.record = MoverRecord::from_row(snapshot.get_len(&format!("{key}_record"), 4)?);
        }
        Ok(())
    }
}

/// What a move from the current mesh may do: how far each node may go,
/// and the smallest angle a moved mesh may have (1°, or the current
/// mesh's smallest if that is smaller already), from one pass over the
/// current mesh's cells.
pub(crate) struct Limits {
    reach: Vec<f64>,
    min_angle: f64,
}

impl Limits {
    pub(crate) fn of(current: &Mesh, reach: Reach) -> Limits {
        let quality = pde_mesh::quality::domain_quality(current);
        let min_angle = quality.iter().map(|q| q.min_angle).fold(1.0, f64::min);
        let reach = match reach {
            // For every point the size of its smallest cell (the d-th
            // root of its measure).
            Reach::Cell => {
                let mut size = vec![f64::INFINITY; current.num_points()];
                let dim = current.dim().max(1) as f64;
                for (nodes, q) in cell_corners(current).zip(&quality) {
                    let h = q.measure.abs().powf(1.0 / dim);
                    for &n in nodes {
                        size[n] = size[n].min(h);
                    }
                }
                size
            }
            Reach::Any => vec![f64::INFINITY; current.num_points()],
        };
        Limits { reach, min_angle }
    }
}

/// The mesh with `proposal`'s points if every cell is valid and no node
/// moves further than `limits` allow, else with the move from `current`
/// shortened to that and halved until it is valid (at most three times):
/// the mesh, whether it was scaled back and its smallest angle, or why it
/// was refused. (Remaps and the ALE step assume moves of about a cell; a
/// mover that proposes more gets there over several steps.) Valid: no
/// inverted cell, none smaller than 1e-8 of the mean, and no angle below
/// the limit: slivers ruin the discretisation as surely as inverted cells.
pub(crate) fn guarded(
    current: &Arc<Mesh>,
    proposal: Result<Vec<[f64; 3]>>,
    limits: &Limits,
) -> Result<(Mesh, bool, f64), String> {
    let points = proposal.map_err(|e| format!("{e:#}"))?;
    if points.len() != current.points.len() {
        return Err(format!(
            "the mover gave {} points for a mesh of {}",
            points.len(),
            current.points.len()
        ));
    }
    let limit = points
        .iter()
        .zip(&current.points)
        .zip(&limits.reach)
        .map(|((new, old), size)| {
            let d = (0..3)
                .map(|k| (new[k] - old[k]).powi(2))
                .sum::<f64>()
                .sqrt();
            if d > *size {
                size / d
            } else {
                1.0
            }
        })
        .fold(1.0, f64::min);
    let floor = limits.min_angle;
    let mut why = String::new();
    for halvings in 0..4 {
        let s = limit * 0.5f64.powi(halvings);
        let mut mesh = (**current).clone();
        for (p, (old, new)) in mesh
            .points
            .iter_mut()
            .zip(current.points.iter().zip(&points))
        {
            *p = std::array::from_fn(|d| old[d] + s * (new[d] - old[d]));
        }
        let q = pde_mesh::quality::summary(&mesh);
        let mean = q.total_measure / q.cells.max(1) as f64;
        let valid = q.inverted == 0 && q.min_measure > 1e-8 * mean && q.min_angle >= floor;
        if valid && q.min_measure.is_finite() {
            return Ok((mesh, s < 1.0, q.min_angle));
        }
        if halvings == 0 {
            why = format!(
                "{} inverted cells, smallest cell {:.3e} of a mean {mean:.3e}, smallest angle \
                 {:.3}° (at least {floor:.3}° needed)",
                q.inverted, q.min_measure, q.min_angle
            );
        }
    }
    Err(why)
}

/// The corner nodes of every domain cell, in the order of
/// [`pde_mesh::quality::domain_quality`].
fn cell_corners(mesh: &Mesh) -> impl Iterator<Item = &[usize]> {
    mesh.domain_blocks().flat_map(|(_, b)| {
        let corners = b.kind.num_corners();
        b.cells().map(move |c| &c[..corners])
    })
}

/// The values of `field` at the points of the model's mesh: its point
/// data, or its cell data averaged onto the points (weighted by cell
/// measure).
pub fn nodal_field<M: Model + ?Sized>(model: &M, field: &str) -> Result<Vec<f64>> {
    let mesh = model.mesh();
    if let Some(f) = model.point_data()?.into_iter().find(|f| f.name == field) {
        anyhow::ensure!(
            f.components == 1,
            "the monitor's field '{field}' is not a scalar"
        );
        return Ok(f.values);
    }
    let cells = model
        .cell_data()?
        .into_iter()
        .find(|f| f.name == field && f.components == 1)
        .with_context(|| format!("the model has no scalar field '{field}' for the monitor"))?;
    let measures = pde_mesh::quality::domain_measures(mesh);
    let mut sum = vec![0.0; mesh.num_points()];
    let mut weight = vec![0.0; mesh.num_points()];
    for ((nodes, value), measure) in cell_corners(mesh).zip(&cells.values).zip(&measures) {
        for &n in nodes {
            sum[n] += measure * value;
            weight[n] += measure;
        }
    }
    Ok(sum
        .iter()
        .zip(&weight)
        .map(|(s, w)| if *w > 0.0 { s / w } else { 0.0 })
        .collect())
}
