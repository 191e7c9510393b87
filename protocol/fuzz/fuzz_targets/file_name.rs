//! The file-name rules on arbitrary input: an accepted name can never leave the
//! shared folder, and its wire form decodes back to it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use natter_protocol::FileName;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(f) = FileName::decode(s) {
        let name = f.as_str();
        assert!(!name.is_empty() && name.len() <= 255);
        assert!(!name.contains('/') && !name.contains('\\') && !name.starts_with('.'));
        assert!(!name.bytes().any(|b| b < 0x20 || b == 0x7f));
        let p = std::path::Path::new("/shared").join(name);
        assert_eq!(p.parent(), Some(std::path::Path::new("/shared")));
        assert_eq!(FileName::decode(&f.to_wire()).as_ref(), Ok(&f));
    }
});
