//! The typed IPC surface: every command and event, exported to `ui/src/bindings.ts` by specta.

use tauri::Runtime;

use crate::bridge::RunUpdate;
use crate::closing::CloseAsked;
use crate::commands::{
    about, cluster, costs, models, review, runs, settings, tools, window, workflows,
};
use crate::desktop::OpenRun;
use stepwise_engine::failure::{FAILURES, FailureAdvice};
use stepwise_engine::tool::{BUILTIN_TOOLS, BuiltinTool};
use stepwise_engine::workflow::{STEP_KINDS, StepKindInfo};
use stepwise_engine::{OWNER_KINDS, OwnerKindInfo};

/// Commands and events, for any runtime (the app's, or Tauri's mock runtime in tests).
pub fn builder<R: Runtime>() -> tauri_specta::Builder<R> {
    tauri_specta::Builder::<R>::new()
        .commands(tauri_specta::collect_commands![
            workflows::list_templates,
            workflows::list_workflows,
            workflows::get_workflow,
            workflows::save_workflow,
            workflows::delete_workflow,
            runs::start_run,
            runs::cancel_run,
            runs::get_run,
            runs::list_runs,
            runs::delete_run,
            runs::export_run,
            settings::get_settings,
            settings::save_settings,
            settings::set_api_key,
            settings::clear_api_key,
            settings::test_connection,
            cluster::get_cluster_settings,
            cluster::save_cluster_settings,
            cluster::test_cluster,
            tools::get_tools_settings,
            tools::save_tools_settings,
            tools::inspect_mcp_server,
            tools::stop_inspecting_mcp_server,
            tools::answer_tool_call,
            review::answer_review,
            review::resume_run,
            models::list_models,
            models::provider_state,
            costs::get_prices,
            costs::set_price,
            costs::spending,
            about::about,
            window::quit_app,
        ])
        .events(tauri_specta::collect_events![
            RunUpdate, OpenRun, CloseAsked
        ])
        // The vocabularies, said once in the engine: the window reads these tables.
        .typ::<StepKindInfo>()
        .typ::<BuiltinTool>()
        .typ::<FailureAdvice>()
        .typ::<OwnerKindInfo>()
        .constant("STEP_KINDS", STEP_KINDS)
        .constant("BUILTIN_TOOLS", BUILTIN_TOOLS)
        .constant("FAILURES", FAILURES)
        .constant("OWNER_KINDS", OWNER_KINDS)
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), specta_typescript::Error> {
    let ts = specta_typescript::Typescript::default()
        .header("// Generated from Stepwise's Rust types by specta (src-tauri/src/bindings.rs). Do not edit.\n");
    builder::<tauri::Wry>().export(ts, path)
}
