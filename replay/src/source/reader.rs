//! Decoding on its own thread: a source is read and decoded ahead of the fold, in batches.
//!
//! Two cores: one decodes, one folds. Batches go to the fold over a bounded channel and come
//! back empty-handed over a second one, so the records are dropped, and the vectors reused, on
//! the decoding thread too: the fold thread only folds.

use super::{ArchiveError, Position, RecordSource};
use schemas::Record;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

/// Records per batch: large enough to make channel traffic negligible, small enough to keep the
/// memory in flight a few megabytes.
pub const BATCH: usize = 4096;
/// Batches in flight between the threads.
const DEPTH: usize = 4;

/// Records in arrival order, with the errors met while reading them.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records and where they came from.
    pub records: Vec<(Record, Position)>,
    /// Errors, in the order met; each says where it is.
    pub errors: Vec<ArchiveError>,
}

/// A source being read on its own thread.
pub struct Reader {
    batches: Receiver<Batch>,
    returns: SyncSender<Batch>,
}

/// Starts reading `source` on a new thread.
pub fn spawn(mut source: Box<dyn RecordSource>) -> Reader {
    let (tx, batches) = mpsc::sync_channel::<Batch>(DEPTH);
    let (returns, rx_back) = mpsc::sync_channel::<Batch>(DEPTH + 2);
    thread::spawn(move || {
        let mut done = false;
        while !done {
            let mut batch = match rx_back.try_recv() {
                Ok(mut b) => {
                    b.records.clear();
                    b.errors.clear();
                    b
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => Batch {
                    records: Vec::with_capacity(BATCH),
                    errors: Vec::new(),
                },
            };
            while batch.records.len() < BATCH {
                match source.next_record() {
                    Some(Ok(item)) => batch.records.push(item),
                    Some(Err(e)) => {
                        let fatal = !matches!(e, ArchiveError::Corrupt(_));
                        batch.errors.push(e);
                        if fatal {
                            done = true;
                            break;
                        }
                    }
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            if tx.send(batch).is_err() {
                break;
            }
        }
    });
    Reader { batches, returns }
}

impl Reader {
    /// The next batch, or `None` when the source is exhausted.
    pub fn next_batch(&self) -> Option<Batch> {
        self.batches.recv().ok()
    }

    /// Hands a folded batch back, to be emptied and reused on the reading thread.
    pub fn give_back(&self, batch: Batch) {
        // A full return channel only means the reader has spares: drop this one here.
        let _ = self.returns.try_send(batch);
    }
}
