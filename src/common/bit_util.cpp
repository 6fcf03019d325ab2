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

uint64_t CountSetBits(const uint8_t* data, uint64_t bits) {
  uint64_t count = 0;
  const uint64_t whole = bits / 8;
  for (uint64_t b = 0; b < whole; b++) count += std::bitset<8>(data[b]).count();
  for (uint64_t i = whole * 8; i < bits; i++) count += GetBit(data, i);
  return count;
}

}  // namespace bit_util
}  // namespace imlane
