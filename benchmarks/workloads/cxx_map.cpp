/*
 * cxx_map - a C++ program's allocations: a hash map of strings under insert/erase churn.
 *
 *   cxx_map <ops> <keys> <seed>
 *
 * A std::unordered_map<uint32_t, std::string> over a key space of <keys>: each op looks up a key
 * drawn at random; a key present is read and erased (its node and its string freed), a key absent
 * is inserted with a string of 16-512 characters (a node and a string buffer allocated; strings of
 * 16 or more characters do not fit in the string object itself). The map settles at about half
 * the key space. Every block comes from operator new and goes back through operator delete (the
 * sized form): the allocator's own operators where it defines them, else the C++ runtime's on top
 * of its malloc.
 *
 * Keys and lengths are drawn into a table before the timed part. Prints ops/s.
 */
#include <string>
#include <unordered_map>
#include <vector>

#include "workload_common.h"

namespace {

struct Step {
    uint32_t key;
    uint32_t len;
};

} // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <ops> <keys> <seed>\n", argv[0]);
        return 2;
    }
    uint64_t ops = wl_count(argv[1], "ops");
    uint64_t keys = wl_count(argv[2], "keys");
    uint64_t seed = wl_count(argv[3], "seed");
    if (keys == 0 || keys > UINT32_MAX) wl_die("need 0 < keys < 2^32");

    size_t tab_len = 1;
    while (tab_len < ops && tab_len < (size_t{1} << 18))
        tab_len <<= 1;
    std::vector<Step> tab(tab_len);
    rng_t rng;
    rng_seed(&rng, seed);
    for (Step &s : tab) {
        s.key = static_cast<uint32_t>(rng_next(&rng) % keys);
        s.len = static_cast<uint32_t>(rng_range(&rng, 16, 512));
    }

    std::unordered_map<uint32_t, std::string> map;
    map.reserve(static_cast<size_t>(keys)); // no rehash inside the timed loop
    uint64_t check = 0;
    double t0 = wl_now();
    for (uint64_t i = 0; i < ops; i++) {
        const Step &s = tab[i & (tab_len - 1)];
        auto it = map.find(s.key);
        if (it != map.end()) {
            check += static_cast<unsigned char>(it->second[0]) + it->second.size();
            map.erase(it);
        } else {
            map.emplace(s.key, std::string(s.len, static_cast<char>('a' + i % 26)));
        }
    }
    double secs = wl_now() - t0;

    long peak = wl_peak_rss_kb();
    size_t left = map.size();
    map.clear();
    double rate = secs > 0 ? static_cast<double>(ops) / secs : 0.0;
    printf("cxx_map: %llu ops over %llu keys (%zu entries at the end), seed %llu\n",
           static_cast<unsigned long long>(ops), static_cast<unsigned long long>(keys), left,
           static_cast<unsigned long long>(seed));
    printf("ops/s: %.0f (%.3f s)\n", rate, secs);
    wl_report("cxx_map", "ops_per_sec=%.0f seconds=%.6f peak_rss_kb=%ld checksum=%llu", rate, secs,
              peak, static_cast<unsigned long long>(check));
    return 0;
}
