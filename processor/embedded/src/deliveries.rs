//! [`Deliveries`]: where a folded batch's new deliveries go, and its adapters.
//!
//! `processor local` prints them as JSON lines ([`JsonLines`]); `processor dev` sends them to the
//! live WebSocket and MQTT clients it serves (`dev::fold`); recovering a log whose deliveries
//! already went out drops them ([`Discard`]). The pipeline hands each one over typed, so that no
//! caller has to parse back what another printed.

use projections::Delivery;
use std::io::{self, Write};

/// Takes a batch's deliveries, in order, after the whole batch is folded and before it is
/// committed (so a crash in between hands them over again on recovery: at least once).
pub trait Deliveries {
    /// Takes one delivery.
    ///
    /// # Errors
    /// The delivery could not be handed on (e.g. stdout is closed); the batch fails.
    fn deliver(&mut self, delivery: &Delivery) -> io::Result<()>;

    /// Called after the batch's last delivery.
    ///
    /// # Errors
    /// As [`Deliveries::deliver`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Deliveries as JSON lines, one object per line, on a writer (`processor local`'s stdout).
#[derive(Debug)]
pub struct JsonLines<W>(pub W);

impl<W: Write> Deliveries for JsonLines<W> {
    fn deliver(&mut self, delivery: &Delivery) -> io::Result<()> {
        serde_json::to_writer(&mut self.0, delivery).map_err(io::Error::from)?;
        self.0.write_all(b"\n")
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Drops every delivery: for refolding records whose deliveries were already handed on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl Deliveries for Discard {
    fn deliver(&mut self, _: &Delivery) -> io::Result<()> {
        Ok(())
    }
}
