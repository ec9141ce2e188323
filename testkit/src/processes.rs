//! The processes on this computer a test started, found by a tag on their command line (a test
//! gives each child it starts a tag of its own, so it can check that they all ended).

/// Live processes whose command line has `tag`.
pub fn processes_tagged(tag: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|dir| dir.collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmd).contains(tag)
        })
        .collect()
}
