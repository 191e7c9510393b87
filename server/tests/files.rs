//! The shared folder over real sockets: listing, streamed downloads and uploads,
//! names, limits, atomicity and cleanup.

use natter_testkit::{temp_dir, Natterd};
use std::path::Path;

/// Every byte value, many times over, in a pattern that shows misplaced bytes.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 256) as u8 ^ (i / 256) as u8)
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn binary_files_round_trip_byte_for_byte() {
    // An output cap far below the big file's size: downloads must stream, not queue.
    let srv = Natterd::start(&["--max-queue", "128K"]);
    let mut a = srv.join("alice");
    for (name, data) in [
        ("every-byte.bin", (0..=255u8).collect::<Vec<u8>>()),
        ("empty", Vec::new()),
        ("big%20one.bin", pattern(3 * 1024 * 1024 + 17)),
    ] {
        let (xfer, stored) = a.put(name, &data);
        assert_eq!(stored, name);
        a.expect(&format!("DONE {xfer} {name} {}", data.len()));
        let (gx, size) = a.get(name, None);
        assert_eq!(size, data.len() as u64);
        let (body, other) = a.receive(gx);
        assert!(other.is_empty(), "{other:?}");
        assert!(
            body == data,
            "{name}: {} bytes back, {} sent",
            body.len(),
            data.len()
        );
    }
    let on_disk = std::fs::read(srv.dir.join("big one.bin")).unwrap();
    assert!(on_disk == pattern(3 * 1024 * 1024 + 17));
    a.send("FILES\n");
    a.expect_prefix("FILE big%20one.bin 3145745 ");
    a.expect_prefix("FILE empty 0 ");
    a.expect_prefix("FILE every-byte.bin 256 ");
    a.expect("OK FILES 3");
    srv.wait_log("alice uploaded big one.bin (3145745 bytes)");
    srv.wait_log("alice finished downloading big one.bin (3145745 bytes)");
}

#[test]
fn chat_is_delivered_while_a_50_mb_download_is_in_progress() {
    let dir = temp_dir("big");
    let data = pattern(50 * 1024 * 1024);
    std::fs::write(dir.join("film.bin"), &data).unwrap();
    let srv = Natterd::start_in(&dir, &[], &[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    let (xfer, size) = a.get("film.bin", None);
    assert_eq!(size, data.len() as u64);
    // Take the first chunk, so the transfer has surely started, then chat.
    a.expect(&format!("DATA {xfer} 65536"));
    let mut body = a.bytes(65536);
    b.send("SAY hello during the film\n");
    b.expect("OK SAY 1");
    let (rest, other) = a.receive(xfer);
    body.extend(rest);
    assert_eq!(
        other,
        ["FROM bob hello during the film"],
        "chat must interleave with the data"
    );
    assert!(body == data);
}

#[test]
fn a_client_that_asks_for_big_frames_gets_them_and_the_same_bytes() {
    let dir = temp_dir("frames");
    let data = pattern(3 * (1 << 20) + 5);
    std::fs::write(dir.join("f.bin"), &data).unwrap();
    // An output cap of 2 MiB: frames may reach the 1 MiB asked for (half the cap).
    let srv = Natterd::start_in(&dir, &["--max-queue", "2M"], &[]);
    let mut a = srv.join_with("alice", " data=1048576");
    let (x, _) = a.get("f.bin", None);
    let (body, sizes, other) = a.receive_frames(x);
    assert!(other.is_empty(), "{other:?}");
    // They start at 64 KiB and grow while the socket takes them whole (on loopback,
    // nearly always), never past what was asked for.
    assert_eq!(sizes[0], 65536, "{sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 1 << 20), "{sizes:?}");
    assert!(sizes.contains(&(1 << 20)), "{sizes:?}");
    assert!(body == data);
    // Anything from 64 KiB up may be asked for; a resumed download too.
    let mut b = srv.join_with("bob", " data=100000");
    let (x, _) = b.get("f.bin", Some(3 << 20));
    assert_eq!(b.receive_frames(x).1, [5]);
    let (x, _) = b.get("f.bin", Some(1));
    let (body, sizes, _) = b.receive_frames(x);
    assert!(sizes.iter().all(|&n| n <= 100_000), "{sizes:?}");
    assert!(sizes.contains(&100_000), "{sizes:?}");
    assert!(body == data[1..]);
    // Without the option, the protocol's 64 KiB.
    let mut c = srv.join("carol");
    let (x, _) = c.get("f.bin", None);
    let (_, sizes, _) = c.receive_frames(x);
    assert_eq!(sizes.len(), 49);
    assert!(sizes[..48].iter().all(|&n| n == 65536));
    c.send("HELLO dave data=2000000\n");
    c.expect_prefix(
        "ERR bad-request data= is the largest DATA body wanted, 65536 to 1048576 bytes",
    );
}

/// A download's frames, bigger than the output cap here, hold no memory: they must
/// not put a reader over its cap, so that the next chat line drops it as too slow.
#[test]
fn big_frames_stay_under_the_output_cap_of_a_reader_that_is_behind() {
    let dir = temp_dir("capframes");
    let data = pattern(8 << 20);
    std::fs::write(dir.join("f.bin"), &data).unwrap();
    let srv = Natterd::start_in(&dir, &["--max-queue", "256K"], &[]);
    // A small receive window, and nothing read for now: the socket fills.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&srv.addr.into()).unwrap();
    let mut a = natter_testkit::Peer::from_stream(sock.into());
    a.expect_prefix("WELCOME ");
    a.send("HELLO alice data=1048576\n");
    a.expect("OK HELLO alice");
    a.expect("JOIN alice");
    let (x, _) = a.get("f.bin", None);
    let mut b = srv.join("bob");
    for i in 0..20 {
        b.send(&format!("SAY line {i}\n"));
        b.expect("OK SAY 1");
    }
    let (body, sizes, other) = a.receive_frames(x);
    assert!(sizes.iter().any(|&n| n > 256 << 10), "{sizes:?}");
    // Frames start at 64 KiB, grow, and are 64 KiB again after each time the socket
    // filled (8 MiB through a 4 KiB window: many times).
    // (The first frame, and the last, which is the file's rest, do not count.)
    assert_eq!(sizes[0], 65536);
    assert!(
        sizes[1..sizes.len() - 1].contains(&65536),
        "never back to 64 KiB once the socket filled: {sizes:?}"
    );
    assert!(body == data);
    let said: Vec<String> = (0..20).map(|i| format!("FROM bob line {i}")).collect();
    assert_eq!(other[1..], said[..], "{other:?}");
    b.send("WHO\n");
    b.expect_prefix("USER alice ");
}

#[test]
fn downloads_resume_from_an_offset() {
    let dir = temp_dir("resume");
    let data = pattern(200_000);
    std::fs::write(dir.join("a.bin"), &data).unwrap();
    let srv = Natterd::start_in(&dir, &[], &[]);
    let mut a = srv.join("alice");
    let (x, size) = a.get("a.bin", Some(123_457));
    assert_eq!(size, 200_000);
    let (body, _) = a.receive(x);
    assert!(body == data[123_457..]);
    let (x, _) = a.get("a.bin", Some(200_000));
    assert_eq!(a.receive(x).0.len(), 0);
    a.send("GET a.bin 200001\n");
    a.expect("ERR bad-offset a.bin is 200000 bytes; cannot start at 200001");
}

#[test]
fn hostile_names_are_refused_and_nothing_outside_is_reached() {
    let dir = temp_dir("hostile");
    let outside = temp_dir("outside");
    std::fs::write(outside.join("secret.txt"), b"top secret").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("linkdir")).unwrap();
    std::fs::write(dir.join(".hidden"), b"hidden").unwrap();
    std::fs::write(dir.join("fine.txt"), b"fine").unwrap();
    let srv = Natterd::start_in(&dir, &[], &[]);
    let mut a = srv.join("alice");
    for name in [
        "../x",
        "/etc/passwd",
        "a/b",
        "..",
        ".hidden",
        "%2e%2e%2fx",
        "a%00b",
        "%2E%2E",
        "a\\b",
    ] {
        for verb in ["GET", "DELETE"] {
            a.send(&format!("{verb} {name}\n"));
            a.expect_prefix("ERR bad-name ");
        }
        a.send(&format!("PUT {name} 1\n"));
        a.expect_prefix("ERR bad-name ");
        a.send(&format!("RENAME fine.txt {name}\n"));
        a.expect_prefix("ERR bad-name ");
    }
    for name in ["link.txt", "linkdir"] {
        a.send(&format!("GET {name}\n"));
        a.expect(&format!("ERR no-such-file no file named {name} is shared"));
        a.send(&format!("DELETE {name}\n"));
        a.expect(&format!("ERR no-such-file no file named {name} is shared"));
    }
    a.send("FILES\n");
    a.expect_prefix("FILE fine.txt 4 ");
    a.expect("OK FILES 1");
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).unwrap(),
        b"top secret"
    );
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn an_over_limit_put_is_refused_before_anything_is_written() {
    let srv = Natterd::start(&["--max-file-size", "1K"]);
    let mut a = srv.join("alice");
    a.send("PUT big.bin 1025\n");
    a.expect("ERR too-large big.bin is 1025 bytes; this server takes files up to 1024 bytes");
    a.send("PUT huge.bin 18446744073709551615\n");
    a.expect_prefix("ERR too-large ");
    assert!(entries(&srv.dir).is_empty());
    let (x, _) = a.put("ok.bin", &[7u8; 1024]);
    a.expect(&format!("DONE {x} ok.bin 1024"));
}

/// FILES until the folder's usage says `want` (the watch tells natterd of files put
/// there by hand a moment later); returns the FILE lines.
fn files_until(p: &mut natter_testkit::Peer, want: &str) -> Vec<String> {
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    loop {
        p.send("FILES\n");
        let mut items = Vec::new();
        let fin = loop {
            let l = p.reply();
            if l.starts_with("OK FILES") {
                break l;
            }
            items.push(l);
        };
        if fin == want {
            return items;
        }
        assert!(std::time::Instant::now() < end, "{fin:?}, not {want:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_full_folder_refuses_an_upload_before_anything_is_written() {
    let dir = temp_dir("quota");
    std::fs::write(dir.join("old.bin"), [1u8; 600]).unwrap();
    let srv = Natterd::start_in(&dir, &["--max-folder-size", "1K", "--max-files", "3"], &[]);
    srv.wait_log("shared folder limited to 1 KiB and 3 files; it holds 1 file(s), 600 B");
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    // Put there by hand while natterd runs: the watch tells it, and it counts.
    std::fs::write(dir.join("by-hand.bin"), [2u8; 400]).unwrap();
    let items = files_until(&mut a, "OK FILES 2 2 1000 3 1024");
    assert_eq!(items.len(), 2, "{items:?}");
    a.send("PUT big.bin 25\n");
    a.expect("ERR no-space the shared folder is limited to 1 KiB and 1000 B is used; 24 B left, big.bin is 25 B");
    // A client that sends the body anyway has nowhere to put it.
    a.send_bytes(b"DATA 1 25\n0123456789012345678901234");
    a.expect("FAILED 1 no-such-transfer no upload 1 is in progress on this connection");
    assert_eq!(
        entries(&dir),
        ["by-hand.bin", "old.bin"],
        "not even a temporary"
    );

    // What fits is taken, and counted while it arrives: bob cannot squeeze in beside it.
    a.send("PUT fits.bin 24\n");
    a.expect("OK PUT 1 fits.bin");
    b.send("PUT more.bin 1\n");
    b.expect("ERR no-space the shared folder is limited to 3 files and has 3, 1 of them an upload in progress; none left for more.bin");
    a.send_bytes(b"DATA 1 24\n012345678901234567890123");
    a.expect("DONE 1 fits.bin 24");
    b.expect("SHARED alice fits.bin 24");
    files_until(&mut b, "OK FILES 3 3 1024 3 1024");
    b.send("STATUS\n");
    let status = loop {
        let l = b.reply();
        if l.starts_with("OK STATUS ") {
            break l;
        }
    };
    let fields: Vec<&str> = status.split(' ').collect();
    assert_eq!(fields[..4], ["OK", "STATUS", "2", "1000"], "{status}");
    assert_eq!(fields[5..], ["3", "1024", "3", "1024"], "{status}");

    // A delete frees its room at once.
    b.send("DELETE old.bin\n");
    b.expect("OK DELETE old.bin");
    let (x, _) = b.put("more.bin", &[3u8; 600]);
    b.expect(&format!("DONE {x} more.bin 600"));
    assert_eq!(entries(&dir), ["by-hand.bin", "fits.bin", "more.bin"]);
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn more_bytes_than_declared_fail_and_leave_nothing() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    a.send("PUT short.txt 3\n");
    a.expect_prefix("OK PUT ");
    a.send_bytes(b"DATA 1 5\nhello");
    a.expect("FAILED 1 too-large short.txt was declared as 3 bytes; more arrived");
    a.send("PING\n");
    a.expect("OK PING");
    assert!(entries(&srv.dir).is_empty());
}

#[test]
fn concurrent_uploads_of_one_name_get_distinct_names() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let mut b = srv.join("bob");
    a.expect("JOIN bob");
    a.send("PUT song.mp3 4\n");
    let la = a.expect_prefix("OK PUT ");
    b.send("PUT song.mp3 4\n");
    let lb = b.expect_prefix("OK PUT ");
    assert!(la.ends_with(" song.mp3"), "{la}");
    assert!(lb.ends_with(" song_1.mp3"), "{lb}");
    let xa: u64 = la.split(' ').nth(2).unwrap().parse().unwrap();
    let xb: u64 = lb.split(' ').nth(2).unwrap().parse().unwrap();
    b.send_bytes(format!("DATA {xb} 4\nbbbb").as_bytes());
    b.expect(&format!("DONE {xb} song_1.mp3 4"));
    a.expect("SHARED bob song_1.mp3 4");
    a.send_bytes(format!("DATA {xa} 4\naaaa").as_bytes());
    a.expect(&format!("DONE {xa} song.mp3 4"));
    b.expect("SHARED alice song.mp3 4");
    assert_eq!(std::fs::read(srv.dir.join("song.mp3")).unwrap(), b"aaaa");
    assert_eq!(std::fs::read(srv.dir.join("song_1.mp3")).unwrap(), b"bbbb");
    // A third upload of the name now goes to _2; with --on-duplicate reject it would fail.
    let (x, stored) = a.put("song.mp3", b"c");
    assert_eq!(stored, "song_2.mp3");
    a.expect(&format!("DONE {x} song_2.mp3 1"));
}

#[test]
fn on_duplicate_reject_refuses_a_taken_name() {
    let dir = temp_dir("reject");
    std::fs::write(dir.join("a.txt"), b"x").unwrap();
    let srv = Natterd::start_in(
        &dir,
        &[
            "--on-duplicate",
            "reject",
            "--shared-dir",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let mut a = srv.join("alice");
    a.send("PUT a.txt 1\n");
    a.expect("ERR exists a.txt already exists");
}

#[test]
fn a_disconnect_mid_upload_leaves_neither_file_nor_temporary() {
    let srv = Natterd::start(&[]);
    let mut watcher = srv.join("watcher");
    let mut a = srv.join("alice");
    watcher.expect("JOIN alice");
    a.send("PUT half.bin 100000\n");
    a.expect_prefix("OK PUT ");
    a.send_bytes(b"DATA 1 50000\n");
    a.send_bytes(&[1u8; 50000]);
    a.send("PING\n");
    a.expect("OK PING");
    assert_eq!(
        entries(&srv.dir).len(),
        1,
        "the temporary exists while uploading"
    );
    assert!(entries(&srv.dir)[0].starts_with('.'));
    drop(a);
    watcher.expect("LEAVE alice lost");
    srv.wait_log("upload of half.bin abandoned at 50000 of 100000 bytes");
    assert!(entries(&srv.dir).is_empty(), "{:?}", entries(&srv.dir));
}

#[test]
fn abort_stops_transfers_both_ways() {
    let dir = temp_dir("abort");
    std::fs::write(dir.join("big.bin"), pattern(10 * 1024 * 1024)).unwrap();
    let srv = Natterd::start_in(&dir, &[], &[]);
    let mut a = srv.join("alice");
    a.send("PUT up.bin 10\nDATA 2 3\nabc");
    a.expect("OK PUT 1 up.bin");
    a.expect("FAILED 2 no-such-transfer no upload 2 is in progress on this connection");
    a.send("ABORT 1\n");
    a.expect("OK ABORT 1");
    assert_eq!(entries(&srv.dir), ["big.bin"]);
    a.send("ABORT 1\n");
    a.expect("ERR no-such-transfer no transfer 1 is running on this connection");
    // Abort a download after its first chunk; its data stops before DONE.
    let (x, _) = a.get("big.bin", None);
    a.expect_prefix(&format!("DATA {x} "));
    a.bytes(65536);
    a.send(&format!("ABORT {x}\n"));
    loop {
        let l = a.line().unwrap();
        if l.starts_with("DATA ") {
            let n: usize = l.rsplit(' ').next().unwrap().parse().unwrap();
            a.bytes(n);
            continue;
        }
        assert_eq!(l, format!("OK ABORT {x}"));
        break;
    }
    a.send("PING\n");
    a.expect("OK PING");
}

#[test]
fn at_most_four_transfers_per_connection() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    for i in 0..4 {
        a.send(&format!("PUT f{i} 10\n"));
        a.expect_prefix("OK PUT ");
    }
    a.send("PUT f4 10\n");
    a.expect("ERR busy at most 4 transfers at once; wait for one to finish or ABORT it");
}

#[test]
fn delete_rename_and_read_only() {
    let dir = temp_dir("ops");
    std::fs::write(dir.join("a.txt"), b"aaa").unwrap();
    std::fs::write(dir.join("b.txt"), b"bbb").unwrap();
    {
        let srv = Natterd::start_in(
            &dir,
            &["--read-only", "--shared-dir", dir.to_str().unwrap()],
            &[],
        );
        let mut a = srv.join("alice");
        for req in ["PUT c.txt 1", "DELETE a.txt", "RENAME a.txt c.txt"] {
            a.send(&format!("{req}\n"));
            a.expect("ERR read-only this server's shared folder is read-only");
        }
        let (x, _) = a.get("a.txt", None);
        assert_eq!(a.receive(x).0, b"aaa");
    }
    let srv = Natterd::start_in(&dir, &["--shared-dir", dir.to_str().unwrap()], &[]);
    let mut a = srv.join("alice");
    a.send("RENAME a.txt b.txt\n");
    a.expect("ERR exists b.txt already exists");
    a.send("RENAME nope.txt c.txt\n");
    a.expect("ERR no-such-file no file named nope.txt is shared");
    a.send("RENAME a.txt c%20d.txt\n");
    a.expect("OK RENAME a.txt c%20d.txt");
    a.send("DELETE b.txt\n");
    a.expect("OK DELETE b.txt");
    a.send("DELETE b.txt\n");
    a.expect("ERR no-such-file no file named b.txt is shared");
    assert_eq!(entries(&dir), ["c d.txt"]);
    srv.wait_log("alice renamed a.txt to c d.txt (3 bytes)");
    srv.wait_log("alice deleted b.txt (3 bytes)");
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shared_folder_comes_from_the_environment() {
    let first = temp_dir("env1");
    let second = temp_dir("env2");
    std::fs::write(first.join("one.txt"), b"1").unwrap();
    std::fs::write(second.join("two.txt"), b"2").unwrap();
    let both = [
        ("SERVER_SHARED_FILES", first.to_str().unwrap()),
        ("SERVERSHAREDFILES", second.to_str().unwrap()),
    ];
    let srv = Natterd::start_in(&first, &[], &both);
    let mut a = srv.join("alice");
    a.send("FILES\n");
    a.expect_prefix("FILE one.txt 1 ");
    a.expect("OK FILES 1");
    drop(srv);
    let srv = Natterd::start_in(&second, &[], &both[1..]);
    let mut a = srv.join("alice");
    a.send("FILES\n");
    a.expect_prefix("FILE two.txt 1 ");
    a.expect("OK FILES 1");
    srv.wait_log(&format!(
        "shared folder: {}",
        second.canonicalize().unwrap().display()
    ));
}

#[test]
fn stale_temporaries_are_removed_at_startup_and_a_missing_folder_is_created() {
    let dir = temp_dir("stale");
    let left = dir.join(".natter-upload-99-1-1");
    std::fs::write(&left, b"half").unwrap();
    // Left from a run an hour ago: nobody holds it.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let srv = Natterd::start_in(&dir, &[], &[]);
    srv.wait_log("removed 1 unfinished upload(s)");
    assert!(entries(&dir).is_empty());
    drop(srv);
    let fresh = temp_dir("fresh").join("not/yet/there");
    let srv = Natterd::start_in(&fresh, &["--shared-dir", fresh.to_str().unwrap()], &[]);
    let _a = srv.join("alice");
    assert!(fresh.is_dir());
}

#[test]
fn a_long_listing_does_not_count_as_too_slow() {
    let dir = temp_dir("many");
    for i in 0..300 {
        std::fs::write(
            dir.join(format!("file-with-a-longish-name-{i:04}.txt")),
            b"x",
        )
        .unwrap();
    }
    // 300 FILE lines are about 15 KB, far over a 4 KiB cap.
    let srv = Natterd::start_in(&dir, &["--max-queue", "4K"], &[]);
    let mut a = srv.join("alice");
    a.send("FILES\n");
    for i in 0..300 {
        a.expect_prefix(&format!("FILE file-with-a-longish-name-{i:04}.txt 1 "));
    }
    a.expect("OK FILES 300");
    a.send("PING\n");
    a.expect("OK PING");
}

#[test]
fn two_natterds_on_one_folder_keep_each_others_uploads_and_names() {
    let dir = temp_dir("two");
    let a_srv = Natterd::start_in(&dir, &["--max-rate", "0"], &[]);
    let mut a = a_srv.join("alice");
    let data = pattern(4 << 20);
    a.send(&format!("PUT two.bin {}\n", data.len()));
    let l = a.expect_prefix("OK PUT ");
    assert_eq!(l, "OK PUT 1 two.bin");
    for chunk in data[..2 << 20].chunks(65536) {
        a.send(&format!("DATA 1 {}\n", chunk.len()));
        a.send_bytes(chunk);
    }
    a.send("PING half way\n");
    a.expect("OK PING half way");
    // A second natterd starts on the same folder, half way through A's upload.
    let b_srv = Natterd::start_in(&dir, &[], &[]);
    let mut b = b_srv.join("bob");
    // It leaves A's upload alone, and numbers around A's reservation.
    b.send("PUT two.bin 3\n");
    b.expect("OK PUT 1 two_1.bin");
    b.send("DATA 1 3\nabc");
    b.expect("DONE 1 two_1.bin 3");
    for chunk in data[2 << 20..].chunks(65536) {
        a.send(&format!("DATA 1 {}\n", chunk.len()));
        a.send_bytes(chunk);
    }
    a.expect_reply_prefix("DONE 1 two.bin 4194304");
    assert!(std::fs::read(dir.join("two.bin")).unwrap() == data);
    assert!(
        !b_srv.log().contains("unfinished upload"),
        "{}",
        b_srv.log()
    );
    // Each lists what the other published.
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    for p in [&mut a, &mut b] {
        loop {
            p.send("FILES\n");
            let mut names = Vec::new();
            loop {
                let l = p.reply();
                if l.starts_with("OK FILES ") {
                    break;
                }
                names.push(l.split(' ').nth(1).unwrap_or_default().to_string());
            }
            if names == ["two.bin", "two_1.bin"] {
                break;
            }
            assert!(std::time::Instant::now() < end, "listed {names:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    drop(a_srv);
    drop(b_srv);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_shrinks_while_it_is_sent_fails_the_download_not_the_connection() {
    let dir = temp_dir("shrink");
    let data = pattern(16 << 20);
    std::fs::write(dir.join("big.bin"), &data).unwrap();
    let srv = Natterd::start_in(&dir, &[], &[]);
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&srv.addr.into()).unwrap();
    let mut a = natter_testkit::Peer::from_stream(sock.into());
    a.expect_prefix("WELCOME ");
    a.send("HELLO alice\n");
    a.expect("OK HELLO alice");
    a.expect("JOIN alice");
    let (xfer, _) = a.get("big.bin", None);
    a.expect(&format!("DATA {xfer} 65536"));
    a.bytes(65536);
    // Cut short by someone else while most of it is still to go.
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("big.bin"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    // The download fails in words (a frame already promised is finished first),
    // and the connection goes on.
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    loop {
        let l = a.line().expect("the connection stays open");
        if let Some(n) = l.strip_prefix(&format!("DATA {xfer} ")) {
            a.bytes(n.parse().unwrap());
            continue;
        }
        assert_eq!(
            l,
            format!("FAILED {xfer} no-such-file big.bin got shorter while it was being sent")
        );
        break;
    }
    assert!(std::time::Instant::now() < end);
    a.send("PING still here\n");
    a.expect("OK PING still here");
    srv.wait_log("alice: download of big.bin failed at");
    let mut b = srv.join("bob");
    b.send("PING\n");
    b.expect("OK PING");
}

#[test]
fn an_upload_that_does_not_match_its_sha256_is_never_published() {
    let srv = Natterd::start(&["--max-rate", "0"]);
    let mut a = srv.join("alice");
    // The SHA-256 of "hello", sent with "hellO".
    let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    a.send(&format!("PUT note.txt 5 {hello}\n"));
    let ok = a.expect_prefix("OK PUT ");
    let xfer = ok.split(' ').nth(2).unwrap().to_string();
    a.send(&format!("DATA {xfer} 5\n"));
    a.send_bytes(b"hellO");
    let failed = a.expect_prefix(&format!("FAILED {xfer} checksum "));
    assert!(failed.contains(hello), "{failed}");
    assert_eq!(
        std::fs::read_dir(&srv.dir).unwrap().count(),
        0,
        "nothing kept, not even a temporary"
    );
    // The same with the right bytes is published, and listed with its hash.
    a.send(&format!("PUT note.txt 5 {hello}\n"));
    let ok = a.expect_prefix("OK PUT ");
    let xfer = ok.split(' ').nth(2).unwrap().to_string();
    a.send(&format!("DATA {xfer} 5\n"));
    a.send_bytes(b"hello");
    a.expect(&format!("DONE {xfer} note.txt 5"));
    a.send("FILES\n");
    let file = a.expect_prefix("FILE note.txt 5 ");
    assert!(file.ends_with(hello), "{file}");
    a.expect("OK FILES 1");
    a.send("GET note.txt\n");
    let get = a.expect_reply_prefix("OK GET ");
    assert!(get.ends_with(&format!(" note.txt 5 {hello}")), "{get}");
}

#[test]
fn a_file_truncated_behind_the_watchs_back_is_listed_anew_once_fetched() {
    let srv = Natterd::start(&[]);
    let mut a = srv.join("alice");
    let (xfer, _) = a.put("stale.bin", &pattern(200_000));
    a.expect(&format!("DONE {xfer} stale.bin 200000"));
    a.send("FILES\n");
    let listed = a.expect_prefix("FILE stale.bin 200000 ");
    assert_eq!(
        listed.split(' ').count(),
        5,
        "listed with its SHA-256: {listed}"
    );
    a.expect("OK FILES 1");
    // truncate(2) by path: a change without a write that closes, so the folder's
    // watch hears nothing of it.
    let path = std::ffi::CString::new(srv.file("stale.bin").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::truncate(path.as_ptr(), 1000) }, 0);
    a.send("GET stale.bin\n");
    let get = a.expect_reply_prefix("OK GET ");
    let (xfer, size) = (
        get.split(' ').nth(2).unwrap(),
        get.split(' ').nth(4).unwrap(),
    );
    assert_eq!(size, "1000", "{get}");
    assert_eq!(
        get.split(' ').count(),
        5,
        "no SHA-256 of the old bytes: {get}"
    );
    let (body, _) = a.receive(xfer.parse().unwrap());
    assert_eq!(body, pattern(200_000)[..1000]);
    // Listed anew, and hashed anew.
    let end = std::time::Instant::now() + natter_testkit::WAIT;
    loop {
        a.send("FILES\n");
        let listed = a.expect_prefix("FILE stale.bin 1000 ");
        a.expect("OK FILES 1");
        if listed.split(' ').count() == 5 {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "never hashed again: {listed}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_client_that_shuts_its_sending_side_after_get_still_gets_the_files() {
    // `printf 'HELLO me\nGET a\n' | nc -N host port > out`: nc shuts its side at the
    // end of its input and reads on.
    let srv = Natterd::start(&[]);
    let big = pattern(3_000_000);
    std::fs::write(srv.file("small.txt"), b"hello\n").unwrap();
    std::fs::write(srv.file("big.bin"), &big).unwrap();
    let mut p = srv.connect();
    p.expect_prefix("WELCOME ");
    p.send("HELLO me\nGET small.txt\nGET big.bin\nFILES\n");
    p.stream.shutdown(std::net::Shutdown::Write).unwrap();
    p.expect("OK HELLO me");
    p.expect("JOIN me");
    let mut bodies = std::collections::BTreeMap::new();
    let mut done = Vec::new();
    let mut rest = Vec::new();
    while let Some(l) = p.line() {
        if let Some(h) = l.strip_prefix("DATA ") {
            let (x, n) = h.split_once(' ').unwrap();
            let n: usize = n.parse().unwrap();
            let b = p.bytes(n);
            bodies
                .entry(x.to_string())
                .or_insert_with(Vec::new)
                .extend(b);
        } else if l.starts_with("DONE ") {
            done.push(l);
        } else {
            rest.push(l);
        }
    }
    assert_eq!(done.len(), 2, "{done:?} {rest:?}");
    let mut got: Vec<usize> = bodies.values().map(Vec::len).collect();
    got.sort();
    assert_eq!(got, [6, 3_000_000], "{rest:?}");
    assert!(bodies.values().any(|b| *b == big));
    assert!(rest.iter().any(|l| l.starts_with("OK FILES 2")), "{rest:?}");
    srv.wait_log("me (client 1) left: connection lost");
}
