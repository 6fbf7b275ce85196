//! Scenario loading is total: arbitrary text, and good scenarios with bytes cut out or
//! replaced, give a scenario or an error — never a panic.

use std::path::Path;

use embody_sim::Scenario;
use proptest::prelude::*;

const GOOD: &str = include_str!("../../examples/scenarios/arm_faults.toml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = Scenario::parse(&text, Path::new("fuzz.toml"));
    }

    #[test]
    fn damaged_scenarios_never_panic(cut in 0..GOOD.len(), len in 0usize..40, insert in "[ -~]{0,12}") {
        let mut text = GOOD.as_bytes().to_vec();
        let end = (cut + len).min(text.len());
        text.splice(cut..end, insert.bytes());
        let text = String::from_utf8_lossy(&text);
        let _ = Scenario::parse(&text, Path::new("fuzz.toml"));
    }
}
