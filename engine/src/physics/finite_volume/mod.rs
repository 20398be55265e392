//! Finite-volume models: any [`ConservationLaw`] solved by
//! [`FiniteVolume`] is a time-dependent model (shallow water, transport,
//! Burgers), with its state in the cells; their case sections
//! ([`ShallowWaterSpec`], [`TransportSpec`], [`BurgersSpec`]) and the
//! conservation record.

mod conservation;
mod spec;

use std::sync::Arc;

use pde_mesh::Mesh;

pub use conservation::Conservation;
pub(crate) use spec::{carried_scalar, check_fv_scheme, state_fn};
pub use spec::{
    BurgersSpec, FvBoundarySpec, FvScalarSpec, FvScheme, LimiterKind, ReconstructionKind,
    RungeKuttaKind, ShallowWaterSpec, TransportSpec,
};

use super::{
    Model, OutputField, PhysicsError, ProbeColumn, Snapshot, StepError, StepReport, Stepper,
};
use crate::fem::PointEvaluator;
use crate::fvm::law::ConservationLaw;
use crate::fvm::solver::FiniteVolume;

impl<L: ConservationLaw<N>, const N: usize> Stepper for FiniteVolume<L, N> {
    fn try_step(&mut self, t: f64, dt: f64) -> Result<StepReport, StepError> {
        let max_abs = self
            .try_advance(t, dt)
            .map_err(|e| StepError::Model(e.into()))?;
        // A non-finite state from non-finite data says where the data is.
        if !max_abs.is_finite() {
            if let Some((group, x, at)) = self.nonfinite_inflow(&[t, t + 0.5 * dt, t + dt]) {
                return Err(StepError::Model(PhysicsError::NonFiniteData(format!(
                    "boundary.{group}: the inflow value is not finite at ({}, {}, {}), t = {at:e}",
                    x[0], x[1], x[2]
                ))));
            }
        }
        if let Some((cell, x, why)) = self.inadmissible_tried() {
            return Err(StepError::Model(PhysicsError::Unphysical(format!(
                "the step to t = {:e} left cell {cell} at ({}, {}, {}) with {why} (a smaller \
                 scheme.cfl, or a first-order reconstruction near dry areas, may avoid it)",
                t + dt,
                x[0],
                x[1],
                x[2]
            ))));
        }
        Ok(StepReport {
            iterations: 0,
            error_estimate: None,
            max_abs,
            fallback: None,
        })
    }

    fn commit(&mut self) {
        self.commit_tried();
    }

    fn stable_dt(&self) -> Option<f64> {
        Some(self.cfl_dt())
    }

    fn set_field(&mut self, name: &str, values: &[f64]) -> Result<(), String> {
        let names = self.law.names();
        let k = super::field_slot(&names, name, self.mesh.num_cells(), values)?;
        let mut state = self.state().to_vec();
        state.iter_mut().zip(values).for_each(|(u, v)| u[k] = *v);
        self.set_state(state);
        Ok(())
    }

    /// Remaps the cell averages conservatively onto the moved mesh
    /// ([`FiniteVolume::move_nodes`]).
    fn move_nodes(&mut self, mesh: Arc<Mesh>) -> Result<(), StepError> {
        FiniteVolume::move_nodes(self, mesh).map_err(|e| StepError::Model(e.into()))
    }

    /// Without a remap ([`FiniteVolume::place_on`]): the restore sets the
    /// cell averages.
    fn place_on(&mut self, mesh: Arc<Mesh>) -> Result<(), StepError> {
        FiniteVolume::place_on(self, mesh).map_err(|e| StepError::Model(e.into()))
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = Snapshot::new();
        s.push("time", vec![self.time()]);
        s.push("state", self.state().iter().flatten().copied().collect());
        s.push("outflow", self.boundary_outflow().to_vec());
        Some(s)
    }

    fn restore(&mut self, snapshot: &Snapshot) -> Result<(), StepError> {
        let time = snapshot.get_len("time", 1)?[0];
        let state = snapshot.get_len("state", N * self.mesh.num_cells())?;
        let outflow = snapshot.get_len("outflow", N)?;
        self.set_state(
            state
                .chunks(N)
                .map(|u| std::array::from_fn(|k| u[k]))
                .collect(),
        );
        self.set_boundary_outflow(std::array::from_fn(|k| outflow[k]));
        self.set_time(time);
        Ok(())
    }
}

impl<L: ConservationLaw<N>, const N: usize> Model for FiniteVolume<L, N> {
    fn name(&self) -> &'static str {
        self.law.name()
    }

    fn mesh(&self) -> &Arc<Mesh> {
        &self.mesh.mesh
    }

    fn unknowns(&self) -> usize {
        N * self.mesh.num_cells()
    }

    /// None: finite-volume states live in the cells.
    fn point_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        Ok(Vec::new())
    }

    /// One scalar per conserved quantity, and the velocity where the law
    /// defines one ([`ConservationLaw::velocity`]).
    fn cell_data(&self) -> Result<Vec<OutputField>, PhysicsError> {
        let mut data: Vec<OutputField> = self
            .fields()
            .into_iter()
            .map(|(name, values)| OutputField::scalars(&name, values))
            .collect();
        let velocity: Option<Vec<[f64; 3]>> =
            self.state().iter().map(|u| self.law.velocity(u)).collect();
        if let Some(v) = velocity {
            data.push(OutputField::vectors("velocity", 3, v.concat()));
        }
        Ok(data)
    }

    /// One field per conserved quantity, with a value per cell.
    fn fields(&self) -> Vec<(String, Vec<f64>)> {
        self.law
            .names()
            .iter()
            .enumerate()
            .map(|(k, name)| {
                (
                    name.to_string(),
                    self.state().iter().map(|u| u[k]).collect(),
                )
            })
            .collect()
    }

    /// Each conserved quantity in the cell containing the point.
    fn probe(&self, point: [f64; 3]) -> Option<Vec<ProbeColumn>> {
        let cell = self.mesh.locate(point)?;
        let columns = self
            .law
            .names()
            .iter()
            .enumerate()
            .map(|(field, name)| ProbeColumn {
                label: name.to_string(),
                field,
                at: PointEvaluator {
                    dofs: vec![cell],
                    weights: vec![1.0],
                },
            })
            .collect();
        Some(columns)
    }

    /// Cells, the first conserved quantity's total and boundary outflow,
    /// and every quantity's range.
    fn summary(&self) -> serde_json::Value {
        let names = self.law.names();
        let range: serde_json::Map<String, serde_json::Value> = (0..N)
            .map(|k| {
                let values = self.state().iter().map(|u| u[k]);
                let lo = values.clone().fold(f64::INFINITY, f64::min);
                let hi = values.fold(f64::NEG_INFINITY, f64::max);
                (names[k].to_string(), serde_json::json!([lo, hi]))
            })
            .collect();
        serde_json::json!({
            "model": self.name(),
            "cells": self.mesh.num_cells(),
            "unknowns": self.unknowns(),
            "conserved": names[0],
            "total": self.total()[0],
            "outflow": self.boundary_outflow()[0],
            "range": range,
        })
    }
}
