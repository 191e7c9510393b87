//! Downloads that resume, start over, or are refused their name, end to end: the
//! real natter binary in batch mode; a real natterd where one will do, and a
//! [`FakeServer`] played by hand where a real one cannot be made to behave on cue
//! (a download cut off half way, a file listed differently after its download).
//! Every saved file is compared byte for byte.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, UNIX_EPOCH};

const SIZE: usize = 200_000;
/// The `.part` a cut-off download leaves: more than one overlap's worth.
const CUT: usize = 150_000;
/// Where a resume asks the server to start: the cut less the 64 KiB overlap.
const FROM: usize = CUT - 65_536;
/// A modification time, and its wire form.
const MTIME_SECS: u64 = 1_700_000_000;
const MTIME: &str = "2023-11-14T22:13:20Z";

/// Every byte value, in an order that is not a simple cycle, and never zero, so a
/// `.part` of zeros differs from it everywhere.
fn binary(len: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            ((i as u8) ^ (x >> 16) as u8).max(1)
        })
        .collect()
}

/// natter in batch mode against `port`, downloading into `downloads`, with `script`
/// on stdin; not waited for.
fn spawn(port: &str, downloads: &Path, script: &str) -> Child {
    let dir = downloads.to_str().unwrap();
    let mut child = natter(&["--download-dir", dir, "alice", "127.0.0.1", port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    child
}

fn get(server: &Natterd, downloads: &Path) -> Output {
    wait_output(spawn(&server.port(), downloads, "/get big.bin\n"))
}

/// A fake natterd's side of `/get big.bin`: the listing (with `mtime`), then the
/// file's first `bytes.len()` bytes of `size`, and then the connection is cut.
fn cut_off(downloads: &Path, size: usize, mtime: &str, bytes: &[u8]) {
    let fake = FakeServer::bind();
    let child = spawn(&fake.port(), downloads, "/get big.bin\n");
    let mut p = fake.accept_named("alice");
    p.expect("FILES");
    p.send(&format!("FILE big.bin {size} {mtime}\nOK FILES 1\n"));
    p.expect("GET big.bin");
    p.send(&format!("OK GET 1 big.bin {size}\n"));
    for chunk in bytes.chunks(65536) {
        p.send(&format!("DATA 1 {}\n", chunk.len()));
        p.send_bytes(chunk);
    }
    drop(p);
    let out = wait_output(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("the download of big.bin stopped; ")
            && stderr.contains("big.bin.part is kept: /get big.bin resumes it"),
        "{stderr}"
    );
    let part = downloads.join("big.bin.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), bytes.len() as u64);
    assert!(downloads.join("big.bin.part.info").exists());
}

/// A real natterd sharing `data` as big.bin, modified at `mtime_secs`.
fn serving(data: &[u8], mtime_secs: u64) -> Natterd {
    let server = Natterd::start(&[]);
    std::fs::write(server.file("big.bin"), data).unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(server.file("big.bin"))
        .unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(mtime_secs))
        .unwrap();
    server
}

fn saved(out: &Output, downloads: &Path, data: &[u8]) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "* Saved {}/big.bin ({} bytes)",
            downloads.display(),
            group(data.len())
        )),
        "{stdout}"
    );
    assert!(
        std::fs::read(downloads.join("big.bin")).unwrap() == data,
        "the saved file differs from the server's"
    );
    assert!(!downloads.join("big.bin.part").exists());
    assert!(!downloads.join("big.bin.part.info").exists());
    stdout
}

/// `200,000`: a byte count as natter writes it.
fn group(mut n: usize) -> String {
    let mut parts = Vec::new();
    while n >= 1000 {
        parts.push(format!("{:03}", n % 1000));
        n /= 1000;
    }
    parts.push(n.to_string());
    parts.reverse();
    parts.join(",")
}

fn downloads() -> TempPath {
    let d = TempPath::new("dl");
    std::fs::create_dir_all(&d.0).unwrap();
    d
}

#[test]
fn a_same_size_part_without_a_record_starts_over() {
    let data = binary(SIZE);
    let server = serving(&data, MTIME_SECS);
    let dl = downloads();
    // Left by something else: as long as the file, and nothing like it.
    std::fs::write(dl.0.join("big.bin.part"), vec![0u8; SIZE]).unwrap();
    let stdout = saved(&get(&server, &dl.0), &dl.0, &data);
    assert!(
        stdout.contains(&format!(
            "* starting big.bin over: {}/big.bin.part has no record of which version of big.bin it came from\n",
            dl.0.display()
        )),
        "{stdout}"
    );
    let log = server.wait_log("downloads big.bin (200000 bytes, from 0)");
    assert_eq!(log.matches("downloads big.bin").count(), 1, "{log}");
}

#[test]
fn a_part_of_the_same_version_resumes_after_its_last_bytes_check_out() {
    let data = binary(SIZE);
    let dl = downloads();
    cut_off(&dl.0, SIZE, MTIME, &data[..CUT]);
    let server = serving(&data, MTIME_SECS);
    let stdout = saved(&get(&server, &dl.0), &dl.0, &data);
    assert!(!stdout.contains("starting"), "{stdout}");
    // The server was asked for the overlap and the rest, and nothing more.
    let log = server.wait_log(&format!("downloads big.bin (200000 bytes, from {FROM})"));
    assert_eq!(log.matches("downloads big.bin").count(), 1, "{log}");
}

#[test]
fn a_part_of_another_version_starts_over() {
    let data = binary(SIZE);
    let dl = downloads();
    cut_off(&dl.0, SIZE, MTIME, &data[..CUT]);
    // The same size, modified an hour later: another version.
    let server = serving(&data, MTIME_SECS + 3600);
    let stdout = saved(&get(&server, &dl.0), &dl.0, &data);
    assert!(
        stdout.contains(&format!(
            "* starting big.bin over: {}/big.bin.part came from another version of big.bin (200,000 bytes, modified {MTIME}; the server's now has 200,000 bytes, modified 2023-11-14T23:13:20Z)\n",
            dl.0.display()
        )),
        "{stdout}"
    );
    // Asked from the overlap first, then, the version being another, from the start.
    let log = server.wait_log("downloads big.bin (200000 bytes, from 0)");
    assert!(
        log.contains(&format!("downloads big.bin (200000 bytes, from {FROM})")),
        "{log}"
    );
}

#[test]
fn a_part_whose_last_bytes_differ_starts_over() {
    let data = binary(SIZE);
    let dl = downloads();
    // The right size and time, the wrong bytes.
    cut_off(&dl.0, SIZE, MTIME, &vec![0u8; CUT]);
    let server = serving(&data, MTIME_SECS);
    let stdout = saved(&get(&server, &dl.0), &dl.0, &data);
    assert!(
        stdout.contains(&format!(
            "* starting big.bin over: {}/big.bin.part differs from the server's big.bin at byte {}, so it is not from this version\n",
            dl.0.display(),
            group(FROM)
        )),
        "{stdout}"
    );
}

#[test]
fn a_part_longer_than_the_server_s_file_starts_over() {
    let dl = downloads();
    cut_off(&dl.0, 300_000, MTIME, &binary(SIZE));
    let data = binary(100_000);
    let server = serving(&data, MTIME_SECS);
    let stdout = saved(&get(&server, &dl.0), &dl.0, &data);
    assert!(
        stdout.contains(&format!(
            "* starting big.bin over: {}/big.bin.part holds more than the server's big.bin has\n",
            dl.0.display()
        )),
        "{stdout}"
    );
}

#[test]
fn a_file_listed_differently_after_its_download_is_not_saved() {
    let data = binary(1000);
    let dl = downloads();
    let fake = FakeServer::bind();
    let child = spawn(&fake.port(), &dl.0, "/get big.bin\n");
    let mut p = fake.accept_named("alice");
    p.expect("FILES");
    p.send(&format!("FILE big.bin 1000 {MTIME}\nOK FILES 1\n"));
    p.expect("GET big.bin");
    p.send("OK GET 1 big.bin 1000\nDATA 1 1000\n");
    p.send_bytes(&data);
    p.send("DONE 1\n");
    // Every byte arrived; the listing after it shows another modification time.
    p.expect("FILES");
    p.send("FILE big.bin 1000 2023-11-14T22:13:21Z\nOK FILES 1\n");
    p.expect("QUIT");
    p.send("OK QUIT\n");
    drop(p);
    let out = wait_output(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "! big.bin changed on the server during the download (it had 1,000 bytes, modified {MTIME}; it now has 1,000 bytes, modified 2023-11-14T22:13:21Z): what arrived may mix two versions, so nothing was saved; /get big.bin starts over"
        )),
        "{stderr}"
    );
    assert!(!text(&out.stdout).contains("Saved"));
    for left in ["big.bin", "big.bin.part", "big.bin.part.info"] {
        assert!(!dl.0.join(left).exists(), "{left} was left behind");
    }
}

#[test]
fn two_natters_never_write_one_part() {
    let data = binary(SIZE);
    let dl = downloads();
    let fake = FakeServer::bind();
    let first = spawn(&fake.port(), &dl.0, "/get big.bin\n");
    let mut p = fake.accept_named("alice");
    p.expect("FILES");
    p.send(&format!("FILE big.bin {SIZE} {MTIME}\nOK FILES 1\n"));
    p.expect("GET big.bin");
    p.send(&format!("OK GET 1 big.bin {SIZE}\nDATA 1 100\n"));
    p.send_bytes(&data[..100]);
    // The first natter holds the .part now, mid-download.
    let part = dl.0.join("big.bin.part");
    let end = std::time::Instant::now() + WAIT;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 100 {
        assert!(
            std::time::Instant::now() < end,
            "the first download never began"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let server = serving(&data, MTIME_SECS);
    let out = get(&server, &dl.0);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "! big.bin is already being downloaded into {} (by this natter or another)",
            dl.0.display()
        )),
        "{stderr}"
    );
    assert!(
        !server.log().contains("downloads big.bin"),
        "nothing was asked for"
    );
    // The first one finishes undisturbed.
    for chunk in data[100..].chunks(65536) {
        p.send(&format!("DATA 1 {}\n", chunk.len()));
        p.send_bytes(chunk);
    }
    p.send("DONE 1\n");
    p.expect("FILES");
    p.send(&format!("FILE big.bin {SIZE} {MTIME}\nOK FILES 1\n"));
    p.expect("QUIT");
    p.send("OK QUIT\n");
    saved(&wait_output(first), &dl.0, &data);
}

#[test]
fn a_part_damaged_before_its_last_bytes_is_caught_by_the_sha256_and_nothing_is_saved() {
    let data = binary(SIZE);
    let dl = downloads();
    // The right version, its last bytes right (the overlap check passes), one byte
    // early on flipped, as a bad sector would.
    let mut damaged = data[..CUT].to_vec();
    damaged[10] ^= 0x55;
    cut_off(&dl.0, SIZE, MTIME, &damaged);
    let server = serving(&data, MTIME_SECS);
    wait_hashed(&server, "big.bin");
    let out = get(&server, &dl.0);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("big.bin arrived damaged: its SHA-256 is "),
        "{stderr}\n{}",
        text(&out.stdout)
    );
    assert!(
        !dl.0.join("big.bin").exists(),
        "nothing under the real name"
    );
    assert!(
        !dl.0.join("big.bin.part").exists(),
        "and no part to resume from"
    );
    // Asked again, it comes whole, verified.
    let stdout = saved(&get(&server, &dl.0), &dl.0, &data);
    assert!(stdout.contains(", SHA-256 verified: "), "{stdout}");
}

#[test]
fn an_unreadable_reply_to_a_get_ends_the_session_instead_of_hanging() {
    let downloads = TempPath::new("dl");
    let fake = FakeServer::bind();
    let child = spawn(&fake.port(), &downloads.0, "/get evil\n");
    let mut p = fake.accept_named("alice");
    p.expect("FILES");
    p.send(&format!("FILE evil 5 {MTIME}\nOK FILES 1\n"));
    p.expect("GET evil");
    // A name no server may send: the line cannot be read, so natter cannot know
    // what the server started, nor match the replies after it with its requests.
    let sha = "0".repeat(64);
    p.send(&format!(
        "OK GET 7 ..%2F..%2Fevil 5 {sha}\nDATA 7 5\nhello\nDONE 7\n"
    ));
    let out = wait_output(child);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(7), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("lost (the server sent a reply that could not be read: bad-name "),
        "{stderr}"
    );
    assert!(!stdout.contains("transfer"), "{stdout}");
    assert!(
        !downloads.0.join("evil.part").exists(),
        "the .part made for the GET is gone again"
    );
}
