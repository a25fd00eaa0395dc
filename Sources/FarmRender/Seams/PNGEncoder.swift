import Foundation

/// Writes 8-bit RGB pictures as PNG with no dependency: rows unfiltered, zlib stream of stored (uncompressed) deflate
/// blocks. Files are larger than a compressing encoder's, which does not matter for a plot.
enum PNGEncoder {
    /// The PNG file for `rgb` (`width · height · 3` bytes, row after row).
    static func encode(width: Int, height: Int, rgb: [UInt8]) -> Data {
        precondition(width > 0 && height > 0 && rgb.count == width * height * 3)
        var raw = [UInt8]()
        raw.reserveCapacity((width * 3 + 1) * height)
        for y in 0 ..< height {
            raw.append(0)  // filter type None
            raw.append(contentsOf: rgb[y * width * 3 ..< (y + 1) * width * 3])
        }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let n = min(65_535, raw.count - offset)
            let last = offset + n == raw.count
            zlib.append(last ? 1 : 0)
            zlib.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)])
            zlib.append(contentsOf: raw[offset ..< offset + n])
            offset += n
        } while offset < raw.count
        zlib.append(contentsOf: bigEndian(adler32(raw)))

        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, truecolour, deflate, adaptive filtering, no interlace
        chunk("IHDR", header, into: &file)
        chunk("IDAT", zlib, into: &file)
        chunk("IEND", [], into: &file)
        return Data(file)
    }

    private static func chunk(_ type: String, _ body: [UInt8], into file: inout [UInt8]) {
        let typed = Array(type.utf8) + body
        file += bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    private static let crcTable: [UInt32] = (0 ..< 256).map { n in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = 0
        while i < bytes.count {
            // 5552 bytes is the most that can be summed before the 32-bit sums must be reduced.
            let end = min(bytes.count, i + 5_552)
            while i < end {
                a += UInt32(bytes[i])
                b += a
                i += 1
            }
            a %= 65_521
            b %= 65_521
        }
        return (b << 16) | a
    }
}
