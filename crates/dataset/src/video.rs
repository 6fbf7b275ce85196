//! Camera video: each camera's frames as H.264 (openh264, Constrained Baseline — no
//! B-frames, so a frame's time is its order) in MP4 files (shiguredo_mp4), LeRobot's way —
//! several episodes one after another in a file, each starting on a key frame, frame `k`
//! of the file at `k / fps` s exactly (the track's timescale is the rate). An episode is
//! encoded as it is recorded and appended to the file when it ends, so a file can be
//! closed before an episode would carry it past [`crate::MAX_VIDEO_FILE_S`]. Files are
//! written under a temporary name until closed. [`mp4_track`] reads a file's video
//! track back for checking.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType, VuiConfig,
};
use openh264::formats::{RgbSliceU8, YUVBuffer};
use openh264::{OpenH264API, Timestamp};
use shiguredo_mp4::TrackKind;
use shiguredo_mp4::bitstream::h264::{
    H264NalUnitType, H264SampleEntryConfig, LengthSize, build_avc1_box, parse_annexb_nal_units,
};
use shiguredo_mp4::boxes::SampleEntry;
use shiguredo_mp4::mux::{Mp4FileMuxer, Mp4FileMuxerOptions, Sample};

use crate::error::DatasetError;
use crate::info::{self, Feature};
use crate::tables::VideoSpan;
use crate::writer::CameraSpec;

/// Bits per second a 640×480 camera's video aims at (scaled by image area): about
/// 15 MB a minute, decoded ≥ 35 dB PSNR on rendered scenes.
const BITS_PER_PIXEL_SECOND: f64 = 2_000_000.0 / (640.0 * 480.0 * 30.0);
/// Frames between key frames within an episode (each episode starts on one).
const KEY_FRAME_EVERY: u32 = 30;
/// Files a chunk directory holds.
const FILES_PER_CHUNK: u64 = 1000;

/// A camera's `info.json` feature.
pub fn feature(camera: &CameraSpec, fps: u32) -> Feature {
    Feature {
        dtype: "video".into(),
        shape: vec![camera.height as usize, camera.width as usize, 3],
        names: Some(vec!["height".into(), "width".into(), "channels".into()]),
        info: Some(serde_json::json!({
            "video.height": camera.height,
            "video.width": camera.width,
            "video.codec": "h264",
            "video.pix_fmt": "yuv420p",
            "video.is_depth_map": false,
            "video.fps": fps,
            "video.channels": 3,
            "video.g": KEY_FRAME_EVERY,
            "has_audio": false,
            "is_depth_map": false,
        })),
    }
}

/// One encoded frame: length-prefixed NAL units.
struct Encoded {
    data: Vec<u8>,
    key: bool,
}

/// The MP4 file being appended to.
struct OpenFile {
    path: PathBuf,
    partial: PathBuf,
    out: BufWriter<File>,
    muxer: Mp4FileMuxer,
    /// Where the next sample's bytes go.
    offset: u64,
    frames: u64,
    /// The sample entry went with the first sample.
    described: bool,
}

/// One camera's video, episode by episode; see the module docs.
pub(crate) struct CameraVideo {
    dir: PathBuf,
    key: String,
    width: usize,
    height: usize,
    fps: u32,
    encoder: Encoder,
    yuv: YUVBuffer,
    /// This episode's frames, encoded.
    episode: Vec<Encoded>,
    /// The stream's description (from the first key frame's parameter sets).
    entry: Option<SampleEntry>,
    file: Option<OpenFile>,
    /// The next file's `(chunk, file)`.
    next: (u64, u64),
    encoded: u64,
}

impl CameraVideo {
    /// A camera `key` of `width` × `height` at `fps`, its files under `dir`.
    pub(crate) fn new(
        dir: &Path,
        key: &str,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<CameraVideo, DatasetError> {
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
            return Err(DatasetError::Usage(format!(
                "{key}: {width}×{height}: H.264 in 4:2:0 needs an even width and height"
            )));
        }
        let bps = BITS_PER_PIXEL_SECOND * f64::from(width * height) * f64::from(fps);
        let config = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // Every frame kept: video frame k is parquet row k.
            .skip_frames(false)
            .num_threads(1)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bps as u32))
            .intra_frame_period(IntraFramePeriod::from_num_frames(KEY_FRAME_EVERY))
            .scene_change_detect(false)
            // openh264's RGB → YUV is BT.601, limited range: say so.
            .vui(VuiConfig::bt601());
        let encoder = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| DatasetError::Usage(format!("{key}: the H.264 encoder: {e}")))?;
        Ok(CameraVideo {
            dir: dir.to_owned(),
            key: key.to_owned(),
            width: width as usize,
            height: height as usize,
            fps,
            encoder,
            yuv: YUVBuffer::new(width as usize, height as usize),
            episode: Vec::new(),
            entry: None,
            file: None,
            next: (0, 0),
            encoded: 0,
        })
    }

    /// Starts an episode: its first frame is a key frame.
    pub(crate) fn begin_episode(&mut self) -> Result<(), DatasetError> {
        self.episode.clear();
        self.encoder.force_intra_frame();
        Ok(())
    }

    /// Drops the episode's frames.
    pub(crate) fn abandon_episode(&mut self) {
        self.episode.clear();
    }

    /// Encodes the episode's next frame, RGB rows packed.
    pub(crate) fn frame(&mut self, rgb: &[u8]) -> Result<(), DatasetError> {
        if rgb.len() != 3 * self.width * self.height {
            return Err(DatasetError::Usage(format!(
                "{}: an image of {} bytes, {}×{} RGB is {}",
                self.key,
                rgb.len(),
                self.width,
                self.height,
                3 * self.width * self.height
            )));
        }
        self.yuv
            .read_rgb8(RgbSliceU8::new(rgb, (self.width, self.height)));
        let at = Timestamp::from_millis(self.encoded * 1000 / u64::from(self.fps));
        let key = self.key.clone();
        let fail = |why: String| DatasetError::Usage(format!("{key}: H.264: {why}"));
        let stream = self
            .encoder
            .encode_at(&self.yuv, at)
            .map_err(|e| fail(e.to_string()))?;
        if stream.frame_type() == FrameType::Skip {
            return Err(fail("the encoder skipped a frame".into()));
        }
        let key_frame = stream.frame_type() == FrameType::IDR;
        let annexb = stream.to_vec();
        let units = parse_annexb_nal_units(&annexb).map_err(|e| fail(e.to_string()))?;
        let (mut sps, mut pps, mut data) = (Vec::new(), Vec::new(), Vec::new());
        for unit in &units {
            match unit.nal_unit_type {
                // The parameter sets go in the file's description, not its samples.
                H264NalUnitType::Sps => sps.push(unit.data.to_vec()),
                H264NalUnitType::Pps => pps.push(unit.data.to_vec()),
                _ => {
                    data.extend_from_slice(&(unit.data.len() as u32).to_be_bytes());
                    data.extend_from_slice(unit.data);
                }
            }
        }
        if self.entry.is_none() && !sps.is_empty() {
            let avc1 = build_avc1_box(
                &sps,
                &pps,
                &H264SampleEntryConfig {
                    length_size: LengthSize::FourBytes,
                },
            )
            .map_err(|e| fail(e.to_string()))?;
            self.entry = Some(SampleEntry::Avc1(avc1));
        }
        self.episode.push(Encoded {
            data,
            key: key_frame,
        });
        self.encoded += 1;
        Ok(())
    }

    /// Appends the episode's frames to the camera's file (a new one when they would
    /// carry it past the limit) and says where they are.
    pub(crate) fn end_episode(&mut self) -> Result<VideoSpan, DatasetError> {
        let frames = self.episode.len() as u64;
        let fps = f64::from(self.fps);
        if let Some(file) = &self.file
            && (file.frames + frames) as f64 / fps > crate::MAX_VIDEO_FILE_S
        {
            self.close()?;
        }
        let (chunk, index) = match &self.file {
            Some(_) => previous(self.next),
            None => self.open()?,
        };
        let Some(file) = self.file.as_mut() else {
            return Err(DatasetError::Usage(format!(
                "{}: no video file open",
                self.key
            )));
        };
        let timescale = NonZeroU32::new(self.fps)
            .ok_or_else(|| DatasetError::Usage("a video at 0 fps".into()))?;
        let from_s = file.frames as f64 / fps;
        for frame in self.episode.drain(..) {
            file.out
                .write_all(&frame.data)
                .map_err(|e| DatasetError::io(&file.partial, e))?;
            let sample = Sample {
                track_kind: TrackKind::Video,
                sample_entry: (!file.described).then(|| self.entry.clone()).flatten(),
                keyframe: frame.key,
                timescale,
                duration: 1,
                composition_time_offset: None,
                data_offset: file.offset,
                data_size: frame.data.len(),
            };
            file.muxer
                .append_sample(&sample)
                .map_err(|e| DatasetError::invalid(&file.path, format!("MP4: {e}")))?;
            file.described = true;
            file.offset += frame.data.len() as u64;
            file.frames += 1;
        }
        Ok(VideoSpan {
            chunk,
            file: index,
            from_s,
            to_s: file.frames as f64 / fps,
        })
    }

    /// Starts the next file; its `(chunk, file)`.
    fn open(&mut self) -> Result<(u64, u64), DatasetError> {
        let (chunk, index) = self.next;
        let path = self
            .dir
            .join(info::fill(info::VIDEO_PATH, &self.key, chunk, index));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| DatasetError::io(parent, e))?;
        }
        let partial = path.with_extension("mp4.partial");
        let file = File::create(&partial).map_err(|e| DatasetError::io(&partial, e))?;
        let mut out = BufWriter::new(file);
        let muxer = Mp4FileMuxer::with_options(Mp4FileMuxerOptions::default())
            .map_err(|e| DatasetError::invalid(&path, format!("MP4: {e}")))?;
        let head = muxer.initial_boxes_bytes();
        out.write_all(head)
            .map_err(|e| DatasetError::io(&partial, e))?;
        self.file = Some(OpenFile {
            offset: head.len() as u64,
            path,
            partial,
            out,
            muxer,
            frames: 0,
            described: false,
        });
        self.next = if index + 1 == FILES_PER_CHUNK {
            (chunk + 1, 0)
        } else {
            (chunk, index + 1)
        };
        Ok((chunk, index))
    }

    /// Finishes the open file (its index goes at the end) and puts it in place.
    fn close(&mut self) -> Result<(), DatasetError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let OpenFile {
            path,
            partial,
            out,
            mut muxer,
            ..
        } = file;
        let io = |e: std::io::Error| DatasetError::io(&partial, e);
        let mut out = out.into_inner().map_err(|e| io(e.into_error()))?;
        let finished = muxer
            .finalize()
            .map_err(|e| DatasetError::invalid(&path, format!("MP4: {e}")))?;
        for (offset, bytes) in finished.offset_and_bytes_pairs() {
            out.seek(SeekFrom::Start(offset)).map_err(io)?;
            out.write_all(bytes).map_err(io)?;
        }
        out.sync_all().map_err(io)?;
        std::fs::rename(&partial, &path).map_err(|e| DatasetError::io(&path, e))
    }

    /// Closes the camera's last file.
    pub(crate) fn finish(mut self) -> Result<(), DatasetError> {
        self.close()
    }
}

/// The `(chunk, file)` before `next`.
fn previous((chunk, file): (u64, u64)) -> (u64, u64) {
    match file {
        0 => (chunk.saturating_sub(1), FILES_PER_CHUNK - 1),
        _ => (chunk, file - 1),
    }
}

/// A file's video track as its index tells it.
#[derive(Clone, Debug, PartialEq)]
pub struct Mp4Track {
    /// Ticks a second.
    pub timescale: u32,
    /// Its frames.
    pub frames: u64,
    /// Each run of frames of one duration: `(frames, ticks each)`.
    pub durations: Vec<(u32, u32)>,
    /// The codec's four letters (`avc1`, `av01`, `hvc1`, …).
    pub codec: String,
}

impl Mp4Track {
    /// Its length (s).
    pub fn seconds(&self) -> f64 {
        let ticks: u64 = self
            .durations
            .iter()
            .map(|&(n, d)| u64::from(n) * u64::from(d))
            .sum();
        ticks as f64 / f64::from(self.timescale.max(1))
    }
}

/// The first video track of the MP4 file `bytes`: its timescale (`mdhd`), frames (`stsz`),
/// durations (`stts`) and codec (`stsd`); why not, when the file has none or is broken.
pub fn mp4_track(bytes: &[u8]) -> Result<Mp4Track, String> {
    let moov = child(bytes, b"moov").ok_or("no moov box (a file not finished?)")?;
    let mut rest = moov;
    while let Some((kind, body, after)) = next_box(rest)? {
        rest = after;
        if &kind != b"trak" {
            continue;
        }
        let mdia = child(body, b"mdia").ok_or("a track without mdia")?;
        let handler = child(mdia, b"hdlr").ok_or("a track without hdlr")?;
        if handler.get(8..12) != Some(b"vide") {
            continue;
        }
        let mdhd = child(mdia, b"mdhd").ok_or("a video track without mdhd")?;
        let timescale = match mdhd.first() {
            Some(1) => be32(mdhd, 20),
            _ => be32(mdhd, 12),
        }
        .ok_or("a short mdhd")?;
        let stbl = child(mdia, b"minf")
            .and_then(|m| child(m, b"stbl"))
            .ok_or("a video track without minf/stbl")?;
        let stsz = child(stbl, b"stsz").ok_or("no stsz")?;
        let frames = u64::from(be32(stsz, 8).ok_or("a short stsz")?);
        let stts = child(stbl, b"stts").ok_or("no stts")?;
        let runs = be32(stts, 4).ok_or("a short stts")? as usize;
        let mut durations = Vec::new();
        for k in 0..runs.min(stts.len() / 8) {
            let at = 8 + 8 * k;
            match (be32(stts, at), be32(stts, at + 4)) {
                (Some(n), Some(d)) => durations.push((n, d)),
                _ => return Err("a short stts".into()),
            }
        }
        let stsd = child(stbl, b"stsd").ok_or("no stsd")?;
        let codec = stsd
            .get(12..16)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .ok_or("a short stsd")?;
        return Ok(Mp4Track {
            timescale,
            frames,
            durations,
            codec,
        });
    }
    Err("no video track".into())
}

/// The next box in `bytes`: its type, its body and what follows it.
type NextBox<'a> = Option<([u8; 4], &'a [u8], &'a [u8])>;

fn next_box(bytes: &[u8]) -> Result<NextBox<'_>, String> {
    if bytes.len() < 8 {
        return Ok(None);
    }
    let size = be32(bytes, 0).ok_or("a short box")? as u64;
    let kind: [u8; 4] = bytes[4..8].try_into().map_err(|_| "a short box")?;
    let (header, size) = match size {
        1 => (16, be64(bytes, 8).ok_or("a short box")?),
        0 => (8, bytes.len() as u64),
        n => (8, n),
    };
    let size = usize::try_from(size).map_err(|_| "a box past the end")?;
    if size < header || size > bytes.len() {
        return Err(format!(
            "box {} of {size} bytes where {} are left",
            String::from_utf8_lossy(&kind),
            bytes.len()
        ));
    }
    Ok(Some((kind, &bytes[header..size], &bytes[size..])))
}

/// The body of the first `kind` box among `bytes`' boxes (a full box's version and flags
/// included).
fn child<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut rest = bytes;
    while let Ok(Some((k, body, after))) = next_box(rest) {
        if &k == kind {
            return Some(body);
        }
        rest = after;
    }
    None
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// Checks each camera's files against the episodes: every file they name is there and
/// readable, at the dataset's rate with every frame one period long, long enough for
/// its episodes, whose starts fall on frames; the files and frames found.
pub(crate) fn check_videos(
    dir: &Path,
    info: &crate::Info,
    episodes: &[crate::check::EpisodeInfo],
    problems: &mut Vec<crate::check::Problem>,
) -> std::collections::BTreeMap<String, crate::check::VideoFiles> {
    use crate::check::problem;
    let fps = f64::from(info.fps);
    let mut found = std::collections::BTreeMap::new();
    for key in info.video_keys() {
        let mut files: std::collections::BTreeMap<(u64, u64), u64> = Default::default();
        for e in episodes {
            let Some(&(chunk, file, from_s)) = e.videos.get(key) else {
                continue;
            };
            let first = (from_s * fps).round();
            let Some(path) = info.video_file(dir, key, chunk, file) else {
                continue;
            };
            if (first - from_s * fps).abs() > 1e-3 {
                problems.push(problem(
                    &path,
                    format!(
                        "episode {} starts at {from_s} s, not on a frame at {fps} fps",
                        e.index
                    ),
                ));
            }
            let end = files.entry((chunk, file)).or_default();
            *end = (*end).max(first.max(0.0) as u64 + e.length);
        }
        let mut total = crate::check::VideoFiles::default();
        for (&(chunk, file), &needed) in &files {
            let Some(path) = info.video_file(dir, key, chunk, file) else {
                continue;
            };
            let track = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| mp4_track(&bytes));
            let track = match track {
                Ok(t) => t,
                Err(why) => {
                    problems.push(problem(&path, why));
                    continue;
                }
            };
            let one_frame = f64::from(track.timescale) / fps;
            if track
                .durations
                .iter()
                .any(|&(_, d)| (f64::from(d) - one_frame).abs() > 1e-9)
            {
                let shown: Vec<_> = track.durations.iter().take(4).collect();
                problems.push(problem(
                    &path,
                    format!(
                        "frame durations (frames, ticks) {shown:?}{} at timescale {}: not every frame 1/{fps} s (LeRobot matches frame times to 0.1 ms)",
                        if track.durations.len() > 4 { " …" } else { "" },
                        track.timescale
                    ),
                ));
            }
            if track.frames < needed {
                problems.push(problem(
                    &path,
                    format!("{} frames, its episodes need {needed}", track.frames),
                ));
            }
            if track.seconds() > 1024.0 {
                problems.push(problem(
                    &path,
                    format!(
                        "{:.0} s long: LeRobot's float32 frame times cannot be matched past 1,024 s",
                        track.seconds()
                    ),
                ));
            }
            total.files += 1;
            total.frames += track.frames;
            total.seconds += track.seconds();
        }
        found.insert(key.to_owned(), total);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn any_bytes_read_as_a_track_or_an_error(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
            let _ = mp4_track(&bytes);
        }

        #[test]
        fn any_box_sizes_read_as_a_track_or_an_error(sizes in proptest::collection::vec(0u32..64, 1..12), kinds in proptest::collection::vec(0usize..6, 12)) {
            const KINDS: [&[u8; 4]; 6] = [b"moov", b"trak", b"mdia", b"hdlr", b"mdhd", b"stbl"];
            let mut bytes = Vec::new();
            for (size, kind) in sizes.iter().zip(&kinds) {
                bytes.extend_from_slice(&size.to_be_bytes());
                bytes.extend_from_slice(KINDS[*kind]);
                bytes.extend(std::iter::repeat_n(0u8, (*size as usize).saturating_sub(8)));
            }
            let _ = mp4_track(&bytes);
        }
    }
}
