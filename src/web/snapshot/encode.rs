//! The bytes of one snapshot in each content coding we serve (identity,
//! gzip, and brotli made on first use; a very large one in gzip alone),
//! their ETags, and which coding a request's `Accept-Encoding` picks.

use std::io::Write as _;
use std::sync::OnceLock;

use axum::body::Body;
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// gzip level 6, zlib's own default: within a few percent of level 9 on
/// HTML and JSON for a fraction of the CPU, and compressing happens at most
/// once a second per page.
const GZIP_LEVEL: u32 = 6;
/// Brotli quality 5: already smaller than gzip 6 on these pages and still
/// fast; qualities 10-11 take seconds on the 2.7 MB status page of 2,000
/// monitors.
const BROTLI_QUALITY: u32 = 5;
/// Brotli's window (log2 of its bytes): 4 MiB, the most browsers accept.
const BROTLI_WINDOW: u32 = 22;

/// A content coding of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// As rendered.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
    /// `Content-Encoding: br`.
    Brotli,
}

impl Coding {
    /// Every coding, in the order [`Encoded::etags`] holds their ETags.
    const ALL: [Coding; 3] = [Coding::Identity, Coding::Gzip, Coding::Brotli];

    /// The `Content-Encoding` value; `None` for identity.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }

    /// What the ETag of this coding ends with: a strong ETag must differ
    /// between codings of the same content (RFC 9110, 8.8.3).
    fn etag_suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gz",
            Coding::Brotli => "-br",
        }
    }
}

/// Bodies up to this size are kept as rendered, in gzip, and in brotli
/// once a client asks for it.
/// A larger one (the `/metrics` of 50,000 monitors is 98 MB) is kept in
/// gzip only: an answer without compression inflates it while it is sent,
/// and a client that prefers brotli gets gzip. Such bodies go to scrapers
/// and scripts, which ask for gzip; brotli would cost them a second of CPU
/// and 30 MB of compressor state per render at that size.
const KEEP_IDENTITY: usize = 8 * 1024 * 1024;
/// Bytes inflated at a time when an identity answer is sent from gzip.
const INFLATE_CHUNK: usize = 64 * 1024;

/// One answer's body in the codings it is kept in, each compressed once:
/// gzip when it was built, brotli when first asked for.
#[derive(Debug)]
pub struct Encoded {
    /// As rendered; `None` above [`KEEP_IDENTITY`].
    identity: Option<Bytes>,
    /// Length of the body as rendered.
    identity_len: usize,
    /// gzip of the body.
    pub gzip: Bytes,
    /// brotli of the body, made when a client first asks for it: most
    /// answers that are large and often rebuilt (`/metrics`) go to
    /// scrapers that ask for gzip, and brotli costs several times gzip's
    /// CPU. Never made above [`KEEP_IDENTITY`].
    brotli: OnceLock<Bytes>,
    /// The strong ETag of each coding, in [`Coding::ALL`] order, quotes
    /// included: built once, compared and sent on every request.
    etags: [String; 3],
}

impl Encoded {
    /// Compresses `identity` both ways.
    #[cfg(test)]
    pub fn new(identity: Bytes) -> Encoded {
        let mut encoder = Encoder::default();
        encoder.push(identity);
        encoder.finish()
    }

    /// The coding to answer with for an `Accept-Encoding` value, among
    /// those this body is kept in.
    pub fn coding_for(&self, accept_encoding: Option<&str>) -> Coding {
        choose(accept_encoding, self.identity.is_some())
    }

    /// Whether the body in `coding` is at hand without compressing.
    pub fn ready(&self, coding: Coding) -> bool {
        coding != Coding::Brotli || self.identity.is_none() || self.brotli.get().is_some()
    }

    /// Makes the body in `coding` if it is not at hand yet. CPU-bound: run
    /// it off the async threads.
    pub fn prepare(&self, coding: Coding) {
        if coding == Coding::Brotli {
            self.brotli();
        }
    }

    /// The brotli body, made on first use; `None` above [`KEEP_IDENTITY`].
    fn brotli(&self) -> Option<&Bytes> {
        let identity = self.identity.as_ref()?;
        Some(self.brotli.get_or_init(|| brotli(identity)))
    }

    /// The body in `coding` (one it is kept in: see [`Encoded::coding_for`]),
    /// with its length.
    pub fn body(&self, coding: Coding) -> (Body, usize) {
        match coding {
            Coding::Identity => match &self.identity {
                Some(identity) => (Body::from(identity.clone()), identity.len()),
                None => (
                    Body::from_stream(inflate(self.gzip.clone())),
                    self.identity_len,
                ),
            },
            Coding::Brotli if let Some(brotli) = self.brotli() => {
                (Body::from(brotli.clone()), brotli.len())
            }
            Coding::Gzip | Coding::Brotli => (Body::from(self.gzip.clone()), self.gzip.len()),
        }
    }

    /// The strong ETag of the body in `coding`, quotes included.
    pub fn etag(&self, coding: Coding) -> &str {
        // `ALL` lists the codings in declaration order.
        &self.etags[coding as usize]
    }

    /// Whether an `If-None-Match` value names this content in any coding
    /// (a client may have cached it under another encoding) or is `*`.
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').map(str::trim).any(|tag| {
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag == "*" || self.etags.iter().any(|etag| tag == etag)
        })
    }

    /// Bytes held, for the cache's budget.
    pub fn size(&self) -> usize {
        let kept = |bytes: &Option<Bytes>| bytes.as_ref().map_or(0, Bytes::len);
        let brotli = self.brotli.get().map_or(0, Bytes::len);
        kept(&self.identity) + self.gzip.len() + brotli
    }
}

/// Builds an [`Encoded`] from a body read piece by piece: each piece is
/// hashed and gzipped as it comes, so a large body never has to be held
/// whole. CPU-bound: run it off the async threads.
pub struct Encoder {
    digest: Sha256,
    gzip: flate2::write::GzEncoder<Vec<u8>>,
    /// The pieces so far, until they pass `keep`; brotli compresses them
    /// at the end, if they did not.
    identity: Vec<Bytes>,
    len: usize,
    keep: usize,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::keeping(KEEP_IDENTITY)
    }
}

impl Encoder {
    /// An encoder that keeps the body as rendered up to `keep` bytes.
    fn keeping(keep: usize) -> Self {
        Self {
            digest: Sha256::new(),
            gzip: flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL)),
            identity: Vec::new(),
            len: 0,
            keep,
        }
    }

    /// Adds the next piece of the body.
    pub fn push(&mut self, piece: Bytes) {
        self.digest.update(&piece);
        // Writing to a Vec cannot fail.
        self.gzip.write_all(&piece).expect("gzip into memory");
        self.len += piece.len();
        if self.len <= self.keep {
            self.identity.push(piece);
        } else {
            self.identity = Vec::new();
        }
    }

    /// The body in every coding.
    pub fn finish(self) -> Encoded {
        let digest = hex::encode(&self.digest.finalize()[..16]);
        let etags = Coding::ALL.map(|c| format!("\"{digest}{}\"", c.etag_suffix()));
        let identity = (self.len <= self.keep).then(|| match self.identity.as_slice() {
            // One piece, the usual answer of a handler: kept without a copy.
            [one] => one.clone(),
            pieces => pieces.concat().into(),
        });
        let gzip = self.gzip.finish().expect("gzip into memory");
        Encoded {
            brotli: OnceLock::new(),
            identity,
            identity_len: self.len,
            // Without the room the growing output left: kept for as long
            // as the snapshot is.
            gzip: gzip.into_boxed_slice().into(),
            etags,
        }
    }
}

fn brotli(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() / 5);
    {
        let mut writer =
            brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, BROTLI_WINDOW);
        writer.write_all(data).expect("brotli into memory");
    }
    out.into_boxed_slice().into()
}

/// The body a gzip holds, inflated [`INFLATE_CHUNK`] bytes at a time as
/// the client reads it.
fn inflate(gzip: Bytes) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    use std::io::Read as _;
    let mut decoder = flate2::read::GzDecoder::new(bytes::Buf::reader(gzip));
    let mut done = false;
    futures_util::stream::iter(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut chunk = vec![0; INFLATE_CHUNK];
        let mut filled = 0;
        while filled < chunk.len() {
            match decoder.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                Err(err) => {
                    done = true;
                    return Some(Err(err));
                }
            }
        }
        if filled == 0 {
            done = true;
            return None;
        }
        chunk.truncate(filled);
        Some(Ok(Bytes::from(chunk)))
    }))
}

/// The coding to answer with for an `Accept-Encoding` value: the highest
/// q-value among br, gzip and `*`, brotli on a tie (it is smaller);
/// identity when neither is acceptable or the header is absent.
#[cfg(test)]
pub fn negotiate(accept_encoding: Option<&str>) -> Coding {
    choose(accept_encoding, true)
}

/// [`negotiate`] among the codings at hand: without brotli, gzip if the
/// client takes it, else identity.
fn choose(accept_encoding: Option<&str>, brotli: bool) -> Coding {
    let Some(header) = accept_encoding else {
        return Coding::Identity;
    };
    let (mut br, mut gz, mut star) = (None, None, None);
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gz = Some(q),
            "*" => star = Some(q),
            _ => {}
        }
    }
    let br = if brotli {
        br.or(star).unwrap_or(0.0)
    } else {
        0.0
    };
    let gz = gz.or(star).unwrap_or(0.0);
    if br > 0.0 && br >= gz {
        Coding::Brotli
    } else if gz > 0.0 {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn negotiation_respects_q_values() {
        assert_eq!(negotiate(None), Coding::Identity);
        assert_eq!(negotiate(Some("")), Coding::Identity);
        assert_eq!(negotiate(Some("gzip, deflate, br")), Coding::Brotli);
        assert_eq!(negotiate(Some("gzip")), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.5, gzip;q=0.8")), Coding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0")), Coding::Identity);
        assert_eq!(negotiate(Some("br;q=0, *")), Coding::Gzip);
        assert_eq!(negotiate(Some("*;q=0.1")), Coding::Brotli);
        assert_eq!(negotiate(Some("identity")), Coding::Identity);
        assert_eq!(negotiate(Some("GZIP; Q=1")), Coding::Gzip);
        assert_eq!(choose(Some("br, gzip;q=0.5"), false), Coding::Gzip);
        assert_eq!(choose(Some("*"), false), Coding::Gzip);
        assert_eq!(choose(Some("br"), false), Coding::Identity);
    }

    #[test]
    fn every_coding_decodes_to_the_identity_bytes() {
        let text: Bytes = "<p>up</p>\n".repeat(1000).into();
        let encoded = Encoded::new(text.clone());
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&encoded.gzip[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, text);
        let mut unbrotli = Vec::new();
        assert!(!encoded.ready(Coding::Brotli), "brotli waits for a client");
        encoded.prepare(Coding::Brotli);
        assert!(encoded.ready(Coding::Brotli));
        brotli::Decompressor::new(&encoded.brotli.get().unwrap()[..], 4096)
            .read_to_end(&mut unbrotli)
            .unwrap();
        assert_eq!(unbrotli, text);
        assert!(encoded.gzip.len() < text.len() / 10);
    }

    #[tokio::test]
    async fn a_large_body_is_kept_compressed_and_sent_whole() {
        let text: String = (0..20_000)
            .map(|i| format!("hopwatch_monitor_up{{monitor=\"m{i}\"}} 1\n"))
            .collect();
        let whole = Encoded::new(Bytes::from(text.clone()));
        assert!(whole.identity.is_some());
        // Read in pieces, as a streamed render arrives, past the limit.
        let mut encoder = Encoder::keeping(64 * 1024);
        for piece in text.as_bytes().chunks(7_000) {
            encoder.push(Bytes::copy_from_slice(piece));
        }
        let large = encoder.finish();
        large.prepare(Coding::Brotli);
        assert!(large.identity.is_none() && large.brotli.get().is_none());
        assert!(large.size() < text.len() / 5, "{}", large.size());
        for coding in Coding::ALL {
            assert_eq!(large.etag(coding), whole.etag(coding));
            let (body, length) = large.body(coding);
            let sent = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            assert_eq!(sent.len(), length);
        }
        // Kept in gzip only: who prefers brotli gets gzip, or identity.
        assert_eq!(large.coding_for(Some("gzip, br")), Coding::Gzip);
        assert_eq!(large.coding_for(Some("br")), Coding::Identity);
        assert_eq!(whole.coding_for(Some("gzip, br")), Coding::Brotli);
        let (body, length) = large.body(Coding::Identity);
        assert_eq!(length, text.len());
        let sent = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        assert_eq!(
            sent,
            text.as_bytes(),
            "inflated from the gzip as it is sent"
        );
        assert_eq!(large.gzip, whole.gzip);
    }

    #[test]
    fn pieces_under_the_limit_are_kept_as_one() {
        let mut encoder = Encoder::default();
        encoder.push(Bytes::from_static(b"hello "));
        encoder.push(Bytes::from_static(b"world"));
        let encoded = encoder.finish();
        assert_eq!(encoded.identity.as_deref(), Some(&b"hello world"[..]));
        let whole = Encoded::new(Bytes::from_static(b"hello world"));
        assert_eq!(encoded.etag(Coding::Identity), whole.etag(Coding::Identity));
        assert_eq!(encoded.size(), whole.size());
    }

    #[test]
    fn etags_differ_by_coding_and_match_any() {
        let encoded = Encoded::new(Bytes::from_static(b"hello"));
        let plain = encoded.etag(Coding::Identity);
        assert_ne!(plain, encoded.etag(Coding::Gzip));
        assert!(encoded.matches(plain));
        assert!(encoded.matches(&format!("\"x\", W/{}", encoded.etag(Coding::Brotli))));
        assert!(encoded.matches("*"));
        assert!(!encoded.matches("\"other\""));
        let other = Encoded::new(Bytes::from_static(b"hello!"));
        assert!(!other.matches(plain));
    }
}
