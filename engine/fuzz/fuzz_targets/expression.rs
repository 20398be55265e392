//! Expressions as case files write them (`source: sin(pi*x)*t`): any text
//! parses or is refused with a message, and a parsed expression evaluates
//! (to any number, NaN included) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pde_engine::expr::Expr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Expr::parse(text) {
        Ok(e) => {
            let _ = e.is_time_dependent();
            for (p, t) in [([0.0, 0.0, 0.0], 0.0), ([0.3, -1.5, 2.0], 1e3), ([1e300, 1e-300, -0.0], -1.0)] {
                let _ = e.eval(p, t);
            }
        }
        Err(message) => assert!(!message.is_empty()),
    }
});
