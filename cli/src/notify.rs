//! systemd's readiness protocol (`Type=notify`, sd_notify(3)): when the
//! service manager sets `NOTIFY_SOCKET`, the node says `READY=1` once its
//! store is open and its API and swarm listen, and `STOPPING=1` when told
//! to stop. Anywhere else it says nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (`READY=1`, `STOPPING=1`) to the service manager, if
/// there is one. A manager that cannot be told is logged, not fatal: the
/// node runs the same.
pub(crate) fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else { return };
    if let Err(e) = send(&path, state) {
        tracing::warn!("telling the service manager {state}: {e}");
    }
}

fn send(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path);
    // A leading `@` names a socket in Linux's abstract namespace.
    let address = match bytes.strip_prefix(b"@") {
        #[cfg(target_os = "linux")]
        Some(name) => <SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name)?,
        #[cfg(not(target_os = "linux"))]
        Some(_) => return Err(std::io::Error::other("abstract sockets are Linux's")),
        None => SocketAddr::from_pathname(path)?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}
