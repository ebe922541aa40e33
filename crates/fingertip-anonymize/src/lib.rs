//! Anonymization at the door: key epochs, destroyable epoch keys, and keyed pseudonyms.
//!
//! `person = HMAC-SHA256(epoch_key, person_ref)[..16]`. Each key epoch (a calendar quarter by
//! default) has its own 32-byte random key in `<data>/keys/<epoch>.key` (mode 0600). After the
//! epoch has ended and its grace period has passed the key is overwritten and removed and a
//! tombstone is left, so no one — including Fingertip — can link a `person_ref` to a pseudonym
//! of that epoch again, and no new key is ever made for it.
//!
//! This crate must never log, store or return a `person_ref`. It depends only on the model.

mod epoch;
mod keystore;

pub use epoch::{EpochScheme, KeyEpoch};
pub use keystore::{KeyError, KeyInfo, KeyState, KeyStore, KeysConfig, Pseudonym};
