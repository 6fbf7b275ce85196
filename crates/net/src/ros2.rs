//! ROS 2 reach without a bridge: a unit's joint positions as `sensor_msgs/msg/JointState`
//! and its health as `diagnostic_msgs/msg/DiagnosticArray`, in CDR, on the key
//! expressions rmw_zenoh (ROS 2 Jazzy) uses, with its 33-byte attachment and the
//! liveliness tokens that put the unit's node and publishers in the ROS graph. The
//! formats are rmw_zenoh's (its design document); [`RosLink`] only builds keys and bytes
//! — the unit link declares and publishes them.
//!
//! Names: a unit `ARM-0001` is the node `embody` in namespace `/arm_0001`; its joints are
//! on `/arm_0001/joint_states`, its diagnostics on the graph's `/diagnostics` (the unit
//! is the status's `hardware_id`).

use crate::wire::UnitState;

/// `sensor_msgs/msg/JointState` in ROS 2 Jazzy: its DDS name and type hash.
const JOINT_STATE: (&str, &str) = (
    "sensor_msgs::msg::dds_::JointState_",
    "RIHS01_a13ee3a330e346c9d87b5aa18d24e11690752bd33a0350f11c5882bc9179260e",
);
/// `diagnostic_msgs/msg/DiagnosticArray` in ROS 2 Jazzy.
const DIAGNOSTIC_ARRAY: (&str, &str) = (
    "diagnostic_msgs::msg::dds_::DiagnosticArray_",
    "RIHS01_5a8a36efb05fb25070fa0fb3810290c0e6cd4862b54a8fb975a1ee8dc55a333e",
);
/// rmw's default QoS (reliable, volatile, keep last 10), as rmw_zenoh writes it.
const DEFAULT_QOS: &str = "::,10:,:,:,,";
const NODE: &str = "embody";

/// Where a unit appears in ROS 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosConfig {
    /// The ROS domain (`ROS_DOMAIN_ID`, 0 by default).
    pub domain: u32,
    /// The names of the joints whose positions the unit's state carries, in its order.
    pub joint_names: Vec<String>,
}

/// A unit's ROS 2 keys and messages.
#[derive(Clone, Debug)]
pub struct RosLink {
    /// The key of `/<ns>/joint_states`.
    pub joint_states: String,
    /// The key of `/diagnostics`.
    pub diagnostics: String,
    /// Liveliness tokens: the node, then its two publishers.
    pub tokens: Vec<String>,
    unit: String,
    joint_names: Vec<String>,
    gids: [[u8; 16]; 2],
}

/// A unit's name as a ROS name: lower case, `-` and `.` as `_`, never starting with a
/// digit (`ARM-0001` → `arm_0001`).
pub fn ros_name(unit: &str) -> String {
    let name: String = (unit.chars())
        .map(|c| match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' | '_' => c,
            _ => '_',
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("u_{name}")
    } else {
        name
    }
}

/// A name in a liveliness token: `/` as `%`, and `%` alone for an empty one.
fn mangle(name: &str) -> String {
    if name.is_empty() {
        "%".into()
    } else {
        name.replace('/', "%")
    }
}

impl RosLink {
    /// The keys for `unit` in a session whose zenoh id is `zid` (its text form).
    pub fn new(config: &RosConfig, unit: &str, zid: &str) -> RosLink {
        let ns = ros_name(unit);
        let domain = config.domain;
        let topics = [
            (format!("{ns}/joint_states"), JOINT_STATE),
            ("diagnostics".to_owned(), DIAGNOSTIC_ARRAY),
        ];
        let node = format!("@ros2_lv/{domain}/{zid}/0/0/NN/%/%{ns}/{NODE}");
        let mut tokens = vec![node];
        let mut keys = Vec::new();
        for (k, (topic, (type_name, hash))) in topics.iter().enumerate() {
            keys.push(format!("{domain}/{topic}/{type_name}/{hash}"));
            tokens.push(format!(
                "@ros2_lv/{domain}/{zid}/0/{}/MP/%/%{ns}/{NODE}/{}/{type_name}/{hash}/{DEFAULT_QOS}",
                k + 1,
                mangle(&format!("/{topic}")),
            ));
        }
        // An entity's id in the graph: 16 bytes from its token (FNV-1a, two lanes).
        let gid = |token: &str| {
            let mut out = [0u8; 16];
            for (lane, basis) in [0xcbf2_9ce4_8422_2325_u64, 0x6c62_272e_07bb_0142]
                .into_iter()
                .enumerate()
            {
                let h = (token.bytes()).fold(basis, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
                });
                out[lane * 8..lane * 8 + 8].copy_from_slice(&h.to_le_bytes());
            }
            out
        };
        RosLink {
            gids: [gid(&tokens[1]), gid(&tokens[2])],
            joint_states: keys[0].clone(),
            diagnostics: keys[1].clone(),
            tokens,
            unit: unit.to_owned(),
            joint_names: config.joint_names.clone(),
        }
    }

    /// rmw_zenoh's attachment: sequence number and source time (i64 little-endian),
    /// then the publisher's 16-byte id after its length (16).
    pub fn attachment(&self, diagnostics: bool, seq: u64, stamp_ns: u64) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[..8].copy_from_slice(&(seq as i64).to_le_bytes());
        out[8..16].copy_from_slice(&(stamp_ns as i64).to_le_bytes());
        out[16] = 16;
        out[17..].copy_from_slice(&self.gids[usize::from(diagnostics)]);
        out
    }

    /// `JointState` of `state`: its stamp, and its joints' positions by name (velocity
    /// and effort left empty, as the message allows).
    pub fn joint_state(&self, state: &UnitState) -> Vec<u8> {
        let mut cdr = Cdr::new();
        cdr.header(state.stamp_ns, "");
        let n = state.joints.q.len();
        cdr.u32(n as u32);
        for k in 0..n {
            let name = self.joint_names.get(k).cloned();
            cdr.string(&name.unwrap_or_else(|| format!("joint_{k}")));
        }
        cdr.u32(n as u32);
        for q in &state.joints.q {
            cdr.f64(f64::from(*q));
        }
        cdr.u32(0);
        cdr.u32(0);
        cdr.bytes
    }

    /// `DiagnosticArray` with one status for the unit: level OK, WARN (recovering) or
    /// ERROR (fault), its lifecycle and fault in words, and its counters as values.
    pub fn diagnostics(&self, state: &UnitState) -> Vec<u8> {
        use embody_control::Lifecycle;
        let lifecycle = format!("{:?}", state.lifecycle).to_lowercase();
        let (level, message) = match (state.lifecycle, &state.fault) {
            (Lifecycle::Fault, fault) => {
                (2u8, format!("fault: {}", fault.as_deref().unwrap_or("?")))
            }
            (Lifecycle::Recovering, _) => (1, "recovering".to_owned()),
            _ => (0, lifecycle.clone()),
        };
        let [ok, bad, lost, bus] = state.link;
        let values = [
            ("lifecycle", lifecycle),
            ("fault", state.fault.clone().unwrap_or_default()),
            ("activity", state.activity.to_string()),
            (
                "link frames ok/bad/lost/bus",
                format!("{ok}/{bad}/{lost}/{bus}"),
            ),
            ("loop ticks", state.timing.ticks.to_string()),
            ("loop overruns", state.timing.overruns.to_string()),
            ("events", state.events.to_string()),
        ];
        let mut cdr = Cdr::new();
        cdr.header(state.stamp_ns, "");
        cdr.u32(1);
        cdr.bytes.push(level);
        cdr.string(&format!("embody: {}", self.unit));
        cdr.string(&message);
        cdr.string(&self.unit);
        cdr.u32(values.len() as u32);
        for (key, value) in &values {
            cdr.string(key);
            cdr.string(value);
        }
        cdr.bytes
    }
}

/// Classic CDR, little-endian, after its encapsulation header (`00 01 00 00`): each
/// primitive aligned to its size from the start of the body.
struct Cdr {
    bytes: Vec<u8>,
}

impl Cdr {
    const HEADER: usize = 4;

    fn new() -> Cdr {
        Cdr {
            bytes: vec![0, 1, 0, 0],
        }
    }

    fn align(&mut self, to: usize) {
        while !(self.bytes.len() - Cdr::HEADER).is_multiple_of(to) {
            self.bytes.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.align(4);
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    fn f64(&mut self, v: f64) {
        self.align(8);
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }

    /// Its length with the terminating NUL, its bytes, the NUL.
    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32 + 1);
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
    }

    /// `std_msgs/Header`: stamp (seconds i32, nanoseconds u32), frame id.
    fn header(&mut self, stamp_ns: u64, frame_id: &str) {
        self.u32((stamp_ns / 1_000_000_000) as u32);
        self.u32((stamp_ns % 1_000_000_000) as u32);
        self.string(frame_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::JointSummary;

    #[test]
    fn names_keys_and_tokens_follow_rmw_zenoh() {
        assert_eq!(ros_name("ARM-0001"), "arm_0001");
        assert_eq!(ros_name("7.west"), "u_7_west");
        let config = RosConfig {
            domain: 3,
            joint_names: vec!["a".into()],
        };
        let link = RosLink::new(&config, "ARM-0001", "1f2e");
        assert_eq!(
            link.joint_states,
            format!(
                "3/arm_0001/joint_states/{}/{}",
                JOINT_STATE.0, JOINT_STATE.1
            )
        );
        assert_eq!(link.tokens[0], "@ros2_lv/3/1f2e/0/0/NN/%/%arm_0001/embody");
        assert!(
            link.tokens[1].starts_with(
                "@ros2_lv/3/1f2e/0/1/MP/%/%arm_0001/embody/%arm_0001%joint_states/sensor_msgs"
            ),
            "{}",
            link.tokens[1]
        );
        let attachment = link.attachment(false, 5, 7);
        assert_eq!((attachment[0], attachment[8], attachment[16]), (5, 7, 16));
        assert_ne!(link.attachment(true, 5, 7)[17..], attachment[17..]);
    }

    #[test]
    fn a_joint_state_is_cdr_with_aligned_doubles() {
        let link = RosLink::new(
            &RosConfig {
                domain: 0,
                joint_names: vec!["a".into(), "bc".into()],
            },
            "A1",
            "z",
        );
        let state = UnitState {
            stamp_ns: 5_000_000_007,
            joints: JointSummary {
                q: vec![1.0, 2.0],
                ..JointSummary::default()
            },
            ..UnitState::default()
        };
        let bytes = link.joint_state(&state);
        // The layout worked out by hand from the CDR rules: header, names (each padded
        // to 4), the positions' count, the doubles (already 8-aligned), two empty counts.
        let mut expected = vec![0, 1, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        expected.extend([
            2, 0, 0, 0, 2, 0, 0, 0, b'a', 0, 0, 0, 3, 0, 0, 0, b'b', b'c', 0, 0,
        ]);
        expected.extend([2, 0, 0, 0]);
        expected.extend(1.0f64.to_le_bytes());
        expected.extend(2.0f64.to_le_bytes());
        expected.extend([0; 8]);
        assert_eq!(bytes, expected);
    }
}
