//! Who may talk to an endpoint: the user who owns it, nobody else. The folder (0700) and the
//! socket (0600) already keep others out; the peer's uid, which the kernel vouches for
//! (`SO_PEERCRED`), is checked on every connection as well, so a mode loosened by mistake (or a
//! root-owned process handing the socket on) does not open it.

/// The uid this process runs as.
#[cfg(unix)]
pub fn my_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether a connection whose peer has `peer_uid` (`None`: the kernel could not say) may use an
/// endpoint of `owner_uid`.
pub fn allowed(peer_uid: Option<u32>, owner_uid: u32) -> bool {
    peer_uid == Some(owner_uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_user_is_let_in() {
        assert!(allowed(Some(1000), 1000));
        assert!(!allowed(Some(1001), 1000));
        // Root is another user too: it can read the socket, not talk through it unchecked.
        assert!(!allowed(Some(0), 1000));
        assert!(!allowed(None, 1000));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_real_peer_carries_our_uid() {
        let (a, _b) = tokio::net::UnixStream::pair().unwrap();
        let peer = a.peer_cred().unwrap().uid();
        assert!(allowed(Some(peer), my_uid()));
        assert!(!allowed(Some(peer.wrapping_add(1)), my_uid()));
    }
}
