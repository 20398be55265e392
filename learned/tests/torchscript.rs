//! A stepper written and scripted in PyTorch (graph diffusion,
//! `u + 0.1 Σ_{edges into i} (u_s − u_i)`) runs from Rust through
//! TorchScript and gives what the same formula gives in Rust. Needs the
//! `python3` with torch that scripts/torch.sh puts on PATH.

use std::process::Command;

use pde_learned::graph::MeshGraph;
use pde_learned::tch::Device;
use pde_learned::tensors::{matrix, values, GraphTensors};
use pde_learned::torchscript::{GraphStepper, TorchScriptStepper};
use pde_mesh::{generate, CellKind};

const SCRIPT: &str = r#"
import sys, torch
class Diffusion(torch.nn.Module):
    def forward(self, state, node_types, edge_features, senders, receivers):
        msg = state.index_select(0, senders) - state.index_select(0, receivers)
        return state + 0.1 * torch.zeros_like(state).index_add(0, receivers, msg)
torch.jit.save(torch.jit.script(Diffusion()), sys.argv[1])
"#;

#[test]
fn a_torchscript_stepper_runs_from_rust() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diffusion.pt");
    // From a file: torch.jit.script reads the module's source.
    let script = dir.path().join("diffusion.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let o = Command::new("python3")
        .args([script.to_str().unwrap(), path.to_str().unwrap()])
        .output()
        .expect("python3 (run `eval \"$(scripts/torch.sh)\"` first)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mesh = generate::rectangle([0.0, 0.0], [1.0, 1.0], [5, 5], CellKind::Tri3).unwrap();
    let graph = MeshGraph::from_mesh(&mesh, &["left"]).unwrap();
    let u: Vec<f64> = mesh
        .points
        .iter()
        .map(|p| p[0] * p[0] + 0.5 * p[1])
        .collect();
    let mut expected = u.clone();
    for (&s, &r) in graph.senders.iter().zip(&graph.receivers) {
        expected[r] += 0.1 * (u[s] - u[r]);
    }
    let stepper = TorchScriptStepper::load(&path, Device::Cpu).unwrap();
    let tensors = GraphTensors::new(&graph, Device::Cpu);
    let next = values(
        &stepper
            .predict(&tensors, &[&matrix(&u, 1, Device::Cpu)], None)
            .unwrap()[0],
    );
    for (a, b) in next.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }

    let err = TorchScriptStepper::load(&dir.path().join("missing.pt"), Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing.pt") && err.contains("torch.jit.save"),
        "{err}"
    );
}
