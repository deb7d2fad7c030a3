//! Where mails go: an SMTP server (`BOXOFFICE_SMTP_URL`, through lettre's pooled async transport) or, when no server
//! is configured (development), the log.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use uuid::Uuid;

use super::mail::Mail;
use crate::config::MailConfig;

/// Why a mail was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused it for good (a 5xx answer, an unusable address): sending it again will not help.
    #[error("refused: {0}")]
    Permanent(String),
    /// The server could not be reached, timed out or answered 4xx: try again later.
    #[error("failed: {0}")]
    Transient(String),
}

/// The mail transport.
pub enum Mailer {
    /// An SMTP server.
    Smtp {
        /// lettre's transport (a connection pool).
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender.
        from: Mailbox,
    },
    /// No server configured: each mail is logged (recipient and subject) and counts as sent.
    Log {
        /// The sender.
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Self::Log { from } => write!(f, "Mailer::Log(from {from})"),
        }
    }
}

impl Mailer {
    /// The transport `config` describes.
    ///
    /// # Errors
    /// An unparsable sender or SMTP URL (the message names the variable, never the URL: it may hold a password).
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Self> {
        let from: Mailbox =
            config.from.parse().map_err(|e| anyhow::anyhow!("invalid BOXOFFICE_MAIL_FROM {:?}: {e}", config.from))?;
        let Some(url) = &config.smtp_url else { return Ok(Self::Log { from }) };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|e| anyhow::anyhow!("invalid BOXOFFICE_SMTP_URL: {e}"))?
            .timeout(Some(config.timeout))
            // As many reused connections as deliveries in flight (lettre's default pool keeps 10).
            .pool_config(PoolConfig::new().max_size(u32::try_from(config.concurrency.max(1)).unwrap_or(u32::MAX)))
            .build();
        Ok(Self::Smtp { transport, from })
    }

    /// Sends `mail`; its Message-ID is made from `id` (the outbox event), so that a repeat of an at-least-once
    /// delivery is recognisable downstream.
    ///
    /// # Errors
    /// See [`SendError`].
    pub async fn send(&self, id: Uuid, mail: &Mail) -> Result<(), SendError> {
        match self {
            Self::Log { .. } => {
                tracing::info!(event = %id, to = %mail.to, subject = %mail.subject, "mail not sent: BOXOFFICE_SMTP_URL is unset");
                Ok(())
            }
            Self::Smtp { transport, from } => {
                let message = message(from, id, mail)?;
                transport.send(message).await.map(drop).map_err(|e| {
                    if e.is_permanent() {
                        SendError::Permanent(e.to_string())
                    } else {
                        SendError::Transient(e.to_string())
                    }
                })
            }
        }
    }
}

fn message(from: &Mailbox, id: Uuid, mail: &Mail) -> Result<Message, SendError> {
    let address = mail.to.parse().map_err(|e| SendError::Permanent(format!("recipient address: {e}")))?;
    let domain = from.email.domain();
    let builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(Some(mail.to_name.clone()), address))
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{id}@{domain}>")));
    let built = if mail.attachments.is_empty() {
        builder.header(ContentType::TEXT_PLAIN).body(mail.body.clone())
    } else {
        // multipart/mixed: the text first, then the tickets' PNGs and the calendar entry as attachments.
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(mail.body.clone()));
        for a in &mail.attachments {
            let content_type = ContentType::parse(a.content_type)
                .map_err(|e| SendError::Permanent(format!("attachment type {}: {e}", a.content_type)))?;
            parts = parts.singlepart(Attachment::new(a.filename.clone()).body(a.bytes.clone(), content_type));
        }
        builder.multipart(parts)
    };
    built.map_err(|e| SendError::Permanent(format!("message: {e}")))
}
