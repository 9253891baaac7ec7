//! systemd's readiness protocol (`sd_notify`): a datagram with `KEY=VALUE` lines sent to the unix socket named by
//! `NOTIFY_SOCKET`, which systemd sets for `Type=notify` units. Nothing happens when it is unset.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;

/// Sends `state` (e.g. `READY=1`) to systemd when the service manager asked for notifications. A failure is
/// logged, not returned: the service works without it (systemd then times the start out and says why).
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else { return };
    match send(&socket, state) {
        Ok(()) => tracing::debug!(state, "notified systemd"),
        Err(e) => tracing::warn!(state, socket = %Path::new(&socket).display(), error = %e, "cannot notify systemd"),
    }
}

/// Sends one notification datagram to `socket`: a path, or an abstract-namespace name written with a leading `@`.
fn send(socket: &OsStr, state: &str) -> io::Result<()> {
    let addr = match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(socket)?,
    };
    let sent = UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr)?;
    if sent == state.len() {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::WriteZero, format!("sent {sent} of {} bytes", state.len())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_reaches_a_path_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        send(path.as_os_str(), "READY=1").expect("sent");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).expect("received");
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn a_notification_reaches_an_abstract_socket() {
        let name = format!("ferry-agent-test-{}", std::process::id());
        let listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).expect("name")).expect("bind");
        send(OsStr::new(&format!("@{name}")), "STOPPING=1").expect("sent");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).expect("received");
        assert_eq!(&buf[..n], b"STOPPING=1");
    }

    #[test]
    fn a_missing_socket_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(send(dir.path().join("absent").as_os_str(), "READY=1").is_err());
    }
}
