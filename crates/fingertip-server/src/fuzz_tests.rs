//! Property-based fuzzing (proptest, fixed case budget) of what this crate parses from outside:
//! the token file and the `Authorization` header. Invariant: any input gives an answer (a
//! token store or a clear error; a principal or none), never a panic. The committed corpus in
//! `fuzz/corpus/token_file/` is replayed first.

use std::path::PathBuf;

use proptest::prelude::*;

use crate::TokenStore;

fn open_with(bytes: &[u8]) -> Option<TokenStore> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens.json"), bytes).unwrap();
    let store = TokenStore::open(dir.path()).ok()?;
    let _ = store.list();
    Some(store)
}

#[test]
fn token_corpus_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/token_file");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap();
        if let Some(store) = open_with(&bytes) {
            assert!(store.authenticate("ft_abc_secret").is_none());
        }
        n += 1;
    }
    assert!(n >= 5, "corpus in {}", dir.display());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_token_file_opens_or_fails_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = open_with(&bytes);
    }

    /// Token files that are almost right: a valid file with one byte changed.
    #[test]
    fn mutated_token_files_open_or_fail_cleanly(at in any::<prop::sample::Index>(), x in 1u8..) {
        let mut bytes = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/token_file/valid.json"),
        ).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        let _ = open_with(&bytes);
    }

    #[test]
    fn any_presented_token_is_answered(token in ".{0,80}") {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path()).unwrap();
        let (_, real) = store.create(fingertip_registry::Role::App, Some("attendance"), "").unwrap();
        prop_assert!(store.authenticate(&token).is_none() || token == real);
        let _ = crate::auth::bearer_token(&token);
    }
}
