//! A model server for tests: real HTTP/1.1 over real TCP on 127.0.0.1, streaming Server-Sent
//! Events the way OpenAI's chat completions and Anthropic's messages do.
//!
//! It speaks HTTP itself (a few dozen lines) rather than through hyper because it must see the
//! moment a client closes the connection, even while it is waiting to send the next chunk; hyper
//! only notices a closed connection at its next write. Each request takes the next queued
//! [`Behavior`] (or the default one) and is recorded: headers, body, chunks sent and when, and when
//! the client disconnected.
//!
//! It also holds [`eventually`] and [`eventually_async`], the one way tests (the engine's and the
//! app's) wait for something: a check polled until it holds or a deadline passes.

mod behavior;
mod eventually;
pub mod fuzz;
mod http;
mod processes;
mod record;
mod server;
pub mod temporal;
mod wire;

pub use behavior::{Behavior, Fault, RawEnd, RawStream, ScriptedCall};
pub use eventually::{Check, PATIENCE, eventually, eventually_async};
pub use processes::processes_tagged;
pub use record::RequestRecord;
pub use server::{Models, Page};
pub use server::{TestServer, server_runtime};
pub use wire::Format;
