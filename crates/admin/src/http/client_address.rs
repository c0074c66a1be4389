//! The client's address, for rate limits: the TCP peer, or — when the peer is one of the
//! operator's trusted proxies — the nearest untrusted hop of `X-Forwarded-For`.
//!
//! Hops are read from the right because only the entries our own proxies appended can be
//! believed; anything further left was written by the client. The walk goes on only while the
//! hop is itself a trusted proxy; an entry that is not an IP address stops it at the proxy that
//! passed it on, so no client-written entry is ever taken for the client's address by default.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

/// Resolves the address a request came from.
pub fn client_address(req: &HttpRequest, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    // The nearest address known to be real: first the peer, then each trusted proxy in turn.
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.trim().parse::<IpAddr>() else {
            return Some(nearest);
        };
        if !trusted(&ip) {
            return Some(ip);
        }
        nearest = ip;
    }
    Some(nearest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(peer: &str, forwarded: Option<&str>) -> HttpRequest {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        if let Some(f) = forwarded {
            req = req.insert_header(("X-Forwarded-For", f));
        }
        req.to_http_request()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy_and_only_its_own_hops() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Not through a proxy: the header is the client's own invention.
        assert_eq!(
            client_address(&request("203.0.113.7:5000", Some("1.1.1.1")), &proxies),
            "203.0.113.7".parse().ok()
        );
        // Through our proxy: the last untrusted hop, not the spoofable first one.
        assert_eq!(
            client_address(
                &request("10.0.0.2:5000", Some("6.6.6.6, 198.51.100.4, 10.0.0.9")),
                &proxies
            ),
            "198.51.100.4".parse().ok()
        );
        // A proxy that sent no header: the proxy itself.
        assert_eq!(
            client_address(&request("10.0.0.2:5000", None), &proxies),
            "10.0.0.2".parse().ok()
        );
        // Only proxies in the chain: the furthest of them.
        assert_eq!(
            client_address(
                &request("10.0.0.2:5000", Some("10.0.0.7, 10.0.0.9")),
                &proxies
            ),
            "10.0.0.7".parse().ok()
        );
        // No proxies configured: always the peer.
        assert_eq!(
            client_address(&request("10.0.0.2:5000", Some("1.1.1.1")), &[]),
            "10.0.0.2".parse().ok()
        );
    }

    #[test]
    fn an_unparsable_hop_stops_the_walk_at_the_proxy_that_passed_it_on() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The right-most entry is garbage: only the peer (our proxy) is known.
        assert_eq!(
            client_address(
                &request("10.0.0.2:5000", Some("6.6.6.6, unknown")),
                &proxies
            ),
            "10.0.0.2".parse().ok()
        );
        // Garbage behind a trusted hop: that hop, never the client-written 6.6.6.6.
        assert_eq!(
            client_address(
                &request("10.0.0.2:5000", Some("6.6.6.6, 198.51.100.4:443, 10.0.0.9")),
                &proxies
            ),
            "10.0.0.9".parse().ok()
        );
        // Several headers are one list, in order.
        let req = TestRequest::default()
            .peer_addr("10.0.0.2:5000".parse().unwrap())
            .append_header(("X-Forwarded-For", "6.6.6.6"))
            .append_header(("X-Forwarded-For", "198.51.100.4"))
            .to_http_request();
        assert_eq!(client_address(&req, &proxies), "198.51.100.4".parse().ok());
    }
}
