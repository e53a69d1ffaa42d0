//! Questions on a terminal: each shows its default, an empty answer takes it, a wrong answer
//! is explained and asked again. Off a terminal nothing is asked and the defaults stand.

use std::io::{BufRead, IsTerminal, Write};

/// How many wrong answers to one question before giving up (a closed or scripted stdin must
/// not loop forever).
const TRIES: usize = 3;

/// Asks questions on a reader and a writer, or answers every one with its default.
pub struct Prompter {
    io: Option<(Box<dyn BufRead>, Box<dyn Write>)>,
}

impl std::fmt::Debug for Prompter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompter")
            .field("interactive", &self.is_interactive())
            .finish()
    }
}

impl Prompter {
    /// Asks on stdin and stderr when stdin is a terminal; otherwise asks nothing.
    pub fn from_stdin() -> Self {
        if std::io::stdin().is_terminal() {
            let input = Box::new(std::io::BufReader::new(std::io::stdin()));
            Prompter {
                io: Some((input, Box::new(std::io::stderr()))),
            }
        } else {
            Prompter::none()
        }
    }

    /// Asks nothing: every answer is the default.
    pub fn none() -> Self {
        Prompter { io: None }
    }

    /// Asks on `input`, writing the questions to `output` (tests script a session this way).
    pub fn scripted(input: Box<dyn BufRead>, output: Box<dyn Write>) -> Self {
        Prompter {
            io: Some((input, output)),
        }
    }

    /// Whether questions are asked.
    pub fn is_interactive(&self) -> bool {
        self.io.is_some()
    }

    /// Answers every further question with its default.
    pub fn stop_asking(&mut self) {
        self.io = None;
    }

    /// Asks `question`, offering `default`; `parse` checks an answer (an empty answer is the
    /// default) and explains a wrong one.
    pub fn ask<T>(
        &mut self,
        question: &str,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, String> {
        let Some((input, output)) = self.io.as_mut() else {
            return parse(default);
        };
        let mut last = String::new();
        for _ in 0..TRIES {
            let _ = write!(output, "{question} [{default}]: ");
            let _ = output.flush();
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) | Err(_) => return parse(default),
                Ok(_) => {}
            }
            let answer = line.trim();
            match parse(if answer.is_empty() { default } else { answer }) {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let _ = writeln!(output, "{error}");
                    last = error;
                }
            }
        }
        Err(last)
    }
}
