//! The `/invoke` body parser on arbitrary bytes: it must never panic, an error must say what
//! is wrong, and an accepted remediation must account for every item it read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sg_remediator::event::{parse, Invocation, Item};

fuzz_target!(|body: &[u8]| {
    match parse(body) {
        Err(e) => assert!(
            !e.to_string().trim().is_empty(),
            "an error without a message"
        ),
        Ok(Invocation::Remediate(r)) => {
            assert!(!r.items.is_empty(), "an event without items was accepted");
            for (i, item) in r.items.iter().enumerate() {
                if let Item::Invalid(bad) = item {
                    assert_eq!(bad.index, i);
                    assert!(
                        !bad.reason.trim().is_empty(),
                        "an invalid item without a reason"
                    );
                }
            }
        }
        Ok(Invocation::Restore(r)) => {
            assert!(!r.resource_id.is_empty() && !r.region_id.is_empty());
        }
    }
});
