#include "imlane/bit_util.h"

#include <bitset>
#include <cstring>

namespace imlane {
namespace bit_util {

void SetBitsTo(uint8_t* bits, size_t start, size_t count, bool value) {
  size_t i = start;
  const size_t end = start + count;
  while (i < end && (i & 7)) SetBitTo(bits, i++, value);
  if (end - i >= 8) {
    const size_t bytes = (end - i) / 8;
    std::memset(bits + i / 8, value ? 0xFF : 0x00, bytes);
    i += bytes * 8;
  }
  while (i < end) SetBitTo(bits, i++, value);
}

void AndBits(uint8_t* dst, const uint8_t* src, size_t bits) {
  for (size_t b = 0; b < BytesForBits(bits); b++) dst[b] &= src[b];
}

void UnpackBits(const uint8_t* bits, size_t count, uint8_t* out) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const uint8_t byte = bits[i / 8];
    for (int k = 0; k < 8; k++) out[i + k] = (byte >> k) & 1;
  }
  for (; i < count; i++) out[i] = GetBit(bits, i);
}

uint64_t CountSetBits(const uint8_t* data, uint64_t offset, uint64_t bits) {
  uint64_t count = 0, i = offset;
  const uint64_t end = offset + bits;
  while (i < end && (i & 7)) count += GetBit(data, i++);
  for (; i + 8 <= end; i += 8) count += std::bitset<8>(data[i / 8]).count();
  while (i < end) count += GetBit(data, i++);
  return count;
}

}  // namespace bit_util
}  // namespace imlane
