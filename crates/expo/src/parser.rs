//! The streaming driver: splits the input into lines, hands each line to the
//! format's line parser and yields the entries it produces.

use std::collections::VecDeque;
use std::iter::FusedIterator;

use crate::om::OmState;
use crate::prom::PromState;
use crate::{Entry, Format, ParseError};

enum State {
    Prom(PromState),
    Om(Box<OmState>),
}

/// An iterator over the entries of one exposition, parsed as it goes.
///
/// It yields `Ok` entries in input order until the input ends or a problem
/// is found; a problem is yielded once as `Err` and ends the iteration.
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    line_no: usize,
    /// Character length of the last line when it had no final `\n`.
    open_line_chars: Option<usize>,
    state: State,
    queue: VecDeque<Entry>,
    done: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `input` (`&str`, `&[u8]`, `String`, `Vec<u8>`, ...).
    pub fn new<T: AsRef<[u8]> + ?Sized>(input: &'a T, format: Format) -> Parser<'a> {
        let state = match format {
            Format::PrometheusText => State::Prom(PromState::default()),
            Format::OpenMetrics => State::Om(Box::default()),
        };
        Parser {
            input: input.as_ref(),
            pos: 0,
            line_no: 0,
            open_line_chars: None,
            state,
            queue: VecDeque::new(),
            done: false,
        }
    }

    /// Reads one more line (or finishes the input), queueing its entries.
    fn step(&mut self) -> Result<(), ParseError> {
        let Some(rest) = self.input.get(self.pos..).filter(|r| !r.is_empty()) else {
            self.done = true;
            // Where the input ends: after the last line, or at its end when
            // it had no final newline.
            let end = match self.open_line_chars {
                Some(chars) => (self.line_no, chars + 1),
                None => (self.line_no + 1, 1),
            };
            return match &mut self.state {
                State::Prom(p) => {
                    p.finish(&mut self.queue);
                    Ok(())
                }
                State::Om(o) => o.finish(end, &mut self.queue),
            };
        };
        let (line, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(n) => (&rest[..n], self.pos + n + 1),
            None => {
                self.open_line_chars = Some(String::from_utf8_lossy(rest).chars().count());
                (rest, self.input.len())
            }
        };
        self.pos = next;
        self.line_no += 1;
        match &mut self.state {
            State::Prom(p) => p.line(line, self.line_no, &mut self.queue),
            State::Om(o) => o.line(line, self.line_no, &mut self.queue),
        }
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<Entry, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.queue.pop_front() {
                return Some(Ok(entry));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.step() {
                self.done = true;
                self.queue.clear();
                return Some(Err(e));
            }
        }
    }
}

impl FusedIterator for Parser<'_> {}

/// Parses a whole exposition into its entries, or the first problem.
pub fn parse<T: AsRef<[u8]> + ?Sized>(input: &T, format: Format) -> Result<Vec<Entry>, ParseError> {
    Parser::new(input, format).collect()
}
