//! [`Clock`]: where runtimes get "now". The kernel never reads a clock; runtimes pass the time in.

use chimera_kernel::time::Timestamp;

/// A source of the current time. Synchronous and infallible: reading a clock cannot fail.
pub trait Clock: Send + Sync {
    /// The current time, epoch milliseconds.
    fn now(&self) -> Timestamp;
}
