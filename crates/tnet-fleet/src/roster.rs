//! The fleet's roster: every name the authority issued, its role, and
//! whether it was revoked, signed by the authority's key.
//!
//! Hosts decide who may do what from the roster alone, so it travels: a new
//! roster is pushed to every host that is up when the fleet changes, and a
//! host that starts asks the hosts it finds for theirs. Anyone may carry a
//! roster; a host takes one only when the fleet's authority signed it and its
//! version is newer than the one it holds, so a carrier can neither forge nor
//! roll back a revocation.

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::{FleetError, Role};

/// One name the authority issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The certificate's common name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When its certificate expires (RFC 3339).
    pub expires: String,
    /// Revoked names are refused by every host that holds this roster.
    #[serde(default)]
    pub revoked: bool,
}

/// Every member, with a version that only grows.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Roster {
    /// Raised by one at each change.
    pub version: u64,
    /// In the order they were issued.
    pub members: Vec<Member>,
}

impl Roster {
    /// The member called `name`.
    pub fn get(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The names of `role` that are not revoked.
    pub fn active(&self, role: Role) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.role == role && !m.revoked)
            .map(|m| m.name.clone())
            .collect()
    }
}

/// A roster as the authority signed it: the exact JSON text and an ECDSA
/// P-256 signature over those bytes (so no canonical form is needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRoster {
    /// The roster's JSON text.
    pub roster: String,
    /// Base64 of the DER signature of `roster`'s bytes by the authority's key.
    pub signature: String,
}

/// The largest roster a host reads from the network (a fleet of tens of
/// thousands of names fits).
pub const MAX_ROSTER_BYTES: usize = 4 << 20;

impl SignedRoster {
    /// Signs `roster` with the authority's key.
    pub fn sign(roster: &Roster, key: &rcgen::KeyPair) -> Result<SignedRoster, FleetError> {
        use rcgen::SigningKey;
        let text = serde_json::to_string(roster).map_err(|e| FleetError::Corrupt {
            path: "roster".into(),
            why: e.to_string(),
        })?;
        let signature = key
            .sign(text.as_bytes())
            .map_err(|source| FleetError::Certificate {
                what: "sign the roster",
                source,
            })?;
        Ok(SignedRoster {
            roster: text,
            signature: base64::engine::general_purpose::STANDARD.encode(signature),
        })
    }

    /// The roster, if the authority whose certificate is `ca_pem` signed it.
    pub fn verify(&self, ca_pem: &str) -> Result<Roster, FleetError> {
        let bad = |why: &str| FleetError::BadRoster {
            why: why.to_owned(),
        };
        let (_, pem) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes())
            .map_err(|_| bad("the authority's certificate is not PEM"))?;
        let ca = pem
            .parse_x509()
            .map_err(|_| bad("the authority's certificate cannot be read"))?;
        let public = &ca.public_key().subject_public_key.data;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(&self.signature)
            .map_err(|_| bad("its signature is not base64"))?;
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_ASN1,
            public.as_ref(),
        )
        .verify(self.roster.as_bytes(), &signature)
        .map_err(|_| bad("it is not signed by this fleet's authority"))?;
        serde_json::from_str(&self.roster).map_err(|e| bad(&format!("it cannot be read: {e}")))
    }

    /// The bytes that travel and are stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a signed roster is plain strings")
    }

    /// Reads stored or received bytes (not yet verified).
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedRoster, FleetError> {
        if bytes.len() > MAX_ROSTER_BYTES {
            return Err(FleetError::BadRoster {
                why: format!("it is larger than {MAX_ROSTER_BYTES} bytes"),
            });
        }
        serde_json::from_slice(bytes).map_err(|e| FleetError::BadRoster {
            why: format!("it cannot be read: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca() -> (rcgen::KeyPair, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("self-signed");
        (key, cert.pem())
    }

    #[test]
    fn a_signed_roster_verifies_and_a_changed_one_does_not() {
        let (key, pem) = ca();
        let roster = Roster {
            version: 3,
            members: vec![Member {
                name: "alice".into(),
                role: Role::User,
                expires: "2030-01-01T00:00:00Z".into(),
                revoked: false,
            }],
        };
        let signed = SignedRoster::sign(&roster, &key).expect("sign");
        let back = SignedRoster::from_bytes(&signed.to_bytes()).expect("bytes");
        assert_eq!(back.verify(&pem).expect("verifies"), roster);

        let mut forged = signed.clone();
        forged.roster = forged.roster.replace("\"user\"", "\"admin\"");
        assert!(matches!(
            forged.verify(&pem),
            Err(FleetError::BadRoster { .. })
        ));
        let (_, other) = ca();
        assert!(signed.verify(&other).is_err(), "another authority's roster");
        assert!(SignedRoster::from_bytes(b"{not json").is_err());
    }
}
