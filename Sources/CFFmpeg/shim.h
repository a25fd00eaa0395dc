#ifndef CFFMPEG_SHIM_H
#define CFFMPEG_SHIM_H
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/avutil.h>
#include <libavutil/crc.h>
#include <libavutil/opt.h>
#include <libavutil/imgutils.h>
#include <libavutil/channel_layout.h>
#include <libswscale/swscale.h>
#include <libswresample/swresample.h>

/// FFmpeg's error macros as functions Swift can call.
static inline int CFFmpeg_AVERROR(int e) { return AVERROR(e); }
static inline int CFFmpeg_AVERROR_EOF(void) { return AVERROR_EOF; }
static inline int CFFmpeg_EAGAIN(void) { return AVERROR(EAGAIN); }

/// `AV_NOPTS_VALUE` is a cast expression Swift does not import.
static inline int64_t CFFmpeg_AV_NOPTS_VALUE(void) { return AV_NOPTS_VALUE; }

/// `AV_CODEC_FLAG_CLOSED_GOP` is `1U << 31`, which Swift would import as an unsigned value that does not fit
/// the signed `flags` field; return it with the field's type.
static inline int CFFmpeg_AV_CODEC_FLAG_CLOSED_GOP(void) { return (int)AV_CODEC_FLAG_CLOSED_GOP; }

/// CRC-32 as zlib computes it (IEEE polynomial, reflected, pre- and post-inverted), continuing from `crc`
/// (start with 0).
static inline uint32_t CFFmpeg_crc32(uint32_t crc, const uint8_t *buffer, size_t length) {
    return av_crc(av_crc_get_table(AV_CRC_32_IEEE_LE), crc ^ UINT32_MAX, buffer, length) ^ UINT32_MAX;
}
#endif
