//! Server-Sent Events framing (the `text/event-stream` rules of the HTML standard), sans-IO:
//! feed the stream's bytes as they arrive, in chunks of any size, and take whole events out.
//!
//! - Lines end with CRLF, LF or CR (a CR at the end of a chunk waits for the next one, so a
//!   CRLF split across chunks is one line end). A UTF-8 byte-order mark at the very start is
//!   dropped.
//! - A blank line dispatches the event being built; one whose data is empty is dropped (the
//!   event name and the id still take effect as the standard says).
//! - `:` starts a comment (a keep-alive for some servers). `field: value` loses one leading
//!   space of the value; a line without `:` is a field with an empty value.
//! - `data` lines join with `\n`; `event` names the event (`message` when unnamed); `id` sets
//!   the last event id, which persists across events (an id containing NUL is ignored);
//!   `retry` takes ASCII digits only. Unknown fields are ignored.
//! - A line longer than the parser's limit is an error, so a peer cannot grow memory without
//!   bound; invalid UTF-8 is replaced, never a panic.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field, or `message`.
    pub event: String,
    /// The `data` lines, joined with `\n`.
    pub data: String,
    /// The last event id in force when it was dispatched (the stream's, not only this event's).
    pub id: Option<String>,
}

/// The stream broke the framing limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// A line (or one event's data) grew past the limit.
    #[error("an event-stream line or event exceeds {0} bytes")]
    TooLong(usize),
}

/// Incremental parser of one event stream.
#[derive(Debug)]
pub struct SseParser {
    max_line: usize,
    line: Vec<u8>,
    /// The previous chunk ended with CR: an LF at the start of the next one belongs to it.
    after_cr: bool,
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<u64>,
}

impl SseParser {
    /// A parser that refuses lines (and events) longer than `max_line` bytes.
    pub fn new(max_line: usize) -> SseParser {
        SseParser {
            max_line,
            line: Vec::new(),
            after_cr: false,
            started: false,
            event: String::new(),
            data: String::new(),
            has_data: false,
            last_id: None,
            retry: None,
        }
    }

    /// A parser that resumes a stream whose last event id was `id` (what a reconnect sends as
    /// `Last-Event-ID`).
    pub fn resuming(max_line: usize, id: Option<String>) -> SseParser {
        SseParser {
            last_id: id,
            ..SseParser::new(max_line)
        }
    }

    /// The last event id seen (or resumed from).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// The reconnection time the server last asked for, in milliseconds.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry
    }

    /// Feeds `bytes`; the events they complete, in order.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        let opening;
        let mut bytes = bytes;
        if !self.started {
            // The byte-order mark may only open the stream: wait until three bytes are known.
            let mut head = std::mem::take(&mut self.line);
            head.extend_from_slice(bytes);
            if head.len() < 3 && b"\xEF\xBB\xBF".starts_with(&head) {
                self.line = head;
                return Ok(Vec::new());
            }
            self.started = true;
            let skip = if head.starts_with(b"\xEF\xBB\xBF") {
                3
            } else {
                0
            };
            opening = head.split_off(skip);
            bytes = &opening;
        } else if self.after_cr && bytes.first() == Some(&b'\n') {
            bytes = &bytes[1..];
        }
        if !bytes.is_empty() {
            self.after_cr = false;
        }
        let mut events = Vec::new();
        while let Some(end) = bytes.iter().position(|b| *b == b'\n' || *b == b'\r') {
            self.push_line_bytes(&bytes[..end])?;
            let line = std::mem::take(&mut self.line);
            events.extend(self.take_line(&line)?);
            let cr = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if cr {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
        }
        self.push_line_bytes(bytes)?;
        Ok(events)
    }

    fn push_line_bytes(&mut self, bytes: &[u8]) -> Result<(), SseError> {
        if self.line.len() + bytes.len() > self.max_line {
            return Err(SseError::TooLong(self.max_line));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Handles one complete line; an event when it was the blank line that dispatches one.
    fn take_line(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                if self.data.len() + value.len() >= self.max_line {
                    return Err(SseError::TooLong(self.max_line));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::new(1 << 16);
        chunks
            .iter()
            .flat_map(|c| parser.feed(c).expect("within limits"))
            .collect()
    }

    fn event(name: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: name.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    #[test]
    fn a_named_event_with_an_id_is_dispatched_at_the_blank_line() {
        let events = parse(&[b"event: CONVERSATION_MESSAGE\nid: 42\ndata: {\"a\":1}\n\n"]);
        assert_eq!(
            events,
            [event("CONVERSATION_MESSAGE", "{\"a\":1}", Some("42"))]
        );
    }

    #[test]
    fn data_lines_join_with_line_feeds_and_an_unnamed_event_is_a_message() {
        let events = parse(&[b"data: first\ndata:second\ndata\n\n"]);
        assert_eq!(events, [event("message", "first\nsecond\n", None)]);
    }

    #[test]
    fn comments_are_ignored_and_an_event_without_data_is_dropped() {
        let events = parse(&[b": keep-alive\n\nevent: ping\n\nevent: ping\ndata: 7\n\n"]);
        assert_eq!(events, [event("ping", "7", None)]);
    }

    #[test]
    fn crlf_cr_and_lf_all_end_lines_even_split_across_chunks() {
        let events = parse(&[
            b"data: a\r",
            b"\ndata: b\rdata: c\r\n\r",
            b"\n",
            b"data: d\n\n",
        ]);
        assert_eq!(
            events,
            [
                event("message", "a\nb\nc", None),
                event("message", "d", None)
            ]
        );
    }

    #[test]
    fn one_event_split_byte_by_byte_parses_the_same() {
        let whole = b"event: x\r\nid: 9\r\ndata: \xe4\xbd\xa0\xe5\xa5\xbd\r\n\r\n";
        let chunks: Vec<&[u8]> = whole.chunks(1).collect();
        assert_eq!(parse(&chunks), [event("x", "你好", Some("9"))]);
    }

    #[test]
    fn the_last_id_carries_over_and_an_id_with_nul_is_ignored() {
        let mut parser = SseParser::resuming(1024, Some("5".into()));
        let events = parser
            .feed(b"data: a\n\nid: 6\ndata: b\n\nid: 7\0\ndata: c\n\nid\ndata: d\n\n")
            .unwrap();
        let ids: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(
            ids,
            [
                Some("5".into()),
                Some("6".into()),
                Some("6".into()),
                Some(String::new())
            ]
        );
        assert_eq!(parser.last_event_id(), Some(""));
    }

    #[test]
    fn retry_takes_digits_only_and_one_leading_space_is_stripped() {
        let mut parser = SseParser::new(1024);
        parser
            .feed(b"retry: 3000\nretry: 12x\ndata:  two spaces\n\n")
            .unwrap();
        assert_eq!(parser.retry_ms(), Some(3000));
        let events = parser.feed(b"data:  two\n\n").unwrap();
        assert_eq!(events[0].data, " two");
    }

    #[test]
    fn a_byte_order_mark_opens_the_stream_only_once() {
        let events = parse(&[b"\xEF\xBB", b"\xBFdata: x\n\n", b"\xEF\xBB\xBFdata: y\n\n"]);
        assert_eq!(events[0], event("message", "x", None));
        assert_eq!(
            events.len(),
            1,
            "a later BOM makes an unknown field: {events:?}"
        );
    }

    #[test]
    fn a_line_past_the_limit_is_an_error_not_memory() {
        let mut parser = SseParser::new(16);
        assert!(parser.feed(b"data: 0123456789").is_ok());
        assert_eq!(parser.feed(b"abcdef"), Err(SseError::TooLong(16)));
        let mut parser = SseParser::new(16);
        assert_eq!(
            parser.feed(b"data: 0123456789\ndata: abcdefghi\n"),
            Err(SseError::TooLong(16)),
            "one event's data is held to the limit too"
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_not_a_panic() {
        let events = parse(&[b"data: \xff\xfe\n\n"]);
        assert_eq!(events[0].data, "\u{fffd}\u{fffd}");
    }
}
