//! Conversation sessions: a session id keeps its history (in the shared state, so any replica
//! can continue it) for a TTL after its last use, up to a message cap (oldest dropped first).

use crate::types::{Message, Role};

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
    fn history_goes_after_the_system_prompt() {
        let merged = with_history(
            vec![Message::user("old"), Message::assistant("reply")],
            vec![Message::system("sys"), Message::user("new")],
        );
        let texts: Vec<String> = merged.iter().map(Message::joined_text).collect();
        assert_eq!(texts, ["sys", "old", "reply", "new"]);
    }
}
