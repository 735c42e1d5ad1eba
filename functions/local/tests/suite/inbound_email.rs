//! Incoming email (issue #15) on the local server, end to end: the robot's
//! email leaves by SMTP to a sink (with its `Reply-To` and tagged
//! `Message-ID`), the client's reply comes back through the server's own
//! SMTP listener (lettre as the client's mail server) and the deal moves
//! through an `incoming_email` trigger; a new email from the client's
//! address moves it too; a stranger, a repeated delivery, a relay attempt
//! change nothing; a bounce report marks the email `bounced` and shows on
//! the run that sent it (once, however often it comes); the tenant reads
//! its inbound address at `GET /v1/inbound-email`.
//!
//! One test in this binary: it sets the process environment before the
//! server starts.

use crate::common;

use std::sync::{Arc, Mutex};

use common::{ADMIN_KEY, Api, KEYS, MONDAY_1144_MSK, company};
use crm_automation::{ClockMode, ServeConfig, Server};
use crm_core::testing::at;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DOMAIN: &str = "in.shop.test";

/// A tiny SMTP server keeping the DATA of every message (where the robot's
/// emails go).
#[derive(Clone, Default)]
struct Sink {
    messages: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    async fn start() -> (Sink, u16) {
        let sink = Sink::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { s.serve(socket).await });
            }
        });
        (sink, port)
    }

    async fn serve(&self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink.test ESMTP\r\n").await;
        while let Ok(Some(line)) = lines.next_line().await {
            let cmd = line.to_ascii_uppercase();
            let answer = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                "250 sink.test"
            } else if cmd.starts_with("DATA") {
                let _ = write.write_all(b"354 go ahead\r\n").await;
                let mut data = String::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    data.push_str(&l);
                    data.push('\n');
                }
                self.messages.lock().unwrap().push(data);
                "250 OK queued"
            } else if cmd.starts_with("QUIT") {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                "250 OK"
            };
            if write
                .write_all(format!("{answer}\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// A header's value in the (unfolded) text of a sent email.
fn header(data: &str, name: &str) -> String {
    data.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no {name} in {data}"))
}

/// Send `email` to the listener as the client's mail server would.
async fn deliver(port: u16, email: Message) {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build()
        .send(email)
        .await
        .expect("the listener takes the mail");
}

fn email(from: &str, to: &str, id: &str, in_reply_to: Option<&str>) -> Message {
    let mut b = Message::builder()
        .from(from.parse::<Mailbox>().unwrap())
        .to(to.parse::<Mailbox>().unwrap())
        .subject("Re: Your offer")
        .message_id(Some(format!("<{id}>")));
    if let Some(r) = in_reply_to {
        b = b.in_reply_to(r.to_string()).references(r.to_string());
    }
    b.header(ContentType::TEXT_PLAIN)
        .body("Yes, we take it.".to_string())
        .unwrap()
}

/// A raw SMTP conversation: each command's answer.
async fn converse(port: u16, commands: &[&str]) -> Vec<String> {
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    let greeting = lines.next_line().await.unwrap().unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");
    let mut answers = Vec::new();
    for c in commands {
        write
            .write_all(format!("{c}\r\n").as_bytes())
            .await
            .unwrap();
        // The last line of a (possibly multi-line) answer.
        loop {
            let l = lines.next_line().await.unwrap().unwrap();
            if l.as_bytes().get(3) != Some(&b'-') {
                answers.push(l);
                break;
            }
        }
    }
    answers
}

async fn stage(api: &Api, item: &str) -> Value {
    api.get(&format!("/v1/items/{item}")).await["stage_id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_clients_emails_reach_the_deal_through_the_smtp_listener() {
    let (sink, sink_port) = Sink::start().await;
    // SAFETY: the only test of this binary; set before anything reads them.
    unsafe {
        std::env::set_var("CRM_SMTP_URL", format!("smtp://127.0.0.1:{sink_port}"));
        std::env::set_var("CRM_MAIL_FROM", "CRM Robots <robots@shop.test>");
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServeConfig {
        addr: "127.0.0.1:0".into(),
        data: dir.path().to_path_buf(),
        clock: ClockMode::Manual,
        start_at: Some(at(MONDAY_1144_MSK)),
        api_keys: Some(KEYS.into()),
        admin_key: Some(ADMIN_KEY.into()),
        smtp_listen: Some("127.0.0.1:0".into()),
        inbound_domain: Some(DOMAIN.into()),
        ..ServeConfig::default()
    })
    .await
    .expect("server starts");
    let smtp = server
        .smtp
        .as_ref()
        .expect("the listener is on")
        .addr
        .port();
    let api = Api::new(&server.base_url(), "key-acme");
    company(&api).await;
    api.robot(json!({"stage_id": "new", "type": "email_client",
        "settings": {"subject": "Your offer", "text": "Dear {{client.name}}, here is the offer."}}))
        .await;
    api.trigger(json!({"stage_id": "prep", "type": "incoming_email", "settings": {}}))
        .await;

    let item = api.deal("new", 100.0).await;
    api.settle().await;
    let sent = sink.messages.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let reply_to = header(&sent[0], "Reply-To");
    let message_id = header(&sent[0], "Message-ID");
    assert!(
        reply_to.starts_with("in_") && reply_to.ends_with(&format!("@{DOMAIN}")),
        "{reply_to}"
    );
    assert!(
        message_id.starts_with("<out.") && message_id.contains(&reply_to[..35]),
        "{message_id}"
    );

    // The reply, from another address of the client's company: matched by
    // its In-Reply-To.
    let reply = email(
        "Ivan <ivan@romashka.test>",
        &reply_to,
        "reply-1@romashka.test",
        Some(&message_id),
    );
    deliver(smtp, reply.clone()).await;
    api.settle().await;
    assert_eq!(stage(&api, &item).await, "prep");
    let timeline = api.timeline(&item).await;
    assert!(
        timeline.iter().any(|e| e["kind"] == "stage_changed"),
        "{timeline:#?}"
    );

    // The same reply delivered again: nothing moves.
    api.move_to(&item, "new").await;
    deliver(smtp, reply).await;
    api.settle().await;
    assert_eq!(stage(&api, &item).await, "new");

    // A stranger writes to the tenant's address: nothing moves.
    deliver(
        smtp,
        email("spam@bulk.test", &reply_to, "spam-1@bulk.test", None),
    )
    .await;
    api.settle().await;
    assert_eq!(stage(&api, &item).await, "new");

    // The client writes anew (no In-Reply-To), from the deal's address.
    deliver(
        smtp,
        email(
            "Buyer <buyer@romashka.test>",
            &reply_to,
            "new-1@romashka.test",
            None,
        ),
    )
    .await;
    api.settle().await;
    assert_eq!(stage(&api, &item).await, "prep");

    // Not a relay, and the protocol's order is kept.
    let answers = converse(
        smtp,
        &[
            "EHLO client.test",
            "DATA",
            "MAIL FROM:<a@b.test>",
            "RCPT TO:<someone@elsewhere.test>",
            "RCPT TO:<x@in.shop.test>",
            "RSET",
            "NOOP",
            "QUIT",
        ],
    )
    .await;
    let codes: Vec<&str> = answers.iter().map(|a| &a[..3]).collect();
    assert_eq!(
        codes,
        ["250", "503", "250", "550", "250", "250", "250", "221"],
        "{answers:#?}"
    );

    // A bounce report about the robot's email marks it bounced.
    let dsn = format!(
        "From: MAILER-DAEMON@mx.romashka.test\r\nTo: {reply_to}\r\nSubject: Undelivered Mail\r\n\
Message-ID: <dsn-1@mx.romashka.test>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.romashka.test\r\n\r\n\
Final-Recipient: rfc822; buyer@romashka.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: robots@shop.test\r\nMessage-ID: {message_id}\r\n--B--\r\n"
    );
    let envelope = lettre::address::Envelope::new(None, vec![reply_to.parse().unwrap()]).unwrap();
    let send_dsn = || async {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(smtp)
            .build()
            .send_raw(&envelope, dsn.as_bytes())
            .await
            .expect("the listener takes the report");
    };
    send_dsn().await;
    let bounced = api.get("/v1/outbox?status=bounced").await;
    let messages = bounced["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{bounced:#}");
    assert!(
        messages[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("5.1.1"),
        "{bounced:#}"
    );
    // The run that sent it shows the bounce, once: the report again
    // changes nothing.
    let email_run = || async {
        let runs = api.get(&format!("/v1/items/{item}/runs")).await;
        runs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["robot_type"] == "email_client")
            .cloned()
            .unwrap_or_else(|| panic!("no email run in {runs:#}"))
    };
    let run = email_run().await;
    let delivery = &run["delivery"];
    assert_eq!(delivery["status"], "bounced", "{run:#}");
    assert_eq!(delivery["outbound_id"], messages[0]["id"], "{run:#}");
    assert_eq!(delivery["to"], "buyer@romashka.test");
    assert!(
        delivery["reason"]
            .as_str()
            .unwrap()
            .contains("550 5.1.1 no such user"),
        "{run:#}"
    );
    assert_eq!(run["status"], "done");
    send_dsn().await;
    assert_eq!(email_run().await, run, "recorded once");

    // The tenant sees the address its clients reply to.
    let inbound = api.get("/v1/inbound-email").await;
    assert_eq!(
        inbound,
        json!({"enabled": true, "address": reply_to, "domain": DOMAIN})
    );

    let (code, body) = api
        .call(reqwest::Method::GET, "/v1/outbox?status=nonsense", None)
        .await;
    assert_eq!(
        (code, &body["error"]["details"][0]["field"]),
        (400, &json!("status"))
    );
    server.shutdown().await.unwrap();
}
