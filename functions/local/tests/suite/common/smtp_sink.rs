//! A tiny SMTP server for the email tests: it keeps the DATA of every
//! message it accepts, and can answer `451` once (busy) or refuse the
//! mailbox `bounce@…` with `550`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A tiny SMTP server that keeps what it receives.
#[derive(Clone, Default)]
pub struct Sink {
    /// The DATA of every accepted message.
    pub messages: Arc<Mutex<Vec<String>>>,
    /// `MAIL FROM` commands seen.
    pub mails: Arc<AtomicUsize>,
    /// Answer the next `MAIL FROM` with 451.
    pub busy_once: Arc<AtomicBool>,
    /// Refuse the recipient `bounce@…` with 550.
    pub refuse_bounce: Arc<AtomicBool>,
}

impl Sink {
    pub async fn start() -> (Sink, u16) {
        let sink = Sink::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move { s.serve(socket).await });
            }
        });
        (sink, port)
    }

    async fn serve(&self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        if !say(&mut write, "220 sink.test ESMTP".into()).await {
            return;
        }
        while let Ok(Some(line)) = lines.next_line().await {
            let cmd = line.to_ascii_uppercase();
            let answer = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                "250-sink.test\r\n250 8BITMIME".to_string()
            } else if cmd.starts_with("MAIL FROM") {
                self.mails.fetch_add(1, Ordering::SeqCst);
                if self.busy_once.swap(false, Ordering::SeqCst) {
                    "451 4.3.0 busy, try later".to_string()
                } else {
                    "250 OK".to_string()
                }
            } else if cmd.starts_with("RCPT TO") {
                if cmd.contains("BOUNCE@") && self.refuse_bounce.load(Ordering::SeqCst) {
                    "550 5.1.1 no such mailbox".to_string()
                } else {
                    "250 OK".to_string()
                }
            } else if cmd.starts_with("DATA") {
                if !say(&mut write, "354 go ahead".into()).await {
                    return;
                }
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                self.messages.lock().unwrap().push(data);
                "250 OK queued".to_string()
            } else if cmd.starts_with("QUIT") {
                let _ = say(&mut write, "221 bye".into()).await;
                return;
            } else {
                "250 OK".to_string()
            };
            if !say(&mut write, answer).await {
                return;
            }
        }
    }
}

async fn say(w: &mut tokio::net::tcp::OwnedWriteHalf, text: String) -> bool {
    w.write_all(format!("{text}\r\n").as_bytes()).await.is_ok()
}
