/* Stacks, named (stack.h).
 *
 * Names. backtrace_symbols() names only what the dynamic symbol table exports: a program's own
 * functions, static ones above all, come out as "bin/05-blocking-in-loop(+0x3fff)". So the
 * program's full symbol table (.symtab, in every -g build, here always) is read once from
 * /proc/self/exe at start-up; shared libraries are named by dladdr, as backtrace_symbols does.
 *
 * The scan. A thread blocked in the kernel has left its registers there; /proc/self/task/TID/
 * syscall gives only its stack pointer and program counter, and without frame pointers (-O2
 * omits them) or a DWARF unwinder that can work on another thread's stack, the one way from there
 * is the way crash reporters fall back to: read the stack upward and keep each word that is a
 * return address, one that points just after a call instruction. What makes it more than a guess
 * is checking each call against the frame below: a direct call must go to the function that
 * frame is in (through its PLT slot, or to a function that ends by jumping there: a tail call).
 * A return address of a call that has returned, left in an unwritten slot of a live frame, fails
 * that check unless it happens to match; calls through a register, or into a library function
 * with no exported name, cannot be checked. So of all the chains of such words from pc to the
 * thread's first function, the scan keeps the one with the most checked links (stack_scan). */
#include "stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "report.h"

#define SCAN_BYTES (256 * 1024) /* how far up the stack a scan reads, at most */
#define MAX_RANGES 128          /* executable segments of the program and its libraries */

struct sym {
    uintptr_t start, end; /* run-time addresses */
    const char *name;     /* in the mapped file, which stays mapped */
};

static struct sym *syms;
static size_t sym_count;
static uintptr_t exe_bias;       /* run-time address minus link-time address, for the program */
static uintptr_t exe_lo, exe_hi; /* the program's executable code */

static struct range { uintptr_t lo, hi; } text[MAX_RANGES];
static int text_count;

/* Copies len bytes of our own memory at addr, or fewer where it is not mapped: never faults. */
static size_t peek(uintptr_t addr, void *out, size_t len) {
    struct iovec local = {.iov_base = out, .iov_len = len};
    struct iovec remote = {.iov_base = (void *)addr, .iov_len = len};
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    return n > 0 ? (size_t)n : 0;
}

static int add_ranges(struct dl_phdr_info *info, size_t size, void *arg) {
    (void)size;
    bool program = *(bool *)arg && info->dlpi_name[0] == '\0' && exe_hi == 0; /* the first */
    if (program)
        exe_bias = info->dlpi_addr;
    for (int i = 0; i < info->dlpi_phnum && text_count < MAX_RANGES; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
        text[text_count++] = (struct range){lo, hi};
        if (program) {
            exe_lo = exe_lo && exe_lo < lo ? exe_lo : lo;
            exe_hi = exe_hi > hi ? exe_hi : hi;
        }
    }
    return 0;
}

/* The executable segments of every object loaded now (a library may be dlopen'ed later). The
 * program's own range is found once, by stack_init: the loop thread reads it to name frames
 * while the watchdog thread scans, so only the scanner's text[] is found again. */
static void find_code(bool first) {
    text_count = 0;
    dl_iterate_phdr(add_ranges, &first);
}

static bool is_code(uintptr_t a) {
    for (int i = 0; i < text_count; i++)
        if (a >= text[i].lo && a < text[i].hi)
            return true;
    return false;
}

static bool in_program(uintptr_t a) {
    return a >= exe_lo && a < exe_hi;
}

static int by_start(const void *a, const void *b) {
    const struct sym *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* The function symbols of /proc/self/exe: .symtab, or .dynsym if it was stripped. */
static void load_symbols(void) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t size = (size_t)st.st_size;
    const unsigned char *file = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (file == MAP_FAILED)
        return;
    const Elf64_Ehdr *eh = (const void *)file;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) > size)
        return;
    const Elf64_Shdr *sh = (const void *)(file + eh->e_shoff), *tab = NULL;
    for (int i = 0; i < eh->e_shnum; i++)
        if (sh[i].sh_type == SHT_SYMTAB || (sh[i].sh_type == SHT_DYNSYM && !tab))
            tab = &sh[i];
    if (!tab || tab->sh_link >= eh->e_shnum || tab->sh_offset + tab->sh_size > size)
        return;
    const Elf64_Shdr *str = &sh[tab->sh_link];
    if (str->sh_offset + str->sh_size > size)
        return;
    const Elf64_Sym *s = (const void *)(file + tab->sh_offset);
    size_t count = tab->sh_size / sizeof *s;
    if (!(syms = calloc(count ? count : 1, sizeof *syms)))
        return; /* frames of the program are then named by dladdr, as a library's */
    for (size_t i = 0; i < count; i++)
        if (ELF64_ST_TYPE(s[i].st_info) == STT_FUNC && s[i].st_value &&
            s[i].st_shndx != SHN_UNDEF && s[i].st_name < str->sh_size)
            syms[sym_count++] = (struct sym){
                .start = s[i].st_value + exe_bias,
                .end = s[i].st_value + s[i].st_size + exe_bias,
                .name = (const char *)file + str->sh_offset + s[i].st_name,
            };
    qsort(syms, sym_count, sizeof *syms, by_start);
}

void stack_init(void) {
    static bool done;
    if (done)
        return;
    done = true;
    void *warm_up[1];
    backtrace(warm_up, 1); /* loads libgcc's unwinder now (dlopen mallocs), not in a handler */
    find_code(true);
    load_symbols();
}

/* The program's function holding a, or NULL. */
static const struct sym *program_function(uintptr_t a) {
    size_t lo = 0, hi = sym_count;
    while (lo < hi) { /* the last symbol starting at or below a */
        size_t mid = (lo + hi) / 2;
        if (syms[mid].start <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct sym *f = &syms[lo - 1];
    return a < f->end || f->end == f->start ? f : NULL;
}

/* The function holding code address a: its start, name and size (0, NULL, 0 when unknown). */
static uintptr_t function_at(uintptr_t a, const char **name, size_t *size) {
    *name = NULL;
    *size = 0;
    if (in_program(a)) {
        const struct sym *f = program_function(a);
        if (!f)
            return 0;
        *name = f->name;
        *size = f->end - f->start;
        return f->start;
    }
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!dladdr1((void *)a, &info, (void **)&sym, RTLD_DL_SYMENT) || !info.dli_saddr)
        return 0;
    *name = info.dli_sname;
    *size = sym ? sym->st_size : 0;
    return (uintptr_t)info.dli_saddr;
}

static uintptr_t function_of(uintptr_t a, const char **name) {
    size_t size;
    return function_at(a, name, &size);
}

static bool is_function_start(uintptr_t a) {
    const char *name;
    return function_of(a, &name) == a;
}

enum call { NOT_A_CALL, CALL_DIRECT, CALL_INDIRECT };

/* Whether the instruction that ends just before ret is a call; for a direct call, its target. */
static enum call call_before(uintptr_t ret, uintptr_t *target) {
#if defined(__x86_64__)
    unsigned char b[8];
    if (!is_code(ret - 8) || peek(ret - 8, b, sizeof b) != sizeof b)
        return NOT_A_CALL;
#define BACK(k) b[8 - (k)] /* the byte k before ret */
    int32_t rel;
    if (BACK(5) == 0xe8) { /* call rel32 */
        memcpy(&rel, &b[4], 4);
        *target = ret + (intptr_t)rel;
        return CALL_DIRECT;
    }
    if (BACK(6) == 0xff && BACK(5) == 0x15) { /* call *slot(%rip): through the GOT, -fno-plt */
        memcpy(&rel, &b[3], 4);
        uintptr_t slot = ret + (intptr_t)rel;
        return peek(slot, target, sizeof *target) == sizeof *target ? CALL_DIRECT : CALL_INDIRECT;
    }
    /* call *r/m: opcode ff, ModRM reg field 2. Its length depends on the ModRM byte. */
    unsigned char m1 = BACK(1), m2 = BACK(2), m3 = BACK(3), m5 = BACK(5), m6 = BACK(6);
    bool reg2_1 = (m1 & 0x38) == 0x10, reg2_2 = (m2 & 0x38) == 0x10, reg2_5 = (m5 & 0x38) == 0x10;
    if (BACK(2) == 0xff && reg2_1 &&
        ((m1 >> 6) == 3 || ((m1 >> 6) == 0 && (m1 & 7) != 4 && (m1 & 7) != 5)))
        return CALL_INDIRECT; /* call *%reg, call *(%reg) */
    if (BACK(3) == 0xff && (m2 == 0x14 || (reg2_2 && (m2 >> 6) == 1 && (m2 & 7) != 4)))
        return CALL_INDIRECT; /* call *(%reg,%reg,s), call *d8(%reg) */
    if (BACK(4) == 0xff && m3 == 0x54)
        return CALL_INDIRECT; /* call *d8(%reg,%reg,s) */
    if (BACK(6) == 0xff && reg2_5 && (m5 >> 6) == 2 && (m5 & 7) != 4)
        return CALL_INDIRECT; /* call *d32(%reg) */
    if (BACK(7) == 0xff && m6 == 0x94)
        return CALL_INDIRECT; /* call *d32(%reg,%reg,s) */
#undef BACK
    return NOT_A_CALL;
#elif defined(__aarch64__)
    uint32_t insn;
    if (!is_code(ret - 4) || peek(ret - 4, &insn, sizeof insn) != sizeof insn)
        return NOT_A_CALL;
    if ((insn & 0xfc000000u) == 0x94000000u) { /* bl imm26 */
        *target = ret - 4 + (uintptr_t)((intptr_t)((int32_t)(insn << 6) >> 6) * 4);
        return CALL_DIRECT;
    }
    return (insn & 0xfffffc1fu) == 0xd63f0000u ? CALL_INDIRECT : NOT_A_CALL; /* blr */
#else
    (void)ret, (void)target;
    return NOT_A_CALL;
#endif
}

/* Where a call to t really goes: a PLT stub jumps through its GOT slot (filled in by the first
 * call, which a function on the stack has had). */
static uintptr_t through_plt(uintptr_t t) {
#if defined(__x86_64__)
    unsigned char b[16];
    if (!in_program(t) || is_function_start(t) || peek(t, b, sizeof b) != sizeof b)
        return t;
    size_t i = 0;
    if (b[0] == 0xf3 && b[1] == 0x0f && b[2] == 0x1e && b[3] == 0xfa)
        i = 4; /* endbr64 */
    if (b[i] == 0xf2)
        i++;                                /* bnd */
    if (b[i] == 0xff && b[i + 1] == 0x25) { /* jmp *slot(%rip) */
        int32_t rel;
        memcpy(&rel, &b[i + 2], 4);
        uintptr_t dest;
        if (peek(t + i + 6 + (intptr_t)rel, &dest, sizeof dest) == sizeof dest)
            return dest;
    }
#endif
    return t;
}

/* Whether function f ends by jumping to callee (a tail call): then f's frame is gone, and its
 * caller's call to f returns from callee. What f jumps to is read once and kept. */
static bool tail_jumps(uintptr_t f, uintptr_t callee) {
#if defined(__x86_64__)
    static struct {
        uintptr_t f;
        int count;
        uintptr_t dest[15];
    } seen[64];
    static int next;
    int i = 0;
    while (i < 64 && seen[i].f != f)
        i++;
    if (i == 64) { /* not read yet: find every jmp rel32 in its body */
        i = next++ % 64;
        seen[i].f = f;
        seen[i].count = 0;
        const char *name;
        size_t size;
        static unsigned char body[16384];
        size_t len = function_at(f, &name, &size) == f ? size : 0;
        len = peek(f, body, len < sizeof body ? len : sizeof body);
        for (size_t k = 0; k + 5 <= len && seen[i].count < 15; k++) {
            if (body[k] != 0xe9)
                continue;
            int32_t rel;
            memcpy(&rel, &body[k + 1], 4);
            seen[i].dest[seen[i].count++] = through_plt(f + k + 5 + (uintptr_t)(intptr_t)rel);
        }
    }
    for (int k = 0; k < seen[i].count; k++)
        if (seen[i].dest[k] == callee)
            return true;
#endif
    (void)f, (void)callee;
    return false;
}

/* A word on the stack that may be a return address: a frame, if the chain holds. */
struct candidate {
    uintptr_t ret;    /* the return address */
    uintptr_t func;   /* the function it returns into (0: one without a name) */
    enum call kind;   /* the call before it */
    uintptr_t dest;   /* a direct call's destination, past any PLT stub */
    uintptr_t dest_f; /* the function holding dest (dest itself when it is a function's start) */
    bool root;        /* a thread's first function: the chain ends here */
};

/* A chain scores STRONG_LINK for each link that was checked, and loses a little for each that
 * could not be (an old return address passes those as easily as a frame does): of two chains
 * through the same checked frames, the one with fewer unchecked ones wins. Reaching the thread's
 * first function is worth ROOT_BONUS: a chain that stops halfway has lost its way. */
enum { NO_LINK = -100, WEAK_LINK = -1, STRONG_LINK = 10, ROOT_BONUS = 1000 };

/* How well the call before outer explains the frame inner: STRONG_LINK when checked (a direct
 * call to inner's function, through its PLT slot or a tail jump), WEAK_LINK when it cannot be
 * (a call through a register; a function without a name, which only a library has), NO_LINK when
 * it cannot have led there: then outer is not inner's caller. */
static int link_strength(const struct candidate *inner, const struct candidate *outer) {
    if (outer->kind == CALL_INDIRECT)
        return WEAK_LINK;
    uintptr_t f = inner->func, dest = outer->dest;
    if (!f) /* nothing outside the program calls the program's functions directly */
        return in_program(dest) ? NO_LINK : WEAK_LINK;
    if (dest == f || outer->dest_f == f)
        return STRONG_LINK;
    if (outer->dest_f != dest)
        return in_program(f) ? NO_LINK : WEAK_LINK; /* a library's unexported function */
    return tail_jumps(dest, f) ? STRONG_LINK : NO_LINK;
}

static bool is_root(const char *name) {
    static const char *const roots[] = {
        "_start", "__libc_start_main", "start_thread", "clone", "clone3", "__clone"};
    for (size_t i = 0; name && i < sizeof roots / sizeof *roots; i++)
        if (strcmp(name, roots[i]) == 0)
            return true;
    return false;
}

#define MAX_CANDIDATES 256

int stack_scan(uintptr_t sp, uintptr_t pc, uintptr_t *frames, int max) {
    if (max <= 0)
        return 0;
    find_code(false);
    static struct candidate c[MAX_CANDIDATES];
    static int score[MAX_CANDIDATES], next[MAX_CANDIDATES];
    const char *name;
    int n = 0;
    c[n++] = (struct candidate){.ret = pc, .func = function_of(pc, &name), .root = is_root(name)};
    /* Every word up the stack that points just after a call, up to the thread's first frame. */
    static uintptr_t words[512];
    bool rooted = c[0].root;
    for (uintptr_t at = sp & ~(uintptr_t)7;
         !rooted && n < MAX_CANDIDATES && at < sp + SCAN_BYTES;) {
        size_t want = 4096 - (at & 4095); /* a page at a time: the stack ends at a page */
        size_t got = peek(at, words, want < sizeof words ? want : sizeof words) / sizeof *words;
        if (got == 0)
            break;
        for (size_t i = 0; i < got && !rooted && n < MAX_CANDIDATES; i++) {
            struct candidate k = {.ret = words[i]};
            uintptr_t target = 0;
            if (!is_code(k.ret) || (k.kind = call_before(k.ret, &target)) == NOT_A_CALL)
                continue;
            if (k.kind == CALL_DIRECT) {
                k.dest = through_plt(target);
                k.dest_f = function_of(k.dest, &name);
            }
            k.func = function_of(k.ret - 1, &name);
            rooted = k.root = is_root(name);
            c[n++] = k;
        }
        at += got * sizeof *words;
    }
    /* The frames are the chain from pc outward that explains itself best (link_strength), found
     * from the outermost candidate in: score[i] is the best a chain from candidate i can do. */
    for (int i = n - 1; i >= 0; i--) {
        score[i] = c[i].root ? ROOT_BONUS : 0;
        next[i] = -1;
        for (int j = i + 1; j < n && !c[i].root; j++) {
            int link = link_strength(&c[i], &c[j]);
            if (link != NO_LINK && (next[i] < 0 || score[j] + link > score[i])) {
                score[i] = score[j] + link;
                next[i] = j;
            }
        }
    }
    int count = 0;
    for (int i = 0; i >= 0 && count < max; i = next[i])
        frames[count++] = c[i].ret;
    return count;
}

int stack_here(uintptr_t pc, uintptr_t *frames, int max) {
    void *raw[STACK_MAX + 16];
    int n = backtrace(raw, STACK_MAX + 16), first = 0;
    while (first < n && (uintptr_t)raw[first] != pc)
        first++;
    if (first == n) /* not found (an unwinder that adjusts the address): keep everything */
        first = 0;
    int kept = 0;
    for (int i = first; i < n && kept < max; i++)
        frames[kept++] = (uintptr_t)raw[i];
    return kept;
}

/* The object holding a: its path as a reader can hand it to addr2line, and its load address. */
static const char *object_of(uintptr_t a, uintptr_t *base) {
    if (in_program(a)) {
        *base = exe_bias;
        return program_invocation_name;
    }
    Dl_info info;
    if (dladdr((void *)a, &info) && info.dli_fname) {
        *base = (uintptr_t)info.dli_fbase;
        return info.dli_fname;
    }
    *base = 0;
    return "?";
}

void stack_log(const uintptr_t *frames, int n) {
    for (int i = 0; i < n; i++) {
        /* A return address may be the first byte of the next function: name the call's own. */
        uintptr_t at = frames[i] - (i > 0), base;
        const char *name, *object = object_of(frames[i], &base);
        uintptr_t start = function_of(at, &name);
        char where[160] = "?";
        if (name)
            snprintf(where, sizeof where, "%s+%#lx", name, (unsigned long)(frames[i] - start));
        report("    #%-2d %s (%s+%#lx)", i, where, object, (unsigned long)(frames[i] - base));
    }
}

char *stack_where(const uintptr_t *frames, int n, char *out, size_t size) {
    snprintf(out, size, "?");
    for (int i = 0; i < n; i++) {
        const char *name;
        if (in_program(frames[i]) && function_of(frames[i] - (i > 0), &name) && name) {
            snprintf(out, size, "%s", name);
            break;
        }
    }
    return out;
}

char *stack_function(uintptr_t fn, char *out, size_t size) {
    const char *name;
    function_of(fn, &name);
    snprintf(out, size, "%s", name ? name : "?");
    return out;
}

uint64_t stack_hash(const uintptr_t *frames, int n) {
    uint64_t h = 14695981039346656037u;
    for (int i = 0; i < n; i++)
        h = (h ^ frames[i]) * 1099511628211u;
    return h;
}
