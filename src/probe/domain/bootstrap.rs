//! The RDAP bootstrap for domain names (RFC 9224): which RDAP server
//! answers for which TLD, read from the file shipped in the binary.

use std::collections::HashMap;

use serde::Deserialize;
use url::Url;

/// IANA's DNS bootstrap file as published (its `publication` field says
/// when), shipped so that a domain check needs no lookup of its own before
/// the RDAP query. Refreshing it is replacing the file with IANA's current
/// one, unedited: ccTLDs whose registry has not told IANA of an RDAP
/// server (de, io, co among them) are missing there, and `rdap_server`
/// covers them.
const SHIPPED: &str = include_str!("dns.json");

/// Why a bootstrap file could not be used.
#[derive(Debug, thiserror::Error)]
#[error("the RDAP bootstrap file is not usable: {0}")]
pub struct BootstrapError(String);

/// The file's shape: `services` is a list of `[[labels], [base URLs]]`.
#[derive(Deserialize)]
struct File {
    #[serde(default)]
    publication: String,
    services: Vec<(Vec<String>, Vec<String>)>,
}

/// Label suffix (`com`, or `co.uk` where a file has one) -> RDAP base URL.
#[derive(Debug)]
pub struct Bootstrap {
    by_suffix: HashMap<String, Url>,
    publication: String,
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
        Ok(Bootstrap {
            by_suffix,
            publication: file.publication,
        })
    }

    /// When the file was published (RFC 3339, as the file has it; empty
    /// when it says nothing), so that an unknown TLD can be told apart from
    /// one added after the shipped copy.
    pub fn publication(&self) -> &str {
        &self.publication
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
    fn the_shipped_file_is_the_whole_iana_file() {
        let shipped = Bootstrap::shipped().expect("the shipped bootstrap parses");
        // IANA's file lists some 1,200 TLDs; a hand-made subset would list a
        // handful, and a domain check would then need rdap_server for most.
        assert!(
            shipped.by_suffix.len() > 1_000,
            "{} TLDs",
            shipped.by_suffix.len()
        );
        assert!(
            shipped.publication().starts_with("20"),
            "{}",
            shipped.publication()
        );
        // gTLDs, and ccTLDs whose registries are in IANA's file.
        for (domain, base) in [
            ("example.com", "https://rdap.verisign.com/com/v1/"),
            ("example.net", "https://rdap.verisign.com/net/v1/"),
            (
                "example.org",
                "https://rdap.publicinterestregistry.org/rdap/",
            ),
            (
                "example.info",
                "https://rdap.identitydigital.services/rdap/",
            ),
            ("a.b.example.dev", "https://pubapi.registry.google/rdap/"),
            ("shop.example.app", "https://pubapi.registry.google/rdap/"),
            ("example.xyz", "https://rdap.centralnic.com/xyz/"),
            ("example.co.uk", "https://rdap.nominet.uk/uk/"),
            ("example.fr", "https://rdap.nic.fr/"),
            ("example.nl", "https://rdap.sidn.nl/"),
            ("example.com.br", "https://rdap.registro.br/"),
            ("example.no", "https://rdap.norid.no/"),
            ("example.pl", "https://rdap.dns.pl/"),
        ] {
            let found = shipped
                .base_for(domain)
                .unwrap_or_else(|| panic!("{domain} is not in the bootstrap"));
            assert_eq!(found.as_str(), base, "{domain}");
        }
        // Reserved by RFC 2606, so never delegated and never in the file.
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
