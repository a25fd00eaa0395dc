import CFFmpeg

/// Appends decoded audio frames to one interleaved float array.
///
/// Float planar (what the AAC decoder gives) and packed float are copied by hand; other sample formats go through
/// swresample, at the same rate and layout so no resampling delay is added.
final class PCMCollector {
    let channels: Int
    private(set) var samples: [Float] = []
    private var resampler: OpaquePointer?

    init(channels: Int, expectedSamplesPerChannel: Int) {
        self.channels = channels
        samples.reserveCapacity(max(0, expectedSamplesPerChannel) * channels)
    }

    deinit {
        swr_free(&resampler)
    }

    var frameCount: Int { samples.count / channels }

    /// Drops samples past `frames` per channel.
    func trim(toFrames frames: Int) {
        guard frames < frameCount else { return }
        samples.removeLast((frameCount - frames) * channels)
    }

    func append(_ frame: UnsafeMutablePointer<AVFrame>) throws {
        let count = Int(frame.pointee.nb_samples)
        guard Int(frame.pointee.ch_layout.nb_channels) == channels else {
            throw MediaError.invalidInput("audio frame has \(frame.pointee.ch_layout.nb_channels) channels, "
                                          + "the stream \(channels)")
        }
        let start = samples.count
        let channels = channels
        let format = frame.pointee.format
        samples.append(contentsOf: repeatElement(0, count: count * channels))
        try samples.withUnsafeMutableBufferPointer { all in
            let destination = all.baseAddress! + start
            if format == AV_SAMPLE_FMT_FLTP.rawValue {
                for channel in 0 ..< channels {
                    let plane = UnsafeRawPointer(frame.pointee.extended_data[channel]!)
                        .assumingMemoryBound(to: Float.self)
                    var target = destination + channel
                    for sample in 0 ..< count {
                        target.pointee = plane[sample]
                        target += channels
                    }
                }
            } else if format == AV_SAMPLE_FMT_FLT.rawValue {
                let packed = UnsafeRawPointer(frame.pointee.extended_data[0]!).assumingMemoryBound(to: Float.self)
                destination.update(from: packed, count: count * channels)
            } else {
                try convert(frame, into: destination, count: count)
            }
        }
    }

    private func convert(_ frame: UnsafeMutablePointer<AVFrame>, into destination: UnsafeMutablePointer<Float>,
                         count: Int) throws {
        if resampler == nil {
            let rate = frame.pointee.sample_rate
            try check(swr_alloc_set_opts2(&resampler, &frame.pointee.ch_layout, AV_SAMPLE_FMT_FLT, rate,
                                          &frame.pointee.ch_layout, AVSampleFormat(rawValue: frame.pointee.format),
                                          rate, 0, nil),
                      "swr_alloc_set_opts2(→ flt)")
            try check(swr_init(resampler), "swr_init")
        }
        var output: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(destination)
            .assumingMemoryBound(to: UInt8.self)
        let input = UnsafeMutableRawPointer(frame.pointee.extended_data!)
            .assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
        let converted = try check(swr_convert(resampler, &output, Int32(count), input, Int32(count)), "swr_convert")
        guard Int(converted) == count else {
            throw MediaError.invalidInput("swresample returned \(converted) of \(count) samples")
        }
    }
}
