//! A dataset written by [`DatasetWriter`] reads back whole through [`check`]: every
//! table's rows, the episodes' spans in the videos, the statistics; and damage to any
//! file is named, never a panic.

use embody_dataset::check::check;
use embody_dataset::{CameraSpec, DatasetSpec, DatasetWriter, EpisodeEnd};

fn spec() -> DatasetSpec {
    DatasetSpec {
        robot_type: "arm7".into(),
        fps: 30,
        vectors: vec![
            (
                "observation.state".into(),
                vec!["a".into(), "b".into(), "c".into()],
            ),
            ("action".into(), vec!["a".into(), "b".into(), "c".into()]),
        ],
        cameras: vec![CameraSpec {
            name: "wrist".into(),
            width: 64,
            height: 48,
        }],
    }
}

/// A frame that moves: a bright square sliding across a gradient.
fn image(k: usize) -> Vec<u8> {
    let mut rgb = vec![0u8; 64 * 48 * 3];
    for (p, px) in rgb.chunks_exact_mut(3).enumerate() {
        let (x, y) = (p % 64, p / 64);
        let inside = (x + 64 - k % 64) % 64 < 12 && (10..30).contains(&y);
        px.copy_from_slice(&if inside {
            [240, 200, 40]
        } else {
            [(x * 3) as u8, (y * 4) as u8, 90]
        });
    }
    rgb
}

/// Writes episodes of these lengths into `dir`.
fn write(dir: &std::path::Path, lengths: &[usize]) -> embody_dataset::DatasetSummary {
    let mut writer = DatasetWriter::create(dir, spec()).expect("a new dataset");
    for (e, &n) in lengths.iter().enumerate() {
        writer
            .begin_episode(if e % 2 == 0 {
                "pick the box"
            } else {
                "place the box"
            })
            .expect("begin");
        for k in 0..n {
            let state = [k as f32, e as f32, 0.5];
            let action = [k as f32 + 1.0, e as f32, -0.5];
            writer
                .frame(&[&state, &action], &[&image(k)])
                .expect("a frame");
        }
        writer
            .end_episode(EpisodeEnd {
                success: e != 1,
                late_frames: 0,
                seed: e as u64,
            })
            .expect("end");
    }
    writer.finish().expect("finished")
}

#[test]
fn a_written_dataset_checks_clean_and_reads_back() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let summary = write(dir.path(), &[40, 25, 31]);
    assert_eq!(
        (summary.episodes, summary.frames, summary.successes),
        (3, 96, 2)
    );
    let report = check(dir.path()).expect("readable");
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(report.frames, 96);
    assert_eq!(report.tasks, ["pick the box", "place the box"]);
    let lengths: Vec<u64> = report.episodes.iter().map(|e| e.length).collect();
    assert_eq!(lengths, [40, 25, 31]);
    let starts: Vec<f64> = report
        .episodes
        .iter()
        .map(|e| e.videos["observation.images.wrist"].2)
        .collect();
    assert_eq!(starts, [0.0, 40.0 / 30.0, 65.0 / 30.0]);
    let video = &report.videos["observation.images.wrist"];
    assert_eq!((video.files, video.frames), (1, 96));
    assert_eq!(report.episodes[1].success, Some(false));
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("meta/stats.json")).expect("stats"))
            .expect("json");
    assert_eq!(stats["observation.state"]["max"][0], 39.0);
    assert_eq!(stats["action"]["min"][2], -0.5);
    assert_eq!(stats["index"]["max"][0], 95.0);
    assert_eq!(
        stats["observation.images.wrist"]["mean"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn an_existing_dataset_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    write(dir.path(), &[3]);
    let again = DatasetWriter::create(dir.path(), spec());
    assert!(again.is_err_and(|e| e.to_string().contains("holds a dataset already")));
}

#[test]
fn frames_of_the_wrong_size_are_refused() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let mut writer = DatasetWriter::create(dir.path(), spec()).expect("a new dataset");
    assert!(
        writer.frame(&[&[0.0; 3], &[0.0; 3]], &[&image(0)]).is_err(),
        "no episode yet"
    );
    writer.begin_episode("t").expect("begin");
    let short = writer.frame(&[&[0.0; 2], &[0.0; 3]], &[&image(0)]);
    assert!(short.is_err_and(|e| e.to_string().contains("observation.state: 2 values")));
    let small = writer.frame(&[&[0.0; 3], &[0.0; 3]], &[&[0u8; 10]]);
    assert!(small.is_err_and(|e| e.to_string().contains("an image of 10 bytes")));
}

#[test]
fn damage_to_each_file_is_named() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    write(dir.path(), &[20, 20]);
    let root = dir.path().to_owned();
    let video = root.join("videos/observation.images.wrist/chunk-000/file-000.mp4");
    type Damage<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Damage<'_>)> = vec![
        (
            "file-000.mp4",
            Box::new(|| std::fs::write(&video, b"not a video").expect("write")),
        ),
        (
            "tasks.parquet",
            Box::new(|| std::fs::write(root.join("meta/tasks.parquet"), b"PAR1").expect("write")),
        ),
        (
            "file-000.parquet",
            Box::new(|| {
                let path = root.join("data/chunk-000/file-000.parquet");
                let bytes = std::fs::read(&path).expect("read");
                std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
            }),
        ),
    ];
    for (names, damage) in cases {
        let saved: Vec<(std::path::PathBuf, Vec<u8>)> = [
            "meta/tasks.parquet",
            "data/chunk-000/file-000.parquet",
            "videos/observation.images.wrist/chunk-000/file-000.mp4",
        ]
        .iter()
        .map(|p| (root.join(p), std::fs::read(root.join(p)).expect("read")))
        .collect();
        damage();
        let report = check(&root).expect("info.json is intact");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.path.to_string_lossy().contains(names)),
            "{names}: {:#?}",
            report.problems
        );
        for (path, bytes) in saved {
            std::fs::write(path, bytes).expect("restore");
        }
    }
    std::fs::write(root.join("meta/info.json"), b"{\"fps\": 30}").expect("write");
    let broken = check(&root);
    assert!(broken.is_err_and(|e| e.to_string().contains("info.json")));
}
