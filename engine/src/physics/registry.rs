//! The registry of models that case files can name. `physics/mod.rs`
//! invokes `models!` with one line per model folder: the folder, and the
//! variant, the name case files use and the spec of each model it holds.
//! `physics: {<name>: ...}` reads the section into that spec (unknown
//! models and keys are refused with line and column), and everything else
//! goes through [`super::spec::ModelSpec`]: adding a model is its folder
//! plus that one line.

/// Declares the model folders and generates [`super::Physics`].
macro_rules! models {
    ($(mod $module:ident { $($variant:ident => $name:literal : $spec:ident),+ $(,)? })*) => {
        $(pub mod $module;)*

        /// The physical model of a case, by name, with its section.
        #[derive(Clone, Debug, serde::Deserialize)]
        pub enum Physics {
            $($(
                #[doc = concat!("`physics: {", $name, ": ...}`")]
                #[serde(rename = $name)]
                $variant($module::$spec),
            )+)*
        }

        impl Physics {
            /// The model's section, as a [`spec::ModelSpec`].
            pub fn spec(&self) -> &dyn spec::ModelSpec {
                match self {
                    $($(Physics::$variant(s) => s,)+)*
                }
            }

            /// The model's name as the case file spells it.
            pub fn name(&self) -> &'static str {
                self.spec().name()
            }
        }

        /// The names of the registered models, in registration order.
        pub const MODELS: &[&str] = &[$($($name),+),*];
    };
}

pub(crate) use models;
