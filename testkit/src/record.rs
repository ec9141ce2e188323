//! What the server saw of one request.

use std::time::Instant;

use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: String,
    #[serde(skip)]
    pub received_at: Instant,
    /// When each SSE chunk was handed to the socket.
    #[serde(skip)]
    pub chunk_times: Vec<Instant>,
    pub chunks_sent: usize,
    /// When the server saw the client close the connection before the response was complete.
    #[serde(skip)]
    pub disconnected_at: Option<Instant>,
    pub disconnected: bool,
    /// The response was sent in full.
    pub completed: bool,
}

impl RequestRecord {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Chunks sent at or after `t`.
    pub fn chunks_after(&self, t: Instant) -> usize {
        self.chunk_times.iter().filter(|c| **c >= t).count()
    }
}
