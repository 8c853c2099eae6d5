//! Conversation sessions: a session id keeps its history for a TTL after its last use, up to
//! a message cap (oldest dropped first). A background task sweeps expired sessions.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::types::{Message, Role};

#[derive(Debug)]
struct Session {
    messages: Vec<Message>,
    last_used: Instant,
}

/// All sessions of this process.
#[derive(Debug)]
pub struct Sessions {
    inner: Mutex<HashMap<String, Session>>,
    pub ttl: Duration,
    pub max_messages: usize,
}

impl Sessions {
    pub fn new(ttl: Duration, max_messages: usize) -> Self {
        Sessions {
            inner: Mutex::new(HashMap::new()),
            ttl,
            max_messages: max_messages.max(2),
        }
    }

    /// The history of `id` (empty when unknown or expired).
    pub fn history(&self, id: &str) -> Vec<Message> {
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("sessions lock");
        match inner.get(id) {
            Some(s) if now.duration_since(s.last_used) < self.ttl => s.messages.clone(),
            Some(_) => {
                inner.remove(id);
                Vec::new()
            }
            None => Vec::new(),
        }
    }

    /// Appends one exchange: the new (non-system) request messages and the answer.
    pub fn record(&self, id: &str, new: &[Message], answer: &str) {
        let mut inner = self.inner.lock().expect("sessions lock");
        let session = inner.entry(id.to_owned()).or_insert_with(|| Session {
            messages: Vec::new(),
            last_used: Instant::now(),
        });
        session
            .messages
            .extend(new.iter().filter(|m| m.role != Role::System).cloned());
        session.messages.push(Message::assistant(answer));
        let excess = session.messages.len().saturating_sub(self.max_messages);
        session.messages.drain(..excess);
        session.last_used = Instant::now();
    }

    /// Removes expired sessions; returns how many.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut inner = self.inner.lock().expect("sessions lock");
        let before = inner.len();
        inner.retain(|_, s| now.duration_since(s.last_used) < self.ttl);
        before - inner.len()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("sessions lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Prepends a session's history to a request's messages, after its system messages.
pub fn with_history(history: Vec<Message>, messages: Vec<Message>) -> Vec<Message> {
    if history.is_empty() {
        return messages;
    }
    let (system, rest): (Vec<Message>, Vec<Message>) =
        messages.into_iter().partition(|m| m.role == Role::System);
    system.into_iter().chain(history).chain(rest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_is_capped_and_expires() {
        let s = Sessions::new(Duration::from_millis(50), 4);
        for i in 0..3 {
            s.record("a", &[Message::user(format!("q{i}"))], &format!("a{i}"));
        }
        let h = s.history("a");
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].joined_text(), "q1");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(s.sweep(), 1);
        assert!(s.history("a").is_empty());
    }

    #[test]
    fn history_goes_after_the_system_prompt() {
        let merged = with_history(
            vec![Message::user("old"), Message::assistant("reply")],
            vec![Message::system("sys"), Message::user("new")],
        );
        let texts: Vec<String> = merged.iter().map(Message::joined_text).collect();
        assert_eq!(texts, ["sys", "old", "reply", "new"]);
    }
}
