//! A global budget for the memory that request bodies may hold at once.
//!
//! Every request charges what it holds — the body as sent, the decompressed body as it grows,
//! and an allowance for its parsed events — against one budget shared by the whole server, and
//! gives it back when its answer is sent. A request that would pass the budget is refused at
//! once (`429 overloaded`, retry later) instead of waiting or allocating: under overload the
//! server sheds load before its memory grows.
//!
//! ```
//! use fingertip_ingest::MemoryBudget;
//! let budget = MemoryBudget::new(1 << 20);
//! let mut charge = budget.charge(1000).unwrap();
//! charge.grow(2000).unwrap();
//! assert_eq!(budget.used(), 3000);
//! assert!(budget.charge(1 << 20).is_err());
//! drop(charge);
//! assert_eq!(budget.used(), 0);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The budget is spent: the request must be refused now and retried later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is holding as much request data as it may ({limit} bytes); retry shortly")]
pub struct Overloaded {
    pub limit: usize,
}

/// Bytes that in-flight requests may hold, together.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes charged right now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn take(&self, bytes: usize) -> Result<(), Overloaded> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|n| *n <= self.limit)
            })
            .map(|_| ())
            .map_err(|_| Overloaded { limit: self.limit })
    }

    /// Charges `bytes` for one request; released when the returned charge is dropped.
    pub fn charge(self: &Arc<Self>, bytes: usize) -> Result<Charge, Overloaded> {
        self.take(bytes)?;
        Ok(Charge {
            budget: self.clone(),
            bytes,
        })
    }
}

/// What one request holds of the budget.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<MemoryBudget>,
    bytes: usize,
}

impl Charge {
    /// Charges `more` bytes to this request.
    pub fn grow(&mut self, more: usize) -> Result<(), Overloaded> {
        self.budget.take(more)?;
        self.bytes += more;
        Ok(())
    }

    /// Makes this charge at least `total` bytes.
    pub fn grow_to(&mut self, total: usize) -> Result<(), Overloaded> {
        match total.checked_sub(self.bytes) {
            Some(more) if more > 0 => self.grow(more),
            _ => Ok(()),
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}
