//! Tauri's build step. The app manifest lists the app's own commands so that capabilities can
//! allow exactly those (src-tauri/capabilities/), and nothing else reaches the backend.

fn main() {
    let commands = &[
        "list_templates",
        "list_workflows",
        "get_workflow",
        "save_workflow",
        "delete_workflow",
        "start_run",
        "cancel_run",
        "get_run",
        "list_runs",
        "delete_run",
        "export_run",
        "get_settings",
        "save_settings",
        "set_api_key",
        "clear_api_key",
        "test_connection",
        "get_cluster_settings",
        "save_cluster_settings",
        "test_cluster",
        "get_tools_settings",
        "save_tools_settings",
        "inspect_mcp_server",
        "stop_inspecting_mcp_server",
        "answer_tool_call",
        "answer_review",
        "resume_run",
        "list_models",
        "provider_state",
        "get_prices",
        "set_price",
        "spending",
        "about",
        "quit_app",
    ];
    let attributes = tauri_build::Attributes::new()
        .capabilities_path_pattern("./src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        println!("cargo:warning=tauri build step failed: {e}");
        std::process::exit(1);
    }
}
