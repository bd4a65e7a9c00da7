//! The report reads the same whether it is the invocation's answer or the body of a function
//! error: the same members in the same order, the error's `errorType` and `errorMessage` last.
//!
//! The order is read off the answer's text itself (not through a JSON map, whose order would
//! be the map's), with a reader that keeps member names as they come.

use std::fmt;

use acs_emulator::{Fault, FaultKind};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use sg_test_kit::world::*;
use sg_test_kit::{bootstrap, Function};

/// The member names of a report, as written, and those of each entry of its `results`.
#[derive(Debug, Default)]
struct Order {
    members: Vec<String>,
    results: Vec<Vec<String>>,
}

/// The member names of one object, as written.
struct Names(Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    names.push(name);
                }
                Ok(Names(names))
            }
        }
        d.deserialize_map(V)
    }
}

/// `results`: the names of each entry.
struct Results(Vec<Vec<String>>);

impl<'de> Deserialize<'de> for Results {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Results;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Results, A::Error> {
                let mut all = Vec::new();
                while let Some(Names(names)) = seq.next_element()? {
                    all.push(names);
                }
                Ok(Results(all))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Order;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a report")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Order, A::Error> {
                let mut order = Order::default();
                while let Some(name) = map.next_key::<String>()? {
                    if name == "results" {
                        order.results = map.next_value::<Results>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    order.members.push(name);
                }
                if order.members.is_empty() {
                    return Err(de::Error::custom("an empty report"));
                }
                Ok(order)
            }
        }
        d.deserialize_map(V)
    }
}

fn order(text: &str) -> Order {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_invocations_body_is_the_report_in_the_answers_order() {
    let emulator = groups().await;
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let success = function.invoke(&event(&["sg-ssh-world"])).await;
    assert!(success.is_success(), "{:#}", success.body);

    let emulator = groups().await;
    emulator.inject(
        Fault::always(FaultKind::Error {
            status: 403,
            code: "Forbidden.RAM".into(),
            message: "User not authorized to operate on the specified resource.".into(),
        })
        .on_group("sg-broken"),
    );
    let function = Function::start(bootstrap!(), &emulator, &[]);
    let failure = function
        .invoke(&event(&["sg-ssh-world", "sg-broken"]))
        .await;
    failure.error("RemediationFailed");

    let (ok, failed) = (order(&success.text), order(&failure.text));
    let mut expected = ok.members.clone();
    expected.extend(["errorType".to_string(), "errorMessage".to_string()]);
    assert_eq!(failed.members, expected);
    // The remediated group's entry is written alike in both.
    assert_eq!(failed.results[0], ok.results[0]);
}
