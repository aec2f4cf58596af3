//! The test PKI: a CA and the server certificates the scenarios need, made with rcgen when a run
//! starts. Nothing is written to disk and nothing expires between runs.

use std::sync::OnceLock;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// Which server certificate a connection presents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertChoice {
    /// Signed by the test CA, valid for DNS `localhost`, IP `127.0.0.1` and IP `::1`.
    Valid,
    /// Another certificate valid for the same names and signed by the same CA, with a different
    /// key (SESS-05 b).
    AltValid,
    /// Signed by the test CA, valid only for DNS `other.invalid` (AUTH-09 a).
    WrongName,
    /// Self-signed for `localhost`, `127.0.0.1` and `::1`; not in any trust store (AUTH-09 b).
    SelfSigned,
    /// Signed by the test CA for the right names, but expired in 2001 (AUTH-09 c).
    Expired,
    /// Signed by the test CA, valid for DNS `localhost` only, without IP SANs (AUTH-09 d).
    DnsOnly,
}

/// A certificate with its PKCS#8 private key, both DER.
#[derive(Clone)]
struct Leaf {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// The test PKI of one run.
///
/// Holds the test CA ("ftps test CA"), an unrelated second CA, one leaf per [`CertChoice`] and a
/// client certificate signed by the test CA.
pub struct Pki {
    ca: Vec<u8>,
    other_ca: Vec<u8>,
    valid: Leaf,
    alt_valid: Leaf,
    wrong_name: Leaf,
    self_signed: Leaf,
    expired: Leaf,
    dns_only: Leaf,
    client: Leaf,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki").finish_non_exhaustive()
    }
}

const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn leaf_params(names: &[&str], common_name: &str) -> Result<CertificateParams, rcgen::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    Ok(params)
}

fn signed_leaf(
    params: &CertificateParams,
    issuer: &CertifiedIssuer<'_, KeyPair>,
) -> Result<Leaf, rcgen::Error> {
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(Leaf {
        cert: cert.der().to_vec(),
        key: key.serialize_der(),
    })
}

impl Pki {
    /// Generates a fresh PKI.
    ///
    /// # Panics
    ///
    /// If rcgen cannot generate a key or sign a certificate, which does not happen with its
    /// default ring backend. Use [`Pki::try_generate`] to get the error instead.
    pub fn generate() -> Pki {
        match Pki::try_generate() {
            Ok(pki) => pki,
            Err(e) => panic!("cannot generate the test PKI: {e}"),
        }
    }

    /// Generates a fresh PKI, returning rcgen's error if that fails.
    pub fn try_generate() -> Result<Pki, rcgen::Error> {
        let ca = CertifiedIssuer::self_signed(ca_params("ftps test CA"), KeyPair::generate()?)?;
        let other_ca =
            CertifiedIssuer::self_signed(ca_params("unrelated test CA"), KeyPair::generate()?)?;

        let local = leaf_params(&LOCAL_NAMES, "localhost")?;
        let valid = signed_leaf(&local, &ca)?;
        let alt_valid = signed_leaf(&local, &ca)?;

        let wrong_name = signed_leaf(&leaf_params(&["other.invalid"], "other.invalid")?, &ca)?;
        let dns_only = signed_leaf(&leaf_params(&["localhost"], "localhost")?, &ca)?;

        let mut expired_params = leaf_params(&LOCAL_NAMES, "localhost")?;
        expired_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired = signed_leaf(&expired_params, &ca)?;

        let mut self_params = leaf_params(&LOCAL_NAMES, "localhost")?;
        self_params.use_authority_key_identifier_extension = false;
        let self_key = KeyPair::generate()?;
        let self_cert = self_params.self_signed(&self_key)?;
        let self_signed = Leaf {
            cert: self_cert.der().to_vec(),
            key: self_key.serialize_der(),
        };

        let mut client_params = CertificateParams::new(Vec::<String>::new())?;
        client_params.distinguished_name = rcgen::DistinguishedName::new();
        client_params
            .distinguished_name
            .push(DnType::CommonName, "ftps test client");
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        client_params.use_authority_key_identifier_extension = true;
        let client = signed_leaf(&client_params, &ca)?;

        Ok(Pki {
            ca: ca.der().to_vec(),
            other_ca: other_ca.der().to_vec(),
            valid,
            alt_valid,
            wrong_name,
            self_signed,
            expired,
            dns_only,
            client,
        })
    }

    /// The test CA certificate (DER). Clients under test trust this one.
    pub fn ca_der(&self) -> &[u8] {
        &self.ca
    }

    /// The test CA certificate (PEM).
    pub fn ca_pem(&self) -> String {
        pem("CERTIFICATE", &self.ca)
    }

    /// An unrelated CA certificate (DER), for "trusts the wrong root" variants.
    pub fn other_ca_der(&self) -> &[u8] {
        &self.other_ca
    }

    fn leaf(&self, choice: CertChoice) -> &Leaf {
        match choice {
            CertChoice::Valid => &self.valid,
            CertChoice::AltValid => &self.alt_valid,
            CertChoice::WrongName => &self.wrong_name,
            CertChoice::SelfSigned => &self.self_signed,
            CertChoice::Expired => &self.expired,
            CertChoice::DnsOnly => &self.dns_only,
        }
    }

    /// The server certificate for `choice` (DER).
    pub fn cert_der(&self, choice: CertChoice) -> &[u8] {
        &self.leaf(choice).cert
    }

    /// The PKCS#8 private key of the server certificate for `choice` (DER).
    pub fn key_der(&self, choice: CertChoice) -> &[u8] {
        &self.leaf(choice).key
    }

    /// The server certificate for `choice` (PEM), e.g. for a real server's configuration file.
    pub fn cert_pem(&self, choice: CertChoice) -> String {
        pem("CERTIFICATE", self.cert_der(choice))
    }

    /// The PKCS#8 private key of the server certificate for `choice` (PEM).
    pub fn key_pem(&self, choice: CertChoice) -> String {
        pem("PRIVATE KEY", self.key_der(choice))
    }

    /// A client certificate signed by the test CA, CN "ftps test client" (DER).
    pub fn client_cert_der(&self) -> &[u8] {
        &self.client.cert
    }

    /// The PKCS#8 private key of [`Pki::client_cert_der`] (DER).
    pub fn client_key_der(&self) -> &[u8] {
        &self.client.key
    }

    /// [`Pki::client_cert_der`] as PEM.
    pub fn client_cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.client.cert)
    }

    /// [`Pki::client_key_der`] as PEM.
    pub fn client_key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.client.key)
    }
}

/// The PKI shared by every server of this process, generated on first use.
pub fn shared_pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(Pki::generate)
}

/// Encodes DER as PEM with 64-column base64 lines.
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len() * 4 / 3 + 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    let bytes = b64.as_bytes();
    for line in bytes.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::pem;

    #[test]
    fn pem_encodes_base64_with_padding() {
        assert_eq!(pem("X", b"M"), "-----BEGIN X-----\nTQ==\n-----END X-----\n");
        assert_eq!(
            pem("X", b"Ma"),
            "-----BEGIN X-----\nTWE=\n-----END X-----\n"
        );
        assert_eq!(
            pem("X", b"Man"),
            "-----BEGIN X-----\nTWFu\n-----END X-----\n"
        );
    }
}
