//! API keys: in the OS keychain (the `keyring` crate), or — where no keychain answers, as on a
//! headless Linux without a Secret Service — in a file only the user can read, and the UI says so.
//! Keys go in here and out only to the providers; never to the front end, never to a log.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

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

pub struct Secrets {
    storage: KeyStorage,
    file: PathBuf,
    /// Serializes file read-modify-write.
    lock: Mutex<()>,
}

impl Secrets {
    /// Uses the keychain if it answers, else the file.
    pub fn open(file: PathBuf) -> Self {
        let storage = if keychain_answers() {
            KeyStorage::Keychain
        } else {
            KeyStorage::File
        };
        Secrets {
            storage,
            file,
            lock: Mutex::new(()),
        }
    }

    /// Always the file (tests, and machines where the keychain must not be touched).
    pub fn file_only(file: PathBuf) -> Self {
        Secrets {
            storage: KeyStorage::File,
            file,
            lock: Mutex::new(()),
        }
    }

    pub fn storage(&self) -> KeyStorage {
        self.storage
    }

    pub fn get(&self, provider: ProviderKind) -> Option<String> {
        match self.storage {
            KeyStorage::Keychain => entry(provider).ok()?.get_password().ok(),
            KeyStorage::File => self.read_file().remove(provider.prefix()),
        }
        .filter(|k| !k.is_empty())
    }

    pub fn set(&self, provider: ProviderKind, key: &str) -> Result<KeyStorage, AppError> {
        let key = key.trim();
        if key.is_empty() {
            return Err(AppError::Secrets("the key is empty".into()));
        }
        match self.storage {
            KeyStorage::Keychain => entry(provider)
                .and_then(|e| e.set_password(key))
                .map_err(|e| AppError::Secrets(e.to_string()))?,
            KeyStorage::File => {
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                let mut keys = self.read_file();
                keys.insert(provider.prefix().to_string(), key.to_string());
                self.write_file(&keys)?;
            }
        }
        Ok(self.storage)
    }

    pub fn clear(&self, provider: ProviderKind) -> Result<(), AppError> {
        match self.storage {
            KeyStorage::Keychain => match entry(provider).and_then(|e| e.delete_credential()) {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(AppError::Secrets(e.to_string())),
            },
            KeyStorage::File => {
                let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                let mut keys = self.read_file();
                keys.remove(provider.prefix());
                self.write_file(&keys)
            }
        }
    }

    fn read_file(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn write_file(&self, keys: &BTreeMap<String, String>) -> Result<(), AppError> {
        let err = |e: std::io::Error| AppError::Secrets(format!("{}: {e}", self.file.display()));
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let text = toml::to_string(keys).map_err(|e| AppError::Secrets(e.to_string()))?;
        // Written to a fresh file that only the user can read, then moved into place.
        let tmp = self.file.with_extension("toml.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(err)?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.file).map_err(err)
    }
}

fn entry(provider: ProviderKind) -> keyring::Result<keyring::Entry> {
    keyring::Entry::new(SERVICE, provider.prefix())
}

/// The keychain answers if reading a missing entry says "no entry" (rather than failing).
fn keychain_answers() -> bool {
    matches!(
        keyring::Entry::new(SERVICE, "stepwise-probe").and_then(|e| e.get_password()),
        Ok(_) | Err(keyring::Error::NoEntry)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_store_keeps_keys_private() {
        let dir = std::env::temp_dir().join(format!("stepwise-secrets-{}", std::process::id()));
        let file = dir.join("secrets.toml");
        let s = Secrets::file_only(file.clone());
        assert_eq!(s.get(ProviderKind::OpenAi), None);
        assert_eq!(
            s.set(ProviderKind::OpenAi, "  sk-1 ").unwrap(),
            KeyStorage::File
        );
        s.set(ProviderKind::Anthropic, "ant-2").unwrap();
        assert_eq!(s.get(ProviderKind::OpenAi).as_deref(), Some("sk-1"));
        s.clear(ProviderKind::OpenAi).unwrap();
        assert_eq!(s.get(ProviderKind::OpenAi), None);
        assert_eq!(s.get(ProviderKind::Anthropic).as_deref(), Some("ant-2"));
        assert!(s.set(ProviderKind::OpenAi, "  ").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
