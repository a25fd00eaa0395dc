import FarmWire
import Foundation

extension Coordinator {
    /// Logs and counts peers whose handshake failed: keys the ZAP handler refused (with address and key
    /// fingerprint) and CURVE or mechanism failures the socket monitor saw.
    func noteRefusedHandshakes(monitor: HandshakeMonitor, authenticator: CurveAuthenticator, descriptors: DescriptorWatch) {
        let turnedAway = authenticator.takeTurnedAway()
        if turnedAway > 0 {
            refusedCounts["handshake-descriptors", default: 0] += turnedAway
            let now = Self.clock
            if now - lastTurnedAwayLog >= 10 {
                lastTurnedAwayLog = now
                log("turning new peers away: \(descriptors.openDescriptors) descriptors open of a limit of "
                    + "\(DescriptorLimit.current.soft) (\(sessions.count) workers connected; raise ulimit -n to hold more)")
            }
        }
        for (key, address) in authenticator.takeRefusals() {
            refusedCounts["handshake-key", default: 0] += 1
            log("refused a peer at \(address): its public key \(key.prefix(8))… is not in the authorized keys")
        }
        for event in monitor.events() where event.isFailure {
            if case .refusedKey = event.outcome { continue }  // said above, with the key or the descriptors
            let kind = event.outcome == .mechanismMismatch ? "handshake-mechanism" : "handshake-curve"
            refusedCounts[kind, default: 0] += 1
            log(event.explanation(asServer: true))
        }
    }
}
