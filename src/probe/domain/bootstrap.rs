//! The RDAP bootstrap for domain names (RFC 9224): which RDAP server
//! answers for which TLD, read from the file shipped in the binary.

use std::collections::HashMap;

use serde::Deserialize;
use url::Url;

/// The IANA DNS bootstrap file, shipped so that a domain check needs no
/// lookup of its own before the RDAP query.
const SHIPPED: &str = include_str!("dns.json");

/// Why a bootstrap file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the RDAP bootstrap file is not usable: {0}")]
pub struct BootstrapError(String);

/// The file's shape: `services` is a list of `[[labels], [base URLs]]`.
#[derive(Deserialize)]
struct File {
    services: Vec<(Vec<String>, Vec<String>)>,
}

/// Label suffix (`com`, or `co.uk` where a file has one) -> RDAP base URL.
#[derive(Debug)]
pub struct Bootstrap {
    by_suffix: HashMap<String, Url>,
}

impl Bootstrap {
    /// The file shipped in the binary.
    pub fn shipped() -> Result<Bootstrap, BootstrapError> {
        Self::parse(SHIPPED)
    }

    /// Reads a bootstrap file. Of several base URLs for a TLD, https is
    /// preferred (RFC 9224 section 3 leaves the choice to the client).
    pub fn parse(text: &str) -> Result<Bootstrap, BootstrapError> {
        let file: File =
            serde_json::from_str(text).map_err(|err| BootstrapError(err.to_string()))?;
        let mut by_suffix = HashMap::new();
        for (labels, urls) in file.services {
            let parsed: Vec<Url> = urls.iter().filter_map(|u| Url::parse(u).ok()).collect();
            let Some(base) = parsed
                .iter()
                .find(|u| u.scheme() == "https")
                .or_else(|| parsed.first())
            else {
                continue;
            };
            for label in labels {
                by_suffix.insert(label.to_ascii_lowercase(), base.clone());
            }
        }
        Ok(Bootstrap { by_suffix })
    }

    /// The base URL for `domain` (lower case, IDNA): the longest suffix of
    /// whole labels that the file lists.
    pub fn base_for(&self, domain: &str) -> Option<&Url> {
        let mut rest = domain;
        loop {
            if let Some(url) = self.by_suffix.get(rest) {
                return Some(url);
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_names_the_common_tlds() {
        let shipped = Bootstrap::shipped().expect("the shipped bootstrap parses");
        for domain in [
            "example.com",
            "example.net",
            "example.org",
            "a.b.example.dev",
        ] {
            let base = shipped
                .base_for(domain)
                .unwrap_or_else(|| panic!("{domain}"));
            assert_eq!(base.scheme(), "https", "{domain}: {base}");
        }
        assert!(shipped.base_for("example.invalid").is_none());
    }

    #[test]
    fn the_longest_suffix_wins_and_https_is_preferred() {
        let file = r#"{"version": "1.0", "publication": "2024-01-01T00:00:00Z",
            "services": [
                [["uk"], ["http://rdap.uk.test/", "https://rdap.uk.test/"]],
                [["co.uk"], ["https://rdap.co-uk.test/"]]
            ]}"#;
        let bootstrap = Bootstrap::parse(file).unwrap();
        assert_eq!(
            bootstrap.base_for("shop.co.uk").unwrap().as_str(),
            "https://rdap.co-uk.test/"
        );
        assert_eq!(
            bootstrap.base_for("gov.uk").unwrap().as_str(),
            "https://rdap.uk.test/"
        );
        assert!(Bootstrap::parse("not json").is_err());
    }
}
