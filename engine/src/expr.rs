//! Expressions of `x, y, z, t` in case files (`"sin(pi*x) * exp(-t)"`),
//! parsed once and evaluated at quadrature points and nodes.
//!
//! Operators `+ - * / ^`, functions such as `sin cos tan exp log sqrt abs`,
//! the constant `pi`. Parsing and evaluation use the `exmex` crate.

use std::sync::Arc;

use exmex::prelude::*;
use serde::{Deserialize, Deserializer};

/// The names an expression may use.
pub const VARIABLES: [&str; 4] = ["x", "y", "z", "t"];

/// Rewrites number literals in scientific notation (`1e-6`, `2.5E+3`),
/// which exmex's literal syntax lacks, as plain decimals.
pub(crate) fn expand_exponents(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let starts_number = (b[i].is_ascii_digit() || b[i] == b'.')
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if !starts_number {
            out.push(b[i] as char);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'.') {
            j += 1;
        }
        let mut k = j;
        if k < b.len() && (b[k] == b'e' || b[k] == b'E') {
            k += 1;
            if k < b.len() && (b[k] == b'+' || b[k] == b'-') {
                k += 1;
            }
            let digits = k;
            while k < b.len() && b[k].is_ascii_digit() {
                k += 1;
            }
            if k > digits {
                if let Ok(v) = text[i..k].parse::<f64>() {
                    // Display never uses an exponent and round-trips exactly.
                    out.push_str(&format!("({v})"));
                    i = k;
                    continue;
                }
            }
        }
        out.push_str(&text[i..j]);
        i = j;
    }
    out
}

/// The functions expressions may call (exmex's), for messages.
pub const FUNCTIONS: [&str; 23] = [
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "ln", "log",
    "log2", "log10", "sqrt", "cbrt", "abs", "signum", "floor", "ceil", "round", "fract", "trunc",
];

/// Refuses what exmex would report confusingly: a character outside
/// ASCII (its message mangles it) and an unknown function (reported as a
/// misplaced parenthesis).
fn check_tokens(text: &str) -> Result<(), String> {
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !c.is_ascii()) {
        return Err(format!(
            "invalid expression '{text}': '{c}' at column {} is not ASCII; write pi for π, \
             x^2 for x², sqrt(x) for √x, * for ×, - for −",
            text[..at].chars().count() + 1
        ));
    }
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_alphabetic() || b[i] == b'_') {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            i += 1;
        }
        let name = &text[start..i];
        let called = text[i..].trim_start().starts_with('(');
        // A number's exponent (`1e3`) is no name; exmex knows a function
        // when it parses one applied to a number.
        let in_number = start > 0 && b[start - 1].is_ascii_digit();
        if called && !in_number && exmex::parse::<f64>(&format!("{name}(1)")).is_err() {
            return Err(format!(
                "invalid expression '{text}': unknown function '{name}'; functions are {}",
                FUNCTIONS.join(", ")
            ));
        }
    }
    Ok(())
}

/// A parsed expression of `x, y, z, t`.
///
/// ```
/// use pde_engine::expr::Expr;
/// let e = Expr::parse("1 + x^2 + 3*y^2 + 1.2*t").unwrap();
/// assert_eq!(e.eval([1.0, 2.0, 0.0], 0.5), 1.0 + 1.0 + 12.0 + 0.6);
/// assert_eq!(Expr::parse("2.5e-3*exp(x)").unwrap().eval([0.0; 3], 0.0), 2.5e-3);
/// assert!(Expr::parse("x + w").unwrap_err().contains("unknown name 'w'"));
/// assert!(Expr::parse("foo(x)").unwrap_err().contains("unknown function 'foo'"));
/// assert!(Expr::parse("é + x").unwrap_err().contains("'é' at column 1 is not ASCII"));
/// ```
#[derive(Clone, Debug)]
pub struct Expr {
    text: String,
    /// Shared: exmex keeps an expression in fixed-size inline arrays (~20 KB).
    flat: Arc<exmex::FlatEx<f64>>,
    /// For each of exmex's variables (in its order), where its value comes
    /// from: 0-3 for x, y, z, t; 4 for pi.
    slots: Vec<usize>,
    /// Whether `t` appears.
    time_dependent: bool,
    /// The value of an expression of no variable (`pi` aside), computed once.
    constant: Option<f64>,
}

impl Expr {
    /// Parses `text`; the error says what is wrong and what is allowed.
    pub fn parse(text: &str) -> Result<Expr, String> {
        check_tokens(text)?;
        let flat = exmex::parse::<f64>(&expand_exponents(text))
            .map_err(|e| format!("invalid expression '{text}': {}", e.msg()))?;
        let slots = flat
            .var_names()
            .iter()
            .map(|v| match v.as_str() {
                "pi" => Ok(4),
                name => VARIABLES.iter().position(|&n| n == name).ok_or_else(|| {
                    format!("invalid expression '{text}': unknown name '{name}'; expressions may use x, y, z, t and pi")
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let time_dependent = slots.contains(&3);
        let constant = slots
            .iter()
            .all(|&s| s == 4)
            .then(|| flat.eval(&vec![std::f64::consts::PI; slots.len()]).ok())
            .flatten();
        Ok(Expr {
            text: text.to_string(),
            flat: Arc::new(flat),
            slots,
            time_dependent,
            constant,
        })
    }

    /// The expression's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it depends on `t`.
    pub fn is_time_dependent(&self) -> bool {
        self.time_dependent
    }

    /// Value at point `p` and time `t` (NaN where it is undefined, e.g. `log(-1)`).
    pub fn eval(&self, p: [f64; 3], t: f64) -> f64 {
        if let Some(c) = self.constant {
            return c;
        }
        let all = [p[0], p[1], p[2], t, std::f64::consts::PI];
        let mut vars = [0.0; 5];
        for (v, &s) in vars.iter_mut().zip(&self.slots) {
            *v = all[s];
        }
        self.flat
            .eval(&vars[..self.slots.len()])
            .unwrap_or(f64::NAN)
    }

    /// As a function of space (at a fixed time).
    pub fn at_time(&self, t: f64) -> Arc<dyn Fn([f64; 3]) -> f64 + Send + Sync> {
        if let Some(c) = self.constant {
            return Arc::new(move |_| c);
        }
        let e = self.clone();
        Arc::new(move |p| e.eval(p, t))
    }

    /// As a function of space and time.
    pub fn space_time(&self) -> Arc<dyn Fn([f64; 3], f64) -> f64 + Send + Sync> {
        if let Some(c) = self.constant {
            return Arc::new(move |_, _| c);
        }
        let e = self.clone();
        Arc::new(move |p, t| e.eval(p, t))
    }
}

/// A number or a string in a case file.
impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Number(v) => format!("{v:?}"),
            Raw::Text(t) => t,
        };
        Expr::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Expr {
    /// The constant `value`.
    pub fn constant(value: f64) -> Expr {
        Expr::parse(&format!("{value:?}")).expect("a number parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_function_parses_and_others_are_named() {
        for f in FUNCTIONS {
            assert!(Expr::parse(&format!("{f}(x + 2)")).is_ok(), "{f}");
        }
        let err = Expr::parse("2*sine(x)").unwrap_err();
        assert!(
            err.contains("unknown function 'sine'; functions are sin, cos"),
            "{err}"
        );
        // Exponents and names next to parentheses are no calls.
        assert!(Expr::parse("1e3*(x + 1)").is_ok());
        assert!(Expr::parse("x*(1 - x)").is_ok());
    }
}
