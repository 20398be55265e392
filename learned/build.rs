//! With the `torch` feature: libtorch's library directory as the rpath of
//! this crate's tests.
include!("torch_rpath.rs");

fn main() {
    emit_torch_rpath();
}
