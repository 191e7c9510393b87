//! The frame decoders on arbitrary bytes: never a panic, never more bytes used than
//! given, and every frame they accept re-encodes to bytes that decode to it again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natter_protocol::{decode_request, decode_server_frame, Decoded};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Decoded::Frame(_, used) | Decoded::Blank(used)) = decode_request(rest) {
        if let Ok(Decoded::Frame(req, _)) = decode_request(rest) {
            let again = req.to_bytes();
            match decode_request(&again) {
                Ok(Decoded::Frame(back, n)) => {
                    assert_eq!(n, again.len());
                    assert_eq!(back, req);
                }
                other => panic!("re-encoded {req:?} did not decode: {other:?}"),
            }
        }
        assert!(used > 0 && used <= rest.len());
        rest = &rest[used..];
    }
    if let Ok(Decoded::Frame(f, used)) = decode_server_frame(data) {
        assert!(used <= data.len());
        let again = f.to_bytes();
        assert!(matches!(decode_server_frame(&again), Ok(Decoded::Frame(back, _)) if back == f));
    }
});
