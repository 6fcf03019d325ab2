// Bitmap arithmetic of the Arrow columnar layout (validity bitmaps and BOOLEAN values): LSB first,
// a set bit means valid / true. The one place this arithmetic is written.
#pragma once

#include <cstddef>
#include <cstdint>

namespace imlane {
namespace bit_util {

// Bytes of a bitmap holding `bits` bits.
constexpr uint64_t BytesForBits(uint64_t bits) { return (bits + 7) / 8; }

inline bool GetBit(const uint8_t* bits, size_t i) { return (bits[i >> 3] >> (i & 7)) & 1; }

inline void SetBit(uint8_t* bits, size_t i) { bits[i >> 3] |= static_cast<uint8_t>(1u << (i & 7)); }

inline void ClearBit(uint8_t* bits, size_t i) { bits[i >> 3] &= static_cast<uint8_t>(~(1u << (i & 7))); }

inline void SetBitTo(uint8_t* bits, size_t i, bool value) {
  if (value) {
    SetBit(bits, i);
  } else {
    ClearBit(bits, i);
  }
}

// Sets bits [start, start + count) to `value`, a byte at a time where it can.
void SetBitsTo(uint8_t* bits, size_t start, size_t count, bool value);

// dst &= src over the first `bits` bits (whole bytes: the padding bits of dst are ANDed too).
void AndBits(uint8_t* dst, const uint8_t* src, size_t bits);

// One byte (0 or 1) per bit of [0, bits): out[i] = bit i.
void UnpackBits(const uint8_t* bits, size_t count, uint8_t* out);

// Number of set bits in [offset, offset + bits), a byte at a time where it can.
uint64_t CountSetBits(const uint8_t* data, uint64_t offset, uint64_t bits);

}  // namespace bit_util
}  // namespace imlane
