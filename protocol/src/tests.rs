//! Decoder table tests and property tests: every frame survives encode -> decode
//! under any split of the byte stream.

use crate::*;
use proptest::prelude::*;
use std::net::SocketAddr;

fn req(line: &str) -> Result<Decoded<Request>, DecodeError> {
    decode_request(line.as_bytes())
}

fn one_req(line: &str) -> Request {
    match req(line) {
        Ok(Decoded::Frame(r, used)) => {
            assert_eq!(used, line.len(), "{line:?}");
            r
        }
        other => panic!("{line:?}: {other:?}"),
    }
}

fn err_code(line: &str) -> (ErrorCode, bool) {
    match req(line) {
        Err(e) => (e.code, e.fatal),
        other => panic!("{line:?} decoded: {other:?}"),
    }
}

fn name(s: &str) -> UserName {
    UserName::new(s).unwrap()
}

fn file(s: &str) -> FileName {
    FileName::new(s).unwrap()
}

#[test]
fn requests_decode() {
    assert_eq!(
        one_req("HELLO alice\n"),
        Request::Hello {
            name: name("alice"),
            history: None,
            stamps: false,
            data: None
        }
    );
    assert_eq!(
        one_req("hello alice\r\n"),
        Request::Hello {
            name: name("alice"),
            history: None,
            stamps: false,
            data: None
        }
    );
    assert_eq!(
        one_req("HELLO alice history=20\n"),
        Request::Hello {
            name: name("alice"),
            history: Some(20),
            stamps: false,
            data: None
        }
    );
    assert_eq!(
        one_req("HELLO alice stamps history=5\n"),
        Request::Hello {
            name: name("alice"),
            history: Some(5),
            stamps: true,
            data: None
        }
    );
    assert_eq!(
        one_req("HELLO alice data=1048576 stamps\n"),
        Request::Hello {
            name: name("alice"),
            history: None,
            stamps: true,
            data: Some(1 << 20)
        }
    );
    assert_eq!(
        one_req("HELLO alice data=65536\n"),
        Request::Hello {
            name: name("alice"),
            history: None,
            stamps: false,
            data: Some(65536)
        }
    );
    assert_eq!(one_req("HISTORY\n"), Request::History { count: None });
    assert_eq!(one_req("history 5\n"), Request::History { count: Some(5) });
    assert_eq!(
        one_req("SAY hi  there \n"),
        Request::Say {
            text: "hi  there ".into()
        }
    );
    assert_eq!(
        one_req("SAY  lead\n"),
        Request::Say {
            text: " lead".into()
        }
    );
    assert_eq!(
        one_req("SAY a\rb\r\r\n"),
        Request::Say {
            text: "a\rb".into()
        }
    );
    assert_eq!(
        one_req("SAY\n"),
        Request::Say {
            text: String::new()
        }
    );
    assert_eq!(
        one_req("SAY \n"),
        Request::Say {
            text: String::new()
        }
    );
    assert_eq!(
        one_req("TELL bob psst\n"),
        Request::Tell {
            name: name("bob"),
            text: "psst".into()
        }
    );
    assert_eq!(
        one_req("GET holiday%20photo.jpg 100\n"),
        Request::Get {
            file: file("holiday photo.jpg"),
            offset: Some(100)
        }
    );
    assert_eq!(
        one_req("GET a\n"),
        Request::Get {
            file: file("a"),
            offset: None
        }
    );
    assert_eq!(
        one_req("PUT a.bin 5\n"),
        Request::Put {
            file: file("a.bin"),
            size: 5,
            sha256: None
        }
    );
    let h = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824";
    match one_req(&format!("PUT a.bin 5 {h}\n")) {
        Request::Put {
            sha256: Some(got), ..
        } => assert_eq!(got.to_string(), h.to_lowercase()),
        other => panic!("{other:?}"),
    }
    assert_eq!(one_req("GUESS\n"), Request::Guess { guess: None });
    assert_eq!(one_req("GUESS 50\n"), Request::Guess { guess: Some(50) });
    assert_eq!(
        one_req("PING\n"),
        Request::Ping {
            text: String::new()
        }
    );
    assert_eq!(
        one_req("QUIT bye now\n"),
        Request::Quit {
            text: "bye now".into()
        }
    );
    assert_eq!(one_req("who\n"), Request::Who);
    assert_eq!(
        one_req("RENAME a b\n"),
        Request::Rename {
            old: file("a"),
            new: file("b")
        }
    );
}

#[test]
fn request_errors_map_to_codes() {
    let cases: &[(&str, ErrorCode)] = &[
        ("FLY away\n", ErrorCode::UnknownCommand),
        ("HELLO\n", ErrorCode::BadRequest),
        ("HELLO a b\n", ErrorCode::BadRequest),
        ("HELLO a data=65535\n", ErrorCode::BadRequest),
        ("HELLO a data=1048577\n", ErrorCode::BadRequest),
        ("HELLO a data=x\n", ErrorCode::BadRequest),
        ("HELLO a data=65536 data=65536\n", ErrorCode::BadRequest),
        ("HELLO _x\n", ErrorCode::BadName),
        (
            "HELLO a234567890123456789012345678901234\n",
            ErrorCode::BadName,
        ),
        ("TELL bad/name hi\n", ErrorCode::BadName),
        ("GET ../x\n", ErrorCode::BadName),
        ("GET %2e%2e%2fx\n", ErrorCode::BadName),
        ("GET .hidden\n", ErrorCode::BadName),
        ("GET a%00b\n", ErrorCode::BadName),
        ("GET a -1\n", ErrorCode::BadRequest),
        ("PUT a\n", ErrorCode::BadRequest),
        ("PUT a x\n", ErrorCode::BadRequest),
        ("PUT a 99999999999999999999\n", ErrorCode::BadRequest),
        ("GUESS x\n", ErrorCode::BadRequest),
        ("WHO now\n", ErrorCode::BadRequest),
        ("AUTH\n", ErrorCode::BadRequest),
    ];
    for (line, code) in cases {
        assert_eq!(err_code(line), (code.clone(), false), "{line:?}");
        assert_eq!(req(line).unwrap_err().used, line.len());
    }
}

#[test]
fn invalid_utf8_is_bad_request_and_not_fatal() {
    let e = decode_request(b"SAY \xff\xfe\nPING\n").unwrap_err();
    assert_eq!((e.code, e.fatal, e.used), (ErrorCode::BadRequest, false, 7));
}

#[test]
fn blank_lines_are_skipped() {
    assert_eq!(decode_request(b"\r\nPING\n").unwrap(), Decoded::Blank(2));
    assert_eq!(decode_request(b"\n").unwrap(), Decoded::Blank(1));
}

#[test]
fn over_long_header_fails_at_the_limit_not_later() {
    let mut line = vec![b'a'; MAX_HEADER - 1];
    assert_eq!(decode_request(&line).unwrap(), Decoded::Incomplete);
    line.push(b'\n');
    assert!(matches!(decode_request(&line), Err(e) if e.code == ErrorCode::UnknownCommand));
    let mut long = vec![b'S'; MAX_HEADER];
    assert_eq!(
        decode_request(&long).unwrap_err().code,
        ErrorCode::LineTooLong
    );
    assert!(decode_request(&long).unwrap_err().fatal);
    long.push(b'\n');
    assert_eq!(
        decode_request(&long).unwrap_err().code,
        ErrorCode::LineTooLong
    );
    // The server's limit is larger.
    let mut server = b"FROM bob ".to_vec();
    server.extend(vec![b'x'; MAX_SERVER_HEADER - 10]);
    server.push(b'\n');
    assert!(matches!(
        decode_server_frame(&server),
        Ok(Decoded::Frame(ServerFrame::From { .. }, _))
    ));
}

#[test]
fn decode_errors_read_as_code_then_reason() {
    let e = decode_request(b"FLY away\n").unwrap_err();
    assert_eq!(e.to_string(), "unknown-command unknown command \"FLY\"");
    let e = decode_request(&[b'S'; MAX_HEADER]).unwrap_err();
    assert_eq!(e.to_string(), "line-too-long a line is at most 4096 bytes");
}

#[test]
fn data_frames() {
    let mut b = b"DATA 3 5\nhello".to_vec();
    assert_eq!(
        decode_request(&b).unwrap(),
        Decoded::Frame(
            Request::Data {
                xfer: 3,
                data: b"hello".to_vec()
            },
            14
        )
    );
    b.pop();
    assert_eq!(decode_request(&b).unwrap(), Decoded::Incomplete);
    // Bodies are binary: a newline in one is not a frame boundary.
    let b = b"DATA 1 3\n\n\n\nPING\n";
    assert_eq!(
        decode_request(b).unwrap(),
        Decoded::Frame(
            Request::Data {
                xfer: 1,
                data: b"\n\n\n".to_vec()
            },
            12
        )
    );
    // Extra spaces are forgiven in a DATA header as in any other.
    assert_eq!(
        decode_request(b"DATA  7 2 \nab").unwrap(),
        Decoded::Frame(
            Request::Data {
                xfer: 7,
                data: b"ab".to_vec()
            },
            13
        )
    );
    for bad in [
        "DATA 1 65537\n",
        "DATA 1 x\n",
        "DATA x 1\n",
        "DATA 1\n",
        "DATA 1 2 3\n",
        "DATA 1 -1\n",
    ] {
        let e = decode_request(bad.as_bytes()).unwrap_err();
        assert_eq!((e.code, e.fatal), (ErrorCode::BadRequest, true), "{bad}");
    }
    assert!(matches!(
        decode_request(format!("DATA 1 {MAX_DATA}\n").as_bytes()),
        Ok(Decoded::Incomplete)
    ));
}

#[test]
fn a_client_reads_data_frames_up_to_the_size_it_may_ask_for() {
    let frame = |n: usize| {
        let mut b = format!("DATA 3 {n}\n").into_bytes();
        b.resize(b.len() + n, 7);
        b
    };
    let big = frame(MAX_BIG_DATA);
    match decode_server_frame(&big) {
        Ok(Decoded::Frame(ServerFrame::Data { xfer: 3, data }, used)) => {
            assert_eq!((data.len(), used), (MAX_BIG_DATA, big.len()));
        }
        other => panic!("{other:?}"),
    }
    let e = decode_server_frame(&frame(MAX_BIG_DATA + 1)).unwrap_err();
    assert_eq!((e.code, e.fatal), (ErrorCode::BadRequest, true));
    // A server never takes more than MAX_DATA from a client.
    let e = decode_request(&frame(MAX_DATA + 1)).unwrap_err();
    assert_eq!((e.code, e.fatal), (ErrorCode::BadRequest, true));
}

#[test]
fn server_frames_decode() {
    let f = |s: &str| match decode_server_frame(s.as_bytes()) {
        Ok(Decoded::Frame(f, _)) => f,
        other => panic!("{s:?}: {other:?}"),
    };
    assert_eq!(
        f("WELCOME natter/1 7 Welcome to natter\n"),
        ServerFrame::Welcome {
            version: "natter/1".into(),
            conn_id: 7,
            text: "Welcome to natter".into()
        }
    );
    assert_eq!(
        f("OK SAY 2\n"),
        ServerFrame::Ok(Reply::Say { delivered: 2 })
    );
    assert_eq!(
        f("ERR no-name Choose a user name first: HELLO <name>\n"),
        ServerFrame::err(ErrorCode::NoName, "Choose a user name first: HELLO <name>")
    );
    assert_eq!(
        f("USER bob [::1]:5000 2026-11-22T17:03:05Z\n"),
        ServerFrame::User {
            name: name("bob"),
            addr: "[::1]:5000".parse().unwrap(),
            since: Time::parse("2026-11-22T17:03:05Z").unwrap(),
            away: None
        }
    );
    assert_eq!(
        f("USER bob [::1]:5000 2026-11-22T17:03:05Z gone to  lunch\n"),
        ServerFrame::User {
            name: name("bob"),
            addr: "[::1]:5000".parse().unwrap(),
            since: Time::parse("2026-11-22T17:03:05Z").unwrap(),
            away: Some("gone to  lunch".into())
        }
    );
    assert_eq!(
        f("OK GUESS started 1 100\n"),
        ServerFrame::Ok(Reply::Guess(GuessReply::Started { lo: 1, hi: 100 }))
    );
    assert_eq!(
        f("DONE 4\n"),
        ServerFrame::Done {
            xfer: 4,
            stored: None
        }
    );
    assert_eq!(
        f("DONE 4 song_1.mp3 12\n"),
        ServerFrame::Done {
            xfer: 4,
            stored: Some((file("song_1.mp3"), 12))
        }
    );
    assert!(decode_server_frame(b"BOGUS x\n").is_err());
    assert!(decode_server_frame(b"OK BOGUS\n").is_err());
}

#[test]
fn files_and_status_carry_the_folder_usage_and_old_frames_still_read() {
    let f = |s: &str| match decode_server_frame(s.as_bytes()) {
        Ok(Decoded::Frame(ServerFrame::Ok(r), used)) => {
            assert_eq!(used, s.len(), "{s:?}");
            r
        }
        other => panic!("{s:?}: {other:?}"),
    };
    let full = FolderUsage {
        files: 12,
        bytes: 3_328_599_654,
        max_files: Some(500),
        max_bytes: Some(10 << 30),
    };
    let open = FolderUsage {
        max_files: None,
        max_bytes: None,
        ..full
    };
    let files = Reply::Files {
        count: 12,
        usage: Some(full),
    };
    assert_eq!(f("OK FILES 12 12 3328599654 500 10737418240\n"), files);
    assert_eq!(
        ServerFrame::Ok(files).to_bytes(),
        b"OK FILES 12 12 3328599654 500 10737418240\n"
    );
    assert_eq!(
        f("OK FILES 12 12 3328599654 - -\n"),
        Reply::Files {
            count: 12,
            usage: Some(open)
        }
    );
    assert_eq!(
        f("OK FILES 3\n"),
        Reply::Files {
            count: 3,
            usage: None
        },
        "a server before December 2026"
    );
    for bad in [
        "OK FILES 3 3\n",
        "OK FILES 3 3 10 -\n",
        "OK FILES 3 3 10 - - x\n",
        "OK FILES 3 3 x - -\n",
    ] {
        assert!(decode_server_frame(bad.as_bytes()).is_err(), "{bad:?}");
    }

    let status = |usage, note: &str| Reply::Status {
        active: 2,
        max_clients: 1000,
        uptime_s: 7500,
        usage,
        note: note.into(),
    };
    assert_eq!(
        f("OK STATUS 2 1000 7500 12 3328599654 - 10737418240\n"),
        status(
            Some(FolderUsage {
                max_files: None,
                ..full
            }),
            ""
        )
    );
    assert_eq!(
        ServerFrame::Ok(status(Some(full), "cluster of 2 nodes; this is pi")).to_bytes(),
        b"OK STATUS 2 1000 7500 12 3328599654 500 10737418240 cluster of 2 nodes; this is pi\n"
    );
    assert_eq!(
        f("OK STATUS 2 1000 7500 12 3328599654 500 10737418240 cluster of 2 nodes; this is pi\n"),
        status(Some(full), "cluster of 2 nodes; this is pi")
    );
    // From a server before December 2026: no folder fields, perhaps a text.
    assert_eq!(f("OK STATUS 2 1000 7500\n"), status(None, ""));
    assert_eq!(
        f("OK STATUS 2 1000 7500 cluster of 2 nodes; this is pi\n"),
        status(None, "cluster of 2 nodes; this is pi")
    );
    // A text that merely begins with numbers is a text.
    assert_eq!(
        f("OK STATUS 2 1000 7500 3 nodes - x\n"),
        status(None, "3 nodes - x")
    );
}

// ---- property tests ----------------------------------------------------------------

fn arb_name() -> impl Strategy<Value = UserName> {
    "[A-Za-z0-9][A-Za-z0-9_.-]{0,31}".prop_map(|s| UserName::new(&s).unwrap())
}

fn arb_file() -> impl Strategy<Value = FileName> {
    // Any printable text, with spaces, percent signs and non-ASCII, that is a valid name.
    "[^./\\\\\\x00-\\x1f\\x7f][^/\\\\\\x00-\\x1f\\x7f]{0,60}"
        .prop_filter_map("valid name", |s| FileName::new(&s).ok())
}

/// Text as it can travel: anything but a line feed, and no carriage return at the end.
fn arb_sha256() -> impl Strategy<Value = crate::Sha256> {
    any::<[u8; 32]>().prop_map(crate::Sha256)
}

/// An away text: never empty once someone is away.
fn arb_away() -> impl Strategy<Value = String> {
    "[^\\n]{0,80}[^\\r\\n]"
}

fn arb_text() -> impl Strategy<Value = String> {
    "([^\\n]{0,80}[^\\r\\n])?"
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

fn arb_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(|(ip, p)| SocketAddr::from((ip, p))),
    ]
}

fn arb_time() -> impl Strategy<Value = Time> {
    (0u64..4_102_444_800).prop_map(Time)
}

fn arb_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..100).prop_map(|b| Request::Auth {
            secret: Secret::new(&b).unwrap()
        }),
        (
            arb_name(),
            proptest::option::of(any::<u64>()),
            any::<bool>(),
            proptest::option::of(MAX_DATA as u32..=MAX_BIG_DATA as u32)
        )
            .prop_map(|(name, history, stamps, data)| Request::Hello {
                name,
                history,
                stamps,
                data
            }),
        proptest::option::of(any::<u64>()).prop_map(|count| Request::History { count }),
        arb_text().prop_map(|text| Request::Say { text }),
        (arb_name(), arb_text()).prop_map(|(name, text)| Request::Tell { name, text }),
        Just(Request::Who),
        Just(Request::Status),
        Just(Request::Files),
        (arb_file(), proptest::option::of(any::<u64>()))
            .prop_map(|(file, offset)| Request::Get { file, offset }),
        (arb_file(), any::<u64>(), proptest::option::of(arb_sha256()))
            .prop_map(|(file, size, sha256)| Request::Put { file, size, sha256 }),
        any::<u64>().prop_map(|xfer| Request::Abort { xfer }),
        arb_file().prop_map(|file| Request::Delete { file }),
        (arb_file(), arb_file()).prop_map(|(old, new)| Request::Rename { old, new }),
        arb_text().prop_map(|text| Request::Echo { text }),
        arb_text().prop_map(|expr| Request::Calc { expr }),
        proptest::option::of(any::<u64>()).prop_map(|guess| Request::Guess { guess }),
        arb_text().prop_map(|text| Request::Ping { text }),
        arb_text().prop_map(|text| Request::Away { text }),
        Just(Request::Back),
        arb_text().prop_map(|text| Request::Quit { text }),
        (any::<u64>(), arb_bytes()).prop_map(|(xfer, data)| Request::Data { xfer, data }),
    ]
}

fn arb_reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        Just(Reply::Auth),
        arb_name().prop_map(|name| Reply::Hello { name }),
        any::<u64>().prop_map(|delivered| Reply::Say { delivered }),
        (arb_name(), proptest::option::of(arb_away()))
            .prop_map(|(name, away)| Reply::Tell { name, away }),
        Just(Reply::Away),
        Just(Reply::Back),
        any::<u64>().prop_map(|sent| Reply::History { sent }),
        (any::<u64>(), arb_text()).prop_map(|(count, note)| Reply::Who { count, note }),
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            arb_usage(),
            arb_text()
        )
            .prop_map(
                |(active, max_clients, uptime_s, usage, note)| Reply::Status {
                    active,
                    max_clients,
                    uptime_s,
                    usage: Some(usage),
                    note,
                }
            ),
        // As a server before December 2026 sent it: no folder fields, and a text
        // that does not begin with a number (theirs began with "cluster").
        (any::<u64>(), any::<u64>(), any::<u64>(), arb_old_note()).prop_map(
            |(active, max_clients, uptime_s, note)| Reply::Status {
                active,
                max_clients,
                uptime_s,
                usage: None,
                note,
            }
        ),
        (any::<u64>(), proptest::option::of(arb_usage()))
            .prop_map(|(count, usage)| Reply::Files { count, usage }),
        (
            any::<u64>(),
            arb_file(),
            any::<u64>(),
            proptest::option::of(arb_sha256())
        )
            .prop_map(|(xfer, file, size, sha256)| Reply::Get {
                xfer,
                file,
                size,
                sha256
            }),
        (any::<u64>(), arb_file()).prop_map(|(xfer, stored_as)| Reply::Put { xfer, stored_as }),
        any::<u64>().prop_map(|xfer| Reply::Abort { xfer }),
        arb_file().prop_map(|file| Reply::Delete { file }),
        (arb_file(), arb_file()).prop_map(|(old, new)| Reply::Rename { old, new }),
        arb_text().prop_map(|text| Reply::Echo { text }),
        arb_text().prop_map(|result| Reply::Calc { result }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(lo, hi)| Reply::Guess(GuessReply::Started { lo, hi })),
        any::<u64>().prop_map(|tries| Reply::Guess(GuessReply::Higher { tries })),
        any::<u64>().prop_map(|tries| Reply::Guess(GuessReply::Lower { tries })),
        any::<u64>().prop_map(|tries| Reply::Guess(GuessReply::Correct { tries })),
        arb_text().prop_map(|text| Reply::Ping { text }),
        Just(Reply::Quit),
    ]
}

fn arb_usage() -> impl Strategy<Value = FolderUsage> {
    (
        any::<u64>(),
        any::<u64>(),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(files, bytes, max_files, max_bytes)| FolderUsage {
            files,
            bytes,
            max_files,
            max_bytes,
        })
}

fn arb_old_note() -> impl Strategy<Value = String> {
    arb_text().prop_filter("an old server's text", |t| {
        !t.trim_start_matches(' ')
            .starts_with(|c: char| c.is_ascii_digit())
    })
}

fn arb_code() -> impl Strategy<Value = ErrorCode> {
    "[a-z0-9-]{1,20}".prop_map(|s| ErrorCode::parse(&s).unwrap())
}

fn arb_server_frame() -> impl Strategy<Value = ServerFrame> {
    prop_oneof![
        (any::<u64>(), arb_text()).prop_map(|(conn_id, text)| ServerFrame::Welcome {
            version: VERSION.into(),
            conn_id,
            text
        }),
        arb_reply().prop_map(ServerFrame::Ok),
        (arb_code(), arb_text()).prop_map(|(code, text)| ServerFrame::Err { code, text }),
        (
            arb_name(),
            arb_addr(),
            arb_time(),
            proptest::option::of(arb_away())
        )
            .prop_map(|(name, addr, since, away)| ServerFrame::User {
                name,
                addr,
                since,
                away
            }),
        (arb_name(), arb_text()).prop_map(|(name, text)| ServerFrame::Away { name, text }),
        arb_name().prop_map(|name| ServerFrame::Back { name }),
        (
            any::<u64>(),
            proptest::option::of(arb_name()),
            arb_addr(),
            arb_time(),
            proptest::option::of(arb_time()),
            any::<u64>(),
            any::<u64>(),
            proptest::option::of("[a-z][a-z-]{0,9}"),
            proptest::option::of("[A-Za-z0-9_.:\\[\\]-]{1,64}")
        )
            .prop_map(
                |(conn_id, name, addr, connected, ended, bytes_in, bytes_out, reason, node)| {
                    ServerFrame::Session(SessionInfo {
                        conn_id,
                        name,
                        addr,
                        connected,
                        ended,
                        bytes_in,
                        bytes_out,
                        reason: reason.map(|r| LeaveReason::parse(&r).unwrap()),
                        node,
                    })
                }
            ),
        (
            arb_file(),
            any::<u64>(),
            arb_time(),
            proptest::option::of(arb_sha256())
        )
            .prop_map(|(file, size, mtime, sha256)| ServerFrame::File {
                file,
                size,
                mtime,
                sha256
            }),
        arb_name().prop_map(|name| ServerFrame::Join { name }),
        (arb_name(), "[a-z-]{1,10}", arb_text()).prop_map(|(name, r, text)| ServerFrame::Leave {
            name,
            reason: LeaveReason::parse(&r).unwrap(),
            text
        }),
        (arb_name(), arb_text()).prop_map(|(name, text)| ServerFrame::From { name, text }),
        (arb_name(), arb_text()).prop_map(|(name, text)| ServerFrame::Private { name, text }),
        (any::<u64>(), arb_time(), arb_name(), arb_text()).prop_map(|(id, time, name, text)| {
            ServerFrame::History {
                id,
                time,
                name,
                text,
            }
        }),
        (any::<u64>(), arb_time(), arb_name(), arb_text()).prop_map(|(id, time, name, text)| {
            ServerFrame::Said {
                id,
                time,
                name,
                text,
            }
        }),
        (any::<u64>(), arb_time(), arb_name(), arb_text()).prop_map(|(id, time, name, text)| {
            ServerFrame::Told {
                id,
                time,
                name,
                text,
            }
        }),
        (arb_name(), arb_file(), any::<u64>()).prop_map(|(name, file, size)| ServerFrame::Shared {
            name,
            file,
            size
        }),
        (arb_name(), arb_file()).prop_map(|(name, file)| ServerFrame::Deleted { name, file }),
        (arb_name(), arb_file(), arb_file()).prop_map(|(name, old, new)| ServerFrame::Renamed {
            name,
            old,
            new
        }),
        (any::<u64>(), arb_bytes()).prop_map(|(xfer, data)| ServerFrame::Data { xfer, data }),
        (
            any::<u64>(),
            proptest::option::of((arb_file(), any::<u64>()))
        )
            .prop_map(|(xfer, stored)| ServerFrame::Done { xfer, stored }),
        (any::<u64>(), arb_code(), arb_text()).prop_map(|(xfer, code, text)| ServerFrame::Failed {
            xfer,
            code,
            text
        }),
        arb_text().prop_map(|text| ServerFrame::Shutdown { text }),
    ]
}

/// Feeds `stream` to `decode` in pieces cut at `cuts`, the way partial reads arrive,
/// and returns every frame decoded.
fn decode_in_pieces<F>(
    stream: &[u8],
    cuts: &[usize],
    decode: fn(&[u8]) -> Result<Decoded<F>, DecodeError>,
) -> Vec<F> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(stream.len());
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut fed = 0;
    for cut in cuts {
        buf.extend_from_slice(&stream[fed..cut]);
        fed = cut;
        loop {
            match decode(&buf) {
                Ok(Decoded::Frame(f, used)) => {
                    out.push(f);
                    buf.drain(..used);
                }
                Ok(Decoded::Blank(used)) => {
                    buf.drain(..used);
                }
                Ok(Decoded::Incomplete) => break,
                Err(e) => panic!("decode error {e:?}"),
            }
        }
    }
    assert!(buf.is_empty(), "bytes left over: {buf:?}");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip_under_any_split(
        frames in proptest::collection::vec(arb_request(), 1..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        prop_assert_eq!(decode_in_pieces(&stream, &cuts, decode_request), frames);
    }

    #[test]
    fn server_frames_round_trip_under_any_split(
        frames in proptest::collection::vec(arb_server_frame(), 1..12),
        cuts in proptest::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        prop_assert_eq!(decode_in_pieces(&stream, &cuts, decode_server_frame), frames);
    }

    #[test]
    fn requests_round_trip_one_byte_at_a_time(frames in proptest::collection::vec(arb_request(), 1..4)) {
        let mut stream = Vec::new();
        for f in &frames {
            f.encode(&mut stream);
        }
        let cuts: Vec<usize> = (0..stream.len()).collect();
        prop_assert_eq!(decode_in_pieces(&stream, &cuts, decode_request), frames);
    }

    /// Whatever arrives, each decoder gives an answer consistent with every shorter
    /// and longer stream (see `check_answer`).
    #[test]
    fn arbitrary_bytes_get_a_consistent_answer(bytes in arb_stream(), cut in any::<usize>()) {
        check_answer(&bytes, cut, decode_request, MAX_HEADER)?;
        check_answer(&bytes, cut, decode_server_frame, MAX_SERVER_HEADER)?;
    }

    /// A frame's bytes decode to it, whatever follows them, and every prefix of them
    /// is `Incomplete`: exactly the prefixes shorter than the frame.
    #[test]
    fn a_frame_is_incomplete_exactly_until_its_last_byte(
        req in arb_request(),
        frame in arb_server_frame(),
        tail in arb_bytes(),
    ) {
        check_prefixes(&req.to_bytes(), &req, &tail, decode_request)?;
        check_prefixes(&frame.to_bytes(), &frame, &tail, decode_server_frame)?;
    }

    /// An encoder handed a `\n` anywhere in a text, or a `\r` at its end, writes a
    /// space there: the frame stays one line and decodes to the text so mended.
    #[test]
    fn text_with_line_breaks_cannot_split_a_frame(text in arb_text_with_breaks()) {
        prop_assert!(text.contains(['\n', '\r']), "{:?}", text);
        let mut mended = text.replace('\n', " ");
        if mended.ends_with('\r') {
            mended.pop();
            mended.push(' ');
        }
        let say = Request::Say { text: text.clone() }.to_bytes();
        prop_assert_eq!(say.iter().position(|&b| b == b'\n'), Some(say.len() - 1));
        prop_assert_eq!(
            decode_request(&say),
            Ok(Decoded::Frame(Request::Say { text: mended.clone() }, say.len()))
        );
        let from = ServerFrame::From { name: name("bob"), text }.to_bytes();
        prop_assert_eq!(from.iter().position(|&b| b == b'\n'), Some(from.len() - 1));
        prop_assert_eq!(
            decode_server_frame(&from),
            Ok(Decoded::Frame(ServerFrame::From { name: name("bob"), text: mended }, from.len()))
        );
    }
}

type Decoder<F> = fn(&[u8]) -> Result<Decoded<F>, DecodeError>;

/// Bytes as they may arrive: noise, a stream of real frames cut anywhere, or a real
/// frame followed by noise, so that every kind of answer comes up.
fn arb_stream() -> impl Strategy<Value = Vec<u8>> {
    let cut_stream = |frames: Vec<Vec<u8>>, cut: usize| {
        let stream = frames.concat();
        let cut = cut % (stream.len() + 1);
        stream[..cut].to_vec()
    };
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..9000),
        (
            proptest::collection::vec(arb_request().prop_map(|r| r.to_bytes()), 1..4),
            any::<usize>()
        )
            .prop_map(move |(f, c)| cut_stream(f, c)),
        (
            proptest::collection::vec(arb_server_frame().prop_map(|f| f.to_bytes()), 1..4),
            any::<usize>()
        )
            .prop_map(move |(f, c)| cut_stream(f, c)),
        (arb_request(), arb_bytes()).prop_map(|(r, noise)| [r.to_bytes(), noise].concat()),
    ]
}

/// What is true of a decoder's answer to `bytes`, whatever they are:
/// - a frame, a blank line or a refusal that is not fatal uses at least one byte and
///   at most all; its own bytes alone get the same answer, and any shorter prefix of
///   them (the one at `cut`) is `Incomplete`;
/// - a fatal refusal uses everything (the stream cannot be resynchronised);
/// - `Incomplete` means more bytes would settle it: with enough of them after it the
///   answer is no longer `Incomplete` and uses more than has arrived, and if a whole
///   line is already there it is the header of a `DATA` frame still missing its body.
fn check_answer<F: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    cut: usize,
    decode: Decoder<F>,
    max_header: usize,
) -> Result<(), TestCaseError> {
    let answer = decode(bytes);
    let used = match &answer {
        Ok(Decoded::Frame(_, used)) | Ok(Decoded::Blank(used)) => *used,
        Err(e) if !e.fatal => e.used,
        Err(e) => {
            prop_assert_eq!(e.used, bytes.len(), "{:?}", e);
            return Ok(());
        }
        Ok(Decoded::Incomplete) => {
            let has_line = bytes.contains(&b'\n');
            prop_assert!(
                has_line || bytes.len() < max_header,
                "waits on {}",
                bytes.len()
            );
            let mut more = bytes.to_vec();
            more.resize(bytes.len() + max_header + MAX_DATA, b'\n');
            match decode(&more) {
                Ok(Decoded::Frame(_, used)) | Ok(Decoded::Blank(used)) if !has_line => {
                    prop_assert!(used > bytes.len())
                }
                Err(e) if !has_line => prop_assert!(e.used > bytes.len(), "{:?}", e),
                Ok(Decoded::Frame(f, used)) => {
                    prop_assert!(used > bytes.len(), "{:?}", f);
                    prop_assert!(bytes.len() >= 5 && bytes[..5].eq_ignore_ascii_case(b"DATA "));
                }
                other => prop_assert!(false, "completed, still {:?}", other),
            }
            return Ok(());
        }
    };
    prop_assert!(
        used > 0 && used <= bytes.len(),
        "used {} of {}",
        used,
        bytes.len()
    );
    prop_assert_eq!(&decode(&bytes[..used]), &answer);
    prop_assert_eq!(decode(&bytes[..cut % used]), Ok(Decoded::Incomplete));
    Ok(())
}

/// `bytes` is the whole encoding of `frame`: see `a_frame_is_incomplete_exactly_until_its_last_byte`.
fn check_prefixes<F: PartialEq + std::fmt::Debug + Clone>(
    bytes: &[u8],
    frame: &F,
    tail: &[u8],
    decode: Decoder<F>,
) -> Result<(), TestCaseError> {
    for k in 0..bytes.len() {
        prop_assert_eq!(
            decode(&bytes[..k]),
            Ok(Decoded::Incomplete),
            "prefix of {}",
            k
        );
    }
    let whole: Result<_, DecodeError> = Ok(Decoded::Frame(frame.clone(), bytes.len()));
    prop_assert_eq!(&decode(bytes), &whole);
    prop_assert_eq!(&decode(&[bytes, tail].concat()), &whole);
    Ok(())
}

/// Texts that hold at least one `\n` or `\r`, anywhere, the end included.
fn arb_text_with_breaks() -> impl Strategy<Value = String> {
    let brk = proptest::sample::select(vec!["\n", "\r", "\r\n", "\n\r", "\r\r", "\n\n"]);
    ("(?s).{0,20}", brk, "(?s).{0,20}", any::<bool>()).prop_map(|(a, brk, b, at_end)| {
        if at_end {
            format!("{a}{b}{brk}")
        } else {
            format!("{a}{brk}{b}")
        }
    })
}

#[test]
fn a_hello_option_given_twice_is_called_a_repeat_not_a_bad_value() {
    for (line, key) in [
        ("HELLO a data=65536 data=65536\n", "data"),
        ("HELLO a stamps STAMPS\n", "stamps"),
        ("HELLO a history=5 stamps history=5\n", "history"),
    ] {
        let e = req(line).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest, "{line:?}");
        assert!(
            e.text
                .starts_with(&format!("HELLO takes {key} once; it came twice")),
            "{line:?}: {}",
            e.text
        );
    }
    // Each once, in any order, is fine.
    match one_req("HELLO a stamps data=65536 history=3\n") {
        Request::Hello {
            stamps,
            data,
            history,
            ..
        } => assert_eq!((stamps, data, history), (true, Some(65536), Some(3))),
        other => panic!("{other:?}"),
    }
}
