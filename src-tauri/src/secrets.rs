//! API keys: in the OS keychain (the `keyring` crate), or — where no keychain answers, as on a
//! headless Linux without a Secret Service — in a file only the user can read, and the UI says so.
//! Keys go in here and out only to the providers; never to the front end, never to a log.
//!
//! Each key remembers the address (scheme, host, port) it was saved for: if the provider's base
//! URL later points somewhere else, the key is not sent there until the user enters it again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};
use stepwise_engine::ProviderKind;

use crate::error::AppError;

const SERVICE: &str = "org.stepwise.desktop";

/// Where keys are kept, as the Settings screen explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum KeyStorage {
    Keychain,
    /// No keychain answered: a file readable only by this user.
    File,
}

/// A key and the address it was saved for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub key: String,
    /// `https://api.openai.com`; absent for keys saved before addresses were kept.
    #[serde(default)]
    pub origin: Option<String>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredKey(<redacted>, {:?})", self.origin)
    }
}

impl StoredKey {
    /// Stored as JSON; a plain string is a key from before addresses were kept.
    fn decode(text: &str) -> Option<StoredKey> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(serde_json::from_str(text).unwrap_or_else(|_| StoredKey {
            key: text.to_string(),
            origin: None,
        }))
    }

    fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `scheme://host[:port]` of a base URL: what a key is tied to.
pub fn origin_of(base_url: &str) -> Option<String> {
    let (scheme, rest) = base_url.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| format!("{}://{}", scheme.to_lowercase(), host.to_lowercase()))
}

/// The system keychain, or a stand-in for tests.
pub trait Keychain: Send + Sync {
    /// Whether the keychain works at all (reading a missing entry says "none").
    fn answers(&self) -> bool;
    fn get(&self, name: &str) -> Result<Option<String>, String>;
    fn set(&self, name: &str, value: &str) -> Result<(), String>;
    fn delete(&self, name: &str) -> Result<(), String>;
}

/// The OS keychain through `keyring`.
pub struct SystemKeychain;

impl Keychain for SystemKeychain {
    fn answers(&self) -> bool {
        self.get("stepwise-probe").is_ok()
    }

    fn get(&self, name: &str) -> Result<Option<String>, String> {
        match keyring::Entry::new(SERVICE, name).and_then(|e| e.get_password()) {
            Ok(v) => Ok(Some(v)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set(&self, name: &str, value: &str) -> Result<(), String> {
        keyring::Entry::new(SERVICE, name)
            .and_then(|e| e.set_password(value))
            .map_err(|e| e.to_string())
    }

    fn delete(&self, name: &str) -> Result<(), String> {
        match keyring::Entry::new(SERVICE, name).and_then(|e| e.delete_credential()) {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

pub struct Secrets {
    keychain: Option<Arc<dyn Keychain>>,
    file: PathBuf,
    /// Serializes file read-modify-write.
    lock: Mutex<()>,
    /// Set when the key file can be read by other users (it is then made private again).
    warning: Mutex<Option<String>>,
}

impl Secrets {
    /// Uses the OS keychain if it answers, else the file.
    pub fn open(file: PathBuf) -> Self {
        Secrets::with_keychain(file, Arc::new(SystemKeychain))
    }

    /// Uses `keychain` if it answers. Keys left in the file from a time without one move into
    /// it, and the file is removed.
    pub fn with_keychain(file: PathBuf, keychain: Arc<dyn Keychain>) -> Self {
        let answers = keychain.answers();
        let secrets = Secrets {
            keychain: answers.then_some(keychain),
            file,
            lock: Mutex::new(()),
            warning: Mutex::new(None),
        };
        if secrets.keychain.is_some() {
            secrets.move_file_into_keychain();
        }
        secrets
    }

    /// Always the file (tests, and machines where the keychain must not be touched).
    pub fn file_only(file: PathBuf) -> Self {
        Secrets {
            keychain: None,
            file,
            lock: Mutex::new(()),
            warning: Mutex::new(None),
        }
    }

    pub fn storage(&self) -> KeyStorage {
        if self.keychain.is_some() {
            KeyStorage::Keychain
        } else {
            KeyStorage::File
        }
    }

    /// A problem with how keys are kept that the user should know of, if any.
    pub fn warning(&self) -> Option<String> {
        self.warning
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn get(&self, provider: ProviderKind) -> Option<StoredKey> {
        match &self.keychain {
            Some(k) => k
                .get(provider.prefix())
                .ok()
                .flatten()
                .and_then(|t| StoredKey::decode(&t)),
            None => self
                .read_file()
                .remove(provider.prefix())
                .and_then(|t| StoredKey::decode(&t)),
        }
    }

    /// Keeps `key` for `provider`, tied to `origin` (the address it may be sent to).
    pub fn set(
        &self,
        provider: ProviderKind,
        key: &str,
        origin: Option<String>,
    ) -> Result<KeyStorage, AppError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(AppError::Secrets("the key is empty".into()));
        }
        let stored = StoredKey {
            key: key.to_string(),
            origin,
        }
        .encode();
        match &self.keychain {
            Some(k) => k
                .set(provider.prefix(), &stored)
                .map_err(AppError::Secrets)?,
            None => {
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                let mut keys = self.read_file();
                keys.insert(provider.prefix().to_string(), stored);
                self.write_file(&keys)?;
            }
        }
        Ok(self.storage())
    }

    pub fn clear(&self, provider: ProviderKind) -> Result<(), AppError> {
        match &self.keychain {
            Some(k) => k.delete(provider.prefix()).map_err(AppError::Secrets),
            None => {
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                let mut keys = self.read_file();
                keys.remove(provider.prefix());
                self.write_file(&keys)
            }
        }
    }

    fn move_file_into_keychain(&self) {
        let Some(keychain) = &self.keychain else {
            return;
        };
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let keys = self.read_file();
        if keys.is_empty() {
            return;
        }
        for (name, value) in &keys {
            if let Err(e) = keychain.set(name, value) {
                tracing::warn!("keys stay in the key file: the keychain refused one ({e})");
                return;
            }
        }
        match std::fs::remove_file(&self.file) {
            Ok(()) => tracing::info!("API keys moved from the key file into the keychain"),
            Err(e) => tracing::warn!("keys are in the keychain, but the key file stays: {e}"),
        }
    }

    fn read_file(&self) -> BTreeMap<String, String> {
        self.check_private();
        std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Says so (and closes it again) when another user could read the key file.
    fn check_private(&self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let Ok(meta) = std::fs::metadata(&self.file) else {
                return;
            };
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                let message = format!(
                    "The key file {} could be read by other users of this computer (mode {mode:o}). Stepwise made it private again; if others use this computer, replace your keys.",
                    self.file.display()
                );
                tracing::warn!("{message}");
                let _ =
                    std::fs::set_permissions(&self.file, std::fs::Permissions::from_mode(0o600));
                *self.warning.lock().unwrap_or_else(PoisonError::into_inner) = Some(message);
            }
        }
    }

    fn write_file(&self, keys: &BTreeMap<String, String>) -> Result<(), AppError> {
        let err = |e: std::io::Error| AppError::Secrets(format!("{}: {e}", self.file.display()));
        let dir = self
            .file
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(err)?;
        let text = toml::to_string(keys).map_err(|e| AppError::Secrets(e.to_string()))?;
        // A new file under a name nobody can have prepared (a link planted at a fixed name
        // would redirect the write), private from its first byte, then moved into place.
        let tmp = dir.join(format!(".secrets-{}.tmp", uuid::Uuid::new_v4()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|mut f| {
            std::io::Write::write_all(&mut f, text.as_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &self.file)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("stepwise-secrets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("secrets.toml")
    }

    #[test]
    fn the_file_store_keeps_keys_private() {
        let file = scratch("file");
        let s = Secrets::file_only(file.clone());
        assert_eq!(s.get(ProviderKind::OpenAi), None);
        assert_eq!(
            s.set(
                ProviderKind::OpenAi,
                "  sk-1 ",
                origin_of("https://api.openai.com/v1")
            )
            .unwrap(),
            KeyStorage::File
        );
        s.set(ProviderKind::Anthropic, "ant-2", None).unwrap();
        let got = s.get(ProviderKind::OpenAi).unwrap();
        assert_eq!(got.key, "sk-1");
        assert_eq!(got.origin.as_deref(), Some("https://api.openai.com"));
        s.clear(ProviderKind::OpenAi).unwrap();
        assert_eq!(s.get(ProviderKind::OpenAi), None);
        assert_eq!(s.get(ProviderKind::Anthropic).unwrap().key, "ant-2");
        assert!(s.set(ProviderKind::OpenAi, "  ", None).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            // No temporary file is left beside it.
            let left: Vec<_> = std::fs::read_dir(file.parent().unwrap()).unwrap().collect();
            assert_eq!(left.len(), 1);
            // Opened up by someone: said, and closed again.
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(s.get(ProviderKind::Anthropic).is_some());
            assert!(s.warning().unwrap().contains("other users"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_plain_key_from_before_reads_as_a_key_without_an_address() {
        assert_eq!(
            StoredKey::decode("sk-old"),
            Some(StoredKey {
                key: "sk-old".into(),
                origin: None
            })
        );
        assert_eq!(
            origin_of("HTTPS://user:pw@API.example.com:8443/v1?x=1").as_deref(),
            Some("https://api.example.com:8443")
        );
        assert_eq!(origin_of("not a url"), None);
    }

    /// A keychain in memory.
    #[derive(Default)]
    struct FakeKeychain(Mutex<HashMap<String, String>>);

    impl Keychain for FakeKeychain {
        fn answers(&self) -> bool {
            true
        }
        fn get(&self, name: &str) -> Result<Option<String>, String> {
            Ok(self.0.lock().unwrap().get(name).cloned())
        }
        fn set(&self, name: &str, value: &str) -> Result<(), String> {
            self.0.lock().unwrap().insert(name.into(), value.into());
            Ok(())
        }
        fn delete(&self, name: &str) -> Result<(), String> {
            self.0.lock().unwrap().remove(name);
            Ok(())
        }
    }

    #[test]
    fn keys_move_from_the_file_into_a_keychain_once_one_answers() {
        let file = scratch("move");
        Secrets::file_only(file.clone())
            .set(ProviderKind::OpenAi, "sk-moved", None)
            .unwrap();
        let keychain = Arc::new(FakeKeychain::default());
        let s = Secrets::with_keychain(file.clone(), keychain.clone());
        assert_eq!(s.storage(), KeyStorage::Keychain);
        assert_eq!(s.get(ProviderKind::OpenAi).unwrap().key, "sk-moved");
        assert!(!file.exists(), "the key file is gone");
        assert!(keychain.0.lock().unwrap().contains_key("openai"));
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }
}
