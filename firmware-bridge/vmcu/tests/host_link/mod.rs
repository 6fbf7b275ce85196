//! The host's side of a bridge's serial link, for the tests that run a `Bridge` in one
//! process: what the host sends it, and what it sent back, decoded.

use embody_firmware_bridge::Bridge;
use embody_protocol::messages::{BridgeMessage, CommandBatch, HostMessage, WireCommand};
use embody_protocol::{FrameDecoder, FrameEncoder, MAX_FRAME};

/// Bytes the bridge sends the host.
#[derive(Default)]
pub struct Serial(pub Vec<u8>);

impl embedded_io::ErrorType for Serial {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Serial {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The host's end of the link.
#[derive(Default)]
pub struct HostLink {
    /// What the bridge sent, not yet decoded.
    pub serial: Serial,
    decoder: FrameDecoder,
}

impl HostLink {
    /// Sends `message` to `bridge` at `now_us`; its answers and anything else it sent
    /// since.
    pub fn send(
        &mut self,
        bridge: &mut Bridge,
        message: &HostMessage,
        now_us: u64,
    ) -> Vec<BridgeMessage> {
        let mut out = [0u8; MAX_FRAME];
        let n = FrameEncoder::default()
            .encode(message, &mut out)
            .expect("fits");
        bridge
            .handle_serial(&out[..n], now_us, &mut self.serial)
            .expect("infallible");
        self.received()
    }

    /// What the bridge sent since the last call.
    pub fn received(&mut self) -> Vec<BridgeMessage> {
        let mut messages = Vec::new();
        for b in std::mem::take(&mut self.serial.0) {
            if let Some(Ok(_)) = self.decoder.push(b) {
                messages.push(self.decoder.message().expect("a bridge message"));
            }
        }
        messages
    }
}

/// The host's tick `seq` at `now_us`: `command(k)` for each of `joints` joints.
pub fn tick(
    seq: u32,
    now_us: u64,
    joints: usize,
    command: &dyn Fn(usize) -> WireCommand,
) -> HostMessage {
    let mut commands = heapless::Vec::new();
    for k in 0..joints {
        let _ = commands.push(command(k));
    }
    HostMessage::Tick(CommandBatch {
        seq,
        host_time_us: now_us,
        commands,
    })
}
