//! The event stream: worker-weeks generated one at a time, week by week, so that any number
//! of events can be produced in constant memory.
//!
//! Each worker-week has its own random stream derived from `(seed, worker, week)`; events of a
//! worker-week come out in time order, worker-weeks in (week, worker) order.

use std::sync::Arc;

use crate::behaviour::WeekGen;
use crate::event::SimEvent;
use crate::population::{Population, SimOptions};
use crate::rng::Rng;

/// Tag of the per-worker-week random stream.
const STREAM_WEEK: u64 = 3;

/// An iterator over every simulated event.
#[derive(Debug, Clone)]
pub struct EventStream {
    pop: Arc<Population>,
    week: u32,
    worker: u32,
    /// The current worker-week, latest first (popped from the back).
    buffer: Vec<SimEvent>,
}

impl EventStream {
    pub fn new(pop: Arc<Population>) -> Self {
        Self {
            pop,
            week: 0,
            worker: 0,
            buffer: Vec::with_capacity(256),
        }
    }

    pub fn population(&self) -> &Arc<Population> {
        &self.pop
    }

    /// Fills the buffer with the next non-empty worker-week; false when none is left.
    fn refill(&mut self) -> bool {
        let opts = &self.pop.options;
        while self.buffer.is_empty() {
            if self.worker >= opts.workers {
                self.worker = 0;
                self.week += 1;
            }
            if self.week >= opts.weeks || opts.workers == 0 {
                return false;
            }
            let tags = [STREAM_WEEK, u64::from(self.worker), u64::from(self.week)];
            let rng = Rng::derive(opts.seed, &tags);
            let days = &self.pop.days[self.week as usize * 7..][..7];
            WeekGen::new(&self.pop, self.worker, rng, &mut self.buffer).run(self.worker, days);
            self.buffer
                .sort_by_key(|e| std::cmp::Reverse(e.started_at_ms));
            self.worker += 1;
        }
        true
    }
}

impl Iterator for EventStream {
    type Item = SimEvent;

    fn next(&mut self) -> Option<SimEvent> {
        if self.buffer.is_empty() && !self.refill() {
            return None;
        }
        self.buffer.pop()
    }
}

/// All events of a simulation with these options.
pub fn events(options: SimOptions) -> EventStream {
    EventStream::new(Arc::new(Population::new(options)))
}
