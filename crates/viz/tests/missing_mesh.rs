//! A mesh the host cannot read is warned about, naming the link's entity and the file,
//! and the recording goes on without it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use embody_model::{ModelOptions, from_urdf_str};
use embody_viz::{Recorder, Sink, VizConfig};

/// Collects what the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_missing_mesh_is_warned_about() {
    let urdf = r#"<robot name="meshy">
      <link name="base"/>
      <link name="arm">
        <inertial><mass value="1"/><inertia ixx="0.1" ixy="0" ixz="0" iyy="0.1" iyz="0" izz="0.1"/></inertial>
        <visual><geometry><mesh filename="/nonexistent/arm.stl"/></geometry></visual>
      </link>
      <joint name="j1" type="revolute"><parent link="base"/><child link="arm"/>
        <axis xyz="0 0 1"/><limit lower="-1" upper="1" effort="10" velocity="1"/></joint>
    </robot>"#;
    let model = from_urdf_str(urdf, "meshy.urdf", &ModelOptions::default()).expect("model");
    let dir = std::env::temp_dir().join(format!("embody-viz-mesh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let config = VizConfig::new(Sink::Save(dir.join("meshy.rrd")), "meshy");
        let recorder = Recorder::new(config, &model).expect("recorder");
        recorder.finish().expect("finish");
    });
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    assert!(
        text.contains("WARN") && text.contains("mesh /nonexistent/arm.stl cannot be read"),
        "{text}"
    );
}
