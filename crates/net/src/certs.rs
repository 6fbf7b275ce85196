//! The fleet's certificate authority ([`Authority`], with rcgen): a directory holding the
//! CA (`ca.pem`, `ca.key`) and the certificates it issued to units, operators and
//! routers (`units/<name>.pem` and `.key`, `operators/…`, `routers/…`). A certificate's
//! common name says who it is (`unit:ARM-0001`, `operator:ana`, `router:site`): the
//! router's access rules match those names ([`crate::access`]). Keys are ECDSA P-256,
//! written readable by their owner only; nothing already in the directory is overwritten.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use serde::{Deserialize, Serialize};

use crate::error::NetError;
use crate::keys::check_name;

/// Who a certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A robot: publishes under its own key and takes commands.
    Unit,
    /// A person (or their tool) who watches and commands units.
    Operator,
    /// A site's router: the one place the access rules are enforced.
    Router,
}

impl Role {
    /// `unit`, `operator` or `router`.
    pub fn word(self) -> &'static str {
        match self {
            Role::Unit => "unit",
            Role::Operator => "operator",
            Role::Router => "router",
        }
    }

    fn folder(self) -> &'static str {
        match self {
            Role::Unit => "units",
            Role::Operator => "operators",
            Role::Router => "routers",
        }
    }
}

/// The common name of `name`'s certificate as `role`: `unit:ARM-0001`.
pub fn common_name(role: Role, name: &str) -> String {
    format!("{}:{name}", role.word())
}

/// A node's credentials: its certificate and key, and the CA it trusts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// What the certificate is for.
    pub role: Role,
    /// The unit's, operator's or router's name.
    pub name: String,
    /// The fleet's CA certificate (PEM).
    pub ca: PathBuf,
    /// The node's certificate (PEM).
    pub cert: PathBuf,
    /// The node's private key (PEM, PKCS#8).
    pub key: PathBuf,
}

/// A fleet's certificate directory. See the module docs.
#[derive(Clone, Debug)]
pub struct Authority {
    dir: PathBuf,
}

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";

impl Authority {
    /// Makes a new CA for `fleet` in `dir` (created if missing), valid `years` years.
    /// Refuses a directory that already holds one.
    pub fn init(dir: &Path, fleet: &str, years: u16) -> Result<Authority, NetError> {
        check_name("fleet", fleet)?;
        if dir.join(CA_CERT).exists() || dir.join(CA_KEY).exists() {
            return Err(certs(
                dir,
                "already holds a CA (ca.pem, ca.key): keep it, or pick another directory",
            ));
        }
        fs::create_dir_all(dir).map_err(|e| certs(dir, &e.to_string()))?;
        let mut params = CertificateParams::new(Vec::new()).map_err(|e| rcgen_error(dir, e))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params
            .distinguished_name
            .push(DnType::CommonName, format!("embody fleet {fleet} CA"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, years);
        let key = KeyPair::generate().map_err(|e| rcgen_error(dir, e))?;
        let cert = params.self_signed(&key).map_err(|e| rcgen_error(dir, e))?;
        write_new(&dir.join(CA_KEY), &key.serialize_pem(), true)?;
        write_new(&dir.join(CA_CERT), &cert.pem(), false)?;
        Ok(Authority {
            dir: dir.to_owned(),
        })
    }

    /// The CA in `dir`, made by [`Authority::init`].
    pub fn open(dir: &Path) -> Result<Authority, NetError> {
        if !dir.join(CA_CERT).is_file() {
            return Err(certs(
                dir,
                "holds no fleet CA (ca.pem): make one with `embody fleet certs init`",
            ));
        }
        Ok(Authority {
            dir: dir.to_owned(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Issues `name` a certificate as `role`, valid `years` years, signed by the CA.
    /// `hosts` (DNS names or IP addresses) go in it for a router that nodes connect to by
    /// that name. Refuses a name that already has one.
    pub fn issue(
        &self,
        role: Role,
        name: &str,
        hosts: &[String],
        years: u16,
    ) -> Result<Identity, NetError> {
        check_name(role.word(), name)?;
        let identity = self.paths(role, name);
        if identity.cert.exists() || identity.key.exists() {
            return Err(certs(
                &identity.cert,
                &format!("{} {name} already has a certificate", role.word()),
            ));
        }
        let ca_key_path = self.dir.join(CA_KEY);
        let ca_key_pem =
            fs::read_to_string(&ca_key_path).map_err(|e| certs(&ca_key_path, &e.to_string()))?;
        let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(|e| rcgen_error(&ca_key_path, e))?;
        let ca_pem =
            fs::read_to_string(&identity.ca).map_err(|e| certs(&identity.ca, &e.to_string()))?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| rcgen_error(&identity.ca, e))?;

        let mut params = CertificateParams::new(hosts.to_vec())
            .map_err(|e| certs(&identity.cert, &format!("hosts {hosts:?}: {e}")))?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name(role, name));
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        // A node both connects and (as a peer or router) is connected to.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        validity(&mut params, years);
        let key = KeyPair::generate().map_err(|e| rcgen_error(&identity.key, e))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| rcgen_error(&identity.cert, e))?;
        let folder = self.dir.join(role.folder());
        fs::create_dir_all(&folder).map_err(|e| certs(&folder, &e.to_string()))?;
        write_new(&identity.key, &key.serialize_pem(), true)?;
        write_new(&identity.cert, &cert.pem(), false)?;
        Ok(identity)
    }

    /// `name`'s credentials as `role`, which must have been issued.
    pub fn identity(&self, role: Role, name: &str) -> Result<Identity, NetError> {
        check_name(role.word(), name)?;
        let identity = self.paths(role, name);
        for path in [&identity.cert, &identity.key] {
            if !path.is_file() {
                return Err(certs(
                    path,
                    &format!(
                        "missing: issue {} {name} a certificate with `embody fleet certs issue {} {name}`",
                        role.word(),
                        role.word()
                    ),
                ));
            }
        }
        Ok(identity)
    }

    /// The names issued a certificate as `role`, sorted.
    pub fn roster(&self, role: Role) -> Result<Vec<String>, NetError> {
        let folder = self.dir.join(role.folder());
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(certs(&folder, &e.to_string())),
        };
        let mut names = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| certs(&folder, &e.to_string()))?.path();
            if path.extension().is_some_and(|x| x == "pem")
                && let Some(name) = path.file_stem().and_then(|s| s.to_str())
                && check_name(role.word(), name).is_ok()
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn paths(&self, role: Role, name: &str) -> Identity {
        let folder = self.dir.join(role.folder());
        Identity {
            role,
            name: name.to_owned(),
            ca: self.dir.join(CA_CERT),
            cert: folder.join(format!("{name}.pem")),
            key: folder.join(format!("{name}.key")),
        }
    }
}

fn certs(path: &Path, why: &str) -> NetError {
    NetError::Certs {
        path: path.to_owned(),
        why: why.to_owned(),
    }
}

fn rcgen_error(path: &Path, e: rcgen::Error) -> NetError {
    certs(path, &e.to_string())
}

/// Valid from the start of this year for `years` years.
fn validity(params: &mut CertificateParams, years: u16) {
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // The year of a day count since 1970 (Gregorian leap rules), to the day.
    let mut days = now_s / 86_400;
    let mut year = 1970_i32;
    loop {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let length = if leap { 366 } else { 365 };
        if days < length {
            break;
        }
        days -= length;
        year += 1;
    }
    params.not_before = date_time_ymd(year, 1, 1);
    params.not_after = date_time_ymd(year + i32::from(years.max(1)), 1, 1);
}

/// Writes a new file (never over an existing one); a key readable by its owner only.
fn write_new(path: &Path, text: &str, secret: bool) -> Result<(), NetError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    if secret {
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| certs(path, &e.to_string()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| certs(path, &e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("embody-certs-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_ca_issues_named_certificates_and_never_overwrites() {
        let dir = temp("issue");
        let ca = Authority::init(&dir, "lab", 10).expect("init");
        let e = Authority::init(&dir, "lab", 10).expect_err("twice");
        assert!(e.to_string().contains("already holds a CA"), "{e}");
        let unit = ca.issue(Role::Unit, "ARM-0001", &[], 2).expect("unit");
        ca.issue(Role::Operator, "ana", &[], 2).expect("operator");
        let e = ca.issue(Role::Unit, "ARM-0001", &[], 2).expect_err("twice");
        assert!(e.to_string().contains("already has a certificate"), "{e}");
        let e = ca.issue(Role::Unit, "a/b", &[], 2).expect_err("name");
        assert!(e.to_string().starts_with("unit 'a/b'"), "{e}");
        assert_eq!(ca.roster(Role::Unit).expect("roster"), ["ARM-0001"]);
        assert_eq!(ca.roster(Role::Router).expect("none"), Vec::<String>::new());
        assert_eq!(ca.identity(Role::Unit, "ARM-0001").expect("id"), unit);
        let e = ca.identity(Role::Operator, "bo").expect_err("not issued");
        assert!(e.to_string().contains("certs issue operator bo"), "{e}");
        let mode = fs::metadata(&unit.key).expect("key").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        fs::remove_dir_all(&dir).expect("clean");
    }

    #[test]
    fn a_directory_without_a_ca_is_named() {
        let e = Authority::open(Path::new("/nonexistent/certs")).expect_err("none");
        assert!(
            e.to_string()
                .starts_with("/nonexistent/certs: holds no fleet CA"),
            "{e}"
        );
    }
}
