//! systemd's readiness protocol (`Type=notify`, sd_notify(3)): when the
//! service manager sets `NOTIFY_SOCKET`, the node says `READY=1` once its
//! store is open and its API and swarm listen, and `STOPPING=1` when told
//! to stop. Anywhere else it says nothing.
//!
//! With `WatchdogSec=` in the unit, the manager also sets `WATCHDOG_USEC`:
//! the node then says `WATCHDOG=1` every half interval, but only after its
//! network task has answered in time, so that a hung node is restarted.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use communs_node::net::Network;

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

/// The watchdog interval the service manager asks of this process, if
/// any: `WATCHDOG_USEC`, unless `WATCHDOG_PID` names another process (a
/// child that inherited the environment is not the one watched).
pub(crate) fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    interval_for(usec.as_deref(), pid.as_deref(), std::process::id())
}

fn interval_for(usec: Option<&str>, pid: Option<&str>, own: u32) -> Option<Duration> {
    let usec = usec?.parse::<u64>().ok().filter(|&usec| usec > 0)?;
    if let Some(pid) = pid
        && pid.parse::<u32>().ok()? != own
    {
        return None;
    }
    Some(Duration::from_micros(usec))
}

/// Says `WATCHDOG=1` every half `interval` while the network task answers
/// a request within that half; runs until aborted. A task stuck on a lock
/// or a loop that never yields stops the keep-alives, and systemd restarts
/// the node.
pub(crate) async fn keep_alive(network: Network, interval: Duration) {
    let period = interval / 2;
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match tokio::time::timeout(period, network.connected_peers()).await {
            Ok(Ok(_)) => notify("WATCHDOG=1"),
            Ok(Err(e)) => tracing::warn!("watchdog: not saying all is well: {e}"),
            Err(_) => tracing::warn!(
                "watchdog: the network task did not answer within {} ms: not saying all is well",
                period.as_millis()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::interval_for;

    #[test]
    fn the_watchdog_is_on_only_for_a_positive_interval_and_this_process() {
        assert_eq!(interval_for(Some("20000000"), None, 42), Some(Duration::from_secs(20)));
        assert_eq!(interval_for(Some("20000000"), Some("42"), 42), Some(Duration::from_secs(20)));
        assert_eq!(interval_for(Some("20000000"), Some("43"), 42), None, "another process is watched");
        assert_eq!(interval_for(Some("20000000"), Some("x"), 42), None);
        assert_eq!(interval_for(Some("0"), None, 42), None);
        assert_eq!(interval_for(Some("soon"), None, 42), None);
        assert_eq!(interval_for(None, Some("42"), 42), None);
    }
}
