//! The shell on Tauri's mock runtime, for the app tests and the browser tests' backend
//! (`examples/ui_backend` includes this file): the app with the shell's real commands and
//! events, and a command as the webview sends it.

use serde_json::Value;
use tauri::App;
use tauri::test::{INVOKE_KEY, MockRuntime, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;

/// An app with every command and event of the shell (its state is the caller's to manage).
pub fn app() -> App<MockRuntime> {
    let specta = stepwise_app::builder::<MockRuntime>();
    let app = mock_builder()
        .invoke_handler(specta.invoke_handler())
        .build(mock_context(noop_assets()))
        .unwrap();
    specta.mount_events(&app);
    app
}

/// The request the webview makes for `cmd` with these arguments.
pub fn request(cmd: &str, args: Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}
