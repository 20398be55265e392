//! With the `torch` feature: libtorch's library directory as the rpath of
//! the `pde-engine` binary and the tests, so they run without
//! LD_LIBRARY_PATH.
include!("../learned/torch_rpath.rs");

fn main() {
    emit_torch_rpath();
}
