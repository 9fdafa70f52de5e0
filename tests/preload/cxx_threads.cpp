// A multi-threaded C++17 program for the LD_PRELOAD test. It is NOT linked with hakmem: its
// operator new and delete are hakmem's only through LD_PRELOAD. Threads build maps of strings;
// other threads check and destroy them (cross-thread frees of every size); results go to stdout.
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 6;
constexpr int kEntries = 20000;

using StringMap = std::map<std::string, std::string>;

std::string key_of(int t, int i) {
    return "t" + std::to_string(t) + "-key-" + std::to_string(i);
}

std::string value_of(int t, int i) {
    std::size_t len = static_cast<std::size_t>((i * 37 + t) % 3000);
    if (i % 1000 == 999) len = 200000; // now and then a large one
    return std::string(len, static_cast<char>('a' + (i + t) % 26));
}

std::unique_ptr<StringMap> build(int t) {
    auto m = std::make_unique<StringMap>();
    for (int i = 0; i < kEntries; i++)
        (*m)[key_of(t, i)] = value_of(t, i);
    // churn: erase a third, reinsert them
    for (int i = 0; i < kEntries; i += 3)
        m->erase(key_of(t, i));
    for (int i = 0; i < kEntries; i += 3)
        m->emplace(key_of(t, i), value_of(t, i));
    return m;
}

// Check a map built by thread t; returns the sum of its value lengths, or -1 if anything differs.
long long check(const StringMap &m, int t) {
    if (m.size() != static_cast<std::size_t>(kEntries)) return -1;
    long long sum = 0;
    for (int i = 0; i < kEntries; i++) {
        auto it = m.find(key_of(t, i));
        if (it == m.end() || it->second != value_of(t, i)) return -1;
        sum += static_cast<long long>(it->second.size());
    }
    return sum;
}

} // namespace

int main() {
    std::vector<std::unique_ptr<StringMap>> maps(kThreads);
    std::vector<std::thread> builders;
    for (int t = 0; t < kThreads; t++)
        builders.emplace_back([&maps, t] { maps[t] = build(t); });
    for (auto &th : builders)
        th.join();

    // Each map is checked and destroyed by a thread other than the one that built it.
    std::atomic<long long> total{0};
    std::atomic<int> bad{0};
    std::vector<std::thread> consumers;
    for (int t = 0; t < kThreads; t++) {
        consumers.emplace_back([&, t] {
            int owner = (t + 1) % kThreads;
            std::unique_ptr<StringMap> m = std::move(maps[owner]);
            long long s = check(*m, owner);
            if (s < 0)
                bad++;
            else
                total += s;
            m.reset();
        });
    }
    for (auto &th : consumers)
        th.join();

    // Strings passed through a shared vector under a mutex, freed by whichever thread pops them.
    std::mutex mu;
    std::vector<std::string> shared;
    std::atomic<long long> passed{0};
    std::vector<std::thread> pass;
    for (int t = 0; t < kThreads; t++) {
        pass.emplace_back([&, t] {
            for (int i = 0; i < 50000; i++) {
                std::string s(static_cast<std::size_t>(1 + (i * 13 + t) % 900), 'z');
                std::lock_guard<std::mutex> g(mu);
                shared.push_back(std::move(s));
                if (shared.size() > 64) {
                    passed += static_cast<long long>(shared.front().size());
                    shared.erase(shared.begin());
                }
            }
        });
    }
    for (auto &th : pass)
        th.join();
    for (auto &s : shared)
        passed += static_cast<long long>(s.size());

    if (bad) {
        std::printf("maps corrupted: %d\n", bad.load());
        return 1;
    }
    std::printf("maps=%d entries=%d value_bytes=%lld passed_bytes=%lld\n", kThreads,
                kThreads * kEntries, total.load(), passed.load());
    return 0;
}
