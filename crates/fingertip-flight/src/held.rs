//! What the service holds between calls: released answers waiting for their `DoGet`, and
//! prepared statements. Each is filed under a random 256-bit handle and bound to the token
//! that made it: another token presenting the handle finds nothing, a result can be fetched
//! once, and anything left alone past its time to live is dropped.
//!
//! A held result is the released batches themselves, never the statement: fetching it again
//! could not draw new noise, and there is nothing to replay.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a released answer waits for its `DoGet`.
pub const RESULT_TTL: Duration = Duration::from_secs(300);

/// How long a prepared statement lives after its last use.
pub const PREPARED_TTL: Duration = Duration::from_secs(3600);

/// Most items held at once (per kind); a statement beyond it is refused before it runs.
pub const MAX_HELD: usize = 1024;

struct Entry<T> {
    owner: String,
    value: T,
    touched: Instant,
}

/// Items of one kind, by handle.
pub struct Held<T> {
    items: Mutex<HashMap<String, Entry<T>>>,
    ttl: Duration,
}

impl<T: Clone> Held<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            items: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    /// True when another item fits (after dropping expired ones).
    pub fn has_room(&self) -> bool {
        let mut items = self.lock();
        let ttl = self.ttl;
        items.retain(|_, e| e.touched.elapsed() < ttl);
        items.len() < MAX_HELD
    }

    /// Files `value` for `owner`; returns its handle.
    pub fn insert(&self, owner: &str, value: T) -> Result<String, getrandom::Error> {
        let handle = new_handle()?;
        let entry = Entry {
            owner: owner.to_string(),
            value,
            touched: Instant::now(),
        };
        self.lock().insert(handle.clone(), entry);
        Ok(handle)
    }

    /// Removes and returns the item, if `owner` filed it and it has not expired.
    pub fn take(&self, handle: &str, owner: &str) -> Option<T> {
        let mut items = self.lock();
        let live = self.live(items.get(handle)?, owner);
        live.then(|| items.remove(handle))
            .flatten()
            .map(|e| e.value)
    }

    /// The item, if `owner` filed it and it has not expired; its time to live starts again.
    pub fn get(&self, handle: &str, owner: &str) -> Option<T> {
        let mut items = self.lock();
        let entry = items.get_mut(handle)?;
        if !self.live(entry, owner) {
            return None;
        }
        entry.touched = Instant::now();
        Some(entry.value.clone())
    }

    /// Drops the item if `owner` filed it.
    pub fn remove(&self, handle: &str, owner: &str) -> bool {
        let mut items = self.lock();
        let mine = items.get(handle).is_some_and(|e| e.owner == owner);
        mine && items.remove(handle).is_some()
    }

    fn live(&self, entry: &Entry<T>, owner: &str) -> bool {
        entry.owner == owner && entry.touched.elapsed() < self.ttl
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn new_handle() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_bound_to_their_owner_and_taken_once() {
        let held = Held::new(RESULT_TTL);
        let h = held.insert("alice", 7).unwrap();
        assert_eq!(h.len(), 64);
        assert_eq!(held.take(&h, "bob"), None, "another token finds nothing");
        assert!(!held.remove(&h, "bob"));
        assert_eq!(held.take(&h, "alice"), Some(7));
        assert_eq!(held.take(&h, "alice"), None, "a result is fetched once");
        let p = held.insert("alice", 8).unwrap();
        assert_eq!(held.get(&p, "alice"), Some(8));
        assert_eq!(held.get(&p, "alice"), Some(8));
        assert!(held.remove(&p, "alice"));
        assert_eq!(held.get(&p, "alice"), None);
    }

    #[test]
    fn expired_items_are_gone() {
        let held = Held::new(Duration::ZERO);
        let h = held.insert("alice", 1).unwrap();
        assert_eq!(held.take(&h, "alice"), None);
        assert!(held.has_room());
        assert!(held.lock().is_empty(), "has_room sweeps expired items");
    }
}
