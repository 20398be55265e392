//! Mesh movers (r-adaptation): new node positions for the same
//! connectivity, so that cells concentrate where a monitor function of the
//! solution is large. [`monge_ampere`]: equidistribution by the
//! Monge–Ampère equation (the classical mover the learned ones are
//! measured against).

pub mod monge_ampere;
