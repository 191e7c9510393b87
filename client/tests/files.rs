//! The shared-folder commands end to end: the real natter binary in batch mode
//! against a real natterd with its own temporary shared folder, downloads into a
//! temporary download folder, and the files compared byte for byte.

mod common;

use common::*;
use std::path::Path;
use std::process::{Output, Stdio};

/// Every byte value, many times over, in an order that is not a simple cycle, so a
/// dropped, doubled or shifted chunk shows.
fn binary(len: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (i as u8) ^ (x >> 16) as u8
        })
        .collect()
}

fn run(server: &Natterd, downloads: &Path, extra: &[&str], script: &str) -> Output {
    let dir = downloads.to_str().expect("utf-8 temp path");
    let port = server.port();
    let mut args = vec!["--download-dir", dir];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["alice", "127.0.0.1", &port]);
    run_batch(&args, script)
}

fn ok(out: &Output) -> String {
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    stdout
}

#[test]
fn files_lists_the_shared_folder_with_sizes() {
    let server = Natterd::start(&[]);
    std::fs::write(server.file("cat.png"), vec![7u8; 48213]).unwrap();
    std::fs::write(server.file("holiday photo.jpg"), b"hi").unwrap();
    std::fs::write(server.file(".hidden"), b"never listed").unwrap();
    let downloads = TempPath::new("dl");
    let stdout = ok(&run(&server, &downloads.0, &[], "/files\n/shared\n"));
    let want = "* SharedFiles: 2 files, 47.1 KiB\n\
                \x20 cat.png            47.1 KiB   (48,213 bytes)\n\
                \x20 holiday photo.jpg       2 B   (2 bytes)\n";
    assert_eq!(stdout.matches(want).count(), 2, "{stdout}");
}

#[test]
fn files_and_status_show_the_folder_against_its_limits() {
    let server = Natterd::start(&["--max-folder-size", "1M", "--max-files", "10"]);
    std::fs::write(server.file("cat.png"), vec![7u8; 48213]).unwrap();
    std::fs::write(server.file("holiday photo.jpg"), b"hi").unwrap();
    let downloads = TempPath::new("dl");
    let stdout = ok(&run(&server, &downloads.0, &[], "/files\n/status\n"));
    assert!(
        stdout.contains("* SharedFiles: 2 of 10 files, 47.1 KiB of 1 MiB\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("* shared folder: 2 of 10 files, 47.1 KiB of 1 MiB\n"),
        "{stdout}"
    );
}

#[test]
fn get_round_trips_every_byte_value() {
    let server = Natterd::start(&[]);
    // Several DATA frames, the last one short.
    let data = binary(3 * 65536 + 1234);
    std::fs::write(server.file("blob.bin"), &data).unwrap();
    let downloads = TempPath::new("dl");
    let dir = downloads.0.join("not").join("there-yet");
    let out = run(&server, &dir, &[], "/get blob.bin\n");
    let stdout = ok(&out);
    assert!(
        stdout.contains(&format!(
            "* Saved {}/blob.bin (197,842 bytes)",
            dir.display()
        )),
        "{stdout}"
    );
    assert!(!stdout.contains('%'), "no progress in batch mode: {stdout}");
    assert!(std::fs::read(dir.join("blob.bin")).unwrap() == data);
    assert!(!dir.join("blob.bin.part").exists());
}

#[test]
fn an_existing_local_name_is_kept_unless_overwrite() {
    let server = Natterd::start(&[]);
    std::fs::write(server.file("notes.txt"), b"from the server").unwrap();
    std::fs::write(server.file("a.tar.gz"), b"archive").unwrap();
    let downloads = TempPath::new("dl");
    std::fs::create_dir_all(&downloads.0).unwrap();
    let local = |n: &str| downloads.0.join(n);
    std::fs::write(local("notes.txt"), b"mine").unwrap();
    std::fs::write(local("a.tar.gz"), b"mine").unwrap();

    let stdout = ok(&run(
        &server,
        &downloads.0,
        &[],
        "/get notes.txt\n/get notes.txt\n/get a.tar.gz\n",
    ));
    assert!(stdout.contains("/notes_1.txt (15 bytes)"), "{stdout}");
    assert!(stdout.contains("/notes_2.txt (15 bytes)"), "{stdout}");
    assert!(stdout.contains("/a.tar_1.gz (7 bytes)"), "{stdout}");
    assert_eq!(std::fs::read(local("notes.txt")).unwrap(), b"mine");
    assert_eq!(
        std::fs::read(local("notes_1.txt")).unwrap(),
        b"from the server"
    );
    assert_eq!(std::fs::read(local("a.tar_1.gz")).unwrap(), b"archive");

    let stdout = ok(&run(
        &server,
        &downloads.0,
        &["--overwrite"],
        "/get notes.txt\n",
    ));
    assert!(stdout.contains("/notes.txt (15 bytes)"), "{stdout}");
    assert_eq!(
        std::fs::read(local("notes.txt")).unwrap(),
        b"from the server"
    );
    assert!(!local("notes_3.txt").exists());
}

#[test]
fn a_refused_get_is_exit_1_and_leaves_nothing() {
    let server = Natterd::start(&[]);
    let downloads = TempPath::new("dl");
    let out = run(&server, &downloads.0, &[], "/get nope.txt\nstill here\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("! no such file: nope.txt"), "{stderr}");
    assert!(text(&out.stdout).contains("<you> still here"));
    assert!(!downloads.0.join("nope.txt.part").exists());
}

#[test]
fn put_uploads_a_binary_file_byte_for_byte() {
    let server = Natterd::start(&[]);
    let mut bob = server.join("bob");
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let data = binary((1 << 20) + 3);
    let path = local.0.join("song.mp3");
    std::fs::write(&path, &data).unwrap();
    let downloads = TempPath::new("dl");

    let script = format!("/put {}\n", path.display());
    let stdout = ok(&run(&server, &downloads.0, &[], &script));
    assert!(
        stdout.contains("* Uploaded as song.mp3 (1,048,579 bytes)\n"),
        "{stdout}"
    );
    assert!(std::fs::read(server.file("song.mp3")).unwrap() == data);
    bob.expect("JOIN alice");
    bob.expect("SHARED alice song.mp3 1048579");

    // The same name again: the server keeps both, and says under which name.
    let stdout = ok(&run(&server, &downloads.0, &[], &script));
    assert!(
        stdout.contains("* Uploaded as song_1.mp3 (1,048,579 bytes)\n"),
        "{stdout}"
    );
    assert!(std::fs::read(server.file("song_1.mp3")).unwrap() == data);
}

#[test]
fn put_takes_another_name_and_escaped_paths() {
    let server = Natterd::start(&[]);
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("my notes.txt");
    std::fs::write(&path, b"spaces in the path").unwrap();
    let downloads = TempPath::new("dl");
    let escaped = path.display().to_string().replace(' ', "\\ ");
    let script = format!("/put {escaped}\n/put \"{}\" renamed.txt\n", path.display());
    let stdout = ok(&run(&server, &downloads.0, &[], &script));
    assert!(
        stdout.contains("* Uploaded as my notes.txt (18 bytes)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("* Uploaded as renamed.txt (18 bytes)"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(server.file("renamed.txt")).unwrap(),
        b"spaces in the path"
    );
}

#[test]
fn put_of_an_unquoted_path_with_spaces_uploads_it() {
    let server = Natterd::start(&[]);
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    std::fs::write(local.0.join("my notes.txt"), b"two words").unwrap();
    std::fs::write(local.0.join("three word name.txt"), b"three words").unwrap();
    let downloads = TempPath::new("dl");
    let dir = local.0.display();
    let script = format!(
        "/put {dir}/my notes.txt\n/put {dir}/three word name.txt\n/put {dir}/missing file.txt\n"
    );
    let out = run(&server, &downloads.0, &[], &script);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("* Uploaded as my notes.txt (9 bytes)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("* Uploaded as three word name.txt (11 bytes)"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read(server.file("my notes.txt")).unwrap(),
        b"two words"
    );
    // Neither `missing` nor `missing file.txt` is there: the split's error, and how
    // to quote.
    assert!(
        stderr.contains(&format!(
            "! no such file: {dir}/missing (a path with spaces needs quotes: /put \"my file.txt\" [<name>])"
        )),
        "{stderr}"
    );
}

#[test]
fn put_checks_the_local_file_first() {
    let server = Natterd::start(&[]);
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let hidden = local.0.join(".secret-notes");
    std::fs::write(&hidden, b"x").unwrap();
    let downloads = TempPath::new("dl");
    let script = format!(
        "/put {}\n/put {}\n/put {}\n",
        local.0.join("missing.txt").display(),
        local.0.display(),
        hidden.display()
    );
    let out = run(&server, &downloads.0, &[], &script);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("! no such file: "), "{stderr}");
    assert!(
        stderr.contains("is a folder; /put sends one regular file"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "\".secret-notes\" cannot be a shared name: a file name cannot start with '.'"
        ) && stderr.contains("give one: /put <path> <name>"),
        "{stderr}"
    );
    assert!(std::fs::read_dir(&server.dir).unwrap().next().is_none());
}

#[test]
fn rm_and_mv_say_what_happened() {
    let server = Natterd::start(&[]);
    std::fs::write(server.file("old.txt"), b"1").unwrap();
    std::fs::write(server.file("keep.txt"), b"2").unwrap();
    std::fs::write(server.file("other.txt"), b"3").unwrap();
    let downloads = TempPath::new("dl");
    let stdout = ok(&run(
        &server,
        &downloads.0,
        &[],
        "/rm old.txt\n/mv keep.txt \"kept file.txt\"\n",
    ));
    assert!(stdout.contains("* deleted old.txt\n"), "{stdout}");
    assert!(
        stdout.contains("* renamed keep.txt to kept file.txt\n"),
        "{stdout}"
    );
    assert!(!server.file("old.txt").exists());
    assert_eq!(std::fs::read(server.file("kept file.txt")).unwrap(), b"2");

    let out = run(
        &server,
        &downloads.0,
        &[],
        "/rm old.txt\n/mv nothing.txt x.txt\n/mv other.txt \"kept file.txt\"\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("! no such file: old.txt\n"), "{stderr}");
    assert!(stderr.contains("! no such file: nothing.txt\n"), "{stderr}");
    assert!(
        stderr.contains("! kept file.txt already exists\n"),
        "{stderr}"
    );
}

#[test]
fn a_read_only_folder_is_said_in_words() {
    let server = Natterd::start(&["--read-only"]);
    std::fs::write(server.file("a.txt"), b"1").unwrap();
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    std::fs::write(local.0.join("b.txt"), b"2").unwrap();
    let downloads = TempPath::new("dl");
    let script = format!("/rm a.txt\n/put {}\n", local.0.join("b.txt").display());
    let out = run(&server, &downloads.0, &[], &script);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr
            .matches("! the server's shared folder is read-only\n")
            .count(),
        2,
        "{stderr}"
    );
}

/// A GiB of zeros costs the server nothing to hold (a sparse file). natter is
/// stopped (SIGSTOP) as soon as its `.part` has bytes, so however fast the machine,
/// the download is still running when the test acts; [`resume`] lets it go on.
fn start_big_download(server: &Natterd, downloads: &Path) -> std::process::Child {
    let f = std::fs::File::create(server.file("big.iso")).unwrap();
    f.set_len(1 << 30).unwrap();
    let dir = downloads.to_str().unwrap();
    let child = natter(&["--download-dir", dir, "alice", "127.0.0.1", &server.port()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    let mut child = child;
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"/get big.iso\n").unwrap();
    drop(stdin);
    let part = downloads.join("big.iso.part");
    let end = std::time::Instant::now() + WAIT;
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) == 0 {
        assert!(
            std::time::Instant::now() < end,
            "the download never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    signal(&child, libc::SIGSTOP);
    // A finished download is renamed away from its .part.
    let got = std::fs::metadata(&part)
        .expect("still a .part when stopped")
        .len();
    assert!(got < 1 << 30, "the whole GiB came in one poll: {got}");
    assert!(!downloads.join("big.iso").exists(), "already saved");
    child
}

fn signal(child: &std::process::Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child, which has not been reaped.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Lets a natter stopped by [`start_big_download`] go on.
fn resume(child: &std::process::Child) {
    signal(child, libc::SIGCONT);
}

#[test]
fn a_failed_download_keeps_its_part_and_is_exit_1() {
    let server = Natterd::start(&[]);
    let downloads = TempPath::new("dl");
    let child = start_big_download(&server, &downloads.0);
    // The file shrinks under the server, which fails the transfer.
    std::fs::File::options()
        .write(true)
        .open(server.file("big.iso"))
        .unwrap()
        .set_len(1000)
        .unwrap();
    resume(&child);
    let out = wait_output(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("! the download of big.iso failed: ")
            && stderr.contains("big.iso.part is kept: /get big.iso resumes it"),
        "{stderr}"
    );
    assert!(downloads.0.join("big.iso.part").exists());
    assert!(!downloads.0.join("big.iso").exists());
}

#[test]
fn a_lost_connection_keeps_the_part_for_resuming() {
    let server = Natterd::start(&[]);
    let downloads = TempPath::new("dl");
    let child = start_big_download(&server, &downloads.0);
    server.signal(libc::SIGKILL);
    resume(&child);
    let out = wait_output(child);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("! the download of big.iso stopped; ")
            && stderr.contains("big.iso.part is kept: /get big.iso resumes it"),
        "{stderr}"
    );
    assert!(
        std::fs::metadata(downloads.0.join("big.iso.part"))
            .unwrap()
            .len()
            > 0
    );
}

/// natter with a limit on the size of the files it may write (`ulimit -f`, in
/// bytes): a write past it fails with "file too large", as a full disk's fails with
/// "no space left on device", and both take the same way through natter.
fn natter_with_file_limit(args: &[&str], limit: u64) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = natter(args);
    // SAFETY: between fork and exec only async-signal-safe calls: setrlimit, and
    // signal to ignore SIGXFSZ (kept across exec) so the write fails instead of
    // the process being killed.
    unsafe {
        cmd.pre_exec(move || {
            let lim = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    cmd
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".info-new"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_download_that_runs_out_of_room_says_so_and_keeps_its_part() {
    let server = Natterd::start(&[]);
    std::fs::write(server.file("big.bin"), binary(300_000)).unwrap();
    wait_hashed(&server, "big.bin");
    let downloads = TempPath::new("dl");
    let dir = downloads.0.to_str().unwrap();
    let port = server.port();
    let args = ["--download-dir", dir, "alice", "127.0.0.1", &port];
    let part = downloads.0.join("big.bin.part");

    // No room even for the record: nothing is left half written.
    let out = run_cmd(natter_with_file_limit(&args, 16), "/get big.bin\n");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "! cannot write {}.info: file too large; the download of big.bin did not start: ",
            part.display()
        )) && stderr.contains("/get big.bin again\n"),
        "{stderr}"
    );
    assert!(!stdout.contains("transfer"), "{stdout}");
    assert_eq!(leftovers(&downloads.0), Vec::<String>::new());

    // Room for three chunks of the five: the write that passes the limit fails.
    let out = run_cmd(natter_with_file_limit(&args, 196_608), "/get big.bin\n");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    let want = format!(
        "! cannot write {}: file too large; the download of big.bin stopped and {} is kept: ",
        part.display(),
        part.display()
    );
    assert!(
        stderr.contains(&want) && stderr.contains("/get big.bin to resume\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("got "), "{stderr}");
    assert!(!stdout.contains("transfer"), "{stdout}");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 196_608);
    assert_eq!(leftovers(&downloads.0), Vec::<String>::new());

    // With room again, the kept .part is continued, not thrown away.
    let out = run_cmd(natter(&args), "/get big.bin\n");
    ok(&out);
    // Batch mode says only why a download started over, and it must not.
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!said.contains("over"), "{said}");
    assert_eq!(
        std::fs::read(downloads.0.join("big.bin")).unwrap(),
        binary(300_000)
    );
}

/// A fake natterd's side of `/put`: it takes the `PUT` (so natter has read the
/// file's SHA-256), lets `change` alter the local file, and only then lets the
/// upload start; it answers whatever natter does next as natterd would. Returns
/// natter's output.
fn put_changing(path: &Path, change: impl FnOnce()) -> Output {
    let fake = FakeServer::bind();
    let port = fake.port();
    let mut child = natter(&["alice", "127.0.0.1", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("/put {}\n", path.display()).as_bytes()).unwrap();
    drop(stdin);
    let mut p = fake.accept_named("alice");
    let put = p.expect_prefix("PUT big.bin ");
    let words: Vec<&str> = put.split(' ').collect();
    let (size, want): (usize, String) = (words[2].parse().unwrap(), words[3].into());
    change();
    p.send("OK PUT 3 big.bin\n");
    let mut got = Vec::new();
    loop {
        let l = p.line().expect("natter hung up during the upload");
        if let Some(rest) = l.strip_prefix("DATA 3 ") {
            let n: usize = rest.parse().unwrap();
            got.extend(p.bytes(n));
            if got.len() == size {
                use sha2::Digest;
                let sum: String = sha2::Sha256::digest(&got)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                // As natterd answers.
                if sum == want {
                    p.send(&format!("DONE 3 big.bin {size}\n"));
                } else {
                    p.send(&format!("FAILED 3 checksum big.bin arrived with SHA-256 {sum}, not the {want} it was sent with; not kept\n"));
                }
            }
        } else if l == "ABORT 3" {
            p.send("OK ABORT 3\n");
        } else if l == "QUIT" {
            p.send("OK QUIT\n");
            break;
        }
    }
    wait_output(child)
}

#[test]
fn a_file_that_changes_while_it_is_sent_is_said_to_have_changed() {
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("big.bin");
    let data = binary(300_000);
    std::fs::write(&path, &data).unwrap();
    // The same size, other bytes: only what natter reads while sending shows it.
    let out = put_changing(&path, || {
        let mut other = data.clone();
        other[299_000] ^= 0xff;
        std::fs::write(&path, &other).unwrap();
    });
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "! {} changed while it was being sent (nothing was kept); /put it again once it is done changing",
            path.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("damaged"), "{stderr}");
}

#[test]
fn a_file_that_grows_after_it_was_read_is_said_to_have_changed() {
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let path = local.0.join("big.bin");
    std::fs::write(&path, binary(100_000)).unwrap();
    let out = put_changing(&path, || {
        let mut f = std::fs::File::options().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut f, b"more").unwrap();
    });
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "! {} changed while it was being sent (nothing was kept)",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn a_file_whose_size_is_not_what_it_holds_is_refused() {
    let server = Natterd::start(&[]);
    let downloads = TempPath::new("dl");
    // Its size reads 0, yet it holds a page of text.
    let out = run(&server, &downloads.0, &[], "/put /proc/self/status\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "! /proc/self/status is not a regular file of fixed size (its size reads 0 bytes, but it holds more); copy it to a file first"
        ),
        "{stderr}"
    );
    assert!(std::fs::read_dir(&server.dir).unwrap().next().is_none());
}
