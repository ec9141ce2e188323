//! `ui/src/bindings.ts` is generated from the Rust types and committed; this fails when it is
//! stale. Regenerate with `STEPWISE_UPDATE_BINDINGS=1 cargo test --test bindings`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[test]
fn typescript_bindings_are_current() {
    let committed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/src/bindings.ts");
    let fresh = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bindings.ts");
    stepwise_app::export_bindings(&fresh).unwrap();
    let fresh_text = std::fs::read_to_string(&fresh).unwrap();
    if std::env::var_os("STEPWISE_UPDATE_BINDINGS").is_some() {
        std::fs::write(&committed, &fresh_text).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        current == fresh_text,
        "ui/src/bindings.ts is stale: run `STEPWISE_UPDATE_BINDINGS=1 cargo test --test bindings` and commit it"
    );
    for name in [
        "startRun",
        "cancelRun",
        "getRun",
        "RunUpdate",
        "AppError",
        "RunSnapshot",
    ] {
        assert!(
            fresh_text.contains(name),
            "{name} missing from the bindings"
        );
    }
}
