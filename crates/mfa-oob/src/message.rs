//! Messages carrying a code, and the async [`Sender`] that delivers them.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mfa_core::{Channel, InvalidInput, Redacted};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::destination::{Destination, DestinationError, channel_name, check_domain};

/// The texts of the messages, with placeholders `{code}`, `{service}` and
/// `{minutes}` (the code's lifetime, rounded up).
///
/// Every body must contain `{code}`. An SMS body always ends with the origin-bound line
/// `@example.com #123456` (the WebOTP / origin-bound one-time code format), appended by
/// the crate rather than the template, so browsers autofill the code only on that
/// site; it need not (and must not) be in the template.
///
/// ```
/// use mfa_oob::Templates;
///
/// let t = Templates::new("Example", "example.com")?
///     .with_sms("{code} is your {service} code")?;
/// assert_eq!(t.origin(), "example.com");
/// # Ok::<(), mfa_core::InvalidInput>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq, Deserialize, Serialize)]
pub struct Templates {
    service: String,
    origin: String,
    sms: String,
    voice: String,
    email_subject: String,
    email_body: String,
}

impl Templates {
    /// The default English texts for `service` ("Example"), with SMS codes bound to
    /// `origin`, the site's host name ("example.com", no scheme or port).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] when the service name is empty, over 64 bytes or has a control
    /// character, or the origin is not a host name of at least two labels.
    pub fn new(
        service: impl Into<String>,
        origin: impl Into<String>,
    ) -> Result<Self, InvalidInput> {
        let service = service.into();
        if service.is_empty() || service.len() > 64 || service.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "service name",
                "must have 1 to 64 bytes and no control character",
            ));
        }
        let origin = origin.into().to_ascii_lowercase();
        check_domain(&origin).map_err(|p| InvalidInput::new("origin", p))?;
        Ok(Self {
            service,
            origin,
            sms: DEFAULT_SMS.to_owned(),
            voice: DEFAULT_VOICE.to_owned(),
            email_subject: DEFAULT_EMAIL_SUBJECT.to_owned(),
            email_body: DEFAULT_EMAIL_BODY.to_owned(),
        })
    }

    /// With another SMS text (the origin-bound line is appended to it).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] unless it contains `{code}`.
    pub fn with_sms(mut self, text: impl Into<String>) -> Result<Self, InvalidInput> {
        self.sms = with_code("sms template", text.into())?;
        Ok(self)
    }

    /// With another voice text (`{code}` is read out digit by digit).
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] unless it contains `{code}`.
    pub fn with_voice(mut self, text: impl Into<String>) -> Result<Self, InvalidInput> {
        self.voice = with_code("voice template", text.into())?;
        Ok(self)
    }

    /// With another email subject and body.
    ///
    /// # Errors
    ///
    /// [`InvalidInput`] unless the body contains `{code}`, or when the subject has a
    /// line break.
    pub fn with_email(
        mut self,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Result<Self, InvalidInput> {
        let subject = subject.into();
        if subject.contains(['\r', '\n']) {
            return Err(InvalidInput::new("email subject", "must be one line"));
        }
        self.email_subject = subject;
        self.email_body = with_code("email template", body.into())?;
        Ok(self)
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The host name SMS codes are bound to.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The message for `code` over `channel` to `to`, valid for `ttl`.
    pub(crate) fn render(
        &self,
        channel: Channel,
        to: &Destination,
        code: &str,
        ttl: Duration,
    ) -> OutgoingMessage {
        let minutes = ttl.as_secs().div_ceil(60).to_string();
        let fill = |t: &str, code: &str| {
            Zeroizing::new(
                t.replace("{service}", &self.service)
                    .replace("{minutes}", &minutes)
                    .replace("{code}", code),
            )
        };
        let (subject, body) = match channel {
            Channel::Email => (
                Some(fill(&self.email_subject, "")),
                fill(&self.email_body, code),
            ),
            Channel::Voice => {
                let spoken: Zeroizing<String> = Zeroizing::new(
                    code.chars()
                        .map(String::from)
                        .collect::<Vec<_>>()
                        .join(", "),
                );
                (None, fill(&self.voice, &spoken))
            }
            _ => {
                let mut body = fill(&self.sms, code);
                body.push_str("\n\n@");
                body.push_str(&self.origin);
                body.push_str(" #");
                body.push_str(code);
                (None, body)
            }
        };
        OutgoingMessage {
            channel,
            to: to.clone(),
            subject: subject.map(|s| s.to_string()),
            body,
            code: Zeroizing::new(code.to_owned()),
        }
    }
}

fn with_code(what: &'static str, text: String) -> Result<String, InvalidInput> {
    if text.contains("{code}") {
        Ok(text)
    } else {
        Err(InvalidInput::new(what, "must contain {code}"))
    }
}

/// One message to deliver: the channel, the destination, and the text with the code.
///
/// The body and the code are secret until delivered: zeroized on drop, and `Debug`
/// prints neither.
#[derive(Clone)]
pub struct OutgoingMessage {
    channel: Channel,
    to: Destination,
    subject: Option<String>,
    body: Zeroizing<String>,
    code: Zeroizing<String>,
}

impl OutgoingMessage {
    /// A message without a code: a security notice ("a factor was added to your
    /// account") for the same [`Sender`] that delivers codes. `subject` is used for
    /// email only; [`expose_code`](Self::expose_code) is empty.
    ///
    /// # Errors
    ///
    /// [`DestinationError::ChannelMismatch`] when `channel` cannot reach `to`.
    pub fn notice(
        channel: Channel,
        to: Destination,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Result<Self, DestinationError> {
        to.check_channel(channel)?;
        Ok(Self {
            channel,
            to,
            subject: (channel == Channel::Email).then(|| subject.into()),
            body: Zeroizing::new(body.into()),
            code: Zeroizing::new(String::new()),
        })
    }

    /// The channel to deliver over.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The destination.
    pub fn to(&self) -> &Destination {
        &self.to
    }

    /// The email subject (email only).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The rendered text, code included: the SMS, the email body, or the words a voice
    /// call reads out.
    pub fn expose_body(&self) -> &str {
        &self.body
    }

    /// The bare code, for senders that fill their provider's own template.
    pub fn expose_code(&self) -> &str {
        &self.code
    }
}

impl fmt::Debug for OutgoingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMessage")
            .field("channel", &self.channel)
            .field("to", &self.to)
            .field("subject", &self.subject)
            .field("body", &Redacted)
            .finish_non_exhaustive()
    }
}

/// Delivery failed: the provider refused or could not be reached. Not a verification
/// failure; the service may offer another channel.
#[derive(Debug, thiserror::Error)]
#[error("message delivery failed")]
pub struct SendError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl SendError {
    /// Wraps the provider's error.
    pub fn new(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(source.into())
    }
}

/// Delivers messages: the service owner's SMS gateway, mail server or voice provider.
///
/// Implementations should deliver the message as it is (the SMS body's last line is
/// what browsers autofill from) and must not log the body.
pub trait Sender: Send + Sync {
    /// Delivers one message.
    ///
    /// # Errors
    ///
    /// [`SendError`] when the provider refuses or fails.
    fn send(&self, message: &OutgoingMessage)
    -> impl Future<Output = Result<(), SendError>> + Send;
}

/// A [`Sender`] that writes each message to a file in a directory: for examples, tests
/// and demos, never production (the codes sit in clear on disk).
///
/// File names are `000001-sms-+12015550123.txt` (a counter that continues after the
/// files already in the directory and never overwrites one, the channel, the
/// destination); the content is `To:`, `Channel:`, an optional `Subject:` line, an
/// empty line and the body.
#[derive(Debug)]
pub struct OutboxSender {
    dir: PathBuf,
    counter: AtomicU64,
}

impl OutboxSender {
    /// An outbox writing into `dir`, created if missing.
    ///
    /// # Errors
    ///
    /// The I/O error when the directory cannot be created.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        // Continue after the files already there, so several processes (a command-line
        // tool run once per command) keep one order.
        let last = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name();
                let name = name.to_str()?;
                name.split('-').next()?.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        Ok(Self {
            dir,
            counter: AtomicU64::new(last),
        })
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The files written so far, oldest first.
    ///
    /// # Errors
    ///
    /// The I/O error when the directory cannot be read.
    pub fn files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        Ok(files)
    }
}

impl Sender for OutboxSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), SendError> {
        // Destinations are normalised: E.164 or a plain address, safe in a file name
        // once `/` (legal in an address) is replaced.
        let to = message.to.as_str().replace(['/', '\\'], "_");
        let mut text = Zeroizing::new(format!(
            "To: {}\nChannel: {}\n",
            message.to,
            channel_name(message.channel)
        ));
        if let Some(subject) = &message.subject {
            text.push_str("Subject: ");
            text.push_str(subject);
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&message.body);
        text.push('\n');
        // A new file only: another process writing into the same directory takes the
        // next number.
        for _ in 0..1000 {
            let n = self
                .counter
                .fetch_add(1, Ordering::SeqCst)
                .saturating_add(1);
            let name = format!("{n:06}-{}-{to}.txt", channel_name(message.channel));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(self.dir.join(name))
            {
                Ok(mut file) => {
                    use std::io::Write as _;
                    return file.write_all(text.as_bytes()).map_err(SendError::new);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(SendError::new(e)),
            }
        }
        Err(SendError::new("outbox: no free file name"))
    }
}

const DEFAULT_SMS: &str =
    "{code} is your {service} verification code. It expires in {minutes} minutes. Never share it.";
const DEFAULT_VOICE: &str = "Hello. Your {service} verification code is: {code}. Again, your code is: {code}. It expires in {minutes} minutes.";
const DEFAULT_EMAIL_SUBJECT: &str = "Your {service} verification code";
const DEFAULT_EMAIL_BODY: &str = "Your {service} verification code is:\n\n    {code}\n\nIt expires in {minutes} minutes. If you did not try to sign in, ignore this message and consider changing your password.";
