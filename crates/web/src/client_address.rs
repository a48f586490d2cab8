//! The client's address behind trusted reverse proxies: `X-Forwarded-For` is believed only
//! when the connection comes from a proxy named in `http.trusted_proxies`, and then read from
//! the right, skipping proxies, to the first address a proxy did not add itself. Without it,
//! every member behind the TLS proxy would share one rate limit.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// Longest `X-Forwarded-For` list read (entries beyond are ignored from the left).
const MAX_HOPS: usize = 16;

/// The address to rate-limit: `peer`, or the client a trusted proxy names.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev().take(MAX_HOPS) {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // A hop we cannot read: trust nothing further left of it.
            Err(_) => return peer,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn check(peer: &str, xff: &[&str], trusted: &[&str], want: &str) {
        let mut headers = HeaderMap::new();
        for v in xff {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        let got = client_address(peer.parse().unwrap(), &headers, &trusted);
        assert_eq!(got, want.parse::<IpAddr>().unwrap(), "{peer} {xff:?} {trusted:?}");
    }

    #[test]
    fn table() {
        let proxy = "127.0.0.1";
        check("192.0.2.9", &["198.51.100.1"], &[proxy], "192.0.2.9"); // not a proxy: header ignored
        check(proxy, &["198.51.100.1"], &[proxy], "198.51.100.1");
        check(proxy, &["203.0.113.7, 198.51.100.1"], &[proxy], "198.51.100.1"); // a forged hop on the left
        check(proxy, &["198.51.100.1, 10.0.0.2"], &[proxy, "10.0.0.2"], "198.51.100.1"); // two proxies
        check(proxy, &["203.0.113.7", "198.51.100.1"], &[proxy], "198.51.100.1"); // two headers
        check(proxy, &[], &[proxy], proxy);
        check(proxy, &["not-an-ip"], &[proxy], proxy);
        check(proxy, &["::1"], &[proxy], "::1");
    }
}
