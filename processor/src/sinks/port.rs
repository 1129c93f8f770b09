//! The ports the sinks implement: where deliveries go ([`DeliverySink`]) and where poison records
//! go ([`Quarantine`]). They are defined once, beside the handler that calls them, in
//! [`crate::aws::sink_port`] and [`crate::aws::quarantine_port`]; this module names them for the
//! adapters here.

pub use crate::aws::quarantine_port::{PoisonRecord, Quarantine, QuarantineError};
pub use crate::aws::sink_port::{DeliveryOutcome, DeliverySink, SinkError};
