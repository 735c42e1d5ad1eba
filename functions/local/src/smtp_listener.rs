//! The local server's optional SMTP listener (issue #15): the receiving
//! side of SMTP (RFC 5321) — `HELO`/`EHLO`, `MAIL FROM`, `RCPT TO`, `DATA`,
//! `RSET`, `NOOP`, `QUIT` — for mail to the inbound domain, each message
//! handed to [`crm_core::Engine::receive_email`] (replies and clients'
//! emails raise `incoming_email`; bounce reports mark the message).
//!
//! Off by default (`--smtp-listen` / `CRM_SMTP_LISTEN`, e.g.
//! `127.0.0.1:2525`). It is not a relay: recipients outside the inbound
//! domain are refused (`550`). No TLS and no authentication: put it behind
//! the mail server that receives for the domain (which relays the domain's
//! mail to it), or on a trusted network. Bounded: command lines of
//! [`MAX_LINE`] bytes, messages of [`MAX_MESSAGE_BYTES`] (`SIZE` is
//! advertised; larger ones are refused with `552` after they are read),
//! [`MAX_RECIPIENTS`] recipients, [`COMMAND_TIMEOUT`] per command or data
//! line, [`MAX_CONNECTIONS`] connections at once and [`MAX_ERRORS`]
//! refused commands per connection.
//!
//! A message is answered `250` once it is taken, whether it matched or
//! not (an unmatched mail is logged and dropped, so nothing bounces back
//! and forth); a store failure is a `451` (the sending server tries again).
//! No crate was used for the protocol: the well-known Rust SMTP server
//! crates are blocking (thread per connection) or unmaintained, and the
//! receiving side needed here is these few commands.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crm_core::inbound::Received;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::runtime::Runtime;

/// Longest command line (RFC 5321 allows 512 with the line break; some
/// extensions more).
pub const MAX_LINE: usize = 2048;
/// Largest message taken (bytes, after dot-unstuffing).
pub const MAX_MESSAGE_BYTES: usize = crm_core::inbound::mail::MAX_MAIL_BYTES;
/// Most recipients of one message.
pub const MAX_RECIPIENTS: usize = crm_core::inbound::MAX_RECIPIENTS;
/// How long the client may take to send a command or a line of data.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Connections served at once (more are told `421` and closed).
pub const MAX_CONNECTIONS: usize = 64;
/// Refused commands one connection may send before it is closed.
pub const MAX_ERRORS: usize = 20;
/// Longest data line read at once (longer lines are read in pieces).
const MAX_DATA_LINE: usize = 64 * 1024;

/// A running listener.
pub struct SmtpListener {
    /// The address bound.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl SmtpListener {
    /// Bind `addr` and serve mail for `domain` into `runtime`'s engine.
    pub async fn start(addr: &str, domain: &str, runtime: Runtime) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let domain = domain.to_ascii_lowercase();
        tracing::info!(%addr, %domain, "SMTP listener for incoming email");
        let task = tokio::spawn(accept(listener, Arc::new(domain), runtime, stopped));
        Ok(SmtpListener { addr, stop, task })
    }

    /// Stop accepting (sessions in progress end on their own).
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept(
    listener: TcpListener,
    domain: Arc<String>,
    runtime: Runtime,
    mut stop: oneshot::Receiver<()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting an SMTP connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    let _ = stream.try_write(b"421 4.3.2 too many connections, try later\r\n");
                    continue;
                };
                let (domain, runtime) = (domain.clone(), runtime.clone());
                tokio::spawn(async move {
                    let (read, write) = stream.into_split();
                    let mut session = Session::new(read, write, &domain, runtime);
                    if let Err(e) = session.run().await {
                        tracing::debug!(%peer, error = %e, "SMTP session ended");
                    }
                    drop(permit);
                });
            }
            _ = &mut stop => return,
        }
    }
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
enum SessionEnd {
    #[error("the client was silent too long")]
    Timeout,
    #[error("the connection closed")]
    Closed,
    #[error("too many refused commands")]
    TooManyErrors,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// One SMTP conversation.
struct Session<'a, R, W> {
    read: BufReader<R>,
    write: W,
    domain: &'a str,
    runtime: Runtime,
    greeted: bool,
    mail_from: Option<String>,
    recipients: Vec<String>,
    errors: usize,
}

impl<'a, R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Session<'a, R, W> {
    fn new(read: R, write: W, domain: &'a str, runtime: Runtime) -> Self {
        Session {
            read: BufReader::new(read),
            write,
            domain,
            runtime,
            greeted: false,
            mail_from: None,
            recipients: Vec::new(),
            errors: 0,
        }
    }

    async fn run(&mut self) -> Result<(), SessionEnd> {
        let hello = format!("220 {} ESMTP crm-automation", self.domain);
        self.say(&hello).await?;
        loop {
            let line = match self.line(MAX_LINE).await {
                Ok(l) => l,
                Err(SessionEnd::Timeout) => {
                    let _ = self.say("421 4.4.2 timeout, closing").await;
                    return Err(SessionEnd::Timeout);
                }
                Err(e) => return Err(e),
            };
            let Some(line) = line else {
                self.refuse("500 5.5.2 line too long").await?;
                continue;
            };
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            let (verb, arg) = text.split_once(' ').unwrap_or((text, ""));
            match verb.to_ascii_uppercase().as_str() {
                "HELO" => {
                    self.greeted = true;
                    self.reset();
                    self.say(&format!("250 {}", self.domain)).await?;
                }
                "EHLO" => {
                    self.greeted = true;
                    self.reset();
                    let answer = format!(
                        "250-{}\r\n250-SIZE {MAX_MESSAGE_BYTES}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES",
                        self.domain
                    );
                    self.say(&answer).await?;
                }
                "MAIL" => self.mail(arg).await?,
                "RCPT" => self.rcpt(arg).await?,
                "DATA" => self.data().await?,
                "RSET" => {
                    self.reset();
                    self.say("250 2.0.0 OK").await?;
                }
                "NOOP" => self.say("250 2.0.0 OK").await?,
                "VRFY" => self.say("252 2.5.0 cannot verify, send some mail").await?,
                "QUIT" => {
                    self.say(&format!("221 2.0.0 {} closing", self.domain))
                        .await?;
                    return Ok(());
                }
                _ => self.refuse("502 5.5.1 command not implemented").await?,
            }
        }
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.recipients.clear();
    }

    async fn mail(&mut self, arg: &str) -> Result<(), SessionEnd> {
        if !self.greeted {
            return self.refuse("503 5.5.1 say HELO or EHLO first").await;
        }
        if self.mail_from.is_some() {
            return self.refuse("503 5.5.1 nested MAIL command").await;
        }
        let Some((path, params)) = path_arg(arg, "FROM:") else {
            return self.refuse("501 5.5.4 syntax: MAIL FROM:<address>").await;
        };
        let size = params
            .split_whitespace()
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("SIZE"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        if size.is_some_and(|s| s > MAX_MESSAGE_BYTES) {
            return self
                .refuse("552 5.3.4 message size exceeds the limit")
                .await;
        }
        self.mail_from = Some(path);
        self.say("250 2.1.0 OK").await
    }

    async fn rcpt(&mut self, arg: &str) -> Result<(), SessionEnd> {
        if self.mail_from.is_none() {
            return self.refuse("503 5.5.1 need MAIL before RCPT").await;
        }
        let Some((path, _)) = path_arg(arg, "TO:") else {
            return self.refuse("501 5.5.4 syntax: RCPT TO:<address>").await;
        };
        let ours = path
            .rsplit_once('@')
            .is_some_and(|(local, d)| !local.is_empty() && d.eq_ignore_ascii_case(self.domain));
        if !ours {
            return self
                .refuse("550 5.7.1 relaying denied: not a mailbox of this domain")
                .await;
        }
        if self.recipients.len() >= MAX_RECIPIENTS {
            return self.say("452 4.5.3 too many recipients").await;
        }
        self.recipients.push(path);
        self.say("250 2.1.5 OK").await
    }

    async fn data(&mut self) -> Result<(), SessionEnd> {
        if self.recipients.is_empty() {
            return self.refuse("503 5.5.1 need RCPT before DATA").await;
        }
        self.say("354 end data with <CR><LF>.<CR><LF>").await?;
        let mut message = Vec::new();
        let mut too_large = false;
        let mut at_line_start = true;
        loop {
            let piece = self.piece(MAX_DATA_LINE).await?;
            let ends_line = piece.ends_with(b"\n");
            let mut piece = piece.as_slice();
            if at_line_start {
                if piece == b".\r\n" || piece == b".\n" {
                    break;
                }
                if piece.starts_with(b".") {
                    piece = &piece[1..];
                }
            }
            at_line_start = ends_line;
            if message.len() + piece.len() > MAX_MESSAGE_BYTES {
                too_large = true;
                message.clear();
            } else if !too_large {
                message.extend_from_slice(piece);
            }
        }
        let recipients = std::mem::take(&mut self.recipients);
        self.mail_from = None;
        if too_large {
            return self.say("552 5.3.4 message size exceeds the limit").await;
        }
        let engine = self.runtime.engine();
        match engine.receive_email(&message, &recipients).await {
            Ok(got) => {
                if !matches!(got, Received::Unmatched { .. }) {
                    self.runtime.notify();
                }
                self.say("250 2.0.0 OK: message taken").await
            }
            Err(e) => {
                tracing::warn!(error = %e, "an incoming email could not be taken; the sender will retry");
                self.say("451 4.3.0 cannot take the message now, try later")
                    .await
            }
        }
    }

    /// One line of at most `max` bytes (with its line break): `None` when it
    /// was longer (the rest of it is read and dropped).
    async fn line(&mut self, max: usize) -> Result<Option<Vec<u8>>, SessionEnd> {
        let first = self.piece(max).await?;
        if first.ends_with(b"\n") {
            return Ok(Some(first));
        }
        loop {
            if self.piece(max).await?.ends_with(b"\n") {
                return Ok(None);
            }
        }
    }

    /// Up to `max` bytes, ending at the first line break if there is one.
    async fn piece(&mut self, max: usize) -> Result<Vec<u8>, SessionEnd> {
        let mut buf = Vec::new();
        let mut limited = (&mut self.read).take(max as u64);
        let read = limited.read_until(b'\n', &mut buf);
        match tokio::time::timeout(COMMAND_TIMEOUT, read).await {
            Err(_) => Err(SessionEnd::Timeout),
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(0)) => Err(SessionEnd::Closed),
            Ok(Ok(_)) => Ok(buf),
        }
    }

    async fn say(&mut self, text: &str) -> Result<(), SessionEnd> {
        self.write.write_all(text.as_bytes()).await?;
        self.write.write_all(b"\r\n").await?;
        self.write.flush().await?;
        Ok(())
    }

    /// Answer a refused command; too many end the session.
    async fn refuse(&mut self, text: &str) -> Result<(), SessionEnd> {
        self.errors += 1;
        if self.errors > MAX_ERRORS {
            let _ = self.say("421 4.7.0 too many errors, closing").await;
            return Err(SessionEnd::TooManyErrors);
        }
        self.say(text).await
    }
}

/// The address of `FROM:<a@b> params` / `TO:<a@b>` (lower case, without
/// the brackets; `<>` is the empty address) and the rest.
fn path_arg(arg: &str, key: &str) -> Option<(String, String)> {
    let arg = arg.trim_start();
    let head = arg.get(..key.len())?;
    if !head.eq_ignore_ascii_case(key) {
        return None;
    }
    let rest = arg[key.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let (path, params) = rest.split_once('>')?;
    // A source route (`<@a,@b:c@d>`) names the mailbox after the colon.
    let path = path.rsplit_once(':').map_or(path, |(_, p)| p);
    if path.len() > crm_core::api::MAX_EMAIL_LEN || path.contains(char::is_whitespace) {
        return None;
    }
    Some((path.to_ascii_lowercase(), params.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_with_their_parameters() {
        assert_eq!(
            path_arg("FROM:<Buyer@Romashka.test> SIZE=120", "FROM:"),
            Some(("buyer@romashka.test".into(), "SIZE=120".into()))
        );
        assert_eq!(
            path_arg("to: <@relay.test:in_x@in.test>", "TO:"),
            Some(("in_x@in.test".into(), String::new()))
        );
        assert_eq!(
            path_arg("FROM:<>", "FROM:"),
            Some((String::new(), String::new()))
        );
        assert_eq!(path_arg("FROM:a@b", "FROM:"), None);
        assert_eq!(path_arg("TO:<a@b>", "FROM:"), None);
    }
}
