//! Any bytes as a frame: decoding never panics, and what decodes re-encodes to a frame that
//! decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use node_core::protocol::{decode_frame, encode_frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = decode_frame(data) {
        let again = encode_frame(&message);
        assert_eq!(decode_frame(&again).ok(), Some(message));
    }
});
