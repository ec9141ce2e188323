//! The built-in tools, said once: the name a step enables each with, its words for a person
//! (the editor's checkbox, a call's title) and whether it only reads. The window gets this table
//! through the generated bindings; validation, the registry and call titles read it here.

use serde::Serialize;

#[derive(Clone, Copy, Debug, Serialize, specta::Type)]
pub struct BuiltinTool {
    /// As steps name it: `tools = ["web_search"]`, `tool = "fetch_page"`.
    pub name: &'static str,
    /// In the editor's list of tools.
    pub label: &'static str,
    /// What it does, in a few words (the command line's list of tools).
    pub summary: &'static str,
    /// The argument a call's title shows, and the title with `{}` where it goes.
    pub title_arg: &'static str,
    pub title: &'static str,
    /// It only reads: it changes nothing anywhere.
    pub read_only: bool,
}

pub const BUILTIN_TOOLS: [BuiltinTool; 2] = [
    BuiltinTool {
        name: "web_search",
        label: "Search the web",
        summary: "Search the web (DuckDuckGo) and read the top results",
        title_arg: "query",
        title: "Searching the web for “{}”",
        read_only: true,
    },
    BuiltinTool {
        name: "fetch_page",
        label: "Read web pages",
        summary: "Open a web page and read its text",
        title_arg: "url",
        title: "Reading {}",
        read_only: true,
    },
];

/// The built-in tool of this name, if it is one.
pub fn builtin(name: &str) -> Option<&'static BuiltinTool> {
    BUILTIN_TOOLS.iter().find(|t| t.name == name)
}
