//! The firmware takes any bytes on its serial link: no panic, every bad frame counted,
//! and a valid handshake afterwards still answered. A bridge with a unit takes any
//! sequence of flashing and record messages mixed with garbage, and what it had stored
//! survives: it still boots its confirmed image, and its record is the last one stored.

mod common;

use common::{ERASE, Flash};
use embody_firmware_bridge::unit::Unit;
use embody_firmware_bridge::update::Layout;
use embody_firmware_bridge::{Bridge, FirmwareInfo};
use embody_fwimage::ed25519_dalek::SigningKey;
use embody_protocol::messages::{
    BridgeMessage, FLASH_CHUNK, HostMessage, JointCalibration, PROTOCOL_VERSION, UnitRecord,
};
use embody_protocol::{FrameDecoder, FrameEncoder, MAX_FRAME};
use proptest::prelude::*;

#[derive(Default)]
struct Sink(Vec<u8>);

impl embedded_io::ErrorType for Sink {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic_and_the_link_recovers(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let mut bridge = Bridge::new(FirmwareInfo { version: [0, 1, 0], buses: 2, servo_bus: true });
        let mut sink = Sink::default();
        bridge.handle_serial(&bytes, 0, &mut sink).expect("infallible");
        let mut out = [0u8; MAX_FRAME];
        let n = FrameEncoder::default()
            .encode(&HostMessage::Hello { version: PROTOCOL_VERSION }, &mut out)
            .expect("fits");
        sink.0.clear();
        // A delimiter first ends whatever half-frame the garbage left.
        bridge.handle_serial(&[0], 1, &mut sink).expect("infallible");
        bridge.handle_serial(&out[..n], 2, &mut sink).expect("infallible");
        let mut decoder = FrameDecoder::default();
        let mut welcomed = false;
        for b in sink.0 {
            if let Some(Ok(_)) = decoder.push(b) {
                welcomed |= matches!(decoder.message::<BridgeMessage>(), Ok(BridgeMessage::Welcome { .. }));
            }
        }
        prop_assert!(welcomed);
    }
}

const LAYOUT: Layout = Layout::new(8 * 1024, ERASE, 16 * ERASE);

/// A unit as it left the factory: a signed image confirmed in slot 0.
fn factory() -> (Flash, SigningKey) {
    let key = SigningKey::from_bytes(&[5; 32]);
    let image = embody_testkit::images::signed(&key, 0, 1, 2000);
    let mut flash = Flash::new(LAYOUT.capacity());
    flash.bytes[..image.len()].copy_from_slice(&image);
    (flash, key)
}

fn host_message() -> impl Strategy<Value = HostMessage> {
    prop_oneof![
        any::<u32>().prop_map(|size| HostMessage::FlashBegin {
            size: size % 10_000
        }),
        (
            0u32..9000,
            prop::collection::vec(any::<u8>(), 0..64),
            any::<bool>()
        )
            .prop_map(|(offset, bytes, good)| {
                let crc = if good {
                    embody_protocol::crc32(&bytes)
                } else {
                    7
                };
                let data = heapless::Vec::<u8, FLASH_CHUNK>::from_slice(&bytes).expect("fits");
                HostMessage::FlashChunk { offset, data, crc }
            }),
        Just(HostMessage::FlashFinish),
        Just(HostMessage::FlashConfirm),
        Just(HostMessage::GetFirmware),
        Just(HostMessage::GetUnit),
        (any::<u8>(), any::<f32>(), any::<i8>()).prop_map(|(joint, zero_offset_rad, direction)| {
            let mut record = UnitRecord::default();
            let _ = record.calibration.push(JointCalibration {
                joint,
                zero_offset_rad,
                direction,
            });
            HostMessage::SetUnit(record)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn flashing_and_record_messages_never_lose_what_is_stored(
        messages in prop::collection::vec((host_message(), prop::collection::vec(any::<u8>(), 0..8)), 0..40),
    ) {
        let (flash, key) = factory();
        let Ok(unit) = Unit::start(flash, LAYOUT, key.verifying_key()) else {
            panic!("the factory unit starts");
        };
        let mut bridge = Bridge::with_unit(FirmwareInfo { version: [1, 0, 0], buses: 2, servo_bus: true }, unit);
        let mut sink = Sink::default();
        let mut encoder = FrameEncoder::default();
        let mut out = [0u8; MAX_FRAME];
        let mut stored: Option<UnitRecord> = None;
        for (message, garbage) in &messages {
            let n = encoder.encode(message, &mut out).expect("fits");
            bridge.handle_serial(&out[..n], 0, &mut sink).expect("infallible");
            if let HostMessage::SetUnit(record) = message && record.is_valid() {
                stored = Some(record.clone());
            }
            bridge.handle_serial(garbage, 0, &mut sink).expect("infallible");
            bridge.handle_serial(&[0], 0, &mut sink).expect("infallible");
        }
        let Some(unit) = bridge.into_unit() else { panic!("the unit stays") };
        let Ok(restarted) = Unit::start(unit.into_flash(), LAYOUT, key.verifying_key()) else {
            panic!("the unit restarts");
        };
        let booted = restarted.booted().expect("a valid image boots");
        prop_assert_eq!(booted.slot, 0);
        prop_assert_eq!(restarted.record(), stored.as_ref());
    }
}
