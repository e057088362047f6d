"""How the command's memory is allocated while files move (glibc's malloc)."""


def steady_malloc() -> None:
    """Has glibc's malloc keep to two arenas, give every block of 2 MiB or more its
    own mapping, returned when freed, and keep up to 4 MiB free at the top of its
    heap. By default each thread that allocates may get an arena of its own (up to
    8 per CPU), and the limit for a mapping of its own rises to the size of the
    largest block freed (up to 32 MiB): with 64 files at once that took the
    command's peak memory from about 49 MiB to 64-70 MiB in one run out of two (70
    files of 2 MiB and 3,000 small ones, downloaded over a 40 ms round trip).

    The limit is above the buffers that come and go while data moves (reads from
    ssh of up to 1 MiB, the pieces of a file of 256 KiB): from the heap they are
    reused, where a mapping of their own is new memory the kernel zeroes and faults
    in each time. One file of 1 GiB downloaded over SFTP: 155,000-206,000 page
    faults and 1.32-1.45 s of system time with a limit of 128 KiB, 22,000-29,000
    and 1.01-1.19 s with 2 MiB; a peak of 40 MiB against 41-55 MiB. The files above
    (up and down, 420-440 at once, both transports; tests/test_parallel.py) peaked
    at 51-55 MiB with 128 KiB and 54-57 MiB with 2 MiB, two runs each. Elsewhere
    than glibc, nothing is done."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return
    mallopt(M_ARENA_MAX, 2)
    mallopt(M_MMAP_THRESHOLD, 2 << 20)     # fixed: no longer raised by frees
    mallopt(M_TRIM_THRESHOLD, 4 << 20)


M_TRIM_THRESHOLD = -1     # glibc's malloc.h
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
