//! The control endpoint: every Stepwise process that owns runs answers for them by id, so a run
//! can be followed, answered and cancelled from any other terminal, script or the window.
//!
//! ```text
//! stepwise cancel / watch / answer / runs ──▶ Client ──HTTP over a Unix socket──▶ Endpoint ──▶ Engine
//!                                          (history: owners → endpoint)        (per owner)
//! ```
//!
//! - Where: one socket per owner in the user's runtime folder (`folder.rs`), named by the owner
//!   id the history gives its runs; the history's `owners` table says which socket is whose.
//! - Who: only the same user (`peer.rs`: the folder is 0700, the socket 0600, and every
//!   connection's peer uid is checked with `SO_PEERCRED`).
//! - What (protocol v2, the event protocol's version; `routes.rs`, `wire.rs`):
//!   `GET /v2/runs`, `GET /v2/runs/{id}/events?after=N` (server-sent events: the saved events,
//!   then live ones, no gap and no duplicate), `POST /v2/runs/{id}/cancel`,
//!   `POST /v2/runs/{id}/review`, `POST /v2/runs/{id}/approval`, `POST /v2/runs` (start).
//! - Limits (`server.rs`, `events.rs`): a careless or hostile client costs the owner a bounded
//!   amount of memory and never blocks a run.
//! - A cluster worker's endpoint is on TCP, with a bearer token and, where configured, TLS
//!   (`tls.rs`, §13).

mod client;
mod events;
mod folder;
mod peer;
mod routes;
mod server;
pub mod tls;
mod wire;

pub use client::{Client, ClientError, EventStream};
pub use folder::{FolderError, runtime_folder};
pub use routes::Starter;
pub use server::{Endpoint, Limits};
pub use wire::{
    ApprovalRequest, Approved, Cancelled, Problem, ReviewRequest, StartRequest, Started,
};
