//! The Zenoh settings of a secure tnet session, as `(path, json5)` inserts.
//!
//! Every network link is QUIC with client certificates (`enable_mtls`), never
//! Zenoh 1.10's `tls/` link, whose reader and writer share one TLS stream
//! unsafely (eclipse-zenoh/zenoh#2557). Hosts and routers add access control
//! by certificate common name, default deny, built from the roster: a
//! revoked name, or one the roster does not know, matches no subject and may
//! do nothing. Roles are separated by key expression, which is what Zenoh's
//! access control sees: admin-only requests go to `tnet/<host>/admin`,
//! uploads to `tnet/<host>/blob`, shells to `tnet/<host>/shell/**`, and none
//! of those is in a user's rules.

use serde_json::{json, Value};

use crate::{Identity, Role, Roster};

fn json_path(path: &std::path::Path) -> String {
    Value::String(path.to_string_lossy().into_owned()).to_string()
}

/// [`tls_inserts`] and QUIC as the only link: a session that dials hosts on
/// the secure default (`tnet`, a host asking others for the roster, the
/// benchmarks). A host's gate also listens on a Unix socket for the host's
/// own session, which it advertises like any locator.
pub fn quic_client_inserts(identity: &Identity) -> Vec<(String, String)> {
    let mut inserts = tls_inserts(identity);
    inserts.push((
        "transport/link/protocols".to_owned(),
        r#"["quic"]"#.to_owned(),
    ));
    inserts
}

/// TLS settings of a session using `identity`, to listen and to connect,
/// read by Zenoh's QUIC link.
///
/// Names are not checked against the address dialled: scouted locators are
/// whatever addresses a host has, so trust comes from the fleet's authority
/// alone, and who may do what from the roster.
pub fn tls_inserts(identity: &Identity) -> Vec<(String, String)> {
    let tls = "transport/link/tls";
    vec![
        (
            format!("{tls}/root_ca_certificate"),
            json_path(&identity.ca()),
        ),
        (
            format!("{tls}/listen_certificate"),
            json_path(&identity.cert()),
        ),
        (
            format!("{tls}/listen_private_key"),
            json_path(&identity.key()),
        ),
        (
            format!("{tls}/connect_certificate"),
            json_path(&identity.cert()),
        ),
        (
            format!("{tls}/connect_private_key"),
            json_path(&identity.key()),
        ),
        (format!("{tls}/enable_mtls"), "true".to_owned()),
        (format!("{tls}/verify_name_on_connect"), "false".to_owned()),
        (format!("{tls}/close_link_on_expiration"), "true".to_owned()),
    ]
}

/// The keys a user may reach: ask on the left, hear on the right.
pub const USER_KEYS: [&str; 7] = [
    "tnet/*/ctl",
    "tnet/*/alive",
    "tnet/*/log/**",
    "tnet/*/event/**",
    "tnet/*/habit/**",
    "tnet/*/service/**",
    "tnet/*/inbox",
];

/// Callers' liveliness tokens (`tnet/@caller/<session>`): `*` never matches
/// a chunk starting with `@`, so they are named on their own.
const CALLER_KEYS: [&str; 1] = ["tnet/@caller/**"];

const ALL_MESSAGES: [&str; 9] = [
    "put",
    "delete",
    "declare_subscriber",
    "query",
    "reply",
    "declare_queryable",
    "liveliness_token",
    "liveliness_query",
    "declare_liveliness_subscriber",
];

/// Where the access control applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// A host's network-facing session (`gate.rs`), which the host's own
    /// session (Zenoh id `inner_id`, new at each start) reaches over a Unix
    /// socket only the host's user can open.
    Gate {
        /// The host's own session's Zenoh id.
        inner_id: &'a str,
    },
    /// A `zenohd` router between clients and hosts: it enforces the roles of
    /// the clients connected to it, since a host sees only the router.
    Router,
}

/// The access control of `place` for `roster`: admins (and routers, which
/// enforce the roles of their own clients) may do everything under `tnet/`;
/// users (and hosts asking other hosts) may read and call; on a router each
/// host may also serve its own keys. Names not in the roster, and revoked
/// ones, match no subject: denied.
pub fn access_control(roster: &Roster, place: Place) -> (String, String) {
    let mut tnet_keys: Vec<&str> = vec!["tnet/**"];
    tnet_keys.extend(CALLER_KEYS);
    let mut rules = vec![
        json!({
            "id": "everything",
            "messages": ALL_MESSAGES,
            "flows": ["ingress", "egress"],
            "permission": "allow",
            "key_exprs": tnet_keys,
        }),
        json!({
            "id": "user_asks",
            "messages": ["query", "declare_subscriber", "liveliness_query",
                "declare_liveliness_subscriber"],
            "flows": ["ingress"],
            "permission": "allow",
            "key_exprs": USER_KEYS,
        }),
        json!({
            "id": "user_hears",
            "messages": ["reply", "put", "delete", "declare_queryable", "liveliness_token"],
            "flows": ["egress"],
            "permission": "allow",
            "key_exprs": USER_KEYS,
        }),
        json!({
            "id": "caller_tokens",
            "messages": ["liveliness_token", "declare_liveliness_subscriber", "liveliness_query"],
            "flows": ["ingress", "egress"],
            "permission": "allow",
            "key_exprs": CALLER_KEYS,
        }),
    ];
    let user_rules = ["user_asks", "user_hears", "caller_tokens"];
    let mut subjects = Vec::new();
    let mut policies = Vec::new();
    // An empty name list would make Zenoh match every name: leave such a
    // subject out instead.
    let mut policy = |id: &str, subject: Value, rules: &[&str]| {
        subjects.push(subject);
        policies.push(json!({ "id": format!("{id}_policy"), "rules": rules, "subjects": [id] }));
    };
    let by_names = |id: &str, names: Vec<String>| {
        (!names.is_empty()).then(|| json!({ "id": id, "cert_common_names": names }))
    };
    if let Place::Gate { inner_id } = place {
        policy(
            "host_itself",
            json!({ "id": "host_itself", "link_protocols": ["unixsock-stream"], "zids": [inner_id] }),
            &["everything"],
        );
    }
    if let Some(s) = by_names("admins", roster.active(Role::Admin)) {
        policy("admins", s, &["everything"]);
    }
    if let Some(s) = by_names("routers", roster.active(Role::Router)) {
        policy("routers", s, &["everything"]);
    }
    if let Some(s) = by_names("users", roster.active(Role::User)) {
        policy("users", s, &user_rules);
    }
    let hosts = roster.active(Role::Host);
    match place {
        Place::Gate { .. } => {
            if let Some(s) = by_names("hosts", hosts) {
                policy("hosts", s, &user_rules);
            }
        }
        Place::Router => {
            // What others ask for reaches every host (it answers and
            // publishes only its own keys): subscriptions and queries with
            // `*` for the host are not within any one host's keys.
            let mut asked: Vec<&str> = vec!["tnet/**"];
            asked.extend(CALLER_KEYS);
            rules.push(json!({
                "id": "to_hosts",
                "messages": ["declare_subscriber", "declare_liveliness_subscriber", "query",
                    "liveliness_query"],
                "flows": ["egress"],
                "permission": "allow",
                "key_exprs": asked,
            }));
            for (i, name) in hosts.into_iter().enumerate() {
                let rule = format!("host_{i}");
                rules.push(json!({
                    "id": rule,
                    "messages": ALL_MESSAGES,
                    "flows": ["ingress", "egress"],
                    "permission": "allow",
                    "key_exprs": [format!("tnet/{name}/**")],
                }));
                let subject = json!({ "id": rule, "cert_common_names": [name] });
                let mut own = user_rules.to_vec();
                own.push("to_hosts");
                own.push(&rule);
                policy(&rule, subject, &own);
            }
        }
    }
    let acl = json!({
        "enabled": true,
        "default_permission": "deny",
        "rules": rules,
        "subjects": subjects,
        "policies": policies,
    });
    ("access_control".to_owned(), acl.to_string())
}

/// A `zenohd` configuration (JSON) for a router of the fleet: listens on
/// `listen` (QUIC), mutual TLS with `identity`, the roster's access control
/// for the clients and hosts that connect to it, no multicast scouting.
pub fn router_config(identity: &Identity, roster: &Roster, listen: &str) -> String {
    let mut config = json!({
        "mode": "router",
        "listen": { "endpoints": [listen] },
        "scouting": { "multicast": { "enabled": false } },
    });
    let mut settings = tls_inserts(identity);
    settings.push(access_control(roster, Place::Router));
    for (path, value) in settings {
        let value: Value = serde_json::from_str(&value).expect("inserts are JSON");
        let parts: Vec<&str> = path.split('/').collect();
        let (last, folders) = parts.split_last().expect("a setting has a name");
        let mut at = &mut config;
        for part in folders {
            at = &mut at[*part];
        }
        at[*last] = value;
    }
    serde_json::to_string_pretty(&config).expect("plain JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Member;

    fn member(name: &str, role: Role, revoked: bool) -> Member {
        Member {
            name: name.into(),
            role,
            expires: String::new(),
            revoked,
        }
    }

    #[test]
    fn revoked_and_unknown_names_match_no_subject_and_empty_roles_are_left_out() {
        let roster = Roster {
            version: 1,
            members: vec![
                member("root", Role::Admin, false),
                member("alice", Role::User, true),
                member("lab1", Role::Host, false),
            ],
        };
        let (_, acl) = access_control(
            &roster,
            Place::Gate {
                inner_id: "1234abcd",
            },
        );
        let acl: Value = serde_json::from_str(&acl).expect("json");
        let names: Vec<String> = acl["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .flat_map(|s| {
                s["cert_common_names"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|n| n.as_str().expect("name").to_owned())
            .collect();
        assert_eq!(names, vec!["root", "lab1"]);
        // No user is active, so there is no `users` subject (an empty list
        // would match everyone).
        assert!(acl["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .all(|s| s["id"] != "users"));
        assert_eq!(acl["default_permission"], "deny");
    }

    #[test]
    fn on_a_router_each_host_serves_only_its_own_keys() {
        let roster = Roster {
            version: 1,
            members: vec![member("lab1", Role::Host, false)],
        };
        let (_, acl) = access_control(&roster, Place::Router);
        assert!(acl.contains("tnet/lab1/**"), "{acl}");
        assert!(!acl.contains("unixsock"), "{acl}");
    }
}
