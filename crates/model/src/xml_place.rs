//! Where URDF text stops being well-formed XML, read before the URDF parser sees it. That
//! parser reports a syntax error without a place ("No elements found") and recurses once
//! per nested element (thousands overflow a thread's stack); this pass reads the text
//! with quick-xml, flat, and names the line and what is wrong there: a malformed tag, a
//! closing tag that does not match, the file ending inside an element, or elements
//! nested deeper than any robot description needs.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deepest element nesting accepted: a URDF needs six (`robot/link/visual/geometry/
/// mesh`, with room for extensions such as Gazebo's).
pub(crate) const MAX_DEPTH: usize = 32;

/// The first XML syntax problem in `text` with its 1-based line, or `None` when the text
/// is well-formed XML nested at most [`MAX_DEPTH`] deep.
pub(crate) fn syntax_problem(text: &str) -> Option<(usize, String)> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // Open elements: name and line of their start tag.
    let mut open: Vec<(String, usize)> = Vec::new();
    loop {
        let before = reader.buffer_position() as usize;
        match reader.read_event() {
            Ok(Event::Start(start)) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                let line = line_of(text, before);
                if open.len() == MAX_DEPTH {
                    return Some((
                        line,
                        format!("<{name}> is nested deeper than {MAX_DEPTH} elements"),
                    ));
                }
                open.push((name, line));
            }
            Ok(Event::End(_)) => {
                open.pop();
            }
            Ok(Event::Eof) => {
                return open.last().map(|(name, line)| {
                    (
                        line_of(text, text.len()),
                        format!(
                            "the file ends inside <{name}> (opened on line {line}): is it truncated?"
                        ),
                    )
                });
            }
            Ok(_) => {}
            Err(e) => {
                let at = reader.error_position() as usize;
                return Some((line_of(text, at), format!("malformed XML: {e}")));
            }
        }
    }
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_file_is_located_at_its_end_with_the_open_element() {
        let text = "<robot name=\"r\">\n  <link name=\"a\">\n    <inertial>\n";
        let (line, why) = syntax_problem(text).expect("problem");
        assert_eq!(line, 4);
        assert!(why.contains("<inertial> (opened on line 3)"), "{why}");
    }

    #[test]
    fn a_mismatched_closing_tag_is_located() {
        let text = "<robot name=\"r\">\n  <link name=\"a\">\n  </joint>\n</robot>\n";
        let (line, why) = syntax_problem(text).expect("problem");
        assert_eq!(line, 3, "{why}");
        assert!(why.contains("malformed XML"), "{why}");
    }

    #[test]
    fn nesting_past_the_limit_is_refused_where_it_starts() {
        let deep = format!("<robot>\n{}", "<a>".repeat(100_000));
        let (line, why) = syntax_problem(&deep).expect("problem");
        assert_eq!(line, 2);
        assert!(why.contains("nested deeper than 32"), "{why}");
    }

    #[test]
    fn well_formed_xml_has_no_problem() {
        assert_eq!(
            syntax_problem("<robot name=\"r\"><link name=\"a\"/></robot>"),
            None
        );
    }
}
