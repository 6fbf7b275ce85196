//! SRDF files, for what the simulator needs of them: the `disable_collisions` link pairs
//! (read with quick-xml), so self-collision leaves out the pairs a robot's SRDF says
//! never touch or always do. Everything else in the file is ignored.

use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

/// The largest SRDF read (bytes): 16 MiB.
const MAX_SRDF_BYTES: u64 = 16 << 20;

/// The `disable_collisions` pairs of the SRDF at `path`, as `[link1, link2]`.
pub fn disabled_pairs(path: &Path) -> Result<Vec<[String; 2]>, String> {
    let at = |why: String| format!("{}: {why}", path.display());
    let size = (std::fs::metadata(path).map_err(|e| at(format!("cannot read: {e}"))))?.len();
    if size > MAX_SRDF_BYTES {
        return Err(at(format!("{size} bytes, more than an SRDF may have")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| at(format!("cannot read: {e}")))?;
    parse(&text).map_err(at)
}

/// The `disable_collisions` pairs of SRDF text.
pub fn parse(text: &str) -> Result<Vec<[String; 2]>, String> {
    let mut reader = Reader::from_str(text);
    let mut pairs = Vec::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e)
                if e.local_name().as_ref() == b"disable_collisions" =>
            {
                let link = |name: &str| -> Result<String, String> {
                    let attribute = e
                        .try_get_attribute(name)
                        .map_err(|err| format!("a disable_collisions element: {err}"))?
                        .ok_or_else(|| format!("a disable_collisions element has no {name}"))?;
                    Ok(attribute
                        .unescape_value()
                        .map_err(|err| format!("a disable_collisions {name}: {err}"))?
                        .into_owned())
                };
                pairs.push([link("link1")?, link("link2")?]);
            }
            Event::Eof => return Ok(pairs),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disabled_pairs_are_read_and_the_rest_ignored() {
        let text = r#"<?xml version="1.0"?>
<robot name="arm">
  <group name="arm"><chain base_link="base" tip_link="tool"/></group>
  <disable_collisions link1="a" link2="b" reason="Adjacent"/>
  <group_state name="home" group="arm"><joint name="j1" value="0"/></group_state>
  <disable_collisions link1="c" link2="a" reason="Never"></disable_collisions>
</robot>"#;
        let pairs = parse(text).expect("parses");
        assert_eq!(pairs, [["a", "b"], ["c", "a"]].map(|p| p.map(String::from)));
    }

    #[test]
    fn a_broken_srdf_says_why() {
        let error = parse("<robot><disable_collisions link1=\"a\"/></robot>").expect_err("bad");
        assert!(error.contains("no link2"), "{error}");
        let error =
            parse("<robot><disable_collisions link1=\"a\" link2=\"b\"></robot>").expect_err("bad");
        assert!(error.contains("not XML"), "{error}");
    }
}
