use super::*;
use serde_json::Value;

fn deployment() -> Deployment {
    Deployment {
        org_id: "00D5g000004ABCDEAA".into(),
        es_developer_name: "Switchboard Client".into(),
        client_version: "0.1.0".into(),
    }
}

#[test]
fn the_stream_gets_the_15_character_org_id() {
    assert_eq!(deployment().org_id_15(), "00D5g000004ABCD");
}

#[test]
fn a_text_goes_as_a_static_content_message_with_our_id() {
    let request = EnhancedRequest::SendMessage {
        conversation_id: "3f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b".into(),
        message_id: "9d2b6f0e-1c3a-4e5b-8f70-0a1b2c3d4e5f".into(),
        text: "你好".into(),
        new_session: false,
    };
    assert_eq!(request.method(), Method::Post);
    assert!(request.needs_token());
    assert_eq!(
        request.path_and_query(&deployment()),
        "/iamessage/api/v2/conversation/3f1c2a4e-9b7d-4c1e-8a2f-5d6e7f809a1b/message"
    );
    let body: Value = serde_json::from_str(&request.body(&deployment(), None).unwrap()).unwrap();
    assert_eq!(
        body["message"]["id"],
        "9d2b6f0e-1c3a-4e5b-8f70-0a1b2c3d4e5f"
    );
    assert_eq!(body["message"]["messageType"], "StaticContentMessage");
    assert_eq!(body["message"]["staticContent"]["formatType"], "Text");
    assert_eq!(body["message"]["staticContent"]["text"], "你好");
    assert_eq!(body["esDeveloperName"], "Switchboard Client");
    assert_eq!(body["isNewMessagingSession"], false);
}

#[test]
fn close_is_a_delete_naming_the_deployment_in_the_query() {
    let request = EnhancedRequest::Close {
        conversation_id: "c1".into(),
    };
    assert_eq!(request.method(), Method::Delete);
    assert_eq!(
        request.path_and_query(&deployment()),
        "/iamessage/api/v2/conversation/c1?esDeveloperName=Switchboard%20Client"
    );
    assert_eq!(request.body(&deployment(), None), None);
}

#[test]
fn token_requests_carry_no_bearer_and_a_verified_one_carries_the_identity_token() {
    let plain = EnhancedRequest::UnauthenticatedToken;
    assert!(!plain.needs_token());
    let body: Value = serde_json::from_str(&plain.body(&deployment(), None).unwrap()).unwrap();
    assert_eq!(body["orgId"], "00D5g000004ABCDEAA");
    assert_eq!(body["capabilitiesVersion"], "1");
    assert_eq!(body["platform"], "Web");
    let verified = EnhancedRequest::VerifiedToken {
        subject: "u1".into(),
    };
    assert_eq!(
        verified.path_and_query(&deployment()),
        "/iamessage/api/v2/authorization/authenticated/access-token"
    );
    let body: Value =
        serde_json::from_str(&verified.body(&deployment(), Some("eyJ.x.y")).unwrap()).unwrap();
    assert_eq!(body["authorizationType"], "JWT");
    assert_eq!(body["customerIdentityToken"], "eyJ.x.y");
}

#[test]
fn a_token_answer_gives_the_token_its_expiry_and_the_first_event_id() {
    // {"iat":1764586400,"exp":1764590000} as base64url, between two dummy segments.
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJpYXQiOjE3NjQ1ODY0MDAsImV4cCI6MTc2NDU5MDAwMH0.c2ln";
    let body = format!(r#"{{"accessToken":"{token}","lastEventId":"2147867834","context":{{}}}}"#);
    let answer = TokenAnswer::parse(&body).unwrap();
    assert_eq!(answer.access_token, token);
    assert_eq!(answer.last_event_id.as_deref(), Some("2147867834"));
    assert_eq!(answer.lifetime_secs, Some(3_600));
    let numeric = TokenAnswer::parse(r#"{"accessToken":"opaque","lastEventId":7}"#).unwrap();
    assert_eq!(numeric.last_event_id.as_deref(), Some("7"));
    assert_eq!(numeric.lifetime_secs, None);
    assert!(TokenAnswer::parse(r#"{"lastEventId":"1"}"#).is_err());
}

#[test]
fn an_agent_message_event_decodes_its_string_payload() {
    let data = r#"{"channelType":"embedded_messaging","conversationId":"c1",
      "conversationEntry":{"identifier":"7b4e","entryType":"Message","senderDisplayName":"Li Wei",
        "sender":{"role":"Agent","subject":"005x"},
        "entryPayload":"{\"entryType\":\"Message\",\"id\":\"04d4\",\"abstractMessage\":{\"messageType\":\"StaticContentMessage\",\"id\":\"04d4\",\"staticContent\":{\"formatType\":\"Text\",\"text\":\"Hello, how can I help?\"}}}",
        "transcriptedTimestamp":1764585600123}}"#;
    let entry = Entry::from_event_data(data).unwrap();
    assert_eq!(entry.conversation_id, "c1");
    assert_eq!(entry.identifier, "7b4e");
    assert_eq!(entry.role, Role::Agent);
    assert_eq!(entry.transcripted_at, Some(1_764_585_600_123));
    assert_eq!(
        entry.payload,
        Payload::Message {
            message_id: "04d4".into(),
            text: "Hello, how can I help?".into()
        }
    );
}

#[test]
fn an_entries_list_takes_object_payloads_and_comes_back_oldest_first() {
    let body = r#"{"conversationEntries":[
      {"identifier":"e2","entryType":"ParticipantChanged","sender":{"role":"System"},"transcriptedTimestamp":20,
       "entryPayload":{"entryType":"ParticipantChanged","entries":[{"operation":"add","displayName":"Li Wei","participant":{"role":"Agent","subject":"005x"}}]}},
      {"identifier":"e1","entryType":"RoutingResult","sender":{"role":"Router"},"transcriptedTimestamp":10,
       "entryPayload":"{\"entryType\":\"RoutingResult\",\"routingType\":\"Initial\",\"failureType\":\"None\",\"estimatedWaitTime\":{\"estimatedWaitTimeInSeconds\":30}}"}]}"#;
    let entries = Entry::list(body, "c1").unwrap();
    assert_eq!(entries[0].identifier, "e1");
    assert_eq!(
        entries[0].payload,
        Payload::RoutingResult {
            routing_type: "Initial".into(),
            failure_type: "None".into(),
            wait_secs: Some(30)
        }
    );
    assert_eq!(
        entries[1].payload,
        Payload::ParticipantChanged(vec![ParticipantChange {
            added: true,
            name: "Li Wei".into(),
            role: Role::Agent,
            subject: "005x".into()
        }])
    );
    assert_eq!(entries[1].conversation_id, "c1");
}

#[test]
fn attachments_become_lines_and_unknown_entry_types_are_kept_by_name() {
    let data = r#"{"conversationId":"c1","conversationEntry":{"identifier":"a1","entryType":"Message",
      "sender":{"role":"Agent"},"entryPayload":"{\"abstractMessage\":{\"id\":\"m\",\"staticContent\":{\"formatType\":\"Attachments\",\"text\":null,\"attachments\":[{\"name\":\"invoice.pdf\",\"url\":\"https://x/i.pdf\"}]}}}"}}"#;
    let entry = Entry::from_event_data(data).unwrap();
    assert_eq!(
        entry.payload,
        Payload::Message {
            message_id: "m".into(),
            text: "invoice.pdf: https://x/i.pdf".into()
        }
    );
    let data = r#"{"conversationId":"c1","conversationEntry":{"identifier":"z","entryType":"BrandNew","entryPayload":"{}"}}"#;
    assert_eq!(
        Entry::from_event_data(data).unwrap().payload,
        Payload::Other("BrandNew".into())
    );
}

#[test]
fn broken_envelopes_are_errors_not_panics() {
    assert!(Entry::from_event_data("not json").is_err());
    assert!(Entry::from_event_data(r#"{"conversationEntry":{}}"#).is_err());
    let bad_payload = r#"{"conversationEntry":{"identifier":"x","entryPayload":"{broken"}}"#;
    assert!(Entry::from_event_data(bad_payload).is_err());
    assert!(Entry::list(r#"{"other":[]}"#, "c").is_err());
}
