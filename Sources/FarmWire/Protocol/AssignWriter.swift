import Foundation

/// Writes an `assign` message's JSON by hand: it is the coordinator's hottest message, and Foundation's encoder
/// (with snake-case key conversion) costs several times more. Produces the same document `WireJSON.encode` would
/// (snake-case keys, sorted), which a test checks by decoding both.
enum AssignWriter {
    static func json(_ a: Assign) -> Data {
        var root = Writer()
        root.object { w in
            if let anchors = a.anchors {
                w.key("anchors")
                w.object { w in
                    w.field("format") { w in w.format(anchors.format) }
                    w.field("frames") { w in w.ints(anchors.frames) }
                    w.field("has_start") { w in w.raw(anchors.hasStart ? "true" : "false") }
                    w.field("id") { w in w.string(anchors.id) }
                    w.field("seed") { w in w.raw(String(anchors.seed)) }
                    w.field("shot") { w in w.shot(anchors.shot) }
                    w.field("steps") { w in w.raw(String(anchors.steps)) }
                }
                w.comma()
            }
            w.field("lease") { w in w.lease(a.lease) }
            w.field("model") { w in
                w.object { w in
                    if let c = a.model.config { w.field("config") { w in w.string(c) } }
                    w.field("engine") { w in w.string(a.model.engine) }
                    w.field("seed") { w in w.raw(String(a.model.seed)) }
                    w.field("steps") { w in w.raw(String(a.model.steps)) }
                    if let weights = a.model.weights { w.field("weights") { w in w.string(weights) } }
                }
            }
            if let s = a.segment {
                w.field("segment") { w in
                    w.object { w in
                        w.field("format") { w in w.format(s.format) }
                        w.field("generate") { w in w.ints(s.generate) }
                        w.field("id") { w in w.string(s.id) }
                        w.field("index") { w in w.raw(String(s.index)) }
                        w.field("keyframes") { w in
                            w.array(s.keyframes) { w, k in
                                w.object { w in
                                    w.field("blob") { w in w.raw(String(k.blob)) }
                                    w.field("frame") { w in w.raw(String(k.frame)) }
                                }
                            }
                        }
                        w.field("own") { w in w.ints(s.own) }
                        w.field("pins") { w in
                            w.array(s.pins) { w, p in
                                w.object { w in
                                    w.field("blob") { w in w.raw(String(p.blob)) }
                                    w.field("latent_index") { w in w.raw(String(p.latentIndex)) }
                                }
                            }
                        }
                        w.field("references") { w in w.ints(s.references) }
                        w.field("samples") { w in w.ints(s.samples) }
                        w.field("seed") { w in w.raw(String(s.seed)) }
                        w.field("shot") { w in w.shot(s.shot) }
                        w.field("steps") { w in w.raw(String(s.steps)) }
                        w.field("tail_latents") { w in w.raw(String(s.tailLatents)) }
                    }
                }
            }
        }
        return Data(root.bytes)
    }

    /// A minimal JSON writer: fields are written in the order called; callers keep keys sorted.
    struct Writer {
        var bytes: [UInt8] = []
        private var needsComma = [false]

        init() { bytes.reserveCapacity(1024) }

        mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }
        mutating func comma() { needsComma[needsComma.count - 1] = true }

        mutating func object(_ body: (inout Writer) -> Void) {
            bytes.append(UInt8(ascii: "{"))
            needsComma.append(false)
            body(&self)
            needsComma.removeLast()
            bytes.append(UInt8(ascii: "}"))
        }

        mutating func key(_ k: String) {
            if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = false
            string(k)
            bytes.append(UInt8(ascii: ":"))
        }

        mutating func field(_ k: String, _ value: (inout Writer) -> Void) {
            key(k)
            value(&self)
            comma()
        }

        mutating func array<T>(_ items: [T], _ each: (inout Writer, T) -> Void) {
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                each(&self, item)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        mutating func ints(_ v: [Int]) { array(v) { w, x in w.raw(String(x)) } }

        mutating func string(_ s: String) {
            bytes.append(UInt8(ascii: "\""))
            for b in s.utf8 {
                switch b {
                case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
                case 0x0A: bytes.append(contentsOf: [92, UInt8(ascii: "n")])
                case 0x0D: bytes.append(contentsOf: [92, UInt8(ascii: "r")])
                case 0x09: bytes.append(contentsOf: [92, UInt8(ascii: "t")])
                case 0..<0x20:
                    let hex = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 15)]])
                default: bytes.append(b)
                }
            }
            bytes.append(UInt8(ascii: "\""))
        }

        mutating func lease(_ l: Lease) {
            object {
                $0.field("attempt") { $0.raw(String(l.attempt)) }
                $0.field("task") { $0.string(l.task) }
            }
        }

        mutating func format(_ f: FormatDescription) {
            object {
                $0.field("channels") { $0.raw(String(f.channels)) }
                $0.field("fps") { $0.string(f.fps) }
                $0.field("height") { $0.raw(String(f.height)) }
                $0.field("sample_rate") { $0.raw(String(f.sampleRate)) }
                $0.field("width") { $0.raw(String(f.width)) }
            }
        }

        mutating func shot(_ s: ShotDescription) {
            object { w in
                w.field("camera") { $0.string(s.camera) }
                w.field("cues") {
                    $0.array(s.cues) { w, c in
                        w.object {
                            $0.field("sample") { $0.raw(String(c.sample)) }
                            $0.field("sound") { $0.string(c.sound) }
                        }
                    }
                }
                w.field("frames") { $0.ints(s.frames) }
                w.field("id") { $0.string(s.id) }
                w.field("index") { $0.raw(String(s.index)) }
                w.field("prompt") { $0.string(s.prompt) }
                w.field("sound") { $0.string(s.sound) }
            }
        }
    }
}

extension WireMessage {
    /// An `assign` message, its JSON written by ``AssignWriter``.
    public static func assign(_ a: Assign, blobs: [Data]) -> WireMessage {
        WireMessage(command: .assign, meta: AssignWriter.json(a), blobs: blobs)
    }
}
