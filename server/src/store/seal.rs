//! Personal data sealed at rest (PIPL art. 51; `docs/privacy.md`): members' names and
//! phones are stored AES-256-GCM encrypted, field by field, and alert channels (robot
//! keys, webhook tokens) in the operational store the same way. Phones and erased member
//! ids are found through keyed hashes (HMAC-SHA-256), never through their text.
//!
//! One 32-byte key, from `--privacy-key-file`, `MEMBERPULSE_PRIVACY_KEY` (64 hex digits)
//! or `privacy.key` in the data directory (made, mode 0600, when a new store opens without
//! one). The store keeps a check value of the key, so that a wrong or missing key stops
//! the open with a clear error before anything is read or written.
//!
//! The analytics store seals in SQL: [`Seal::register`] gives every connection of a
//! database `mp_seal`, `mp_seal_phone`, `mp_open`, `mp_phone_key` and `mp_member_key`, so
//! that rows are sealed on their way from the (in-memory) staging tables into the file.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use aes_gcm::{Aes256Gcm, KeyInit, Nonce, aead::Aead};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use duckdb::{
    Connection,
    core::{DataChunkHandle, Inserter, LogicalTypeId},
    ffi::duckdb_string_t,
    types::DuckString,
    vscalar::{ScalarFunctionSignature, VScalar},
    vtab::arrow::WritableVector,
};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::{Error, Result};

/// The environment variable that may hold the key (64 hex digits).
pub const ENV_KEY: &str = "MEMBERPULSE_PRIVACY_KEY";
/// The key file a data directory gets when none is named.
pub const KEY_FILE: &str = "privacy.key";
/// What every sealed value starts with (version 1: AES-256-GCM, 96-bit random nonce).
pub const SEALED: &str = "enc1:";

/// Where the key comes from, in this order: a named file, the environment, the data
/// directory's `privacy.key`.
#[derive(Clone, Debug, Default)]
pub struct KeySource {
    pub file: Option<PathBuf>,
}

/// The key, ready to seal, open and hash. Cheap to clone.
#[derive(Clone)]
pub struct Seal(Arc<Keys>);

struct Keys {
    cipher: Aes256Gcm,
    /// Derives the nonce of [`Seal::seal_fixed`] from the text.
    nonce: [u8; 32],
    lookup: [u8; 32],
    check: String,
    /// Where the key came from, for error messages.
    from: String,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(key)
}

/// The text of a phone number its keyed hash is taken of: no spaces or dashes.
pub fn normal_phone(phone: &str) -> String {
    phone.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()
}

impl Seal {
    /// The key of 32 bytes `master` (the sealing and look-up keys are derived from it).
    pub fn from_master(master: &[u8; 32], from: &str) -> Seal {
        let seal = hmac(master, &[b"memberpulse/seal/v1"]);
        Seal(Arc::new(Keys {
            cipher: Aes256Gcm::new_from_slice(&seal).expect("32-byte key"),
            nonce: hmac(master, &[b"memberpulse/nonce/v1"]),
            lookup: hmac(master, &[b"memberpulse/lookup/v1"]),
            check: hex(&hmac(master, &[b"memberpulse/check/v1"])[..16]),
            from: from.to_string(),
        }))
    }

    /// Finds the key (see [`KeySource`]); `None` when there is none to find. A named file
    /// that is missing, or a key that is not 64 hex digits, is an error.
    pub fn find(source: &KeySource, data_dir: &Path) -> Result<Option<Seal>> {
        let read = |path: &Path| -> Result<Seal> {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(path = %path.display(), "the privacy key file can be read by others: chmod 600 it");
                }
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::Load(format!("{}: cannot read the privacy key ({e})", path.display())))?;
            let key = parse_hex(&text).ok_or_else(|| {
                Error::Load(format!("{}: the privacy key must be 64 hex digits (32 bytes)", path.display()))
            })?;
            Ok(Seal::from_master(&key, &path.display().to_string()))
        };
        if let Some(file) = &source.file {
            return read(file).map(Some);
        }
        if let Some(text) = std::env::var_os(ENV_KEY) {
            let text = text.to_string_lossy();
            let key =
                parse_hex(&text).ok_or_else(|| Error::Load(format!("{ENV_KEY} must be 64 hex digits (32 bytes)")))?;
            return Ok(Some(Seal::from_master(&key, ENV_KEY)));
        }
        let default = data_dir.join(KEY_FILE);
        if default.exists() { read(&default).map(Some) } else { Ok(None) }
    }

    /// Makes a new random key in the data directory's `privacy.key` (mode 0600; never over
    /// an existing file).
    pub fn create(data_dir: &Path) -> Result<Seal> {
        let path = data_dir.join(KEY_FILE);
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        // Written whole beside, then linked into place: a crash never leaves a partial key,
        // and an existing key is never replaced.
        let partial = data_dir.join(format!("{KEY_FILE}.{}.new", std::process::id()));
        let cannot = |e: std::io::Error| Error::Load(format!("{}: cannot make the privacy key ({e})", path.display()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial).map_err(cannot)?;
        writeln!(file, "{}", hex(&key))?;
        file.sync_all()?;
        drop(file);
        let linked = std::fs::hard_link(&partial, &path);
        let _ = std::fs::remove_file(&partial);
        linked.map_err(cannot)?;
        tracing::info!(path = %path.display(), "made a new privacy key: keep a copy of it away from the data");
        Ok(Seal::from_master(&key, &path.display().to_string()))
    }

    /// A short value that tells keys apart without revealing them (the store keeps it).
    pub fn check(&self) -> &str {
        &self.0.check
    }

    /// Where the key came from.
    pub fn origin(&self) -> &str {
        &self.0.from
    }

    /// `plain` sealed: [`SEALED`] and the base64 of a random nonce, the ciphertext and tag.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        self.seal_with(nonce, plain)
    }

    /// `plain` sealed as [`Seal::seal`] does, with a nonce derived from the text (keyed),
    /// so that the same text always seals alike (what may be compared sealed).
    pub fn seal_fixed(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&hmac(&self.0.nonce, &[plain.as_bytes()])[..12]);
        self.seal_with(nonce, plain)
    }

    fn seal_with(&self, nonce: [u8; 12], plain: &str) -> String {
        let sealed = self.0.cipher.encrypt(Nonce::from_slice(&nonce), plain.as_bytes()).expect("AES-GCM seals");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{SEALED}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A phone sealed, after its keyed hash and a colon, so that a look-up compares hashes.
    pub fn seal_phone(&self, phone: &str) -> String {
        format!("{}:{}", self.phone_key(phone), self.seal(phone))
    }

    /// The text of a sealed value (a sealed phone too); text that is not sealed comes back
    /// as it is. A value this key did not seal is an error.
    pub fn open(&self, text: &str) -> Result<String> {
        // `enc1:…`, or a phone's `<32 hex>:enc1:…`.
        let phone = || text.get(..33).filter(|h| h.ends_with(':') && h[..32].bytes().all(|b| b.is_ascii_hexdigit()));
        let body = text.strip_prefix(SEALED).or_else(|| phone().and_then(|_| text[33..].strip_prefix(SEALED)));
        let Some(body) = body else { return Ok(text.to_string()) };
        let bad = || Error::Internal(format!("a sealed value does not open with the privacy key from {}", self.0.from));
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        if bytes.len() < 12 + 16 {
            return Err(bad());
        }
        let plain = self.0.cipher.decrypt(Nonce::from_slice(&bytes[..12]), &bytes[12..]).map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }

    /// The keyed hash a phone is found by (32 hex digits; spaces and dashes ignored).
    pub fn phone_key(&self, phone: &str) -> String {
        hex(&hmac(&self.0.lookup, &[b"phone:", normal_phone(phone).as_bytes()])[..16])
    }

    /// The keyed hash of a member id (what an erasure keeps to know the id again).
    pub fn member_key(&self, member_id: &str) -> String {
        hex(&hmac(&self.0.lookup, &[b"member:", member_id.as_bytes()])[..16])
    }

    /// Gives the database of `conn` (every connection of it) the SQL functions of the
    /// module's description.
    pub fn register(&self, conn: &Connection) -> Result<()> {
        conn.register_scalar_function_with_state::<SqlFn<SealFn>>("mp_seal", self)?;
        conn.register_scalar_function_with_state::<SqlFn<SealPhoneFn>>("mp_seal_phone", self)?;
        conn.register_scalar_function_with_state::<SqlFn<OpenFn>>("mp_open", self)?;
        conn.register_scalar_function_with_state::<SqlFn<PhoneKeyFn>>("mp_phone_key", self)?;
        conn.register_scalar_function_with_state::<SqlFn<MemberKeyFn>>("mp_member_key", self)?;
        Ok(())
    }
}

/// The tables that hold names and phones (`members` and the queues of members waiting
/// to be folded).
pub fn personal_tables(conn: &Connection) -> Result<Vec<String>> {
    super::schema::tables_with_column(conn, "phone")
}

/// One text → text function of the key.
trait TextFn {
    /// Whether two calls on the same text may give different results (sealing does).
    const VOLATILE: bool = false;

    fn apply(seal: &Seal, text: &str) -> std::result::Result<String, Box<dyn std::error::Error>>;
}

struct SqlFn<F>(std::marker::PhantomData<F>);

impl<F: TextFn> VScalar for SqlFn<F> {
    type State = Seal;

    fn invoke(
        seal: &Seal,
        input: &mut DataChunkHandle,
        output: &mut dyn WritableVector,
    ) -> std::result::Result<(), Box<dyn std::error::Error>> {
        let len = input.len();
        let column = input.flat_vector(0);
        // SAFETY: the one VARCHAR argument, `len` rows (DuckDB hands flat vectors).
        let values = unsafe { column.as_slice_with_len::<duckdb_string_t>(len) };
        let mut out = output.flat_vector();
        for (row, value) in values.iter().enumerate() {
            if column.row_is_null(row as u64) {
                out.set_null(row);
                continue;
            }
            let text = DuckString::new(&mut { *value }).as_str().to_string();
            out.insert(row, F::apply(seal, &text)?.as_str());
        }
        Ok(())
    }

    fn signatures() -> Vec<ScalarFunctionSignature> {
        vec![ScalarFunctionSignature::exact(vec![LogicalTypeId::Varchar.into()], LogicalTypeId::Varchar.into())]
    }

    fn volatile() -> bool {
        F::VOLATILE
    }
}

struct SealFn;
struct SealPhoneFn;
struct OpenFn;
struct PhoneKeyFn;
struct MemberKeyFn;

// Sealing takes every text as plain (a name that happens to start with `enc1:` is sealed
// too): what is already sealed is told apart by the caller (`seal_plain`), never here.
impl TextFn for SealFn {
    const VOLATILE: bool = true;
    fn apply(seal: &Seal, text: &str) -> std::result::Result<String, Box<dyn std::error::Error>> {
        Ok(seal.seal(text))
    }
}

impl TextFn for SealPhoneFn {
    const VOLATILE: bool = true;
    fn apply(seal: &Seal, text: &str) -> std::result::Result<String, Box<dyn std::error::Error>> {
        Ok(seal.seal_phone(text))
    }
}

impl TextFn for OpenFn {
    fn apply(seal: &Seal, text: &str) -> std::result::Result<String, Box<dyn std::error::Error>> {
        Ok(seal.open(text)?)
    }
}

impl TextFn for PhoneKeyFn {
    fn apply(seal: &Seal, text: &str) -> std::result::Result<String, Box<dyn std::error::Error>> {
        Ok(seal.phone_key(text))
    }
}

impl TextFn for MemberKeyFn {
    fn apply(seal: &Seal, text: &str) -> std::result::Result<String, Box<dyn std::error::Error>> {
        Ok(seal.member_key(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> Seal {
        Seal::from_master(&[7u8; 32], "test")
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_differ_each_time() {
        let s = seal();
        let a = s.seal("张伟");
        assert!(a.starts_with(SEALED) && !a.contains("张伟"));
        assert_ne!(a, s.seal("张伟"));
        assert_eq!(s.open(&a).unwrap(), "张伟");
        assert_eq!(s.open("plain").unwrap(), "plain");
        assert_eq!(s.open("a name with enc1: inside").unwrap(), "a name with enc1: inside");
        let odd = s.seal("enc1:looks-sealed");
        assert_eq!(s.open(&odd).unwrap(), "enc1:looks-sealed");
        assert!(Seal::from_master(&[8u8; 32], "other").open(&a).is_err());
        let p = s.seal_phone("138 1234-5678");
        assert!(p.starts_with(&format!("{}:", s.phone_key("13812345678"))));
        assert_eq!(s.open(&p).unwrap(), "138 1234-5678");
        assert_ne!(s.check(), Seal::from_master(&[8u8; 32], "other").check());
        let fixed = s.seal_fixed("https://example.com/hook?key=k");
        assert_eq!(fixed, s.seal_fixed("https://example.com/hook?key=k"));
        assert_eq!(s.open(&fixed).unwrap(), "https://example.com/hook?key=k");
    }

    #[test]
    fn sql_functions_seal_on_the_way_in_and_open_on_the_way_out() {
        let conn = Connection::open_in_memory().unwrap();
        let s = seal();
        s.register(&conn).unwrap();
        let other = conn.try_clone().unwrap();
        let (sealed, opened, null): (String, String, Option<String>) = other
            .query_row(
                "SELECT mp_seal_phone('13812345678'), mp_open(mp_seal('李娜')), mp_seal(CAST(NULL AS VARCHAR))",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert!(sealed.starts_with(&s.phone_key("13812345678")));
        assert_eq!((opened.as_str(), null), ("李娜", None));
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert!(parse_hex(&"ab".repeat(32)).is_some());
        assert!(parse_hex(&format!("{}\n", "0f".repeat(32))).is_some());
        assert!(parse_hex("abc").is_none());
        assert!(parse_hex(&"zz".repeat(32)).is_none());
    }
}
