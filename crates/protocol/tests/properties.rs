//! Property tests of every codec: round trips preserve values (exactly, or within one
//! quantisation step), and every decoder takes arbitrary bytes without panicking.

use embody_protocol::canopen;
use embody_protocol::canopen::cia402::Mode;
use embody_protocol::cia402_master::PdoLayout;
use embody_protocol::dynamixel::{self, MAX_PACKET, MAX_PARAMS, PacketReader};
use embody_protocol::feetech;
use embody_protocol::messages::{
    ActuatorRecord, ActuatorVariant, BridgeMessage, BridgeState, BusStats, CommandBatch,
    ControlRecord, DriveActuatorSetup, DriveBusSetup, FLASH_CHUNK, HostMessage, JointCalibration,
    MAX_JOINTS, ServoActuatorSetup, ServoBusSetup, StateBatch, UnitRecord, WireCommand,
    WireJointState,
};
use embody_protocol::servo_master::{self, ServoFamily, StatusReader};
use embody_protocol::slcan::{
    LineEvent, LineReader, MAX_LINE, SlcanLine, encode_frame, parse_line,
};
use embody_protocol::{
    CanFrame, CanId, FrameDecoder, FrameEncoder, MAX_FRAME, MitCodec, MitCommand, MitFeedback,
    MitRanges, MitRequest, MitVariant, MotorFaults, cobs,
};
use proptest::prelude::*;

fn finite() -> impl Strategy<Value = f32> {
    -1000.0f32..1000.0
}

fn wire_command() -> impl Strategy<Value = WireCommand> {
    prop_oneof![
        Just(WireCommand::Off),
        finite().prop_map(|q| WireCommand::Position { q }),
        finite().prop_map(|dq| WireCommand::Velocity { dq }),
        finite().prop_map(|tau| WireCommand::Torque { tau }),
        (finite(), finite(), finite(), finite(), finite()).prop_map(|(q, dq, kp, kd, tau_ff)| {
            WireCommand::Impedance {
                q,
                dq,
                kp,
                kd,
                tau_ff,
            }
        }),
    ]
}

fn host_tick() -> impl Strategy<Value = HostMessage> {
    (
        any::<u32>(),
        any::<u64>(),
        prop::collection::vec(wire_command(), 0..64),
    )
        .prop_map(|(seq, host_time_us, commands)| {
            let mut batch = CommandBatch {
                seq,
                host_time_us,
                ..CommandBatch::default()
            };
            for c in commands {
                let _ = batch.commands.push(c);
            }
            HostMessage::Tick(batch)
        })
}

fn bridge_tick() -> impl Strategy<Value = BridgeMessage> {
    let joint = (
        finite(),
        finite(),
        finite(),
        finite(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(
            |(q, dq, tau, temperature_c, faults, age_ticks)| WireJointState {
                q,
                dq,
                tau,
                temperature_c,
                faults: MotorFaults(faults),
                age_ticks,
            },
        );
    let bus = (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(frames_tx, frames_rx, missed_replies, bus_errors, cycle_us)| BusStats {
                frames_tx,
                frames_rx,
                missed_replies,
                bus_errors,
                cycle_us,
            },
        );
    (
        any::<u32>(),
        any::<u64>(),
        prop::collection::vec(joint, 0..64),
        prop::collection::vec(bus, 0..4),
    )
        .prop_map(|(seq, bridge_time_us, joints, buses)| {
            let mut batch = StateBatch {
                seq,
                bridge_time_us,
                state: BridgeState::Active,
                ..StateBatch::default()
            };
            for j in joints {
                let _ = batch.joints.push(j);
            }
            for b in buses {
                let _ = batch.buses.push(b);
            }
            BridgeMessage::Tick(batch)
        })
}

fn can_frame() -> impl Strategy<Value = CanFrame> {
    let id = prop_oneof![
        (0u16..=0x7FF).prop_map(CanId::Standard),
        (0u32..=0x1FFF_FFFF).prop_map(CanId::Extended),
    ];
    (
        id,
        prop::collection::vec(any::<u8>(), 0..=8),
        any::<bool>(),
        0u8..=8,
    )
        .prop_map(|(id, data, remote, len)| {
            if remote {
                CanFrame::remote(id, len).expect("len ≤ 8")
            } else {
                CanFrame::new(id, &data).expect("≤ 8 bytes")
            }
        })
}

fn feed(
    decoder: &mut FrameDecoder,
    bytes: &[u8],
) -> Vec<Result<usize, embody_protocol::FrameError>> {
    bytes.iter().filter_map(|&b| decoder.push(b)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn host_ticks_round_trip(message in host_tick()) {
        let mut out = [0u8; MAX_FRAME];
        let n = FrameEncoder::default().encode(&message, &mut out).expect("fits");
        let mut decoder = FrameDecoder::default();
        let results = feed(&mut decoder, &out[..n]);
        prop_assert_eq!(results.len(), 1);
        prop_assert_eq!(decoder.message::<HostMessage>(), Ok(message));
    }

    #[test]
    fn bridge_ticks_round_trip(message in bridge_tick()) {
        let mut out = [0u8; MAX_FRAME];
        let n = FrameEncoder::default().encode(&message, &mut out).expect("fits");
        let mut decoder = FrameDecoder::default();
        feed(&mut decoder, &out[..n]);
        prop_assert_eq!(decoder.message::<BridgeMessage>(), Ok(message));
    }

    /// A corrupted byte is caught (CRC-32 detects every single-byte error) and the
    /// stream resynchronises on the next frame.
    #[test]
    fn a_corrupted_frame_is_never_accepted(message in host_tick(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let mut out = [0u8; MAX_FRAME];
        let n = FrameEncoder::default().encode(&message, &mut out).expect("fits");
        let mut bad = out;
        let k = at.index(n - 1);
        bad[k] ^= flip;
        let mut decoder = FrameDecoder::default();
        for result in feed(&mut decoder, &bad[..n]) {
            if result.is_ok() {
                // Only possible if the flip made a delimiter that split off a frame:
                // it must not decode as the original.
                prop_assert_ne!(decoder.message::<HostMessage>().ok(), Some(message.clone()));
            }
        }
        feed(&mut decoder, &[0]);
        let results = feed(&mut decoder, &out[..n]);
        prop_assert!(matches!(results.last(), Some(Ok(_))));
        prop_assert_eq!(decoder.message::<HostMessage>(), Ok(message));
    }

    /// COBS alone: any bytes round-trip, including zero-free runs longer than a block
    /// (254) and zeros at either end; the output never holds a zero and stays in bounds.
    #[test]
    fn cobs_round_trips_any_bytes(
        bytes in prop::collection::vec(prop_oneof![Just(0u8), 1u8..=255, 1u8..=255, 1u8..=255], 0..1600),
        zero_free in prop::collection::vec(1u8..=255, 0..800),
    ) {
        for data in [&bytes, &zero_free] {
            let mut enc = vec![0u8; cobs::max_encoded_len(data.len())];
            let n = cobs::encode(data, &mut enc).expect("fits its worst case");
            prop_assert!(enc[..n].iter().all(|&b| b != 0));
            let mut dec = vec![0u8; data.len() + 1];
            let m = cobs::decode(&enc[..n], &mut dec).expect("valid");
            prop_assert_eq!(&dec[..m], &data[..]);
            // Too small an output buffer is refused, not overrun.
            if n > 1 {
                prop_assert_eq!(cobs::encode(data, &mut enc[..n - 1]), None);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_link_decoder(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut decoder = FrameDecoder::default();
        for result in feed(&mut decoder, &bytes) {
            if result.is_ok() {
                let _ = decoder.message::<HostMessage>();
                let _ = decoder.message::<BridgeMessage>();
            }
        }
    }

    #[test]
    fn arbitrary_payloads_never_panic_postcard(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = postcard::from_bytes::<HostMessage>(&bytes);
        let _ = postcard::from_bytes::<BridgeMessage>(&bytes);
    }

    #[test]
    fn mit_commands_round_trip_within_one_step(
        variant in prop_oneof![Just(MitVariant::Classic), Just(MitVariant::DaMiao), Just(MitVariant::Robstride)],
        id in 1u8..=127,
        p in -12.0f32..12.0, v in -30.0f32..30.0, kp in 0.0f32..500.0, kd in 0.0f32..5.0, t in -10.0f32..10.0,
    ) {
        let ranges = MitRanges::DM4310;
        let codec = MitCodec { variant, ranges, motor_id: id, master_id: 0 };
        let command = MitCommand { p, v, kp, kd, t_ff: t };
        let frame = codec.command_frame(&command).expect("encodes");
        let MitRequest::Command(back) = codec.decode_request(&frame).expect("decodes") else {
            return Err(TestCaseError::fail("not a command"));
        };
        let bits = |b16: u32, b12: u32| if variant == MitVariant::Robstride { b16 } else { b12 };
        let step = |span: f32, bits: u32| span / ((1u32 << bits) - 1) as f32 * 1.001;
        prop_assert!((back.p - p).abs() <= step(2.0 * ranges.p_max, 16));
        prop_assert!((back.v - v).abs() <= step(2.0 * ranges.v_max, bits(16, 12)));
        prop_assert!((back.kp - kp).abs() <= step(ranges.kp_max, bits(16, 12)));
        prop_assert!((back.kd - kd).abs() <= step(ranges.kd_max, bits(16, 12)));
        prop_assert!((back.t_ff - t).abs() <= step(2.0 * ranges.t_max, bits(16, 12)));
    }

    #[test]
    fn mit_feedback_round_trips_within_one_step(
        variant in prop_oneof![Just(MitVariant::Classic), Just(MitVariant::DaMiao), Just(MitVariant::Robstride)],
        id in 1u8..=15,
        p in -12.0f32..12.0, v in -30.0f32..30.0, t in -10.0f32..10.0,
    ) {
        let ranges = MitRanges::DM4310;
        let codec = MitCodec { variant, ranges, motor_id: id, master_id: 0 };
        let feedback = MitFeedback { motor_id: id, p, v, t, enabled: true, rotor_temperature_c: Some(40.0), ..MitFeedback::default() };
        let frame = codec.feedback_frame(&feedback).expect("encodes");
        let back = codec.decode_feedback(&frame).expect("decodes");
        let bits = if variant == MitVariant::Robstride { 16 } else { 12 };
        let step = |span: f32, bits: u32| span / ((1u32 << bits) - 1) as f32 * 1.001;
        prop_assert!((back.p - p).abs() <= step(2.0 * ranges.p_max, 16));
        prop_assert!((back.v - v).abs() <= step(2.0 * ranges.v_max, bits));
        prop_assert!((back.t - t).abs() <= step(2.0 * ranges.t_max, bits));
        prop_assert_eq!(back.motor_id, id);
        prop_assert!(back.enabled);
    }

    #[test]
    fn mit_decoders_take_any_frame(frame in can_frame(), id in any::<u8>()) {
        for variant in [MitVariant::Classic, MitVariant::DaMiao, MitVariant::Robstride] {
            let codec = MitCodec { variant, ranges: MitRanges::CLASSIC, motor_id: id, master_id: 0 };
            let _ = codec.decode_request(&frame);
            let _ = codec.decode_feedback(&frame);
        }
    }

    #[test]
    fn slcan_frames_round_trip(frame in can_frame(), ts in prop::option::of(0u16..60_000)) {
        let mut out = [0u8; MAX_LINE];
        let n = encode_frame(&frame, ts, &mut out);
        prop_assert_eq!(out[n - 1], b'\r');
        let parsed = parse_line(&out[..n - 1]);
        prop_assert_eq!(parsed, Ok(SlcanLine::Frame { frame, timestamp_ms: ts }));
    }

    #[test]
    fn arbitrary_text_never_panics_slcan(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut reader = LineReader::default();
        for &b in &bytes {
            if let Some(LineEvent::Line(_)) = reader.push(b) {
                let _ = parse_line(reader.line());
            }
        }
        let _ = parse_line(&bytes);
    }
}

fn flash_chunk() -> impl Strategy<Value = HostMessage> {
    (
        any::<u32>(),
        prop::collection::vec(any::<u8>(), 0..=FLASH_CHUNK),
    )
        .prop_map(|(offset, bytes)| {
            let crc = embody_protocol::crc32(&bytes);
            let data = heapless::Vec::from_slice(&bytes).expect("≤ FLASH_CHUNK");
            HostMessage::FlashChunk { offset, data, crc }
        })
}

fn unit_record() -> impl Strategy<Value = HostMessage> {
    (
        "[A-Z0-9-]{0,32}",
        any::<[u8; 32]>(),
        prop::collection::vec(
            (any::<u8>(), any::<f32>(), prop_oneof![Just(1i8), Just(-1)]),
            0..=MAX_JOINTS,
        ),
        (any::<f32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        prop::collection::vec((any::<[u8; 4]>(), 0..6u8, any::<u32>()), 0..=MAX_JOINTS),
    )
        .prop_map(|(serial, config_digest, joints, control, actuators)| {
            let mut record = UnitRecord {
                serial: heapless::String::try_from(serial.as_str()).expect("≤ 32"),
                robot: heapless::String::try_from("humanoid").expect("fits"),
                config_digest,
                tool: heapless::String::try_from("embody 0.1.0").expect("fits"),
                ..UnitRecord::default()
            };
            for (joint, zero_offset_rad, direction) in joints {
                let _ = record.calibration.push(JointCalibration {
                    joint,
                    zero_offset_rad,
                    direction,
                });
            }
            let (rate_hz, watchdog_ms, damping_ms, bitrate) = control;
            record.control = ControlRecord {
                rate_hz,
                watchdog_ms,
                damping_ms,
                bitrate,
            };
            for ([joint, bus, can_id, master_id], variant, rest_digest) in actuators {
                let _ = record.actuators.push(ActuatorRecord {
                    joint,
                    bus,
                    can_id,
                    master_id,
                    variant: [
                        ActuatorVariant::Mit(MitVariant::Classic),
                        ActuatorVariant::Mit(MitVariant::DaMiao),
                        ActuatorVariant::Mit(MitVariant::Robstride),
                        ActuatorVariant::Cia402,
                        ActuatorVariant::Servo(ServoFamily::Dynamixel),
                        ActuatorVariant::Servo(ServoFamily::Feetech),
                    ][usize::from(variant)],
                    rest_digest,
                });
            }
            HostMessage::SetUnit(record)
        })
}

fn drive_setups() -> impl Strategy<Value = HostMessage> {
    let modes = [
        Mode::CyclicPosition,
        Mode::CyclicVelocity,
        Mode::CyclicTorque,
    ];
    let layouts = [PdoLayout::Full, PdoLayout::Compact];
    prop_oneof![
        (any::<u8>(), 0..3usize, 0..2usize, any::<u16>()).prop_map(
            move |(bus, mode, layout, heartbeat_ms)| {
                HostMessage::DriveBus(DriveBusSetup {
                    bus,
                    mode: modes[mode],
                    layout: layouts[layout],
                    heartbeat_ms,
                })
            }
        ),
        (any::<[u8; 3]>(), any::<f32>(), any::<i8>(), any::<f32>()).prop_map(
            |([joint, bus, node], counts_per_unit, direction, offset_rad)| {
                HostMessage::Drive(DriveActuatorSetup {
                    joint,
                    bus,
                    node,
                    counts_per_unit,
                    direction,
                    offset_rad,
                })
            }
        ),
    ]
}

fn servo_setups() -> impl Strategy<Value = HostMessage> {
    let families = [ServoFamily::Dynamixel, ServoFamily::Feetech];
    prop_oneof![
        (0..2usize, any::<u32>()).prop_map(move |(family, baud)| {
            HostMessage::ServoBus(ServoBusSetup {
                family: families[family],
                baud,
            })
        }),
        (any::<[u8; 2]>(), any::<f32>(), any::<i8>(), any::<f32>()).prop_map(
            |([joint, id], travel_per_turn, direction, offset_rad)| {
                HostMessage::Servo(ServoActuatorSetup {
                    joint,
                    id,
                    travel_per_turn,
                    direction,
                    offset_rad,
                })
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The largest flashing and config messages, and the drive and servo setups, fit a
    /// frame and round-trip.
    #[test]
    fn flash_and_unit_messages_round_trip(
        message in prop_oneof![flash_chunk(), unit_record(), drive_setups(), servo_setups()],
    ) {
        let mut out = [0u8; MAX_FRAME];
        let n = FrameEncoder::default().encode(&message, &mut out).expect("fits");
        let mut decoder = FrameDecoder::default();
        feed(&mut decoder, &out[..n]);
        let back = decoder.message::<HostMessage>().expect("decodes");
        // NaN offsets compare unequal: compare the encodings instead.
        let mut again = [0u8; MAX_FRAME];
        let m = FrameEncoder::default().encode(&back, &mut again).expect("fits");
        prop_assert_eq!(&out[..n], &again[..m]);
    }
}

/// A known answer, worked out by hand from the format (postcard, CRC-32/ISO-HDLC,
/// whitening with 0xA5, COBS, a zero) and quoted in docs/protocols.md.
#[test]
fn hello_version_2_is_these_bytes_on_the_wire() {
    let mut out = [0u8; MAX_FRAME];
    let n = FrameEncoder::default()
        .encode(&HostMessage::Hello { version: 2 }, &mut out)
        .expect("fits");
    assert_eq!(&out[..n], &[0x07, 0xa5, 0xa7, 0x76, 0xd6, 0x72, 0x0a, 0x00]);
}

/// A Dynamixel packet as read: id, instruction, parameters; or why not.
type DxlRead = Result<(u8, u8, Vec<u8>), dynamixel::DxlError>;

/// Every packet `reader` completes from `bytes`.
fn dynamixel_packets(reader: &mut PacketReader, bytes: &[u8]) -> Vec<DxlRead> {
    let mut read = Vec::new();
    for &b in bytes {
        match reader.push(b) {
            Some(Ok(())) => {
                let p = reader.packet().expect("a completed packet");
                read.push(Ok((p.id, p.instruction, p.params.to_vec())));
            }
            Some(Err(e)) => read.push(Err(e)),
            None => {}
        }
    }
    read
}

/// Parameters rich in the bytes of a header, so that stuffing is exercised.
fn dynamixel_params() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0xFFu8), Just(0xFD), Just(0x00), any::<u8>()],
        0..=MAX_PARAMS,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn dynamixel_packets_round_trip(
        id in any::<u8>(),
        instruction in any::<u8>(),
        params in dynamixel_params(),
        noise in prop::collection::vec(0u8..0xFF, 0..8),
    ) {
        let mut out = [0u8; MAX_PACKET];
        let n = dynamixel::encode(id, instruction, &params, &mut out).expect("fits");
        // Noise that starts no header is skipped; the packet is read once, intact.
        let mut stream = noise.clone();
        stream.extend_from_slice(&out[..n]);
        let mut reader = PacketReader::default();
        let read = dynamixel_packets(&mut reader, &stream);
        prop_assert_eq!(read, vec![Ok((id, instruction, params))]);
        prop_assert_eq!(reader.skipped, noise.len() as u64);
    }

    /// A packet with one byte changed is never taken as good (CRC-16 catches every
    /// single-byte error).
    #[test]
    fn a_corrupted_dynamixel_packet_is_never_accepted(
        params in dynamixel_params(),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut out = [0u8; MAX_PACKET];
        let n = dynamixel::encode(1, 0x03, &params, &mut out).expect("fits");
        let k = at.index(n);
        out[k] ^= flip;
        let mut reader = PacketReader::default();
        for result in dynamixel_packets(&mut reader, &out[..n]) {
            prop_assert!(result.is_err() || k < 4, "corrupted byte {} accepted", k);
        }
    }

    #[test]
    fn the_dynamixel_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut reader = PacketReader::default();
        for result in dynamixel_packets(&mut reader, &bytes).into_iter().flatten() {
            // What it reads re-encodes to bytes that carry the same packet.
            let (id, instruction, params) = result;
            let mut out = [0u8; MAX_PACKET];
            let n = dynamixel::encode(id, instruction, &params, &mut out).expect("fits");
            prop_assert_eq!(
                dynamixel_packets(&mut PacketReader::default(), &out[..n]),
                vec![Ok((id, instruction, params))]
            );
        }
    }
}

/// A Feetech packet as read: id, instruction (or error), parameters; or why not.
type FeetechRead = Result<(u8, u8, Vec<u8>), feetech::FeetechError>;

fn feetech_packets(reader: &mut feetech::PacketReader, bytes: &[u8]) -> Vec<FeetechRead> {
    let mut read = Vec::new();
    for &b in bytes {
        match reader.push(b) {
            Some(Ok(())) => {
                let p = reader.packet().expect("a completed packet");
                read.push(Ok((p.id, p.instruction, p.params.to_vec())));
            }
            Some(Err(e)) => read.push(Err(e)),
            None => {}
        }
    }
    read
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn feetech_packets_round_trip(
        id in 0u8..0xFF,
        instruction in any::<u8>(),
        params in prop::collection::vec(any::<u8>(), 0..=feetech::MAX_PARAMS),
        noise in prop::collection::vec(0u8..0xFF, 0..8),
    ) {
        let mut out = [0u8; feetech::MAX_PACKET];
        let n = feetech::encode(id, instruction, &params, &mut out).expect("fits");
        // Noise that starts no header is skipped; the packet is read once, intact.
        let mut stream = noise.clone();
        stream.extend_from_slice(&out[..n]);
        let mut reader = feetech::PacketReader::default();
        let read = feetech_packets(&mut reader, &stream);
        prop_assert_eq!(read, vec![Ok((id, instruction, params))]);
        prop_assert_eq!(reader.skipped, noise.len() as u64);
    }

    /// One byte changed in the id, instruction, parameters or checksum is caught (a
    /// changed length reframes the packet, which a one-byte sum cannot always catch).
    #[test]
    fn a_corrupted_feetech_packet_is_never_accepted(
        params in prop::collection::vec(any::<u8>(), 0..32),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut out = [0u8; feetech::MAX_PACKET];
        let n = feetech::encode(1, 0x03, &params, &mut out).expect("fits");
        let k = [2].into_iter().chain(4..n).nth(at.index(n - 3)).expect("in the packet");
        out[k] ^= flip;
        if k == 2 && out[k] == 0xFF {
            return Ok(()); // then it reads as a header byte
        }
        let mut reader = feetech::PacketReader::default();
        for result in feetech_packets(&mut reader, &out[..n]) {
            prop_assert!(result.is_err(), "corrupted byte {} accepted", k);
        }
    }

    #[test]
    fn the_feetech_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let mut reader = feetech::PacketReader::default();
        for (id, instruction, params) in feetech_packets(&mut reader, &bytes).into_iter().flatten() {
            let mut out = [0u8; feetech::MAX_PACKET];
            let n = feetech::encode(id, instruction, &params, &mut out).expect("fits");
            prop_assert_eq!(
                feetech_packets(&mut feetech::PacketReader::default(), &out[..n]),
                vec![Ok((id, instruction, params))]
            );
        }
    }

    #[test]
    fn sign_magnitude_round_trips(value in -32767i32..=32767) {
        prop_assert_eq!(feetech::from_sign_magnitude(feetech::to_sign_magnitude(value, 15), 15), value);
    }
}

fn sdo_address() -> impl Strategy<Value = canopen::Address> {
    (any::<u16>(), any::<u8>()).prop_map(|(index, sub)| canopen::Address::new(index, sub))
}

fn segment() -> impl Strategy<Value = canopen::Segment> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..=7),
    )
        .prop_map(|(toggle, last, data)| canopen::Segment::new(toggle, last, &data))
}

fn expedited() -> impl Strategy<Value = canopen::Expedited> {
    prop::collection::vec(any::<u8>(), 1..=4).prop_map(|d| canopen::Expedited::new(&d))
}

fn sdo_request() -> impl Strategy<Value = canopen::SdoRequest> {
    use canopen::SdoRequest as R;
    prop_oneof![
        (sdo_address(), expedited()).prop_map(|(a, d)| R::DownloadExpedited(a, d)),
        (sdo_address(), prop::option::of(any::<u32>()))
            .prop_map(|(a, s)| R::DownloadInitiate(a, s)),
        segment().prop_map(R::DownloadSegment),
        sdo_address().prop_map(R::UploadInitiate),
        any::<bool>().prop_map(|toggle| R::UploadSegment { toggle }),
        (sdo_address(), any::<u32>()).prop_map(|(a, c)| R::Abort(a, canopen::AbortCode(c))),
    ]
}

fn sdo_response() -> impl Strategy<Value = canopen::SdoResponse> {
    use canopen::SdoResponse as R;
    prop_oneof![
        sdo_address().prop_map(R::DownloadInitiated),
        any::<bool>().prop_map(|toggle| R::DownloadSegmentTaken { toggle }),
        (sdo_address(), expedited()).prop_map(|(a, d)| R::UploadExpedited(a, d)),
        (sdo_address(), prop::option::of(any::<u32>())).prop_map(|(a, s)| R::UploadInitiated(a, s)),
        segment().prop_map(R::UploadSegment),
        (sdo_address(), any::<u32>()).prop_map(|(a, c)| R::Abort(a, canopen::AbortCode(c))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sdo_requests_round_trip(request in sdo_request(), node in 1u8..=127) {
        let frame = request.frame(node);
        let message = canopen::Message::classify(&frame);
        prop_assert_eq!(message, Ok(canopen::Message::SdoRequest { node, request }));
    }

    #[test]
    fn sdo_responses_round_trip(response in sdo_response(), node in 1u8..=127) {
        let frame = response.frame(node);
        let message = canopen::Message::classify(&frame);
        prop_assert_eq!(message, Ok(canopen::Message::SdoResponse { node, response }));
    }

    #[test]
    fn canopen_takes_any_frame(frame in can_frame()) {
        // Total: a message or an error, and a message's SDO re-encodes to its bytes' meaning.
        if let Ok(canopen::Message::SdoRequest { request, .. }) = canopen::Message::classify(&frame) {
            prop_assert_eq!(canopen::SdoRequest::decode(&request.encode()), Ok(request));
        }
        if let Ok(canopen::Message::SdoResponse { response, .. }) = canopen::Message::classify(&frame) {
            prop_assert_eq!(canopen::SdoResponse::decode(&response.encode()), Ok(response));
        }
    }

    #[test]
    fn the_cia402_state_machine_stays_in_its_states(
        start in 0usize..8,
        words in prop::collection::vec(any::<u16>(), 0..64),
    ) {
        use canopen::cia402::{State, transition};
        let states = [
            State::NotReadyToSwitchOn, State::SwitchOnDisabled, State::ReadyToSwitchOn,
            State::SwitchedOn, State::OperationEnabled, State::QuickStopActive,
            State::FaultReactionActive, State::Fault,
        ];
        let mut state = states[start];
        let mut previous = 0;
        for w in words {
            let next = transition(state, w, previous);
            // Never into a fault or out of one without a reset's edge; the statusword
            // of every state reads back as it.
            prop_assert!(next != State::Fault || state == State::Fault);
            if state == State::Fault && next != State::Fault {
                prop_assert!(w & 0x80 != 0 && previous & 0x80 == 0);
            }
            prop_assert_eq!(State::from_statusword(next.status_bits()), Some(next));
            state = next;
            previous = w;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A servo master's reader takes arbitrary bytes of either family without a panic;
    /// whatever it takes as a status has data `present` reads (or refuses) without one.
    #[test]
    fn servo_statuses_from_arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..1200),
        dynamixel in any::<bool>(),
    ) {
        let family = if dynamixel { ServoFamily::Dynamixel } else { ServoFamily::Feetech };
        let mut reader = StatusReader::new(family);
        for b in bytes {
            if reader.push(b) == Some(true)
                && let Some((_, error, data)) = reader.status()
            {
                let _ = servo_master::present(family, data);
                let _ = servo_master::status_faults(family, error);
            }
        }
    }

    /// A goal written is the goal read back: the sync write's counts for each servo, as
    /// a servo reads them from its packet, are the goal's turns to a count.
    #[test]
    fn servo_goals_survive_the_sync_write(
        turns in prop::collection::vec(-0.49f64..0.49, 1..20),
        dynamixel in any::<bool>(),
    ) {
        let family = if dynamixel { ServoFamily::Dynamixel } else { ServoFamily::Feetech };
        let goals = turns.iter().enumerate().map(|(k, t)| (k as u8 + 1, *t));
        let mut out = [0u8; servo_master::MAX_PACKET];
        let n = servo_master::goal_write(family, goals, &mut out).expect("fits");
        let (params, per) = if dynamixel {
            let mut reader = PacketReader::default();
            let read = dynamixel_packets(&mut reader, &out[..n]);
            let Some(Ok((_, _, params))) = read.into_iter().next() else {
                return Err(TestCaseError::fail("no packet"));
            };
            (params[4..].to_vec(), 5)
        } else {
            let mut reader = feetech::PacketReader::default();
            let mut params = Vec::new();
            for b in &out[..n] {
                if reader.push(*b) == Some(Ok(())) {
                    params = reader.packet().map_or(Vec::new(), |p| p.params[2..].to_vec());
                }
            }
            (params, 3)
        };
        prop_assert_eq!(params.len(), turns.len() * per);
        for (k, t) in turns.iter().enumerate() {
            let e = &params[k * per..(k + 1) * per];
            prop_assert_eq!(e[0], k as u8 + 1);
            let counts = match per {
                5 => f64::from(i32::from_le_bytes([e[1], e[2], e[3], e[4]])),
                _ => f64::from(u16::from_le_bytes([e[1], e[2]])),
            };
            prop_assert!((counts - (2048.0 + t * 4096.0)).abs() <= 0.5, "{} vs {}", counts, t);
        }
    }
}
