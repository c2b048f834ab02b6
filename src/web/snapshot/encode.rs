//! The bytes of one snapshot in each content coding we serve (identity,
//! gzip, brotli), their ETags, and which coding a request's
//! `Accept-Encoding` picks.

use std::io::Write as _;

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

/// One answer's body in every coding, compressed once when it was built.
#[derive(Debug)]
pub struct Encoded {
    /// As rendered.
    pub identity: Bytes,
    /// gzip of `identity`.
    pub gzip: Bytes,
    /// brotli of `identity`.
    pub brotli: Bytes,
    /// The strong ETag of each coding, in [`Coding::ALL`] order, quotes
    /// included: built once, compared and sent on every request.
    etags: [String; 3],
}

impl Encoded {
    /// Compresses `identity` both ways. CPU-bound: run it off the async
    /// threads.
    pub fn new(identity: Bytes) -> Encoded {
        let digest = hex::encode(&Sha256::digest(&identity)[..16]);
        let etags = Coding::ALL.map(|c| format!("\"{digest}{}\"", c.etag_suffix()));
        let gzip = gzip(&identity);
        let brotli = brotli(&identity);
        Encoded {
            identity,
            gzip: gzip.into(),
            brotli: brotli.into(),
            etags,
        }
    }

    /// The body in `coding`.
    pub fn body(&self, coding: Coding) -> Bytes {
        match coding {
            Coding::Identity => self.identity.clone(),
            Coding::Gzip => self.gzip.clone(),
            Coding::Brotli => self.brotli.clone(),
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
        self.identity.len() + self.gzip.len() + self.brotli.len()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(GZIP_LEVEL),
    );
    // Writing to a Vec cannot fail.
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 5);
    {
        let mut writer =
            brotli::CompressorWriter::new(&mut out, 64 * 1024, BROTLI_QUALITY, BROTLI_WINDOW);
        writer.write_all(data).expect("brotli into memory");
    }
    out
}

/// The coding to answer with for an `Accept-Encoding` value: the highest
/// q-value among br, gzip and `*`, brotli on a tie (it is smaller);
/// identity when neither is acceptable or the header is absent.
pub fn negotiate(accept_encoding: Option<&str>) -> Coding {
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
    let br = br.or(star).unwrap_or(0.0);
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
        brotli::Decompressor::new(&encoded.brotli[..], 4096)
            .read_to_end(&mut unbrotli)
            .unwrap();
        assert_eq!(unbrotli, text);
        assert!(encoded.gzip.len() < text.len() / 10);
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
