//! Where a recording goes: `spawn` a viewer, `connect[=URL]` to a running one, `save=PATH`
//! to an `.rrd` file, or `serve` for remote viewers — the `--rerun` argument of every
//! command that runs a robot.

use std::path::PathBuf;
use std::str::FromStr;

/// A recording's destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sink {
    /// Start a viewer and stream to it.
    Spawn,
    /// Stream to a running viewer (its gRPC URL, or the default local one).
    Connect(Option<String>),
    /// Write an `.rrd` file.
    Save(PathBuf),
    /// Serve the recording over gRPC for viewers to connect to.
    Serve,
}

/// An unparsable `--rerun` value.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("--rerun '{0}': expected spawn, connect, connect=URL, save=PATH or serve")]
pub struct SinkError(pub String);

impl FromStr for Sink {
    type Err = SinkError;

    fn from_str(s: &str) -> Result<Sink, SinkError> {
        match s.split_once('=') {
            None if s == "spawn" => Ok(Sink::Spawn),
            None if s == "connect" => Ok(Sink::Connect(None)),
            None if s == "serve" => Ok(Sink::Serve),
            Some(("connect", url)) if !url.is_empty() => Ok(Sink::Connect(Some(url.to_owned()))),
            Some(("save", path)) if !path.is_empty() => Ok(Sink::Save(PathBuf::from(path))),
            _ => Err(SinkError(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_nonsense_is_refused() {
        assert_eq!("spawn".parse(), Ok(Sink::Spawn));
        assert_eq!("connect".parse(), Ok(Sink::Connect(None)));
        assert_eq!(
            "connect=rerun+http://127.0.0.1:9876/proxy".parse(),
            Ok(Sink::Connect(Some(
                "rerun+http://127.0.0.1:9876/proxy".into()
            )))
        );
        assert_eq!("save=out.rrd".parse(), Ok(Sink::Save("out.rrd".into())));
        assert_eq!("serve".parse(), Ok(Sink::Serve));
        assert!("save=".parse::<Sink>().is_err());
        assert!("show".parse::<Sink>().is_err());
    }
}
