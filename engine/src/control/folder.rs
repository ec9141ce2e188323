//! The folder the endpoints' sockets live in: `$XDG_RUNTIME_DIR/stepwise/` (a per-user folder
//! the session manager makes and clears), else a private folder in the temporary folder named
//! after the uid. Either way it must be ours and 0700: a folder someone else made, or a symbolic
//! link, is refused rather than used.

use std::path::{Path, PathBuf};

/// Why the runtime folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("cannot make the folder for Stepwise's sockets, {path}: {message}")]
    Io { path: String, message: String },
    #[error("{path} belongs to another user or is not a plain folder; Stepwise will not use it")]
    NotOurs { path: String },
}

/// The folder, made if needed, checked, and set to 0700.
#[cfg(unix)]
pub fn runtime_folder() -> Result<PathBuf, FolderError> {
    let uid = super::peer::my_uid();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(base) if base.is_absolute() && base.is_dir() => base.join("stepwise"),
        _ => std::env::temp_dir().join(format!("stepwise-{uid}")),
    };
    private(&dir, uid)?;
    Ok(dir)
}

#[cfg(unix)]
fn private(dir: &Path, uid: u32) -> Result<(), FolderError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};

    let io = |e: std::io::Error| FolderError::Io {
        path: dir.display().to_string(),
        message: e.to_string(),
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(e)),
    }
    // Not followed: a link planted where our folder should be is refused.
    let meta = std::fs::symlink_metadata(dir).map_err(io)?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(FolderError::NotOurs {
            path: dir.display().to_string(),
        });
    }
    if meta.mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    #[test]
    fn the_folder_is_made_private_and_a_loose_one_is_tightened() {
        let base = std::env::temp_dir().join(format!("sw-folder-{}", uuid::Uuid::new_v4()));
        let dir = base.join("stepwise");
        std::fs::create_dir_all(&base).unwrap();
        private(&dir, super::super::peer::my_uid()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private(&dir, super::super::peer::my_uid()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn a_link_or_a_folder_of_another_user_is_refused() {
        let base = std::env::temp_dir().join(format!("sw-folder-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(base.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(base.join("elsewhere"), base.join("stepwise")).unwrap();
        let me = super::super::peer::my_uid();
        assert!(matches!(
            private(&base.join("stepwise"), me),
            Err(FolderError::NotOurs { .. })
        ));
        // The same folder judged for another uid: not theirs.
        assert!(matches!(
            private(&base.join("elsewhere"), me.wrapping_add(1)),
            Err(FolderError::NotOurs { .. })
        ));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
