//! Checked numeric options: every number a command takes is parsed by one of these, so
//! NaN, infinities, negative and absurd values are refused while the arguments are read,
//! with the option, the value given and the range allowed.

use std::ops::RangeInclusive;

use clap::builder::{RangedU64ValueParser, TypedValueParser};

/// A finite number in `range`, e.g. `--seconds`.
pub fn float(range: RangeInclusive<f64>, unit: &'static str) -> impl TypedValueParser<Value = f64> {
    move |text: &str| -> Result<f64, String> {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a number"))?;
        if value.is_finite() && range.contains(&value) {
            Ok(value)
        } else {
            Err(format!(
                "must be a finite number from {} to {}{unit}",
                range.start(),
                range.end()
            ))
        }
    }
}

/// A whole number in `range`, e.g. `--units`.
pub fn count<T>(range: RangeInclusive<u64>) -> RangedU64ValueParser<T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
    <T as TryFrom<u64>>::Error: std::error::Error + Send + Sync + 'static,
{
    RangedU64ValueParser::new().range(range)
}

/// Whether `arg` takes a number.
pub fn is_numeric(arg: &clap::Arg) -> bool {
    use std::any::TypeId;
    let id = arg.get_value_parser().type_id();
    [
        TypeId::of::<f64>(),
        TypeId::of::<f32>(),
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
    ]
    .iter()
    .any(|t| id == *t)
}

/// `command` and its subcommands with every numeric option taking what follows it as
/// its value, so `--dt -1` and `--seconds -inf` are refused for their values rather than
/// taken for unknown options.
pub fn negative_values(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            if is_numeric(&arg) && !arg.is_positional() {
                arg.allow_hyphen_values(true)
            } else {
                arg
            }
        })
        .mut_subcommands(negative_values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(range: RangeInclusive<f64>, text: &str) -> Result<f64, String> {
        let cmd = clap::Command::new("t").arg(
            clap::Arg::new("x")
                .long("x")
                .allow_hyphen_values(true)
                .value_parser(float(range, " s")),
        );
        cmd.try_get_matches_from(["t", "--x", text])
            .map(|m| *m.get_one::<f64>("x").expect("x"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn floats_outside_their_range_or_not_finite_are_refused_with_the_option() {
        assert_eq!(parse(0.1..=10.0, "2.5"), Ok(2.5));
        for bad in ["nan", "inf", "-inf", "1e300", "-1", "0", "x"] {
            let e = parse(0.1..=10.0, bad).expect_err(bad);
            assert!(e.contains("--x") && e.contains(bad), "{e}");
        }
        let e = parse(0.1..=10.0, "inf").expect_err("inf");
        assert!(
            e.contains("must be a finite number from 0.1 to 10 s"),
            "{e}"
        );
    }

    /// Every option of every subcommand whose value is a number, as the path of
    /// subcommand names and the option's long name.
    fn numeric_options() -> Vec<(Vec<String>, String)> {
        fn walk(command: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
            for arg in command.get_arguments().filter(|a| is_numeric(a)) {
                if let Some(long) = arg.get_long() {
                    out.push((path.clone(), long.to_owned()));
                }
            }
            for sub in command.get_subcommands() {
                let mut path = path.clone();
                path.push(sub.get_name().to_owned());
                walk(sub, path, out);
            }
        }
        let mut out = Vec::new();
        walk(&crate::command(), vec!["embody".into()], &mut out);
        out
    }

    /// Options for which zero is a meaningful value.
    const ZERO_IS_VALID: &[&str] = &[
        "seed",
        "cpu",
        "as-built",
        "counter",
        "start-jitter",
        "episode",
        "ros-domain",
    ];

    #[test]
    fn every_numeric_option_refuses_nan_infinities_negatives_and_overflow() {
        let options = numeric_options();
        assert!(options.len() >= 30, "the walk found {options:?}");
        for (path, long) in &options {
            let option = format!("--{long}");
            let zero = ["0"]
                .iter()
                .filter(|_| !ZERO_IS_VALID.contains(&long.as_str()));
            for bad in ["nan", "inf", "-inf", "1e300", "-1", "18446744073709551616"]
                .iter()
                .chain(zero)
            {
                let mut argv = path.clone();
                argv.extend([option.clone(), (*bad).to_owned()]);
                let error = crate::command()
                    .try_get_matches_from(&argv)
                    .expect_err(&format!("{argv:?} accepted"));
                assert!(
                    matches!(
                        error.kind(),
                        clap::error::ErrorKind::ValueValidation
                            | clap::error::ErrorKind::InvalidValue
                    ),
                    "{argv:?}: {error}"
                );
                let text = error.to_string();
                assert!(
                    text.contains(&option) && text.contains(bad),
                    "{argv:?}: {text}"
                );
            }
        }
    }
}
