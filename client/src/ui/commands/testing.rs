//! What the tests of this folder share: a line parsed in the everyone mode, and the
//! commands a line should give.

use super::parse::{parse_line, ParseError};
use super::spec::{Command, Mode};
use natter_protocol::{Request, UserName};

pub fn name(s: &str) -> UserName {
    UserName::new(s).unwrap()
}

pub fn parse(line: &str) -> Result<Option<Command>, ParseError> {
    parse_line(line, &Mode::Everyone)
}

pub fn say(text: &str) -> Command {
    Command::Send(Request::Say { text: text.into() })
}

pub fn tell(to: &str, text: &str) -> Command {
    Command::Send(Request::Tell {
        name: name(to),
        text: text.into(),
    })
}

pub fn usage_of(line: &str) -> String {
    match parse(line) {
        Err(e @ ParseError::Usage { .. }) => e.to_string(),
        other => panic!("{line:?}: wanted a usage error, got {other:?}"),
    }
}
