//! What keeps webhook deliveries (requests the service makes to URLs tenants
//! register) out of the service's own network: the addresses a delivery may
//! not reach, and the rules for a webhook URL. Both are checked when a URL is
//! registered and again before every delivery, because the addresses a name
//! resolves to can change in between (DNS rebinding).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

use crate::config::{SettingError, env_value};

/// Longer URLs are refused; the serialised form is stored and sent as is.
const MAX_URL_CHARS: usize = 2_048;

/// Where cloud credentials are served: EC2 instance metadata, ECS task
/// metadata, EKS pod identity. Inside the link-local range, named apart so
/// a refusal says what was at stake.
const METADATA_V4: [Ipv4Addr; 3] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
];

/// The same services over IPv6 (inside the unique-local range).
const METADATA_V6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
];

/// Why an address may not receive webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenAddress {
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Unspecified,
    Multicast,
    Reserved,
}

impl ForbiddenAddress {
    pub fn as_str(self) -> &'static str {
        match self {
            ForbiddenAddress::Loopback => "loopback",
            ForbiddenAddress::Private => "private",
            ForbiddenAddress::LinkLocal => "link-local",
            ForbiddenAddress::Metadata => "cloud metadata",
            ForbiddenAddress::Unspecified => "unspecified",
            ForbiddenAddress::Multicast => "multicast",
            ForbiddenAddress::Reserved => "reserved",
        }
    }
}

/// The kind of address `ip` is, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<ForbiddenAddress> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<ForbiddenAddress> {
    use ForbiddenAddress::*;
    if METADATA_V4.contains(&ip) {
        return Some(Metadata);
    }
    let kind = match ip.octets() {
        [0, ..] => Unspecified,
        [127, ..] => Loopback,
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => Private,
        // Carrier-grade NAT: not routed on the internet, often internal in clouds.
        [100, 64..=127, ..] => Private,
        [169, 254, ..] => LinkLocal,
        [224..=239, ..] => Multicast,
        // 240/4 includes the broadcast address 255.255.255.255.
        [240..=255, ..] => Reserved,
        // IETF protocol assignments, documentation and benchmarking networks.
        [192, 0, 0 | 2, _] | [198, 18..=19, ..] | [198, 51, 100, _] | [203, 0, 113, _] => Reserved,
        _ => return None,
    };
    Some(kind)
}

fn classify_v6(ip: Ipv6Addr) -> Option<ForbiddenAddress> {
    use ForbiddenAddress::*;
    if ip.is_unspecified() {
        return Some(Unspecified);
    }
    if ip.is_loopback() {
        return Some(Loopback);
    }
    if METADATA_V6.contains(&ip) {
        return Some(Metadata);
    }
    // The packet goes to the IPv4 address inside, so that address decides.
    if let Some(inner) = embedded_v4(ip) {
        return classify_v4(inner);
    }
    let kind = match ip.segments() {
        [0xfc00..=0xfdff, ..] => Private,
        [0xfe80..=0xfebf, ..] => LinkLocal,
        [0xff00..=0xffff, ..] => Multicast,
        [0x2001, 0x0db8, ..] => Reserved,
        _ => return None,
    };
    Some(kind)
}

/// The IPv4 address carried by a NAT64, IPv4-mapped, IPv4-compatible or
/// 6to4 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let [.., a, b, c, d] = ip.octets();
    match ip.segments() {
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0, 0, 0, 0, 0, 0xffff | 0, _, _] => {
            Some(Ipv4Addr::new(a, b, c, d))
        }
        [0x2002, high, low, ..] => Some(Ipv4Addr::from((u32::from(high) << 16) | u32::from(low))),
        _ => None,
    }
}

/// How long a name may take to resolve.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Where deliveries may go. `allow_loopback` is for a local stack only (make
/// dev, tests): loopback addresses (and http:// to them) pass; nothing else
/// changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// `WEBHOOK_ALLOW_LOOPBACK=true` allows loopback; `make dev` sets it,
    /// `template.yaml` never does (a test checks).
    pub fn from_env() -> Result<AddressPolicy, SettingError> {
        let allow_loopback = match env_value("WEBHOOK_ALLOW_LOOPBACK").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(SettingError::Invalid {
                    name: "WEBHOOK_ALLOW_LOOPBACK",
                    value: other.to_owned(),
                    expected: "true or false",
                });
            }
        };
        Ok(AddressPolicy { allow_loopback })
    }

    pub fn check(self, ip: IpAddr) -> Result<(), ForbiddenAddress> {
        match classify(ip) {
            None => Ok(()),
            Some(ForbiddenAddress::Loopback) if self.allow_loopback => Ok(()),
            Some(kind) => Err(kind),
        }
    }

    /// The addresses `host` resolves to now, each with `port`; all must pass
    /// `check`, since the attacker who controls the name controls the order
    /// of its answers. Connect to these addresses, not to the name: a second
    /// lookup may answer differently.
    pub async fn resolve(self, host: &str, port: u16) -> Result<Vec<SocketAddr>, UnsafeTarget> {
        let forbidden = |address: IpAddr, kind| UnsafeTarget::Forbidden {
            host: host.to_owned(),
            address,
            kind,
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            self.check(ip).map_err(|kind| forbidden(ip, kind))?;
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let lookup = |reason: String| UnsafeTarget::Lookup {
            host: host.to_owned(),
            reason,
        };
        // The system resolver's own timeouts can add up to far longer.
        let addresses: Vec<SocketAddr> =
            tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port)))
                .await
                .map_err(|_| lookup(format!("no answer in {} s", LOOKUP_TIMEOUT.as_secs())))?
                .map_err(|error| lookup(error.to_string()))?
                .collect();
        if addresses.is_empty() {
            return Err(UnsafeTarget::NoAddress {
                host: host.to_owned(),
            });
        }
        for address in &addresses {
            self.check(address.ip())
                .map_err(|kind| forbidden(address.ip(), kind))?;
        }
        Ok(addresses)
    }
}

/// Why a webhook URL may not be used. Every message starts with `url: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeTarget {
    #[error("url: {0}")]
    NotAUrl(String),
    #[error("url: must be https")]
    NotHttps,
    /// Refused because the receiver would get them, and log them.
    #[error("url: must not contain a user name or password")]
    Credentials,
    #[error("url: longer than {MAX_URL_CHARS} characters")]
    TooLong,
    #[error("{}", forbidden_message(.host, .address, *.kind))]
    Forbidden {
        host: String,
        address: IpAddr,
        kind: ForbiddenAddress,
    },
    #[error("url: {host} does not resolve")]
    NoAddress { host: String },
    #[error("url: looking up {host} failed: {reason}")]
    Lookup { host: String, reason: String },
}

fn forbidden_message(host: &str, address: &IpAddr, kind: ForbiddenAddress) -> String {
    let article = match kind {
        ForbiddenAddress::Unspecified => "an",
        _ => "a",
    };
    let kind = kind.as_str();
    // An IP literal written differently from its canonical form (::ffff:7f00:1) is still itself.
    if host.parse::<IpAddr>().is_ok_and(|ip| ip == *address) {
        format!("url: {address} is {article} {kind} address")
    } else {
        format!("url: {host} is {address}, {article} {kind} address")
    }
}

/// A webhook URL that passed the static rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    url: Url,
}

impl WebhookUrl {
    pub fn parse(text: &str, policy: AddressPolicy) -> Result<WebhookUrl, UnsafeTarget> {
        // Before parsing too, so an oversized text costs no parse.
        if text.chars().count() > MAX_URL_CHARS {
            return Err(UnsafeTarget::TooLong);
        }
        // The URL parser drops surrounding spaces and tabs or newlines anywhere;
        // refuse them instead, so the URL stored is the one the tenant sent.
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(not_a_url("must not contain spaces or control characters"));
        }
        let url = Url::parse(text).map_err(|error| match error {
            url::ParseError::RelativeUrlWithoutBase => not_a_url("not an absolute URL"),
            error => UnsafeTarget::NotAUrl(error.to_string()),
        })?;
        // Percent-encoding can lengthen what is stored.
        if url.as_str().len() > MAX_URL_CHARS {
            return Err(UnsafeTarget::TooLong);
        }
        check_url(&url, policy)?;
        Ok(WebhookUrl { url })
    }

    pub fn as_str(&self) -> &str {
        self.url.as_str()
    }

    /// The host, an IPv6 literal without its brackets.
    pub fn host(&self) -> &str {
        let host = self
            .url
            .host_str()
            .expect("parse refuses URLs without a host");
        host.strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// The explicit port, else the scheme's.
    pub fn port(&self) -> u16 {
        let default = if self.is_https() { 443 } else { 80 };
        self.url.port().unwrap_or(default)
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// The addresses to deliver to: the static rules again (`policy` may be
    /// stricter than the one the URL was registered under), then every
    /// address the host resolves to now must pass.
    pub async fn resolve(&self, policy: AddressPolicy) -> Result<Vec<SocketAddr>, UnsafeTarget> {
        check_url(&self.url, policy)?;
        policy.resolve(self.host(), self.port()).await
    }
}

fn not_a_url(reason: &str) -> UnsafeTarget {
    UnsafeTarget::NotAUrl(reason.to_owned())
}

/// The rules that need no lookup.
fn check_url(url: &Url, policy: AddressPolicy) -> Result<(), UnsafeTarget> {
    let scheme = url.scheme();
    if scheme != "https" && scheme != "http" {
        return Err(UnsafeTarget::NotHttps);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UnsafeTarget::Credentials);
    }
    if url.fragment().is_some() {
        return Err(not_a_url("must not have a fragment"));
    }
    let Some(host) = url.host() else {
        return Err(not_a_url("must have a host"));
    };
    let (address, host_text) = match host {
        Host::Ipv4(ip) => (IpAddr::V4(ip), ip.to_string()),
        Host::Ipv6(ip) => (IpAddr::V6(ip), ip.to_string()),
        // RFC 6761: resolvers answer localhost and every name under it with
        // loopback themselves, so the name is as good as the address.
        Host::Domain(name) if is_localhost_name(name) => {
            (IpAddr::V4(Ipv4Addr::LOCALHOST), name.to_owned())
        }
        Host::Domain(_) if scheme == "https" => return Ok(()),
        Host::Domain(_) => return Err(UnsafeTarget::NotHttps),
    };
    policy
        .check(address)
        .map_err(|kind| UnsafeTarget::Forbidden {
            host: host_text,
            address,
            kind,
        })?;
    let loopback = classify(address) == Some(ForbiddenAddress::Loopback);
    if scheme == "http" && !(policy.allow_loopback && loopback) {
        return Err(UnsafeTarget::NotHttps);
    }
    Ok(())
}

fn is_localhost_name(name: &str) -> bool {
    // A trailing dot names the same host.
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ForbiddenAddress::*;

    const DEV: AddressPolicy = AddressPolicy {
        allow_loopback: true,
    };
    const PRODUCTION: AddressPolicy = AddressPolicy {
        allow_loopback: false,
    };

    const KINDS: [ForbiddenAddress; 7] = [
        Loopback,
        Private,
        LinkLocal,
        Metadata,
        Unspecified,
        Multicast,
        Reserved,
    ];

    /// Checks a table of `kind = addresses` lines (`public`: no kind).
    fn assert_classified(table: &str) {
        for line in table.lines().filter(|line| !line.trim().is_empty()) {
            let (name, addresses) = line.split_once('=').unwrap();
            let kind = KINDS.into_iter().find(|kind| kind.as_str() == name.trim());
            assert!(kind.is_some() || name.trim() == "public", "{line}");
            for address in addresses.split_whitespace() {
                assert_eq!(classify(address.parse().unwrap()), kind, "{address}");
            }
        }
    }

    // Each range by its first and last address, and the neighbours just outside.
    #[test]
    fn classifies_ipv4_ranges() {
        assert_classified(
            "
            unspecified = 0.0.0.0 0.255.255.255
            public = 1.0.0.0
            loopback = 127.0.0.0 127.255.255.255
            public = 126.255.255.255 128.0.0.0
            private = 10.0.0.0 10.255.255.255 172.16.0.0 172.31.255.255
            private = 192.168.0.0 192.168.255.255 100.64.0.0 100.127.255.255
            public = 9.255.255.255 11.0.0.0 172.15.255.255 172.32.0.0
            public = 192.167.255.255 192.169.0.0 100.63.255.255 100.128.0.0
            cloud metadata = 169.254.169.254 169.254.170.2 169.254.170.23
            link-local = 169.254.169.253 169.254.169.255 169.254.170.1 169.254.170.3
            link-local = 169.254.170.22 169.254.170.24 169.254.0.0 169.254.255.255
            public = 169.253.255.255 169.255.0.0
            multicast = 224.0.0.0 239.255.255.255
            public = 223.255.255.255
            reserved = 240.0.0.0 255.255.255.254 255.255.255.255
            reserved = 192.0.0.0 192.0.0.255 192.0.2.0 192.0.2.255
            reserved = 198.18.0.0 198.19.255.255 198.51.100.0 198.51.100.255
            reserved = 203.0.113.0 203.0.113.255
            public = 191.255.255.255 192.0.1.0 192.0.1.255 192.0.3.0
            public = 198.17.255.255 198.20.0.0 198.51.99.255 198.51.101.0
            public = 203.0.112.255 203.0.114.0 8.8.8.8
            ",
        );
    }

    #[test]
    fn classifies_ipv6_ranges() {
        assert_classified(
            "
            unspecified = ::
            loopback = ::1
            cloud metadata = fd00:ec2::254 fd00:ec2::23
            private = fd00:ec2::253 fd00:ec2::24
            private = fc00:: fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
            public = fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff fe00::
            link-local = fe80:: febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff
            public = fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff fec0::
            multicast = ff00:: ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
            public = feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff
            reserved = 2001:db8:: 2001:db8:ffff:ffff:ffff:ffff:ffff:ffff
            public = 2001:db7:ffff:ffff:ffff:ffff:ffff:ffff 2001:db9:: 2606:4700::1111
            ",
        );
    }

    // Per form (NAT64, IPv4-mapped, IPv4-compatible, 6to4): inside, then just outside.
    #[test]
    fn classifies_the_ipv4_address_inside_ipv6() {
        assert_classified(
            "
            cloud metadata = 64:ff9b::a9fe:a9fe ::ffff:169.254.170.2 ::a9fe:aa02 2002:a9fe:a9fe::1
            loopback = 64:ff9b::7f00:1 ::ffff:127.0.0.1 ::7f00:1 2002:7f00:1::
            private = ::ffff:10.1.2.3 2002:c0a8:101::
            unspecified = ::ffff:0.0.0.0 ::2
            reserved = ::ffff:255.255.255.255
            public = 64:ff9b::808:808 ::ffff:8.8.8.8 ::808:808 2002:808:808::
            public = 64:ff9b::1:7f00:1 ::fffe:7f00:1 ::1:0:0:7f00:1 2003:7f00:1::
            ",
        );
    }

    #[test]
    fn names_every_kind() {
        assert_eq!(
            KINDS.map(ForbiddenAddress::as_str).join(","),
            "loopback,private,link-local,cloud metadata,unspecified,multicast,reserved"
        );
    }

    #[test]
    fn loopback_passes_only_when_allowed() {
        let address = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(PRODUCTION.check(address("127.0.0.1")), Err(Loopback));
        assert_eq!(DEV.check(address("127.0.0.1")), Ok(()));
        assert_eq!(DEV.check(address("::1")), Ok(()));
        assert_eq!(DEV.check(address("10.0.0.1")), Err(Private));
        assert_eq!(PRODUCTION.check(address("8.8.8.8")), Ok(()));
    }

    fn assert_refused(policy: AddressPolicy, cases: &[(&str, &str)]) {
        for (text, message) in cases {
            let refused = WebhookUrl::parse(text, policy).unwrap_err();
            assert_eq!(refused.to_string(), *message, "{text}");
        }
    }

    #[test]
    fn accepts_https_urls_as_serialised() {
        let url = WebhookUrl::parse("HTTPS://Example.COM/hooks?x=1", PRODUCTION).unwrap();
        assert_eq!(url.as_str(), "https://example.com/hooks?x=1");
        assert_eq!(
            (url.host(), url.port(), url.is_https()),
            ("example.com", 443, true)
        );

        let url = WebhookUrl::parse("https://[2606:4700::1111]:8443/", PRODUCTION).unwrap();
        assert_eq!((url.host(), url.port()), ("2606:4700::1111", 8443));
        assert!(WebhookUrl::parse("https://localhost.example.com/", PRODUCTION).is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_https_url() {
        let spaces = "url: must not contain spaces or control characters";
        let credentials = "url: must not contain a user name or password";
        assert_refused(
            PRODUCTION,
            &[
                ("/hooks", "url: not an absolute URL"),
                (" https://example.com/", spaces),
                ("https://example.com/a b", spaces),
                ("https://exa\tmple.com/", spaces),
                ("https://example.com/#top", "url: must not have a fragment"),
                ("https://example.com/#", "url: must not have a fragment"),
                ("https://", "url: empty host"),
                ("http://example.com/", "url: must be https"),
                ("ftp://example.com/", "url: must be https"),
                ("mailto:ops@example.com", "url: must be https"),
                ("https://user@example.com/", credentials),
                ("https://user:secret@example.com/", credentials),
                ("https://:secret@example.com/", credentials),
            ],
        );
    }

    #[test]
    fn refuses_urls_over_the_limit() {
        let prefix = "https://example.com/";
        let longest = format!("{prefix}{}", "a".repeat(MAX_URL_CHARS - prefix.len()));
        assert!(WebhookUrl::parse(&longest, PRODUCTION).is_ok());
        let too_long = format!("{longest}a");
        assert_refused(
            PRODUCTION,
            &[(&too_long, "url: longer than 2048 characters")],
        );
        // Short as written, too long once percent-encoded.
        let encoded = format!("{prefix}{}", "é".repeat(400));
        assert_eq!(
            WebhookUrl::parse(&encoded, PRODUCTION),
            Err(UnsafeTarget::TooLong)
        );
    }

    #[test]
    fn refuses_forbidden_literals_however_written() {
        let loopback = "url: 127.0.0.1 is a loopback address";
        assert_refused(
            PRODUCTION,
            &[
                ("https://127.0.0.1/", loopback),
                ("https://2130706433/", loopback),
                ("https://0x7f.1/", loopback),
                ("https://0/", "url: 0.0.0.0 is an unspecified address"),
                ("https://10.0.0.1/", "url: 10.0.0.1 is a private address"),
                (
                    "https://169.254.169.254/",
                    "url: 169.254.169.254 is a cloud metadata address",
                ),
                ("https://[::1]/", "url: ::1 is a loopback address"),
                (
                    "https://[::ffff:a9fe:aa02]/",
                    "url: ::ffff:169.254.170.2 is a cloud metadata address",
                ),
                (
                    "https://[fd00:ec2::254]/",
                    "url: fd00:ec2::254 is a cloud metadata address",
                ),
                (
                    "https://localhost/",
                    "url: localhost is 127.0.0.1, a loopback address",
                ),
                (
                    "https://api.LOCALHOST./",
                    "url: api.localhost. is 127.0.0.1, a loopback address",
                ),
            ],
        );
    }

    #[test]
    fn allows_loopback_and_http_to_it_on_a_local_stack() {
        for text in [
            "http://127.0.0.1:9000/",
            "http://[::1]/",
            "https://a.localhost/",
        ] {
            assert!(WebhookUrl::parse(text, DEV).is_ok(), "{text}");
        }
        let url = WebhookUrl::parse("http://localhost:8080/hook", DEV).unwrap();
        assert_eq!(
            (url.host(), url.port(), url.is_https()),
            ("localhost", 8080, false)
        );
        assert_refused(
            DEV,
            &[
                ("http://example.com/", "url: must be https"),
                ("http://10.0.0.1/", "url: 10.0.0.1 is a private address"),
                (
                    "https://169.254.169.254/",
                    "url: 169.254.169.254 is a cloud metadata address",
                ),
            ],
        );
    }

    #[tokio::test]
    async fn resolves_localhost_only_when_loopback_is_allowed() {
        let refused = PRODUCTION.resolve("localhost", 443).await.unwrap_err();
        assert!(
            matches!(&refused, UnsafeTarget::Forbidden { host, kind: Loopback, .. } if host == "localhost"),
            "{refused:?}"
        );
        let addresses = DEV.resolve("localhost", 443).await.unwrap();
        assert!(!addresses.is_empty());
        assert!(
            addresses
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 443)
        );
    }

    #[tokio::test]
    async fn resolves_ip_literals_to_themselves() {
        let addresses = PRODUCTION.resolve("2606:4700::1111", 8443).await.unwrap();
        assert_eq!(addresses, ["[2606:4700::1111]:8443".parse().unwrap()]);
        let refused = PRODUCTION.resolve("169.254.169.254", 80).await.unwrap_err();
        assert_eq!(
            refused.to_string(),
            "url: 169.254.169.254 is a cloud metadata address"
        );
    }

    #[tokio::test]
    async fn delivery_applies_the_policy_it_is_given() {
        let url = WebhookUrl::parse("http://localhost:8080/hook", DEV).unwrap();
        let addresses = url.resolve(DEV).await.unwrap();
        assert!(
            addresses
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080)
        );
        let refused = url.resolve(PRODUCTION).await.unwrap_err();
        assert!(matches!(
            refused,
            UnsafeTarget::Forbidden { kind: Loopback, .. }
        ));
    }
}
