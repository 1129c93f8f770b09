//! The ports the sinks implement: where deliveries go ([`DeliverySink`]) and where poison records
//! go ([`Quarantine`]). They are defined once, beside the handler that calls them, in
//! [`crate::sink_port`] and [`crate::quarantine_port`]; this module names them for the
//! adapters here.

pub use crate::quarantine_port::{PoisonRecord, Quarantine, QuarantineError};
pub use crate::sink_port::{DeliveryOutcome, DeliverySink, SinkError};
