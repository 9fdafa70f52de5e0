// C++'s operator new and delete under LD_PRELOAD (the program is NOT linked with hakmem): every
// form C++17 declares must be hakmem's own, serve blocks hakmem owns at the alignment asked, and
// keep the language's rules on failure: the new-handler is called until it gives up, then the
// throwing forms throw std::bad_alloc and the nothrow forms return nullptr. Results go to stdout
// (compared with expected/cxx_operators.out); a failed check prints a FAIL line.
#include <dlfcn.h>
#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::printf("FAIL: %s\n", what);
        failures++;
    }
}

const char *const kOperators[] = {"_Znwm",
                                  "_Znam",
                                  "_ZnwmRKSt9nothrow_t",
                                  "_ZnamRKSt9nothrow_t",
                                  "_ZnwmSt11align_val_t",
                                  "_ZnamSt11align_val_t",
                                  "_ZnwmSt11align_val_tRKSt9nothrow_t",
                                  "_ZnamSt11align_val_tRKSt9nothrow_t",
                                  "_ZdlPv",
                                  "_ZdaPv",
                                  "_ZdlPvm",
                                  "_ZdaPvm",
                                  "_ZdlPvRKSt9nothrow_t",
                                  "_ZdaPvRKSt9nothrow_t",
                                  "_ZdlPvSt11align_val_t",
                                  "_ZdaPvSt11align_val_t",
                                  "_ZdlPvmSt11align_val_t",
                                  "_ZdaPvmSt11align_val_t",
                                  "_ZdlPvSt11align_val_tRKSt9nothrow_t",
                                  "_ZdaPvSt11align_val_tRKSt9nothrow_t"};

// The symbol the program's own calls bind to lives in the preloaded hakmem library.
void check_bindings() {
    int ours = 0;
    for (const char *name : kOperators) {
        Dl_info info{};
        void *sym = dlsym(RTLD_DEFAULT, name);
        bool ok = sym != nullptr && dladdr(sym, &info) != 0 && info.dli_fname != nullptr &&
                  std::strstr(info.dli_fname, "libhakmem") != nullptr;
        if (ok)
            ours++;
        else
            std::printf("FAIL: %s is served by %s\n", name,
                        info.dli_fname ? info.dli_fname : "nobody");
    }
    if (ours != static_cast<int>(sizeof kOperators / sizeof kOperators[0])) failures++;
    std::printf("operators from hakmem: %d\n", ours);
}

// Blocks of every form and size: writable to their end, and hakmem's (malloc_usable_size aborts
// on a pointer hakmem did not hand out).
void check_blocks() {
    for (std::size_t n = 1; n <= (std::size_t{1} << 22); n = n * 3 / 2 + 1) {
        char *a = new char[n];
        std::memset(a, 0x5a, n);
        check(malloc_usable_size(a) >= n, "new[] usable size");
        delete[] a;
        void *b = ::operator new(n);
        std::memset(b, 0x5b, n);
        check(malloc_usable_size(b) >= n, "new usable size");
        ::operator delete(b, n); // sized
        char *c = new (std::nothrow) char[n];
        check(c != nullptr && malloc_usable_size(c) >= n, "nothrow new[]");
        ::operator delete[](c, std::nothrow);
    }
    for (std::size_t align = 1; align <= 64 * 1024; align *= 2) {
        for (std::size_t n : {std::size_t{1}, std::size_t{24}, align, 3 * align + 8}) {
            std::align_val_t al{align};
            void *p = ::operator new(n, al);
            check(reinterpret_cast<std::uintptr_t>(p) % align == 0, "aligned new");
            std::memset(p, 0x5c, n);
            check(malloc_usable_size(p) >= n, "aligned new usable size");
            ::operator delete(p, n, al);
            void *q = ::operator new[](n, al, std::nothrow);
            check(q != nullptr && reinterpret_cast<std::uintptr_t>(q) % align == 0,
                  "aligned nothrow new[]");
            ::operator delete[](q, al, std::nothrow);
        }
    }
    // Sizes that are multiples of the alignment, as C++ types' sizes are: every block of the slab
    // (200 of each, so more than the first of a slab), for every class size up to 8 KiB.
    for (std::size_t align = 16; align <= 256; align *= 2) {
        std::align_val_t al{align};
        for (std::size_t n = align; n <= 8192; n += align) {
            std::vector<void *> blocks;
            for (int i = 0; i < 200; i++) {
                void *p = ::operator new(n, al);
                check(reinterpret_cast<std::uintptr_t>(p) % align == 0, "aligned new of a multiple");
                blocks.push_back(p);
            }
            for (void *p : blocks) ::operator delete(p, n, al);
        }
    }
    struct alignas(256) Line {
        char bytes[256];
    };
    auto line = std::make_unique<Line>(); // C++17 picks the aligned form for it
    check(reinterpret_cast<std::uintptr_t>(line.get()) % 256 == 0, "alignas(256) object");
    std::printf("blocks: ok\n");
}

// Objects made on one thread and deleted on others: the delete path for other threads' blocks.
void check_threads() {
    constexpr int kThreads = 4, kObjects = 50000;
    std::vector<std::vector<std::unique_ptr<std::string>>> made(kThreads);
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&made, t] {
            for (int i = 0; i < kObjects; i++)
                made[t].push_back(
                    std::make_unique<std::string>(static_cast<std::size_t>(i % 200 + 20), 'x'));
        });
    for (auto &t : ts)
        t.join();
    ts.clear();
    for (int t = 0; t < kThreads; t++)
        ts.emplace_back([&made, t] { made[(t + 1) % kThreads].clear(); });
    for (auto &t : ts)
        t.join();
    std::printf("objects deleted by other threads: %d\n", kThreads * kObjects);
}

int handler_calls = 0;
int handler_budget = 0;

// Gives up (uninstalls itself) once its budget is spent, as a handler with nothing to free does.
void counting_handler() {
    handler_calls++;
    if (--handler_budget <= 0) std::set_new_handler(nullptr);
}

void install_handler(int budget) {
    handler_calls = 0;
    handler_budget = budget;
    std::set_new_handler(counting_handler);
}

// A size no allocator can serve, kept opaque to the compiler.
volatile std::size_t too_big = SIZE_MAX / 2;

void check_failures() {
    install_handler(2);
    try {
        void *p = ::operator new(too_big);
        check(false, "operator new of SIZE_MAX / 2 returned");
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        std::printf("new: new-handler called %d times, then std::bad_alloc\n", handler_calls);
    }
    install_handler(1);
    char *q = new (std::nothrow) char[too_big];
    std::printf("nothrow new[]: %s, new-handler called %d times\n",
                q == nullptr ? "nullptr" : "a block", handler_calls);
    install_handler(3);
    try {
        void *p = ::operator new[](too_big, std::align_val_t{64});
        check(false, "aligned operator new[] of SIZE_MAX / 2 returned");
        ::operator delete[](p, std::align_val_t{64});
    } catch (const std::bad_alloc &) {
        std::printf("aligned new[]: new-handler called %d times, then std::bad_alloc\n",
                    handler_calls);
    }
    std::set_new_handler(nullptr);
    void *r = ::operator new (too_big, std::align_val_t{4096}, std::nothrow);
    std::printf("aligned nothrow new: %s\n", r == nullptr ? "nullptr" : "a block");
}

} // namespace

int main() {
    check_bindings();
    check_blocks();
    check_threads();
    check_failures();
    return failures == 0 ? 0 : 1;
}
