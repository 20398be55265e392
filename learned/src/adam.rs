//! Adam (Kingma & Ba, as PyTorch's `torch.optim.Adam` computes it) with
//! global gradient-norm clipping, whose state (the moments and the step
//! count) is saved with a checkpoint: a resumed training run continues
//! exactly where it stopped. (`tch`'s optimisers keep their moments inside
//! libtorch, where they cannot be saved, so resuming restarted them.)

use std::collections::BTreeMap;
use std::path::Path;

use tch::nn::VarStore;
use tch::{Device, Tensor};

use crate::error::LearnedError;
use crate::files::write_then_rename;

/// First-moment decay.
const BETA1: f64 = 0.9;
/// Second-moment decay.
const BETA2: f64 = 0.999;
/// Added to the root of the second moment (PyTorch's default).
const EPSILON: f64 = 1e-8;
/// Added to the gradient norm before clipping (as `clip_grad_norm_`).
const CLIP_EPSILON: f64 = 1e-6;

/// The moments of one trainable variable.
struct Moments {
    first: Tensor,
    second: Tensor,
}

/// The optimiser of the trainable variables of a [`VarStore`].
pub struct Adam {
    /// The trainable variables, by their names in the store.
    params: BTreeMap<String, Tensor>,
    moments: BTreeMap<String, Moments>,
    /// Updates done so far (for the bias corrections).
    steps: u64,
}

impl Adam {
    /// A fresh optimiser (zero moments) of the trainable variables of `vs`.
    pub fn new(vs: &VarStore) -> Self {
        let params: BTreeMap<String, Tensor> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        let moments = params
            .iter()
            .map(|(name, p)| {
                let m = Moments {
                    first: p.zeros_like().detach(),
                    second: p.zeros_like().detach(),
                };
                (name.clone(), m)
            })
            .collect();
        Adam {
            params,
            moments,
            steps: 0,
        }
    }

    /// Updates done so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One update from `loss`: gradients by back-propagation, scaled down
    /// so that their global norm is at most `clip_norm`, then the Adam step
    /// with learning rate `learning_rate`.
    pub fn backward_step(&mut self, loss: &Tensor, learning_rate: f64, clip_norm: f64) {
        tch::no_grad(|| {
            for p in self.params.values() {
                let mut grad = p.grad();
                if grad.defined() {
                    let _ = grad.zero_();
                }
            }
        });
        loss.backward();
        tch::no_grad(|| {
            let grads: Vec<(&String, Tensor)> = self
                .params
                .iter()
                .map(|(name, p)| (name, p.grad()))
                .filter(|(_, g)| g.defined())
                .collect();
            if grads.is_empty() {
                return;
            }
            let norms: Vec<Tensor> = grads.iter().map(|(_, g)| g.norm()).collect();
            let total = Tensor::stack(&norms, 0).norm().double_value(&[]);
            let scale = (clip_norm / (total + CLIP_EPSILON)).min(1.0);
            self.steps += 1;
            let t = self.steps as i32;
            let correction1 = 1.0 - BETA1.powi(t);
            let root_correction2 = (1.0 - BETA2.powi(t)).sqrt();
            for (name, grad) in grads {
                let grad = if scale < 1.0 { grad * scale } else { grad };
                let m = self
                    .moments
                    .get_mut(name)
                    .expect("moments of every parameter");
                m.first *= BETA1;
                m.first += &grad * (1.0 - BETA1);
                m.second *= BETA2;
                m.second += &grad * &grad * (1.0 - BETA2);
                let denominator = m.second.sqrt() / root_correction2 + EPSILON;
                let mut p = self.params[name].shallow_clone();
                p -= &m.first / denominator * (learning_rate / correction1);
            }
        });
    }

    /// Saves the moments into `path` (safetensors) and returns the step
    /// count, which the caller keeps beside them.
    pub fn save(&self, path: &Path) -> Result<u64, LearnedError> {
        let cpu = |t: &Tensor| t.to_device(Device::Cpu);
        let named: Vec<(String, Tensor)> = self
            .moments
            .iter()
            .flat_map(|(name, m)| {
                [
                    (format!("first.{name}"), cpu(&m.first)),
                    (format!("second.{name}"), cpu(&m.second)),
                ]
            })
            .collect();
        write_then_rename(path, |tmp| Ok(Tensor::write_safetensors(&named, tmp)?))?;
        Ok(self.steps)
    }

    /// The optimiser of `vs` with the moments saved at `path` after `steps`
    /// updates.
    pub fn load(vs: &VarStore, path: &Path, steps: u64) -> Result<Self, LearnedError> {
        let mut adam = Adam::new(vs);
        let mut saved: BTreeMap<String, Tensor> =
            Tensor::read_safetensors(path)?.into_iter().collect();
        let device = vs.device();
        for (name, m) in adam.moments.iter_mut() {
            for (kind, moment) in [("first", &mut m.first), ("second", &mut m.second)] {
                let key = format!("{kind}.{name}");
                let value = saved.remove(&key).ok_or_else(|| LearnedError::Config {
                    path: path.to_path_buf(),
                    message: format!("no {key}: the optimiser state belongs to another model"),
                })?;
                if value.size() != moment.size() {
                    return Err(LearnedError::Config {
                        path: path.to_path_buf(),
                        message: format!(
                            "{key} is {:?}; the model's variable is {:?}",
                            value.size(),
                            moment.size()
                        ),
                    });
                }
                *moment = value.to_device(device);
            }
        }
        adam.steps = steps;
        Ok(adam)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{self, Module, OptimizerConfig};
    use tch::Kind;

    /// A two-layer network and its loss on fixed data.
    fn network(vs: &VarStore) -> impl Fn() -> Tensor {
        let root = vs.root();
        let net = nn::seq()
            .add(nn::linear(&root / "a", 3, 8, Default::default()))
            .add_fn(|x| x.tanh())
            .add(nn::linear(&root / "b", 8, 2, Default::default()));
        let x = Tensor::from_slice(&[0.3f32, -1.0, 2.0, 0.5, 0.1, -0.7]).view([2, 3]);
        let y = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0]).view([2, 2]);
        move || (net.forward(&x) - &y).square().mean(Kind::Float)
    }

    #[test]
    fn steps_match_libtorch_adam_with_and_without_clipping() {
        for clip in [1e3, 0.05] {
            tch::manual_seed(11);
            let reference_vs = VarStore::new(Device::Cpu);
            let reference_loss = network(&reference_vs);
            let mut ours_vs = VarStore::new(Device::Cpu);
            let ours_loss = network(&ours_vs);
            ours_vs.copy(&reference_vs).unwrap();
            let mut reference = nn::Adam::default().build(&reference_vs, 0.0).unwrap();
            let mut ours = Adam::new(&ours_vs);
            let before = ours_loss().double_value(&[]);
            for step in 0..25 {
                let lr = 0.02 * 0.9f64.powi(step);
                reference.set_lr(lr);
                reference.backward_step_clip_norm(&reference_loss(), clip);
                ours.backward_step(&ours_loss(), lr, clip);
            }
            assert_eq!(ours.steps(), 25);
            let theirs = reference_vs.variables();
            for (name, t) in ours_vs.variables() {
                let gap = (&t - &theirs[&name]).abs().max().double_value(&[]);
                assert!(gap < 1e-6, "clip {clip}: {name} differs by {gap}");
            }
            // The loss went down: the comparison is not of idle weights.
            let after = ours_loss().double_value(&[]);
            assert!(
                after < 0.9 * before,
                "clip {clip}: loss {before} -> {after}"
            );
        }
    }

    #[test]
    fn saved_moments_load_back_and_foreign_ones_are_refused() {
        let vs = VarStore::new(Device::Cpu);
        let loss = network(&vs);
        let mut adam = Adam::new(&vs);
        for _ in 0..3 {
            adam.backward_step(&loss(), 0.01, 1.0);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optimizer.safetensors");
        assert_eq!(adam.save(&path).unwrap(), 3);
        let back = Adam::load(&vs, &path, 3).unwrap();
        for (name, m) in &adam.moments {
            let n = &back.moments[name];
            assert_eq!(
                f64::try_from((&m.first - &n.first).abs().max()).unwrap(),
                0.0
            );
            assert_eq!(
                f64::try_from((&m.second - &n.second).abs().max()).unwrap(),
                0.0
            );
        }
        let other = VarStore::new(Device::Cpu);
        let _ = nn::linear(other.root() / "a", 3, 5, Default::default());
        let err = Adam::load(&other, &path, 3).err().unwrap().to_string();
        assert!(
            err.contains("first.a.bias is [8]; the model's variable is [5]"),
            "{err}"
        );
    }
}
