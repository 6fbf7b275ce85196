//! The firmware takes any bytes on its serial link: no panic, every bad frame counted,
//! and a valid handshake afterwards still answered.

use embody_firmware_bridge::{Bridge, FirmwareInfo};
use embody_protocol::messages::{BridgeMessage, HostMessage, PROTOCOL_VERSION};
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
        let mut bridge = Bridge::new(FirmwareInfo { version: [0, 1, 0], buses: 2 });
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
