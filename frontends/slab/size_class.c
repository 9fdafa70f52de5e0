#include "size_class.h"

// Generated from the formula in size_class.h; tests/unit checks it against size_class_of.
const uint32_t hak_class_size[HAK_NCLASSES] = {
    16, 32, 48, 64, 80, 96, 112, 128,
    160, 192, 224, 256, 320, 384, 448, 512,
    640, 768, 896, 1024, 1280, 1536, 1792, 2048,
    2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
    10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
    40960, 49152, 57344, 65536, 81920, 98304, 114688, 131072,
    163840, 196608, 229376, 262144, 327680, 393216, 458752, 524288,
    655360, 786432, 917504, 1048576, 1310720, 1572864, 1835008,
    // aligned twins of the coloured classes (size_class.h)
    128, 256, 384, 512, 640, 768, 896, 1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
    10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
};

const uint8_t hak_aligned_twin[HAK_SIZE_CLASSES] = {
    0, 1, 2, 3, 4, 5, 6, 63, 8, 9, 10, 64, 12, 65, 14, 66,
    67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82,
    83, 84, 85, 86, 87, 88, 89, 90, 40, 41, 42, 43, 44, 45, 46, 47,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
};

// Class of (16 * i) bytes, i = 0..64, as the byte offset of its entry in an array of
// HAK_CLASS_ENTRY_SIZE-byte entries (a heap's caches): a request of n bytes looks up entry
// (n + 15) / 16, and the allocation fast path adds the offset to the heap's address as it is.
#define E(cls) ((cls) * HAK_CLASS_ENTRY_SIZE)
_Static_assert(E(HAK_TINY_CLASSES - 1) <= UINT16_MAX, "tiny entry offsets fit 16 bits");
const uint16_t hak_small_entry[HAK_TINY_MAX / 16 + 1] = {
    E(0), E(0), E(1), E(2), E(3), E(4), E(5), E(6), E(7), E(8), E(8), E(9),
    E(9), E(10), E(10), E(11), E(11), E(12), E(12), E(12), E(12), E(13), E(13), E(13),
    E(13), E(14), E(14), E(14), E(14), E(15), E(15), E(15), E(15), E(16), E(16), E(16),
    E(16), E(16), E(16), E(16), E(16), E(17), E(17), E(17), E(17), E(17), E(17), E(17),
    E(17), E(18), E(18), E(18), E(18), E(18), E(18), E(18), E(18), E(19), E(19), E(19),
    E(19), E(19), E(19), E(19), E(19),
};
#undef E
