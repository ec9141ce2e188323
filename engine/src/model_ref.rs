//! Model references as written in workflow files and on the CLI: `demo`, `openai:MODEL`,
//! `anthropic:MODEL`, and the servers that run models on this computer: `ollama:MODEL`,
//! `lmstudio:MODEL`, `llamacpp:MODEL`, `vllm:MODEL`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// OpenAI's API, the OpenAI-compatible preset's default address.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";
/// Ollama's OpenAI-compatible API on this computer.
pub const OLLAMA_BASE_URL: &str = "http://localhost:11434/v1";
pub const ANTHROPIC_BASE_URL: &str = "https://api.anthropic.com";

/// Which provider serves a model. The servers that run models on this computer (Ollama, LM
/// Studio, llama.cpp, vLLM) speak the OpenAI wire format, each at its own usual port: each is a
/// preset of its own, so several can be used side by side and Settings can say which are running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Demo,
    OpenAi,
    Anthropic,
    Ollama,
    LmStudio,
    LlamaCpp,
    Vllm,
}

/// A provider as Settings offers it. Written once, here: the shell's commands and the window
/// read the list from [`ProviderKind::presets`] instead of spelling it out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderPreset {
    pub kind: ProviderKind,
    /// The prefix of its model references, also its section in the settings file: `openai`.
    pub id: String,
    pub label: String,
    /// Where its requests go unless Settings name another address.
    pub default_base_url: String,
    /// Whether it takes an API key.
    pub takes_key: bool,
    /// Whether it cannot work without one (at its usual address).
    pub needs_key: bool,
    /// A server that runs on this computer (found on its usual port).
    pub local: bool,
    /// The environment variables that override its settings.
    pub env_vars: Vec<String>,
    pub example_model: String,
    /// One line for people: what it serves and how to point it elsewhere.
    pub hint: String,
}

impl ProviderKind {
    /// The providers a person sets up, in the order Settings shows them (the demo model needs
    /// no setting).
    pub const CONFIGURABLE: [ProviderKind; 6] = [
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Ollama,
        ProviderKind::LmStudio,
        ProviderKind::LlamaCpp,
        ProviderKind::Vllm,
    ];

    /// Every configurable provider's preset.
    pub fn presets() -> Vec<ProviderPreset> {
        Self::CONFIGURABLE.iter().map(|k| k.preset()).collect()
    }

    pub fn preset(self) -> ProviderPreset {
        ProviderPreset {
            kind: self,
            id: self.prefix().to_string(),
            label: self.label().to_string(),
            default_base_url: self.default_base_url().to_string(),
            takes_key: self.takes_key(),
            needs_key: self.needs_key(),
            local: self.is_local(),
            env_vars: self.env_vars().iter().map(|v| v.to_string()).collect(),
            example_model: self.example_model().to_string(),
            hint: self.hint().to_string(),
        }
    }

    /// Whether Settings offer a key for it (vLLM takes one if its server was started with one).
    pub fn takes_key(self) -> bool {
        matches!(
            self,
            ProviderKind::OpenAi | ProviderKind::Anthropic | ProviderKind::Vllm
        )
    }

    /// Whether it cannot answer without a key (the cloud services at their own addresses).
    pub fn needs_key(self) -> bool {
        matches!(self, ProviderKind::OpenAi | ProviderKind::Anthropic)
    }

    /// A server that runs models on this computer.
    pub fn is_local(self) -> bool {
        matches!(
            self,
            ProviderKind::Ollama
                | ProviderKind::LmStudio
                | ProviderKind::LlamaCpp
                | ProviderKind::Vllm
        )
    }

    /// The environment variables that override its key and address (`settings/` reads them).
    pub fn env_vars(self) -> &'static [&'static str] {
        match self {
            ProviderKind::OpenAi => &["OPENAI_API_KEY", "OPENAI_BASE_URL"],
            ProviderKind::Anthropic => &["ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"],
            _ => &[],
        }
    }

    fn hint(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => {
                "OpenAI, or any server that speaks its API (OpenRouter, Groq, a server of your \
                 own). Leave the address empty for OpenAI."
            }
            ProviderKind::Anthropic => "Leave the address empty for Anthropic's own.",
            ProviderKind::Ollama => "Runs models on this computer; no key needed.",
            ProviderKind::LmStudio => {
                "LM Studio's local server (Developer → Start server); no key needed."
            }
            ProviderKind::LlamaCpp => "llama.cpp's llama-server on this computer; no key needed.",
            ProviderKind::Vllm => {
                "vLLM's OpenAI-compatible server; a key only if it was started with --api-key."
            }
            ProviderKind::Demo => "Built in, offline, free.",
        }
    }

    /// The prefix used in model references.
    pub fn prefix(self) -> &'static str {
        match self {
            ProviderKind::Demo => "demo",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Ollama => "ollama",
            ProviderKind::LmStudio => "lmstudio",
            ProviderKind::LlamaCpp => "llamacpp",
            ProviderKind::Vllm => "vllm",
        }
    }

    /// A model this provider commonly serves: the example in messages, and what a connection test
    /// asks for when Settings name none. Empty for the demo model.
    pub fn example_model(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "gpt-5-mini",
            ProviderKind::Anthropic => "claude-sonnet-4-5",
            ProviderKind::Ollama => "llama3.2",
            ProviderKind::LmStudio => "qwen2.5-7b-instruct",
            ProviderKind::LlamaCpp => "default",
            ProviderKind::Vllm => "Qwen/Qwen2.5-7B-Instruct",
            ProviderKind::Demo => "",
        }
    }

    /// Where its requests go unless Settings name another address. Empty for the demo model.
    /// (Said here, below the providers, so that naming a model needs no provider code.)
    pub fn default_base_url(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => OPENAI_BASE_URL,
            ProviderKind::Anthropic => ANTHROPIC_BASE_URL,
            ProviderKind::Ollama => OLLAMA_BASE_URL,
            ProviderKind::LmStudio => "http://localhost:1234/v1",
            ProviderKind::LlamaCpp => "http://localhost:8080/v1",
            ProviderKind::Vllm => "http://localhost:8000/v1",
            ProviderKind::Demo => "",
        }
    }

    /// A name for people.
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Demo => "Demo",
            ProviderKind::OpenAi => "OpenAI",
            ProviderKind::Anthropic => "Anthropic",
            ProviderKind::Ollama => "Ollama",
            ProviderKind::LmStudio => "LM Studio",
            ProviderKind::LlamaCpp => "llama.cpp",
            ProviderKind::Vllm => "vLLM",
        }
    }
}

/// A parsed, well-formed model reference. Serialized as its string form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelRef {
    provider: ProviderKind,
    /// Empty for `demo`.
    model: String,
}

impl ModelRef {
    pub fn demo() -> Self {
        ModelRef {
            provider: ProviderKind::Demo,
            model: String::new(),
        }
    }

    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// The built-in offline model.
    pub fn is_demo(&self) -> bool {
        self.provider == ProviderKind::Demo
    }

    /// The provider's own model name (`gpt-5-mini`); empty for the demo model.
    pub fn model(&self) -> &str {
        &self.model
    }
}

/// Why a model reference is not well formed. The message says what would be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelRefError {
    #[error("the model is empty; write `demo` or `provider:model`, e.g. `openai:gpt-5-mini`")]
    Empty,
    #[error(
        "unknown provider `{0}`; use `demo`, `openai:MODEL`, `anthropic:MODEL`, `ollama:MODEL`, \
         `lmstudio:MODEL`, `llamacpp:MODEL` or `vllm:MODEL`"
    )]
    UnknownProvider(String),
    #[error("`{0}:` needs a model name after the colon, e.g. `{0}:{1}`")]
    MissingModel(&'static str, &'static str),
    #[error("the demo model takes no name: write just `demo`")]
    DemoWithName,
    #[error("a model name cannot contain spaces or control characters: `{0}`")]
    BadCharacters(String),
}

impl FromStr for ModelRef {
    type Err = ModelRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ModelRefError::Empty);
        }
        let (prefix, model) = match s.split_once(':') {
            Some((p, m)) => (p, Some(m.trim())),
            None => (s, None),
        };
        let lower = prefix.to_ascii_lowercase();
        let provider = std::iter::once(ProviderKind::Demo)
            .chain(ProviderKind::CONFIGURABLE)
            .find(|k| k.prefix() == lower)
            .ok_or_else(|| ModelRefError::UnknownProvider(prefix.to_string()))?;
        let model = match (provider, model) {
            (ProviderKind::Demo, None) => String::new(),
            (ProviderKind::Demo, Some(_)) => return Err(ModelRefError::DemoWithName),
            (p, None) | (p, Some("")) => {
                return Err(ModelRefError::MissingModel(p.prefix(), p.example_model()));
            }
            (_, Some(m)) => {
                if m.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(ModelRefError::BadCharacters(m.to_string()));
                }
                m.to_string()
            }
        };
        Ok(ModelRef { provider, model })
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.provider {
            ProviderKind::Demo => f.write_str("demo"),
            p => write!(f, "{}:{}", p.prefix(), self.model),
        }
    }
}

impl Serialize for ModelRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("demo".parse::<ModelRef>().unwrap(), ModelRef::demo());
        let m: ModelRef = "openai:gpt-5-mini".parse().unwrap();
        assert_eq!(
            (m.provider(), m.model()),
            (ProviderKind::OpenAi, "gpt-5-mini")
        );
        let m: ModelRef = "ollama:llama3.2:8b".parse().unwrap();
        assert_eq!(
            (m.provider(), m.model()),
            (ProviderKind::Ollama, "llama3.2:8b")
        );
        let m: ModelRef = "Anthropic:claude-sonnet-4-5".parse().unwrap();
        assert_eq!(m.to_string(), "anthropic:claude-sonnet-4-5");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!("".parse::<ModelRef>(), Err(ModelRefError::Empty));
        assert!(matches!(
            "gpt4".parse::<ModelRef>(),
            Err(ModelRefError::UnknownProvider(_))
        ));
        assert!(matches!(
            "openai:".parse::<ModelRef>(),
            Err(ModelRefError::MissingModel(..))
        ));
        assert!(matches!(
            "openai".parse::<ModelRef>(),
            Err(ModelRefError::MissingModel(..))
        ));
        assert_eq!(
            "demo:x".parse::<ModelRef>(),
            Err(ModelRefError::DemoWithName)
        );
        assert!(matches!(
            "openai:gpt 5".parse::<ModelRef>(),
            Err(ModelRefError::BadCharacters(_))
        ));
    }

    #[test]
    fn round_trips_through_serde() {
        let m: ModelRef = serde_json::from_str("\"openai:gpt-5-mini\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"openai:gpt-5-mini\"");
        assert!(serde_json::from_str::<ModelRef>("\"nope:x\"").is_err());
    }
}
