//! Long polls: a `Messages` request the model told us to hold waits here until its session's
//! events arrive (the model then answers it), the hold time runs out (204), the simulator stops
//! (204), or the client goes away (the future is dropped and the guard releases the poll, so
//! the client's next poll is not a 409).

use std::sync::Arc;

use switchboard_core::model::server::Reply;

use super::state::{HoldTicket, Shared};

/// Waits for the held poll's answer: `(status, body)`.
pub(crate) async fn wait(shared: Arc<Shared>, ticket: HoldTicket) -> (u16, String) {
    let deadline = tokio::time::Instant::now() + shared.hold;
    let HoldTicket {
        session_id,
        generation,
        wake,
    } = ticket;
    let signals = shared.clone();
    let mut guard = HoldGuard {
        shared,
        session_id,
        generation,
        answered: false,
    };
    loop {
        // Register interest before looking, so a wake-up between the look and the wait is
        // not lost.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(answer) = guard.try_complete() {
            return answer;
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => break,
            () = signals.stopped() => break,
        }
    }
    guard.release()
}

/// Owns a held poll until it is answered; dropping it unanswered releases the poll.
#[derive(Debug)]
struct HoldGuard {
    shared: Arc<Shared>,
    session_id: String,
    generation: u64,
    answered: bool,
}

impl HoldGuard {
    /// The model's answer if it has one now; `None` keeps holding.
    fn try_complete(&mut self) -> Option<(u16, String)> {
        let (id, generation) = (self.session_id.as_str(), self.generation);
        let answer = self.shared.mutate(|state, now| {
            if !state.is_current(id, generation) {
                // A newer poll took over after the model closed this one.
                return Some((204, String::new()));
            }
            if let Some(reply) = state.server.complete_poll(id, now) {
                state.forget(id, generation);
                return Some(parts(reply));
            }
            let still_open = state.server.session(id).is_some_and(|s| s.poll_open());
            if still_open {
                None
            } else {
                // The session was deleted or the model closed the poll (ReconnectSession).
                state.forget(id, generation);
                Some(parts(state.server.release_poll(id, now)))
            }
        });
        self.answered = answer.is_some();
        answer
    }

    /// Ends the hold with the model's empty answer.
    fn release(&mut self) -> (u16, String) {
        self.answered = true;
        let (id, generation) = (self.session_id.as_str(), self.generation);
        self.shared.mutate(|state, now| {
            if state.is_current(id, generation) {
                state.forget(id, generation);
                parts(state.server.release_poll(id, now))
            } else {
                (204, String::new())
            }
        })
    }
}

impl Drop for HoldGuard {
    fn drop(&mut self) {
        if !self.answered {
            let _ = self.release();
        }
    }
}

fn parts(reply: Reply) -> (u16, String) {
    match reply {
        Reply::Respond { status, body } => (status, body),
        Reply::Hold { .. } => (204, String::new()),
    }
}
