//! Reading a security group's live rules page by page, against a stub that answers scripted
//! pages in order (the emulator never repeats a `NextToken` nor fails a later page on its own).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acs_openapi::credentials::Credentials;
use acs_openapi::{ApiError, CallContext, Client, ClientSettings, Endpoint};
use sg_remediator::services::ecs::{describe_security_group_attribute, SecurityGroupRules};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted answer: an HTTP status and its JSON body.
type Reply = (u16, String);

fn page(next_token: &str, rule_id: &str) -> Reply {
    (
        200,
        format!(
            r#"{{"RequestId":"R-{rule_id}","SecurityGroupId":"sg-1","VpcId":"vpc-1","NextToken":"{next_token}","Permissions":{{"Permission":[{{"SecurityGroupRuleId":"{rule_id}","Direction":"ingress","Policy":"Accept","Priority":1,"IpProtocol":"TCP","PortRange":"22/22","SourceCidrIp":"0.0.0.0/0"}}]}}}}"#
        ),
    )
}

fn err(status: u16, code: &str) -> Reply {
    (
        status,
        format!(r#"{{"RequestId":"R-{code}","Code":"{code}","Message":"scripted"}}"#),
    )
}

struct Stub {
    base: Endpoint,
    /// The request target (`/?query`) of each request, in order.
    targets: Arc<Mutex<Vec<String>>>,
}

/// Serves `script` in order (the last reply repeats), one request per connection.
async fn stub(script: Vec<Reply>) -> Stub {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = Endpoint::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let targets = Arc::new(Mutex::new(Vec::new()));
    let log = targets.clone();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut sock, _)) = listener.accept().await {
            let (status, body) = script[n.min(script.len() - 1)].clone();
            n += 1;
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&chunk[..read]),
                    }
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let target = head.split(' ').nth(1).unwrap_or_default().to_string();
                log.lock().unwrap().push(target);
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(response.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Stub { base, targets }
}

impl Stub {
    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

async fn describe_against(s: &Stub) -> Result<SecurityGroupRules, ApiError> {
    let creds = Credentials::new("STS.key", "sec+ret/=", Some("TOK+en/with=chars".into()));
    let cx = CallContext {
        credentials: &creds,
        deadline: Instant::now() + Duration::from_secs(30),
    };
    let client = Client::new(ClientSettings {
        allow_http: true,
        deadline_margin: Duration::from_millis(100),
        attempt_timeout: Duration::from_secs(5),
        ..ClientSettings::default()
    })
    .unwrap();
    describe_security_group_attribute(&client, &cx, &s.base, "cn-hangzhou", "sg-1").await
}

#[tokio::test]
async fn an_error_on_a_later_page_fails_the_whole_describe() {
    let s = stub(vec![page("t2", "sgr-1"), err(403, "Forbidden.RAM")]).await;
    let e = describe_against(&s).await.unwrap_err();
    assert_eq!(e.code(), Some("Forbidden.RAM"));
    let targets = s.targets();
    assert_eq!(targets.len(), 2);
    assert!(targets[1].contains("NextToken=t2"), "{}", targets[1]);
}

#[tokio::test]
async fn a_repeated_next_token_is_an_error_not_an_endless_loop() {
    let s = stub(vec![
        page("t2", "sgr-1"),
        page("t3", "sgr-2"),
        page("t2", "sgr-3"),
    ])
    .await;
    let e = describe_against(&s).await.unwrap_err();
    assert!(matches!(e, ApiError::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("NextToken"), "{e}");
    assert_eq!(s.targets().len(), 3);
}

#[tokio::test]
async fn pages_are_collected_in_order_until_the_token_is_empty() {
    let s = stub(vec![
        page("t2", "sgr-1"),
        page("t3", "sgr-2"),
        page("", "sgr-3"),
    ])
    .await;
    let rules = describe_against(&s).await.unwrap();
    assert_eq!(rules.pages, 3);
    assert_eq!(rules.request_ids, ["R-sgr-1", "R-sgr-2", "R-sgr-3"]);
    let ids: Vec<_> = rules
        .permissions
        .iter()
        .map(|p| p.rule_id.as_ref().unwrap().as_str().to_string())
        .collect();
    assert_eq!(ids, ["sgr-1", "sgr-2", "sgr-3"]);
}
